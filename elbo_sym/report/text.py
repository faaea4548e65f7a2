"""Terminal text renderers over report data (like pytest's TerminalReporter).

`derivation_text` is what `elbo-sym check` prints per file, `summary_text` its last line,
`warnings_text` what it prints on stderr for the file's warnings,
`failure_text` what `assert_derivation` and the pytest plugin show for a derivation that
does not pass, `error_text` one input error with its caret, `warning_lines` the files'
warnings as every command that checks files prints them on stderr; `format_deck` and `deck_as_dict`
what `elbo-sym cards` and `cards --json` print of a loaded deck.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from elbo_sym.engine.phrases import OUTSIDE_PREMISES
from elbo_sym.report.model import (
    CARD_MARK,
    VERDICT_MARK,
    DeckReport,
    DerivationReport,
    ExampleReport,
    InputErrorReport,
    StepReport,
)
from elbo_sym.report.summary import only_checked, summary_line

if TYPE_CHECKING:  # a deck's listing reads the loaded deck; `check` never imports lesson.practice
    from elbo_sym.lesson.practice import Card, Deck


def warning_lines(reports: Iterable[DerivationReport | DeckReport]) -> list[str]:
    """``warning: FILE:LINE:COLUMN: message`` for each warning of each file (prose the checker refutes
    or cannot prove): `check`, `build`, `web` and the plugin print these, so an author whose loop is
    `build` learns of them too (red team rt38 F1); a deck's too, wherever a command checks a deck
    (`cards`, `flashcards`, `build`, `web`).  A warning changes no verdict and no exit status."""
    return [f"warning: {w.text(r.file)}" for r in reports for w in r.warnings]


def warnings_text(r: DerivationReport) -> str:
    """What `check` prints on stderr for the report's warnings, a line each ("" when there is none): one
    place for it, so the result cache stores the very lines a fresh check prints."""
    return "".join(line + "\n" for line in warning_lines([r]))


def step_notes(s: StepReport) -> list[str]:
    """What a step's verdict means for the run, beyond its reason (teaching files, `checked`)."""
    if s.expected_refuted:
        return ["expected to be refuted (a deliberate mistake of a teaching file)"
                if s.verdict == "refuted" else
                "expected to be refuted, but the check did not finish: undecided is not refuted"
                if s.verdict == "error" else
                f"expected to be refuted, but it could not be refuted: the mistake is only checked to hold on "
                f"{s.instances} instances, it is not shown to be a mistake"
                if s.verdict == "checked" else
                "expected to be refuted, but it is proved: the teaching file's mistake is not a mistake"]
    if s.carried:
        return [f"carries step {s.index - 1}'s deliberate mistake: proved once step {s.index - 1} is corrected, so "
                "not a mistake of its own"]
    if s.verdict == "checked":
        return [f"accepted (accept = \"checked\"): printed as \"{s.held_text}, not proved\"" if s.accepted else
                f"not proved: this fails the run; {s.hint}"]
    return []


def _step_lines(s: StepReport) -> list[str]:
    lines = [f"      {s.mark} {s.verdict:<8} [{s.rule_shown}] {s.reason}"]
    lines += [f"      {note}" for note in step_notes(s)]
    if s.counterexample is not None:
        lines.append(f"      counterexample: {s.counterexample.describe()}")
    if s.suggestion is not None:
        lines.append(f"      {s.suggestion.label}: {s.suggestion.describe()}")
    return lines


