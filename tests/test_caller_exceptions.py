"""A caller's own exception raised during a check reaches the caller: never a verdict (rt17 F5).

A SIGALRM watchdog whose handler raises while the engine works used to be caught by the engine's
catch-alls and turned into "undecided", and the check went on to pass.  The signal is sent here at
chosen points of the checking path (the handler runs on top of the engine's frames, as a timer's
would), once at each of the places that used to catch everything."""

from __future__ import annotations

import importlib
import signal
from pathlib import Path

import pytest

from elbo_sym.authoring.testing import check_file
from elbo_sym.failures import computing_failure

DERIVATIONS = Path(__file__).resolve().parent.parent / "derivations"


class Watchdog(Exception):
    """The caller's own exception, as a watchdog would raise it."""


class CallersValueError(ValueError):
    """The caller's own exception of a type the engine also raises: its origin tells them apart."""


PLACES = [  # (file, module, function, which call raises): each reaches one catch-all of the checking path
    ("gap.toml", "elbo_sym.engine.check", "_definedness", 1),          # the assumptions (_problem_within_budget)
    ("gap.toml", "elbo_sym.engine.check", "_definedness", 3),          # a step's proof
    ("gap.toml", "elbo_sym.engine.check", "_congruent_arguments", 1),  # the claim's comparison (_claim)
    ("gap.toml", "elbo_sym.engine.check", "proves_zero", 1),
    ("tight.toml", "elbo_sym.engine.check", "_expect_failure", 1),     # an example's expected value
    ("gap.toml", "elbo_sym.engine.reference.discrete", "judge", 1),    # the second opinion
]


@pytest.fixture
def alarm():
    """Install a SIGALRM handler raising the exception given; the previous handler is put back."""
    previous = signal.getsignal(signal.SIGALRM)
    raised: list[BaseException] = []

    def install(exception: BaseException) -> None:
        def handler(signum, frame):
            raised.append(exception)
            raise exception

        signal.signal(signal.SIGALRM, handler)

    yield install, raised
    signal.signal(signal.SIGALRM, previous)


def _signal_at(monkeypatch, module: str, name: str, call: int) -> list[int]:
    """Send SIGALRM to this process at the `call`-th call of module.name; the calls are counted."""
    target = importlib.import_module(module)
    original = getattr(target, name)
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            signal.raise_signal(signal.SIGALRM)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)
    return calls


@pytest.mark.parametrize("file, module, name, call", PLACES, ids=[f"{n}-{c}" for _, _, n, c in PLACES])
@pytest.mark.parametrize("exception", [Watchdog("the caller's watchdog"), TimeoutError("too slow"),
                                       Exception("plain"), CallersValueError("the caller's")],
                         ids=["own-class", "TimeoutError", "Exception", "own-ValueError"])
def test_the_callers_exception_propagates(monkeypatch, alarm, file, module, name, call, exception) -> None:
    install, raised = alarm
    baseline = check_file(DERIVATIONS / file)
    assert baseline.ok
    install(exception)
    calls = _signal_at(monkeypatch, module, name, call)
    with pytest.raises(type(exception)) as caught:
        check_file(DERIVATIONS / file)
    assert caught.value is exception and raised == [exception]
    assert calls[0] >= call
    monkeypatch.undo()  # the engine as it was: a check after the interruption is the undisturbed one
    assert check_file(DERIVATIONS / file) == baseline


