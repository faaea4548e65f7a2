"""Derivations in tests: `assert_derivation(path)`, `assert_refuted(path, step=N)` and readable failures.

    from elbo_sym.authoring.testing import assert_derivation, assert_refuted

    def test_gap_identity():
        assert_derivation("derivations/gap.toml")

    def test_the_slip_is_caught():
        step = assert_refuted("derivations/teaching/gap-slip.toml", step=3)
        assert step.counterexample is not None

**Relative paths** are looked up first in the folder of the file whose code calls the
function (your test file, so a test finds its data wherever pytest is started), then in
the current working directory (scripts, and tests written for the old behaviour).  An
absolute path is used as it is.  If neither place has the file, the failure names both.
Messages show the path relative to the current directory when it lies below it.

A derivation that does not pass raises :class:`DerivationFailed` (an ``AssertionError``)
whose message is the same report the pytest plugin prints: file:line, the failing step's
relation with both sides, the rule, the verdict, the counterexample and the suggested
repair.  A malformed or unreadable file raises :class:`DerivationInputFailed`: both an
``AssertionError`` and an :class:`elbo_sym.engine.derivation.DerivationError` (so existing
``except DerivationError`` code keeps working), whose message is the one-line
``file:line:column: message`` and the caret under the offending token.  Under pytest (with
the elbo-sym plugin, installed with the package) these failures are shown without an
internal traceback, message first.

This module imports no SymPy until a derivation is checked: the pytest plugin imports it
in every pytest run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from elbo_sym.limits import STEP_BUDGET_SECONDS, BudgetError, validate_budget  # noqa: F401

if TYPE_CHECKING:
    from types import FrameType

    from elbo_sym.engine.derivation import DerivationError

DEFAULT_BUDGET = STEP_BUDGET_SECONDS


class ElboSymFailure(AssertionError):
    """An elbo-sym assertion that failed.  Its message says everything; the pytest plugin
    shows it without a traceback.  `called_from` is "file:line" of the calling code (or None)."""

    called_from: str | None = None
    function: str = ""


class DerivationFailed(ElboSymFailure):
    """A derivation that does not pass; `report` is its full DerivationReport."""

    def __init__(self, report):
        from elbo_sym.report.text import failure_text

        super().__init__(failure_text(report))
        self.report = report


class DerivationWarning(UserWarning):
    """A warning about a derivation file that `elbo-sym check` prints on stderr (prose stating a relation
    no step checks, elbo_sym.engine.prose_check): the assertions issue each one, placed at the file's
    line, so pytest lists it in its warnings summary (red team rt38 F1).  It changes no verdict;
    ``-W error::elbo_sym.authoring.testing.DerivationWarning`` makes it fail the test."""


def _warn(report) -> None:
    """Issue each of the report's warnings as a DerivationWarning at its file and line."""
    import warnings

    for warning in report.warnings:
        text = warning.text(report.file)
        warnings.warn_explicit(DerivationWarning(text), DerivationWarning, report.file, warning.line)


class DerivationNotRefuted(ElboSymFailure):
    """`assert_refuted` found no refutation where one was asserted; `report` is the DerivationReport."""

    def __init__(self, message: str, report):
        super().__init__(message)
        self.report = report


class _InputFailedClass(Protocol):
    """The class DerivationInputFailed, as :func:`_input_failed_class` returns it (its
    instances are DerivationErrors and ElboSymFailures)."""

    def __call__(self, path: str, line: int, message: str, step: int | None = None, column: int | None = None,
                 source: str | None = None) -> DerivationError: ...

    def from_error(self, error: DerivationError) -> DerivationError: ...


_INPUT_FAILED: _InputFailedClass | None = None