def derivation_text(r: DerivationReport) -> str:
    """A readable per-step report of one derivation."""
    lines = [f"{r.file} — {r.title}", f"  model: {r.model}"]
    if r.params:  # every step was checked under them: printed with the model, never left out
        lines.append(f"  conditions: {', '.join(c.text for c in r.params)}")
    if r.convention:
        lines.append(f"  convention: {r.convention}")
    if r.expect == "refuted":
        wanted = ", ".join(str(s.index) for s in r.steps if s.expected_refuted)
        lines.append(f"  teaching file: step {wanted} must be refuted (find the mistake)" if wanted else
                     "  teaching file (expect = \"refuted\"): exactly one step must be refuted, the others proved "
                     "(or name them: expect_refuted = [2, 4])")
    if r.claim is not None:
        lines.append(f"  claim: {r.claim.text}")
    for a in r.assume:
        lines.append(f"  assume: {a.text}")
    lines.append(f"  {r.file}:{r.start_line}  start   {r.start.text}")
    for s in r.steps:
        lines.append(f"  {r.file}:{s.line}  step {s.index}  {s.rel:>2} {s.expr.text}")
        lines += _step_lines(s)
    lines += [f"  {line}" for line in closing_lines(r)]
    return "\n".join(lines) + "\n"


def closing_lines(r: DerivationReport) -> list[str]:
    """After the steps: each example's outcome, the file's problems, and whether the claim (or,
    in a teaching file, the expected mistake) came out as it must."""
    lines = []
    for e in r.examples:
        if e.holds:
            lines.append(f"{r.file}:{e.line}  example {e.index}: {_example_status(e)}")
        lines += [f"{r.file}:{line}  example {e.index}"
                  f"{' FAILS' if failure.startswith(OUTSIDE_PREMISES) else ': expected value FAILS'}: {failure}"
                  for line, failure in e.failures_at()]
        lines += [f"{r.file}:{e.line}  example {e.index}: {u.symbol.text} has no exact value here: {u.why}"
                  for u in e.unevaluated]
    lines += [f"problem: {problem}" for problem in r.problems]
    if r.expect == "refuted":
        carried = "".join(f"; step {s.index} only carries step {s.index - 1}'s mistake" for s in r.steps if s.carried)
        lines.append(f"{'as expected' if r.ok else 'NOT as expected'}: "
                     + (f"exactly the marked steps are refuted{carried}" if r.ok else "; ".join(r.failure_reasons)))
    else:
        lines.append(f"{'established' if r.established else 'NOT established'}: {r.claim_reason}")
    return lines


def _example_status(e: ExampleReport) -> str:
    """An example's own outcome -- its [example.expect] values -- not the steps' (a step can be
    refuted on the example's instance while the example's expected values hold)."""
    if not e.holds:
        return "expected values FAIL: " + "; ".join(e.failures)
    if e.stated:
        return f"its {e.stated} expected value(s) hold exactly"
    return "exact values computed (no [example.expect] to compare)"


def summary_text(reports: Iterable[DerivationReport], errors: Iterable[InputErrorReport] = ()) -> str:
    """Totals over every file; lists the steps that are only checked and not accepted (exit 1)."""
    reports, errors = list(reports), list(errors)
    counts = {v: 0 for v in VERDICT_MARK}
    unaccepted = []
    for r in reports:
        for s in r.steps:
            counts[s.verdict] += 1
        unaccepted += [f"{r.file}:{s.line} step {s.index} (held on {s.instances} exact instances): {s.hint}"
                       for s in r.unaccepted_checked]
    checked_claims = sum(only_checked(r.established, sum(s.verdict == "checked" for s in r.steps)) for r in reports)
    return summary_line(len(reports), counts, sum(r.established for r in reports), sum(r.ok for r in reports),
                        len(errors), tuple(unaccepted), checked_claims)


def error_text(error: InputErrorReport) -> str:
    """`error: file:line:column: message` and the caret line under it."""
    text = f"error: {error.text}"
    return text + (f"\n{error.pointer}" if error.pointer else "")