def test_what_the_engine_raises_is_still_a_verdict() -> None:
    from fractions import Fraction

    import sympy
    from sympy.polys.polyerrors import PolynomialError

    from elbo_sym.limits import validate_budget

    x = sympy.Symbol("x")

    def raised(compute) -> BaseException:
        with pytest.raises(Exception) as caught:
            compute()
        return caught.value

    # raised inside SymPy (its own class, no ValueError), the standard library, elbo-sym: judged
    polynomial = raised(lambda: sympy.Poly(1 / x, x))
    assert isinstance(polynomial, PolynomialError) and not isinstance(polynomial, ValueError)
    for error in (polynomial, raised(lambda: Fraction(1, 0)), raised(lambda: validate_budget(-1))):
        assert computing_failure(error), error
    # raised in this test file (not elbo-sym, not a library): the caller's, whatever its type
    def own() -> None:
        raise ZeroDivisionError("the caller's")

    assert not computing_failure(raised(own))
    # code without a file (a dataclass's generated methods, SymPy's lambdify): judged by its type alone
    generated: dict = {}
    exec("def generated():\n    raise ValueError('generated')", generated)  # noqa: S102 - a file-less function
    assert computing_failure(raised(generated["generated"]))
    # but a prompt's handler has no file either: there a type computing never raises is the caller's
    exec("def prompt():\n    raise TimeoutError('typed at a prompt')", generated)  # noqa: S102
    assert not computing_failure(raised(generated["prompt"]))
    # the standard library computes for the engine: what it raises is judged, whatever the type
    assert computing_failure(raised(lambda: Path("/nonexistent/elbo-sym").read_text()))


def test_what_compiled_library_code_raises_is_a_verdict() -> None:
    """rt20 F1: python-flint's compiled code names its frames relative to its package
    (``flint/types/fmpq.pyx``); SymPy's exact domains raise ZeroDivisionError there."""
    from sympy import QQ, ZZ, Poly, Symbol, div

    x = Symbol("x")
    for compute in (lambda: QQ(1) / QQ(0), lambda: ZZ(1) // ZZ(0),
                    lambda: div(Poly(x, x, domain="QQ"), Poly(0, x, domain="QQ"))):
        with pytest.raises(ZeroDivisionError) as caught:
            compute()
        assert computing_failure(caught.value)


def _engine_function(source: str, name: str):
    """A function whose frames are elbo_sym/engine/check.py's, as a bug of the engine's would be."""
    import elbo_sym.engine.check as check

    namespace: dict = {}
    exec(compile(source, check.__file__, "exec"), namespace)  # noqa: S102 - an engine frame, on purpose
    return namespace[name]


ENGINE_BUGS = {  # rt20 F2: types outside COMPUTING_ERRORS, raised in the engine's own code
    "NameError": "def bug(*args, **kwargs):\n    return undefined_name\n",
    "StopIteration": "def bug(*args, **kwargs):\n    return next(iter(()))\n",
    "OSError": "def bug(*args, **kwargs):\n    raise OSError('no such thing')\n",
    "ImportError": "def bug(*args, **kwargs):\n    import elbo_sym_has_no_such_module\n",  # raised in <frozen ...>
}


def _sympy_zero_division(*args, **kwargs):
    from sympy import QQ

    return QQ(1) / QQ(0)


@pytest.mark.parametrize("bug", [*ENGINE_BUGS, "flint"])
def test_a_computing_failure_of_any_type_is_an_error_verdict(monkeypatch, tmp_path, capsys, bug) -> None:
    import elbo_sym.engine.check as check
    from elbo_sym.cli import main

    hostile = _sympy_zero_division if bug == "flint" else _engine_function(ENGINE_BUGS[bug], "bug")
    monkeypatch.setattr(check, "_definedness", hostile)
    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", str(tmp_path / "cache"))
    report = check_file(DERIVATIONS / "gap.toml")
    assert not report.ok and any(step.verdict == "error" for step in report.steps)
    assert main(["check", str(DERIVATIONS / "gap.toml"), "--no-cache"]) == 1
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err and " error " in printed.out