def _input_failed_class() -> _InputFailedClass:
    """`DerivationInputFailed`, built on first use: its base DerivationError lives in the engine,
    which imports SymPy, and this module must stay light (the pytest plugin imports it)."""
    global _INPUT_FAILED
    if _INPUT_FAILED is None:
        from elbo_sym.engine.derivation import DerivationError
        from elbo_sym.report.model import InputErrorReport

        class DerivationInputFailed(DerivationError, ElboSymFailure):
            """A derivation file that cannot be read or parsed, as a test failure.

            A DerivationError (path, line, column, message, step, pointer()) and an
            AssertionError; str() is ``file:line:column: message`` and the caret line(s)."""

            @classmethod
            def from_error(cls, error: DerivationError) -> DerivationInputFailed:
                return cls(error.path, error.line, error.message, error.step, error.column, error.source)

            def __str__(self) -> str:
                report = InputErrorReport.from_error(self)
                return report.text + (f"\n{report.pointer}" if report.pointer else "")

            def __repr__(self) -> str:
                return f"DerivationInputFailed({DerivationError.__str__(self)!r})"

        DerivationInputFailed.__module__ = __name__
        DerivationInputFailed.__qualname__ = "DerivationInputFailed"
        _INPUT_FAILED = DerivationInputFailed
    return _INPUT_FAILED


def __getattr__(name: str):
    if name == "DerivationInputFailed":
        return _input_failed_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------- paths


_OURS = (__name__, "elbo_sym.authoring.pytest_plugin")


