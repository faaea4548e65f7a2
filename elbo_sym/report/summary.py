"""The last line of `elbo-sym check` from totals alone, free of imports.

:func:`elbo_sym.report.text.summary_text` counts the totals over full reports; a warm check
(elbo_sym.authoring.cache.answer_from_cache) adds up the totals stored with each cache entry
and never imports the report model.  One function writes the line for both.
"""

from __future__ import annotations

VERDICTS = ("proved", "checked", "refuted", "error")
"""Every verdict a step can have, in the order the summary counts them."""


def only_checked(established: bool, checked_steps: int) -> bool:
    """Whether a claim is established only on checked instances: its chain has a step accepted as
    `checked`, so the claim is not proved (the file's own line says "claim checked, not proved")."""
    return established and checked_steps > 0


def summary_line(files: int, counts: dict[str, int], established: int, passed: int, errors: int = 0,
                 unaccepted: tuple[str, ...] = (), checked_claims: int = 0) -> str:
    """Totals over `files` derivation files: steps per verdict (`counts`), claims established (of them
    `checked_claims` only on checked instances: evidence, not a proof -- red team rt38 counted those as
    plain established), files that pass, files with input errors; the steps only checked and not accepted,
    a line each with what lets it pass (StepReport.hint)."""
    steps = sum(counts.values())
    not_proved = f" ({checked_claims} only checked, not proved)" if checked_claims else ""
    text = (f"{files} derivation(s), {steps} step(s): {counts.get('proved', 0)} proved, "
            f"{counts.get('checked', 0)} checked, {counts.get('refuted', 0)} refuted, {counts.get('error', 0)} error; "
            f"{established}/{files} claims established{not_proved}; {passed}/{files} file(s) pass")
    if errors:
        text += f"; {errors} file(s) with input errors"
    if unaccepted:
        text += "\nonly checked, not proved (exit 1):" + "".join(f"\n  {step}" for step in unaccepted)
    return text