@pytest.mark.parametrize("kind", ["BackendUnavailable", "BudgetExceeded"])
def test_an_input_error_or_a_budgets_alarm_raised_in_the_engine_is_not_a_computing_failure(kind) -> None:
    """An InputError reaches the user as it is; a BudgetExceeded is its budget's handler's to judge."""
    from elbo_sym.budget import BudgetExceeded
    from elbo_sym.engine.reference.intervals import BackendUnavailable

    kinds = {"BackendUnavailable": BackendUnavailable, "BudgetExceeded": BudgetExceeded}
    bug = _engine_function(f"def bug():\n    raise {kind}('raised by the engine')\n", "bug")
    bug.__globals__[kind] = kinds[kind]
    with pytest.raises(kinds[kind]) as caught:
        bug()
    assert not computing_failure(caught.value)


class CallersWatchdog(Exception):
    """A caller's own exception class, as a thread-based timeout library (stopit) defines one."""


def test_a_callers_class_surfacing_in_an_engine_frame_propagates(monkeypatch) -> None:
    """rt21 F1: a timeout delivered from another thread (PyThreadState_SetAsyncExc) surfaces in
    whatever frame runs, usually the engine's; its class, defined by the caller, decides."""
    import elbo_sym.engine.check as check

    bug = _engine_function("def bug(*args, **kwargs):\n    raise CallersWatchdog('time is up')\n", "bug")
    bug.__globals__["CallersWatchdog"] = CallersWatchdog
    with pytest.raises(CallersWatchdog) as caught:
        bug()
    assert not computing_failure(caught.value)
    monkeypatch.setattr(check, "_definedness", bug)
    with pytest.raises(CallersWatchdog):
        check_file(DERIVATIONS / "gap.toml")


def test_an_asynchronous_timeout_from_another_thread_reaches_the_caller(fresh_memos) -> None:
    """The real mechanism: a watcher thread raises the caller's class in the checking thread as soon
    as that thread runs the engine's code (as rt21's repro did).  It may land anywhere, so the memos
    are emptied after it (fresh_memos) and the budgets' state is put back for the next test."""
    import ctypes
    import sys
    import threading
    import traceback

    from elbo_sym import budget
    from elbo_sym.engine.check import check_derivation
    from elbo_sym.engine.derivation import load

    handler = signal.getsignal(signal.SIGPROF)
    derivation = load(DERIVATIONS / "gap.toml")
    target, fired, stop = threading.get_ident(), threading.Event(), threading.Event()

    def watch() -> None:
        while not stop.is_set():
            frame = sys._current_frames().get(target)
            if frame is not None and "elbo_sym" + "/engine/" in frame.f_code.co_filename:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(CallersWatchdog))
                fired.set()
                return

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with pytest.raises(CallersWatchdog) as caught:
            for _ in range(200):
                check_derivation(derivation)
    finally:
        stop.set()
        watcher.join()
        budget._stack.deadlines.clear()
        budget._stack.held = 0
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, handler)
    assert fired.is_set()
    files = [entry.filename for entry in traceback.extract_tb(caught.value.__traceback__)]
    assert any("elbo_sym" in name for name in files[1:])  # it surfaced inside the engine, not in this loop