def _caller() -> FrameType | None:
    """The first frame on the stack outside elbo-sym's testing code (the calling test)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") in _OURS:
        frame = frame.f_back
    return frame


def _caller_folder() -> Path | None:
    """The folder of the calling file; None when that code has no file (a notebook cell,
    `python -c`)."""
    frame = _caller()
    filename = frame.f_code.co_filename if frame is not None else ""
    if not filename or filename.startswith("<") or not os.path.isfile(filename):
        return None
    return Path(os.path.abspath(filename)).parent


def _caller_line() -> str | None:
    frame = _caller()
    if frame is None:
        return None
    filename = frame.f_code.co_filename
    if not filename or filename.startswith("<"):
        return None
    return f"{_shown(Path(os.path.abspath(filename)))}:{frame.f_lineno}"


def _cwd() -> Path | None:
    try:
        return Path.cwd()
    except OSError:  # the current directory was deleted
        return None


def _shown(path: Path) -> str:
    """`path` relative to the current directory when it lies below it, else absolute."""
    cwd = _cwd()
    try:
        return path.relative_to(cwd).as_posix() if cwd is not None else str(path)
    except ValueError:
        return str(path)


def resolve_path(path, folder: Path | None, also: tuple[Path, ...] = ()) -> Path:
    """Where a derivation file named by a test is: an absolute path as it is; a relative one
    in `folder` (the calling test file's), else the current directory, else each of `also`,
    the first that has it -- shown relative to the current directory when below it.
    Raises DerivationInputFailed, naming the places, when none has it."""
    given = Path(os.fspath(path))
    if given.is_absolute():
        return given
    places = list(dict.fromkeys(Path(os.path.abspath(f)) for f in (folder, _cwd(), *also) if f is not None))
    candidates = [Path(os.path.normpath(place / given)) for place in places]
    for candidate in candidates:
        if os.path.lexists(candidate):
            return Path(_shown(candidate))
    looked = ", then ".join(str(p) for p in places)
    raise _input_failed_class()(_shown(candidates[0]), 0,
                                f"no such file (a relative path is looked up in {looked})")


def _source(path, folder: Path | None, also: tuple[Path, ...] = ()):
    """A Derivation as it is; a path resolved as documented above."""
    if isinstance(path, (str, os.PathLike)):
        return resolve_path(path, folder, also)
    return path


# ---------------------------------------------------------------------------- checking


def check_file(path, budget: float = DEFAULT_BUDGET, *, file_budget: float | None = None):
    """Check one derivation (a path, or an already loaded Derivation): its DerivationReport.

    `budget`: seconds per step, finite and > 0 (else :class:`BudgetError`, a ValueError).
    `file_budget`: seconds for the whole file, reading it included (default: steps x budget, at
    most 120 s; reading alone at most 120 s).  A malformed file, or one not read within its file
    budget, raises DerivationError (file, line, column, message).  A relative path
    is read from the current directory (this is the general API; the assertions below look
    next to the calling test file first).
    """
    from elbo_sym.authoring.cache import import_engine

    import_engine()  # as `check` imports it
    from elbo_sym.report.build import check_file as check

    total = validate_budget(file_budget, "file budget") if file_budget is not None else None
    return check(path, validate_budget(budget), total)


def project_files(folder: str | os.PathLike[str] = ".") -> list[Path] | None:
    """The derivation files `elbo-sym check` reads when run in `folder` without PATHS, where
    `folder` holds an elbo-sym.toml: those the file lists (a folder with the folders below it,
    the project's decks left out), else its derivations/ folder.  None when `folder` holds no
    elbo-sym.toml (then `check` reads derivations/ as any folder named).  Paths are relative to
    the current folder when below it, else absolute.

    The project file is read and validated as `check` reads it (elbo_sym.publish.project): a
    malformed one, or one that leaves nothing to check, raises DerivationInputFailed naming it
    (file:line:column), where `check` exits 2 -- never an empty list that passes.
    """
    from elbo_sym.files import PROJECT_FILE, InputError, discover

    settings = Path(_shown(Path(os.path.abspath(Path(os.fspath(folder)) / PROJECT_FILE))))  # named as `check` names it
    if not (settings.exists() or settings.is_symlink()):
        return None
    from elbo_sym.authoring.cache import import_engine

    import_engine()
    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.publish.project import command_paths, load_project

    try:
        paths = command_paths(load_project(settings), (), "check")
    except DerivationError as error:
        raise _input_failed_class().from_error(error) from None
    except InputError as error:  # nothing to check: its message starts with the file's name
        raise _input_failed_class()(str(settings), 0, str(error).removeprefix(f"{settings}: ")) from None
    return discover(paths)


def _report(path, budget: float, folder: Path | None, also: tuple[Path, ...] = (), file_budget: float | None = None):
    """The report of `path` (resolved from `folder`), a malformed file as DerivationInputFailed."""
    __tracebackhide__ = True
    budget = validate_budget(budget)
    source = _source(path, folder, also)
    from elbo_sym.authoring.cache import import_engine

    import_engine()
    from elbo_sym.engine.derivation import DerivationError

    try:
        report = check_file(source, budget, file_budget=file_budget)
    except DerivationError as error:
        raise _input_failed_class().from_error(error) from None
    _warn(report)  # every assertion (and the plugin's items) shows what `check` prints on stderr
    return report


def _called_from(error: ElboSymFailure, function: str) -> ElboSymFailure:
    error.called_from = _caller_line()
    error.function = function
    return error


def assert_derivation(path, budget: float = DEFAULT_BUDGET, *, file_budget: float | None = None):
    """Check a derivation file; raise DerivationFailed with a readable report unless it passes.

    Returns the DerivationReport when every step is proved (or checked and accepted), the
    examples hold and the chain establishes its claim -- or, for a teaching file
    (``expect = "refuted"`` / ``expect_refuted = [...]``), when exactly its marked mistakes
    are refuted and the rest passes.  A relative path is looked up next to the calling file
    first (see the module docstring).  `file_budget` bounds the whole file, reading included
    (as :func:`check_file`).  A malformed file, or one not read within its file budget, raises
    DerivationInputFailed.
    """
    __tracebackhide__ = True
    return _assert_derivation(path, budget, _caller_folder(), file_budget=file_budget)


def _assert_derivation(path, budget: float, folder: Path | None, also: tuple[Path, ...] = (),
                       function: str = "assert_derivation", file_budget: float | None = None):
    __tracebackhide__ = True
    try:
        report = _report(path, budget, folder, also, file_budget)
    except ElboSymFailure as error:
        raise _called_from(error, function) from None
    if not report.ok:
        raise _called_from(DerivationFailed(report), function)
    return report


def assert_refuted(path, step: int | None = None, budget: float = DEFAULT_BUDGET, *,
                   file_budget: float | None = None):
    """Assert that a derivation is wrong, and return the evidence.

    With ``step=N``: step N's verdict is ``refuted`` with an exact counterexample; returns
    that StepReport (``.counterexample``, ``.suggestion``).  Without: some step is refuted, or
    every step holds, the chain does not give the claim and the claim itself is refuted (an
    exact instance where it fails); returns the DerivationReport.  A chain that merely stops
    short of a claim nobody showed false is not refuted (red team rt32: such a test kept passing
    after the slip it guarded was fixed): that is :func:`assert_not_established`.  A step that
    could not be decided (``error``) or is only ``checked`` is not a refutation, and neither is a
    claim left unestablished by a spent budget or a comparison that failed.  Raises DerivationNotRefuted
    (an AssertionError) otherwise, DerivationInputFailed for a malformed file or one not read
    within `file_budget` (as :func:`check_file`), and ValueError for a step number the file
    does not have.
    """
    __tracebackhide__ = True
    if step is not None and (not isinstance(step, int) or isinstance(step, bool)):
        raise TypeError(f"step must be a step number (an int), not {step!r}")
    folder = _caller_folder()
    try:
        report = _report(path, budget, folder, file_budget=file_budget)
    except ElboSymFailure as error:
        raise _called_from(error, "assert_refuted") from None
    if step is not None:
        if not 1 <= step <= len(report.steps):
            raise ValueError(f"{report.file}: there is no step {step} (steps are numbered 1 to {len(report.steps)})")
        s = report.steps[step - 1]
        if s.verdict == "refuted" and s.counterexample is not None:
            return s
        why = ("refuted, but without an exact counterexample" if s.verdict == "refuted" else
               f"{s.verdict}, not refuted ({s.reason})")
        raise _called_from(DerivationNotRefuted(_not_refuted(report, f"{report.file}:{s.line}: step {step} is {why}"),
                                                report), "assert_refuted")
    if any(s.verdict == "refuted" for s in report.steps):
        return report
    undecided = [s for s in report.steps if not (s.verdict == "proved" or s.accepted)]
    missed = not report.established and not undecided and chain_misses_claim(report.claim_reason)
    claim = _claim_verdict(_source(path, folder), budget) if missed else None
    if claim is not None and claim.verdict.value == "refuted":
        return report  # every step holds, the chain does not give the claim, and the claim is false
    if claim is not None:
        head = (f"{report.file}: nothing is refuted: every step holds and the chain does not give the claim "
                f"({report.claim_reason}), but the claim itself is {claim.verdict.value}, not refuted "
                f"({claim.reason}); for a chain that stops short of its claim use assert_not_established")
    elif undecided:
        s = undecided[0]
        head = (f"{report.file}:{s.line}: nothing is refuted; step {s.index} is {s.verdict} "
                f"(not decided either way: {s.reason})")
    elif not report.established:
        head = (f"{report.file}: nothing is refuted: every step holds, and the claim is not established "
                f"for a reason that decides nothing ({report.claim_reason})")
    else:
        head = f"{report.file}: nothing is refuted: every step holds and the claim is established"
    raise _called_from(DerivationNotRefuted(_not_refuted(report, head), report), "assert_refuted")


def assert_not_established(path, budget: float = DEFAULT_BUDGET, *, file_budget: float | None = None):
    """Assert that a derivation's steps all hold but its chain, compared with the claim in full,
    does not give the claim (:func:`chain_misses_claim`: other expressions, a weaker relation,
    mixed >= and <=); returns the DerivationReport.  Nothing is shown false: the claim may be
    true and the chain only stop short of it.  A refuted or undecided step, an established
    claim, or a claim left open by a spent budget raises DerivationNotRefuted (an
    AssertionError); a malformed file DerivationInputFailed."""
    __tracebackhide__ = True
    try:
        report = _report(path, budget, _caller_folder(), file_budget=file_budget)
    except ElboSymFailure as error:
        raise _called_from(error, "assert_not_established") from None
    failing = [s for s in report.steps if not (s.verdict == "proved" or s.accepted)]
    if not failing and not report.established and chain_misses_claim(report.claim_reason):
        return report
    head = (f"{report.file}:{failing[0].line}: step {failing[0].index} is {failing[0].verdict}, so the chain is "
            f"not what falls short of the claim" if failing else
            f"{report.file}: the claim is established" if report.established else
            f"{report.file}: the claim is not established for a reason that decides nothing ({report.claim_reason})")
    raise _called_from(DerivationNotRefuted(_not_refuted(report, head), report), "assert_not_established")


def _claim_verdict(source, budget: float):
    """The claim of `source` (a path or a Derivation) checked on its own, as a one-step relation
    in the file's model: `refuted` only at an exact instance where it fails."""
    from elbo_sym.engine.check import check_step
    from elbo_sym.engine.derivation import Derivation, Step, load
    from elbo_sym.report.build import Loaded

    derivation = source.derivation if isinstance(source, Loaded) else source
    derivation = derivation if isinstance(derivation, Derivation) else load(derivation)
    claim = derivation.claim
    assert claim is not None  # chain_misses_claim holds only for a file with a claim
    model, examples = derivation.model(), derivation.examples
    rules = ("kl-nonneg", "jensen") if claim.rel in (">=", "<=") else ("algebra",)  # as a card's formula is tried
    steps = [Step(1, claim.rhs.line, claim.rel, claim.rhs, rule, "the claim") for rule in rules]
    for step in steps:  # a proof first, without the search (a search on a true claim runs to its budget)
        proved = check_step(claim.lhs.expr, step, model, examples, budget, search=False)
        if proved.verdict.value == "proved":
            return proved
    return check_step(claim.lhs.expr, steps[0], model, examples, budget)


def chain_misses_claim(claim_reason: str) -> bool:
    """Whether a claim that is not established was compared with the chain in full and the chain
    does not give it (elbo_sym.engine.check's `_claim` words): mixed >= and <= steps, a chain about
    other expressions, or a relation weaker than the claim's.  Every other reason -- a budget
    spent, a comparison that failed, a claim not shown to be defined -- decides nothing, so it is
    never evidence that the derivation is wrong (red team rt17: a true file "refuted" by its clock)."""
    from elbo_sym.engine.check import CLAIM_CHAIN_SHOWS, CLAIM_NO_RELATION, CLAIM_NOT_GIVEN  # the engine's own words

    if claim_reason == CLAIM_NO_RELATION:
        return True
    return claim_reason.startswith(CLAIM_CHAIN_SHOWS) and any(part in claim_reason for part in CLAIM_NOT_GIVEN)


def _not_refuted(report, head: str) -> str:
    from elbo_sym.report.text import derivation_text

    return f"{head} — {report.title}\n\n{derivation_text(report).rstrip()}"


def format_failure(report) -> str:
    """Why a derivation does not pass (elbo_sym.report.text.failure_text)."""
    from elbo_sym.report.text import failure_text

    return failure_text(report)


__all__ = ["assert_derivation", "assert_refuted", "assert_not_established", "check_file", "format_failure",
           "project_files", "resolve_path", "DerivationFailed", "DerivationNotRefuted", "DerivationWarning",
           "ElboSymFailure", "BudgetError"]
# DerivationInputFailed is importable too (built on first use by the module's __getattr__).
