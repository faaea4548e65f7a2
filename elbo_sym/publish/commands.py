"""What the publishing commands do -- `build`, `web`, `exercises --moodle/--roster` -- once the command
line is parsed: check, write, and say what was written.

Each returns an :class:`Outcome`: the lines to print, in order, and how the run ended, so that
elbo_sym.cli only parses options and prints.  Input problems raise elbo_sym.files.InputError.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from elbo_sym.files import InputError, resolved_path, source_date_epoch
from elbo_sym.limits import STEP_BUDGET_SECONDS
from elbo_sym.prose import counted
from elbo_sym.publish import HANDOUTS, TOGETHER
from elbo_sym.publish.outputs import claim_file
from elbo_sym.publish.project import Project, Settings, command_paths, course_handouts, course_web

__all__ = ["Outcome", "build_course", "cards_checked", "course_decks", "course_examples", "exercise_files",
           "flashcards_course", "web_course"]


@dataclass(frozen=True)
class Outcome:
    """What a command prints -- (to stderr, line) pairs in order -- and whether it succeeded;
    ``bad_input``: a derivation did not load (exit 2, nothing written)."""

    lines: tuple[tuple[bool, str], ...]
    ok: bool = True
    bad_input: bool = False


def _checked(paths: Sequence[str], budget: float, total: float | None,
             lines: list[tuple[bool, str]]) -> list | None:
    """Reports of every derivation named, each read and checked within its file budget (`total`,
    else as `check`), after their warnings (on stderr, as `check` prints them; rt38 F1); None, after
    `error: FILE:LINE:COLUMN: ...` and its caret line per bad file (as `check` prints them), when any
    does not load or is not read in time."""
    from elbo_sym.report.build import check_all
    from elbo_sym.report.text import warning_lines

    reports, errors = check_all(list(paths), budget, total=total)
    lines += [(True, line) for line in warning_lines(reports)]
    for error in errors:
        lines.append((True, f"error: {error}"))
        if error.pointer():
            lines.append((True, error.pointer()))
    return None if errors else reports


def checked_line(reports: Sequence) -> str:
    """What the check before a build found, in words: a teaching file's deliberate mistake is
    refuted as marked, not "proved or accepted" (rt3)."""
    slips = sum(1 for r in reports for s in r.steps if s.expected_refuted)
    found = f"checked {len(reports)} derivation(s): every step proved or accepted"
    if not slips:
        return found
    return f"{found}, except {slips} deliberate mistake(s) of teaching files, refuted as marked"


def build_course(course: Project, paths: Sequence[str], folder: Path, *, out: str, gallery: Sequence[str],
                 literature: Sequence[str], only: Sequence[str], timeout: float, budget: float,
                 file_budget: float | None = None) -> Outcome:
    """`build`: check every derivation (the lesson's, the gallery's, the literature's), then write the
    handouts into ``folder`` (``out`` as the user wrote it); none is built from a derivation that fails."""
    from elbo_sym.publish import render
    from elbo_sym.publish.handouts import HandoutError, build_outcome, write_handout_set

    paths = command_paths(course, paths, "build")
    source_date_epoch()  # LaTeX reads it too: a bad value is one line now, not a LaTeX log after the checks
    lines: list[tuple[bool, str]] = []
    started = time.monotonic()
    results = _checked(paths, budget, file_budget, lines)
    gallery_results = _checked(gallery, budget, file_budget, lines) if gallery else []
    literature_results = _checked(literature, budget, file_budget, lines) if literature else []
    if results is None or gallery_results is None or literature_results is None:
        return Outcome(tuple(lines), ok=False, bad_input=True)
    try:
        handouts = course_handouts(results, course, budget=budget, file_budget=file_budget, gallery=gallery_results,
                                   literature=literature_results)
    except HandoutError as error:
        return Outcome((*lines, *_warned_before(error), (True, f"elbo-sym build: no handouts built: {error}")),
                       ok=False)
    lines += [(True, line) for h in handouts for line in h.warnings]  # the decks', as `cards --check` prints them
    owned = [h.name for h in handouts]  # the course's set: a file of another handout an earlier build wrote goes
    prune: list[str] | None = owned
    if only:
        wanted = set(only).union(*(group for group in TOGETHER if group & set(only)))
        handouts = [h for h in handouts if h.name in wanted]
        # a requested handout this build has nothing for is named, with why (red team rt25: "0 handout(s)"),
        # and nothing is built: a script's `$?` sees it (rt48's lead note: exit 0 without find-the-mistake.pdf)
        others = f" (drop that --only to build {', '.join(f'{h.name}.pdf' for h in handouts)})" if handouts else ""
        missing = [(True, f"elbo-sym build: no {name}.pdf: {_why_not_built(name, course)}; nothing was built{others}")
                   for name in dict.fromkeys(only) if name not in owned]
        if missing:
            return Outcome((*lines, *missing), ok=False, bad_input=True)
        # `--only X` replaces X and removes nothing else: a teacher rebuilding one sheet keeps the gallery, the
        # literature and every other PDF an earlier build wrote (red team rt48 F1) -- but not the other half of
        # X's pair that this build has none of: `--only exercises --solutions none` removes the old answers.pdf,
        # as a whole build does, rather than leave a key of another seed beside the sheet (red team rt52 F6)
        gone = wanted - {h.name for h in handouts}
        prune = [name for name, _ in HANDOUTS if name not in gone]
    latex = render.latex_available()
    try:
        result = write_handout_set(handouts, folder, latex=latex, timeout=timeout, owned=prune,
                                   strict_layout=os.environ.get("ELBO_SYM_STRICT_LAYOUT") == "1")
    except HandoutError as error:
        return Outcome((*lines, (True, f"elbo-sym build: {error}")), ok=False)
    lines.append((False, checked_line([*results, *gallery_results, *literature_results])))
    written, ok = build_outcome(result.reports, latex=latex, out=out, seconds=time.monotonic() - started,
                                require_latex=os.environ.get("ELBO_SYM_REQUIRE_LATEX") == "1", stale=result.stale)
    removed = [(False, f"  removed {path} (this build has no such handout)") for path in result.removed]
    return Outcome(tuple(lines + written[:-1] + removed + written[-1:]), ok=ok)


def _why_not_built(name: str, course: Project) -> str:
    """Why `build --only NAME` has no such handout to build."""
    reasons = {"find-the-mistake": "no teaching file (expect = \"refuted\") among the derivations checked",
               "beyond-the-lesson": "it is built from the files given with --gallery PATHS",
               "from-the-literature": "it is built from the files given with --literature PATHS",
               "answers": f"the solutions are {course.settings.solutions!r} (answers.pdf needs \"separate\")"}
    return reasons.get(name, "this build makes no such handout")


def web_course(course: Project, paths: Sequence[str], folder: Path, *, site_title: str | None,
               literature: Sequence[str], budget: float, file_budget: float | None = None) -> Outcome:
    """`web`: check every derivation, then write the pages into ``folder``, or with ``site_title``
    a whole Starlight site (removing the files an earlier run wrote and this one does not)."""
    from elbo_sym.publish.handouts import HandoutError
    from elbo_sym.publish.site import write_site
    from elbo_sym.publish.web import Page, WebError, write_page_set

    lines: list[tuple[bool, str]] = []
    results = _checked(command_paths(course, paths, "web"), budget, file_budget, lines)
    cited = _checked(literature, budget, file_budget, lines) if literature else []
    if results is None or cited is None:
        return Outcome(tuple(lines), ok=False, bad_input=True)
    try:
        items = course_web(results, course, budget=budget, literature=cited, site_title=site_title,
                           file_budget=file_budget)
    except (HandoutError, WebError) as error:
        return Outcome((*lines, *_warned_before(error), (True, f"elbo-sym web: no pages written: {error}")),
                       ok=False)
    lines += [(True, line) for item in items if isinstance(item, Page) for line in item.warnings]  # the decks'
    written, removed = write_site(items, folder) if site_title is not None else write_page_set(items, folder)
    lines.append((False, checked_line([*results, *cited])))
    lines += [(False, f"  wrote {path}" + (f"  ({counted(len(item.formulas), 'formula')})"
                                           if isinstance(item, Page) else "")) for path, item in zip(written, items)]
    lines += [(False, f"  removed {path} (no longer written)") for path in removed]
    return Outcome(tuple(lines))


def exercise_files(settings: Settings, *, quiz: Path | None, roster: str | None, folder: Path | None,
                   out: str | None, title: str = "") -> Outcome:
    """`exercises --moodle` and `--roster --out`: write the quiz and the students' sheets of ``settings``
    (``title``: the course's, in the sheets' and the key's running header).

    A roster that does not read (or a bad SOURCE_DATE_EPOCH) is an InputError before anything is written.
    """
    from elbo_sym.publish.roster import RosterError, build_roster, read_roster

    s = settings
    source_date_epoch()
    if quiz is not None:
        claim_file(quiz)  # before any work: the user's own file there is one line, nothing written (rt14)
    try:
        students = read_roster(roster) if roster is not None else None
    except RosterError as error:
        if isinstance(error, InputError):
            raise  # a RosterInputError: its line and caret are printed under it
        raise InputError(str(error)) from None
    lines: list[tuple[bool, str]] = []
    if quiz is not None:
        from elbo_sym.publish.moodle import write_moodle_quiz

        path = write_moodle_quiz(quiz, s.seed, s.count, s.K, s.parts)  # claimed again, and recorded
        lines.append((False, f"wrote {path} ({s.count} cloze question(s), seed {s.seed}, K = {s.K}; import it in "
                             f"Moodle as \"Moodle XML format\")"))
    if students is not None and folder is not None and out is not None:
        try:
            result = build_roster(students, folder, seed=s.seed, count=s.count, K=s.K, parts=s.parts,
                                  course=title, strict_layout=os.environ.get("ELBO_SYM_STRICT_LAYOUT") == "1")
        except RosterError as error:
            return Outcome(tuple(lines) + ((True, f"elbo-sym exercises: no sheets written: {error}"),), ok=False)
        lines.append((False, f"wrote {len(result.sheets)} student sheet(s) (K = {s.K}) and {result.key.name} to "
                             f"{os.path.normpath(out)}{os.sep} ({result.seconds:.1f} s)"))
        lines += [(False, f"  removed {path} (no longer on the roster)") for path in result.removed]
        # as `build` does: each box that does not fit is a warning (one that cuts content, or any with
        # ELBO_SYM_STRICT_LAYOUT=1, was a RosterError above: nothing written)
        lines += [(True, f"warning: {where}: {box.describe()}") for where, box in result.overfull]
    return Outcome(tuple(lines))


def flashcards_course(course: Project, file: str | None, target: Path | None, *, budget: float,
                      file_budget: float | None) -> Outcome:
    """`flashcards`: check every card's formula (``file``, else the course's deck), then print the deck or
    write it to ``target`` as an Anki package named after the course (its ids come from that name)."""
    from elbo_sym.publish.handouts import HandoutError, checked_deck
    from elbo_sym.report.text import format_deck

    path = file if file is not None else course.flashcards
    if target is not None:
        source_date_epoch()  # the package's times: a bad value is one line, before the cards are checked
        claim_file(target)  # and the user's own file there (rt14)
    try:
        deck, result = checked_deck("flashcards", path, budget=budget, total=file_budget)
    except HandoutError as error:
        return Outcome((*_warned_before(error), (True, f"elbo-sym flashcards: {error}")), ok=False)
    warned = _warned([result])
    if target is None:
        return Outcome((*warned, (False, format_deck(deck).removesuffix("\n"))))
    from elbo_sym.publish.anki import anki_identity, course_deck_name, scope_html, write_apkg
    from elbo_sym.report.build import deck_scope

    identity = anki_identity(course_deck_name(course.title, deck, lesson_deck=path is None))
    # claimed again there: the file may have appeared or changed while the cards were checked
    written = write_apkg(deck.cards, target, identity.name, vocabulary=deck.vocabulary,
                         scope=scope_html(deck_scope(deck)))
    return Outcome((*warned, (False, f"wrote {written} ({counted(len(deck.cards), 'note')}, Anki deck "
                                        f"\"{identity.name}\", id {identity.deck_id})")))


def course_examples(course: Project) -> list:
    """The worked examples of `example` without vectors: the project's [[example]] tables, else the lesson's."""
    from elbo_sym.lesson.examples import example_of
    from elbo_sym.publish.handouts import LESSON_EXAMPLE

    return list(course.examples) or [example_of(LESSON_EXAMPLE)]


def cards_moodle(course: Project, paths: Sequence[str], target: Path, *, budget: float,
                 file_budget: float | None) -> Outcome:
    """`cards --moodle`: check every card of the decks (DECKS, else the course's), then write them as
    a Moodle quiz (elbo_sym.publish.moodle.cards_quiz); nothing is written when a card is not proved."""
    from elbo_sym.publish.handouts import HandoutError
    from elbo_sym.publish.moodle import require_distinct_categories, write_cards_quiz

    claim_file(target)  # before any work: the user's own file there is one line, nothing written (rt14)
    decks = course_decks(course, paths, budget, file_budget)
    require_distinct_categories(decks)  # before checking: one line, exit 2
    try:
        results = printable_decks(decks, budget, file_budget)
    except HandoutError as error:
        return Outcome((*_warned_before(error), (True, f"elbo-sym cards: no quiz written: {error}")), ok=False)
    written = write_cards_quiz(target, results)  # claimed again there: the checks took time
    questions = sum(len(result.deck.cards) for result in results)
    warned = _warned(results)
    return Outcome((*warned, (False, f"wrote {written} ({questions} essay questions, {len(results)} deck(s))")))


def _warned(results: Sequence) -> tuple[tuple[bool, str], ...]:
    """The warnings of checked decks (elbo_sym.lesson.practice.DeckResult each), to print on stderr before
    what the command prints or writes, as `check` prints a derivation's."""
    from elbo_sym.publish.handouts import deck_warning_lines

    return tuple((True, line) for result in results for line in deck_warning_lines(result))


def _warned_before(error: Exception) -> tuple[tuple[bool, str], ...]:
    """The warnings a refusal carries (HandoutError.warnings: the decks checked before it), for stderr
    before the refusal: a refused deck's relations in words are printed all the same."""
    from elbo_sym.publish.handouts import HandoutError

    return tuple((True, line) for line in error.warnings) if isinstance(error, HandoutError) else ()


def printable_decks(decks: Sequence, budget: float, file_budget: float | None) -> list:
    """Every deck checked (elbo_sym.lesson.practice.DeckResult each); HandoutError when a card is not
    proved: every command that prints a deck's cards prints only checked ones, so an answer never
    contradicts its card (docs/03; red team rt30: `cards` printed a false "$H(q) >= 0$" that
    `flashcards` refused)."""
    from elbo_sym.lesson.practice import check_deck
    from elbo_sym.publish.handouts import HandoutError, deck_warning_lines, require_printable

    results = [check_deck(deck, budget, file_budget) for deck in decks]
    for result in results:
        try:
            require_printable(result)
        except HandoutError as error:  # every deck's warnings, then the refusal
            raise HandoutError(str(error), [line for r in results for line in deck_warning_lines(r)]) from None
    return results


def cards_printed(course: Project, paths: Sequence[str], *, budget: float, file_budget: float | None,
                  json: bool) -> Outcome:
    """`cards` without --check: the decks (DECKS, else the course's), checked first by the rule of
    `flashcards` (`printable_decks`), printed as text or JSON; nothing printed when a card is not proved."""
    import json as json_module

    from elbo_sym.publish.handouts import HandoutError
    from elbo_sym.report.text import deck_as_dict, format_deck

    decks = course_decks(course, paths, budget, file_budget)
    try:
        results = printable_decks(decks, budget, file_budget)
    except HandoutError as error:
        return Outcome((*_warned_before(error), (True, f"elbo-sym cards: {error}")), ok=False)
    warned = _warned(results)
    if json:
        return Outcome((*warned, (False, json_module.dumps([deck_as_dict(d) for d in decks], indent=2,
                                                           ensure_ascii=False))))
    return Outcome((*warned, (False, "\n".join(format_deck(d, course.settings.solutions)
                                               for d in decks).removesuffix("\n"))))


def cards_checked(course: Project, paths: Sequence[str], *, budget: float, file_budget: float | None,
                  json: bool) -> Outcome:
    """`cards --check`: each card's verdict (report.text.deck_text, or the DeckReports as JSON) of the decks
    (DECKS, else the course's), after the decks' warnings on stderr, as `check` prints a derivation's;
    not ok when a card is not proved (or well-formed)."""
    import json as json_module

    from elbo_sym.lesson.practice import check_deck
    from elbo_sym.report.build import deck_report_of
    from elbo_sym.report.text import deck_text, warning_lines

    results = [deck_report_of(check_deck(d, budget, file_budget)) for d in course_decks(course, paths, budget,
                                                                                         file_budget)]
    shown = (json_module.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False) if json
             else "\n".join(deck_text(r) for r in results).removesuffix("\n"))
    return Outcome((*((True, line) for line in warning_lines(results)), (False, shown)),
                   ok=all(r.ok for r in results))


def course_decks(course: Project, paths: Sequence[str], budget: float = STEP_BUDGET_SECONDS,
                 file_budget: float | None = None) -> list:
    """The decks of `cards`: DECKS as given (a file named twice, ``deck.toml ./deck.toml``, once, as
    `check` reads a file named twice once: rt41), else the course's self-check and flashcards; each
    read within its deck budget (`file_budget`, else the default: elbo_sym.limits.loading_budget)."""
    from elbo_sym.report.build import load_deck_in_time

    if paths:
        once: dict[str, str] = {}
        for path in paths:
            once.setdefault(resolved_path(path), path)  # the first spelling of each file, in order
        return [load_deck_in_time(None, p, budget, file_budget) for p in once.values()]
    return [load_deck_in_time("selfcheck", course.selfcheck, budget, file_budget),
            load_deck_in_time("flashcards", course.flashcards, budget, file_budget)]