@pytest.mark.parametrize("package", ["code", "tabnanny", "mailbox"])
def test_a_callers_package_with_a_standard_library_name_is_the_callers(monkeypatch, tmp_path, package) -> None:
    """rt22 F3: the caller's own ``code/`` (or ``tabnanny/``, ``mailbox/``) package ahead of the standard
    library on sys.path; its exception class, surfacing in an engine frame, is still the caller's:
    the file the class's module was loaded from decides, not the module's top-level name."""
    import sys

    import elbo_sym.engine.check as check

    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "watchdog.py").write_text("class Timeout(Exception):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)  # put back by monkeypatch after the test
    timeout = importlib.import_module(f"{package}.watchdog").Timeout
    try:
        assert timeout.__module__.partition(".")[0] in sys.stdlib_module_names
        bug = _engine_function("def bug(*args, **kwargs):\n    raise Timeout('time is up')\n", "bug")
        bug.__globals__["Timeout"] = timeout
        with pytest.raises(timeout) as caught:
            bug()
        assert not computing_failure(caught.value)
        monkeypatch.setattr(check, "_definedness", bug)
        with pytest.raises(timeout):
            check_file(DERIVATIONS / "gap.toml")
    finally:
        for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
            if sys.modules[name].__file__ and sys.modules[name].__file__.startswith(str(tmp_path)):
                del sys.modules[name]


def test_a_standard_library_class_raised_in_the_engine_is_a_verdict() -> None:
    """The other side of rt22 F3: a class the real standard library defines (json's, decimal's compiled
    one) raised by the engine's code is computing's, as before."""
    import decimal
    import json

    for kind, module in (("JSONDecodeError", json), ("InvalidOperation", decimal)):
        bug = _engine_function(f"def bug():\n    raise {kind}('raised by the engine', '', 0)\n", "bug")
        bug.__globals__[kind] = getattr(module, kind)
        with pytest.raises(getattr(module, kind)) as caught:
            bug()
        assert computing_failure(caught.value), kind


class CallersKeyError(KeyError):
    """The caller's own exception of another type a narrow handler takes as "no answer this way"."""


NARROW = [  # (file, module, name): a call inside a narrow handler's try (`except (ValueError, ...)`, ...)
    ("gap.toml", "elbo_sym.engine.reference", "cases", ValueError),     # reference: JudgeError, ValueError, ...
    ("gap.toml", "elbo_sym.engine.derivation", "build", ValueError),    # the explicit model: ValueError, UnfoldError
]


@pytest.mark.parametrize("file, module, name, kind", NARROW, ids=[n for _, _, n, _ in NARROW])
@pytest.mark.parametrize("origin", ["own-class", "callers-frame"])
def test_a_narrow_handler_raises_the_callers_exception_again(monkeypatch, file, module, name, kind, origin) -> None:
    """The audit after rt22 F3: a handler that takes a ValueError (or a KeyError) as "no answer this
    way" let the caller's exception of that type -- its own subclass, or a plain one raised by its
    callback or signal handler -- vanish, and the check went on; now it reaches the caller."""
    own = {ValueError: CallersValueError, KeyError: CallersKeyError}[kind]
    exception = own("the caller's") if origin == "own-class" else kind("raised in the caller's frame")
    target = importlib.import_module(module)
    calls = [0]

    def hostile(*args, **kwargs):
        calls[0] += 1
        raise exception

    monkeypatch.setattr(target, name, hostile)
    with pytest.raises(kind) as caught:
        check_file(DERIVATIONS / file)
    assert caught.value is exception and calls[0] >= 1


@pytest.mark.parametrize("file, module, name, kind", NARROW, ids=[n for _, _, n, _ in NARROW])
def test_a_narrow_handler_still_takes_the_engines_own_failure(monkeypatch, file, module, name, kind) -> None:
    """The other side: the same exception type raised by the engine's code is still the handler's --
    the second opinion's "no answer", the explicit model's input error naming the file and example."""
    from elbo_sym.engine.derivation import DerivationError

    bug = _engine_function(f"def bug(*args, **kwargs):\n    raise {kind.__name__}('the engine')\n", "bug")
    monkeypatch.setattr(importlib.import_module(module), name, bug)
    if name == "build":
        with pytest.raises(DerivationError, match=r"gap\.toml:\d+:\d+: example 1: the engine"):
            check_file(DERIVATIONS / file)
    else:
        assert check_file(DERIVATIONS / file).steps


def test_reraise_callers_raises_the_callers_exception_as_it_was_and_returns_on_the_engines() -> None:
    """The one line of every narrow handler: the caller's exception goes on unchanged -- the same
    object, its innermost frame still the caller's, so a handler further out judges it the same --
    and the engine's own returns, for the handler to take."""
    from elbo_sym.failures import callers_exception, reraise_callers

    def callers_code():
        raise ValueError("raised in the caller's frame")

    with pytest.raises(ValueError) as outer:
        try:
            callers_code()
        except ValueError as raised:
            reraise_callers(raised)
            pytest.fail("the caller's ValueError was taken")
    innermost = outer.value.__traceback__
    while innermost.tb_next is not None:
        innermost = innermost.tb_next
    assert innermost.tb_frame.f_code is callers_code.__code__ and callers_exception(outer.value)
    assert outer.value.__context__ is None  # not its own context

    bug = _engine_function("def bug():\n    raise ValueError('the engine')\n", "bug")
    try:
        bug()
    except ValueError as raised:
        assert reraise_callers(raised) is None  # the handler's to take


def _called(node) -> str:
    """The name a statement or expression calls (``reraise_callers(raised)``), else ""."""
    import ast

    node = node.value if isinstance(node, ast.Expr) else node
    return node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else ""


@pytest.mark.full
def test_every_narrow_handler_asks_first_in_one_line() -> None:
    """Only failures.py decides whose an exception is: the engine's handlers call reraise_callers (never
    callers_exception and a `raise` of their own), as the first statement of the handler, on the
    exception it caught."""
    import ast

    package = Path(__file__).resolve().parent.parent / "elbo_sym"
    sites = 0
    for path in sorted(package.rglob("*.py")):
        if path.name == "failures.py":
            continue
        nodes = list(ast.walk(ast.parse(path.read_text("utf-8"))))
        assert not [n for n in nodes if _called(n) == "callers_exception"], path
        asking = [n for n in nodes if isinstance(n, ast.Call) and _called(n) == "reraise_callers"]
        first = [h for h in nodes if isinstance(h, ast.ExceptHandler) and _called(h.body[0]) == "reraise_callers"]
        assert len(first) == len(asking), f"{path}: reraise_callers not first in its handler"
        for handler in first:
            statement = handler.body[0]
            assert isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
            assert [ast.unparse(a) for a in statement.value.args] == [handler.name], f"{path}:{handler.lineno}"
        sites += len(first)
    assert sites >= 40  # not vacuous: the handlers of the audit after rt22 F3 (40 when this was written)


_STANDARD = {"ValueError", "TypeError", "ArithmeticError", "ZeroDivisionError", "OverflowError", "KeyError",
             "IndexError", "LookupError", "AttributeError", "RuntimeError", "RecursionError", "SyntaxError",
             "NotImplementedError", "AssertionError", "MemoryError"}
"""Built-in classes a caller's exception may be (or subclass): a handler of one of them can take it."""


@pytest.mark.full
def test_every_engine_handler_of_a_built_in_class_asks_first() -> None:
    """Every handler in the engine and the exact numbers that catches a built-in class a caller's code may
    raise calls reraise_callers first -- with or without ``as`` (red team rt33 F3: ``except (ValueError,
    ...): return nan`` in numbers/evaluate.py took a caller's alarm and the check passed).  The readers
    (engine/parse.py, engine/derivation.py) turn what they catch into an input error, exit 2, never a pass;
    handlers of Exception decide with computing_failure themselves.  check.ENGINE_ERRORS is a tuple of
    built-in classes too (its handler in repair.prefer_example did not ask)."""
    import ast

    package = Path(__file__).resolve().parent.parent / "elbo_sym"
    readers = {package / "engine" / "parse.py", package / "engine" / "derivation.py"}
    missing, seen = [], 0
    for path in sorted([*(package / "engine").rglob("*.py"), *(package / "numbers").rglob("*.py")]):
        if path in readers:
            continue
        for handler in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(handler, ast.ExceptHandler) or handler.type is None:
                continue
            types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            if not {ast.unparse(t).split(".")[-1] for t in types} & (_STANDARD | {"ENGINE_ERRORS"}):
                continue
            seen += 1
            if _called(handler.body[0]) != "reraise_callers":
                missing.append(f"{path.relative_to(package)}:{handler.lineno}")
    assert not missing, missing
    assert seen >= 50  # not vacuous