def failure_text(r: DerivationReport) -> str:
    """Why a derivation does not pass, like a good assertion message (plain text, no colours)."""
    failing = r.failing_steps
    lines: list[str] = []
    if failing:
        first = failing[0]
        lines.append(f"{r.file}:{first.line}: step {first.index} is {first.verdict} — {r.title}")
    else:
        lines.append(f"{r.file}: {r.title}: {r.claim_reason}")
    for n, s in enumerate(failing):
        if n:
            lines += ["", f"{r.file}:{s.line}: step {s.index} is {s.verdict}"]
        lines += _failure_step(r, s)
    for e in r.examples:
        if not e.holds:
            lines += ["", f"{r.file}:{e.line}: example {e.index} does not hold"]
            lines += [f"    {r.file}:{line}: {failure}" for line, failure in e.failures_at()]
    for problem in r.problems:
        lines += ["", f"problem: {problem}"]
    if not r.established and r.expect != "refuted":
        lines += ["", f"claim NOT established: {r.claim_reason}"]
        if r.claim is not None:
            lines.append(f"    claim: {r.claim.text}")
    lines += ["", "chain:", f"      {r.start.text}"]
    for s in r.steps:
        lines.append(f"  {s.rel:>2}  {s.expr.text}    {s.mark} {s.verdict} [{s.rule_shown}] (line {s.line})")
    return "\n".join(lines)


def _failure_step(r: DerivationReport, s: StepReport) -> list[str]:
    from elbo_sym.engine.rules import RULE_HELP  # here, so printing a cached report never imports SymPy

    lines = [f"      {s.lhs.text}", f"  {s.rel:>2}  {s.expr.text}",
             f"    rule:     {s.rule_shown} — {RULE_HELP.get(s.rule, '')}"]
    if s.why:
        lines.append(f"    why:      {s.why}")
    lines.append(f"    verdict:  {s.verdict} — {s.reason}")
    if s.expected_refuted:
        lines.append("    the teaching file expects this step to be refuted")
    elif s.carried:
        lines.append(f"    {step_notes(s)[0]}")
    elif s.verdict == "checked":
        lines.append(f"    {s.held_text}, not proved: {s.hint}")
    for c in s.conditions:
        if not c.shown:
            lines.append(f"    failed condition: {c.text}")
    if s.counterexample is not None:
        lines += ["    " + line for line in s.counterexample.lines()]
    if s.suggestion is not None:
        lines.append(f"    {s.suggestion.label}: {s.suggestion.describe()}")
    if s.verdict == "refuted":
        lines.append(f"    (more: elbo-sym explain {r.file} --step {s.index})")
    return lines


DECK_OUTCOME_WHY = {
    "refuted": "a refuted card's formula is false at an instance",
    "error": "a card in error was not decided, and undecided is not proved",
    "checked": "a card only checked held on the instances tried, and checked on instances is not enough",
}
"""Why a deck with cards of these verdicts fails, in the order `deck_outcome` names them (the cards'
verdicts decide the wording: rt38 F6 had "NOT all hold" for checked cards, session 17 "checked on
instances is not enough" for cards in error)."""


def deck_outcome(counts: dict[str, int]) -> str:
    """The deck's outcome in words, from its verdicts' counts: "NOT all hold" only when a card is
    refuted, else "NOT all proved" (a card only `checked` or in `error` is not shown false); then why,
    for each failing verdict the deck has (a card is printed only with a formula proved for every instance)."""
    why = [text for verdict, text in DECK_OUTCOME_WHY.items() if counts.get(verdict)]
    if not why and set(counts) <= {"none"}:  # no card states anything checked: "all hold" would claim a check
        return "nothing to check"
    if not why:
        return "all hold"
    return (f"{'NOT all hold' if counts.get('refuted') else 'NOT all proved'}: a card is printed only with a "
            f"formula proved for every instance; {'; '.join(why)}")


_COUNTED = {"none": "without a formula or claim"}
"""A verdict as the deck's totals name it: "17 without a formula or claim", not "17 none" (rt44's note)."""


def deck_text(r: DeckReport) -> str:
    """`elbo-sym cards --check`: each card's formula (with its conditions) and verdict, then the deck's totals."""
    lines = [f"{r.file} — {r.title}"]
    for c in r.cards:
        # a card without a formula still has a verdict when its text claims a relation ($a <= b$):
        # shown with its mark and which claim it is (rt26: "(no formula)" then a bare counterexample)
        claims = c.formula is None and c.verdict != "none"
        formula = c.formula if c.formula is not None else "(no formula; the claims of its text)" if claims \
            else "(no formula)"
        lines.append(f"  {r.file}:{c.line}  {c.index:>2}. {formula}{conditions_suffix(c.conditions)}")
        if c.formula is not None or claims:
            lines.append(f"      {CARD_MARK[c.verdict]} {c.verdict:<11} {c.reason}")
        if c.counterexample is not None:
            lines.append(f"      counterexample: {c.counterexample.describe()}")
    counts: dict[str, int] = {}
    for c in r.cards:
        counts[c.verdict] = counts.get(c.verdict, 0) + 1
    summary = ", ".join(f"{counts[k]} {_COUNTED.get(k, k)}" for k in ("proved", "checked", "well-formed", "refuted",
                                                                      "error", "none") if k in counts)
    lines.append(f"  {len(r.cards)} card(s): {summary}; {deck_outcome(counts)}")
    return "\n".join(lines) + "\n"


def conditions_suffix(conditions: tuple[str, ...]) -> str:
    """What the terminal prints after a card's formula: ``   (assuming a, b)``, or nothing."""
    return f"   (assuming {', '.join(conditions)})" if conditions else ""


def format_deck(deck: Deck, solutions: str = "inline") -> str:
    """`elbo-sym cards`: the deck as text, its scope under the title (report.model.DeckScope, as every
    published output states it), each answer (back) after its question (``inline``), all of them after the
    questions (``separate``), or none (``none``)."""
    from elbo_sym.report.build import deck_scope

    if solutions not in ("none", "separate", "inline"):
        raise ValueError(f"solutions must be none, separate or inline, not {solutions!r}")
    front, back = ("Q", "A") if deck.kind == "selfcheck" else ("Front", "Back")
    scope = deck_scope(deck)
    lines = [f"{deck.path} — {deck.title}"] + ([f"  {scope.text}"] if scope is not None else [])

    def answer(card: Card) -> list[str]:
        out = [f"     {back}: {card.back}"]
        if card.formula is not None:
            out.append(f"     formula: {card.formula.one_line}{conditions_suffix(card.conditions_text)}")
        elif card.conditions_text:
            out.append(f"     {conditions_suffix(card.conditions_text).strip()}")
        return out

    for card in deck.cards:
        lines.append(f"  {card.index}. {front}: {card.front}")
        if solutions == "inline":
            lines += answer(card)
    if solutions == "separate":
        lines.append("  Answers")
        for card in deck.cards:
            lines.append(f"  {card.index}.")
            lines += answer(card)
    return "\n".join(lines) + "\n"


def deck_as_dict(deck: Deck) -> dict[str, Any]:
    """`elbo-sym cards --json`: the deck's file, kind, title, scope (report.model.DeckScope's text, None for a
    deck of every latent space without parameters' domains) and every card's texts, formula and conditions (in
    the file syntax)."""
    from elbo_sym.report.build import deck_scope

    scope = deck_scope(deck)
    return {"file": deck.path, "kind": deck.kind, "title": deck.title,
            "scope": scope.text if scope is not None else None, "cards": [
                {"index": c.index, "line": c.line, "front": c.front, "back": c.back, "topic": c.topic,
                 "formula": c.formula.text if c.formula else None, "conditions": list(c.conditions_text)}
                for c in deck.cards]}


__all__ = ["warning_lines", "derivation_text", "deck_text", "summary_text", "error_text", "failure_text",
           "step_notes", "closing_lines", "conditions_suffix", "format_deck", "deck_as_dict"]
