"""Which exceptions a check may turn into a verdict, and which are the caller's to handle.

What decides is where an exception was raised, not its type.  Raised by computing code -- elbo-sym's
own, the libraries it computes with (SymPy, mpmath, python-flint, ...), Python's standard library,
compiled extension code (whose frames carry a relative file name, such as python-flint's
``flint/types/fmpq.pyx`` raising SymPy's exact ``QQ(1)/QQ(0)``: red team rt20 F1) -- any
``Exception`` ends as an `error` verdict or an undecided instance: never a traceback, never a pass.
That includes the engine's bugs of any type (a NameError, a StopIteration, an OSError: rt20 F2).
Raised by the caller's code (a file outside all of those) it propagates: a caller's SIGALRM
watchdog raising ``Exception`` during ``check_file`` used to be turned into "undecided" and the
check went on to pass (red team rt17 F5).  Generated code without a file (a dataclass's methods,
SymPy's lambdify, but also a handler typed at a prompt) cannot be told apart from the caller's:
there the type decides (:data:`COMPUTING_ERRORS`, or an exception class of a computing library).
An exception of a class the caller defined (in ``__main__`` or a module loaded from a file outside the
computing packages and the standard library's folder: rt22 F3) is the caller's wherever it surfaced:
a thread-based timeout delivers it asynchronously (``PyThreadState_SetAsyncExc``, as stopit does) in
whatever frame is running, usually the engine's (red team rt21 F1: it was judged by that frame and the check passed).
The engine's input errors (:class:`~elbo_sym.files.InputError`: a bad setting, a file that does not
load) always reach the user as they are, and a budget's alarm (:class:`~elbo_sym.budget.BudgetExceeded`)
is for the handler of its budget to judge.

A narrow handler (``except (ValueError, TypeError)``: "no answer this way, try the next") whose try
runs computing -- where a budget's checkpoint, a callback or a signal can surface -- starts with
:func:`reraise_callers` before it takes the failure::

    except (UnfoldError, KeyError) as raised:
        reraise_callers(raised)
        return False

One around a known local call (``int(text)``, ``ast.parse``, a path's ``relative_to``, a file read)
need not.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig

from elbo_sym.budget import BudgetExceeded
from elbo_sym.files import InputError

COMPUTING_ERRORS: tuple[type[BaseException], ...] = (
    ArithmeticError, ValueError, TypeError, LookupError, AttributeError, AssertionError, NotImplementedError,
    RuntimeError, MemoryError)
"""What computing raises: bad or undefined values, forms a library does not support, expressions
too deep (RecursionError is a RuntimeError) or too large; what decides for code without a file."""

COMPUTING_PACKAGES = ("elbo_sym", "sympy", "mpmath", "flint", "gmpy2", "numpy", "scipy")
"""elbo-sym and the libraries it computes with; their own exception classes (SymPy's
PolynomialError, mpmath's NoConvergence, ...) count as computing errors whatever their base."""


_FOLDERS: dict[str, str] = {}
"""The folders of the computing packages imported so far (one realpath each, not one per failure)."""


def _folder(module_name: str) -> str | None:
    if module_name not in _FOLDERS:
        folder = _file_folder(getattr(sys.modules.get(module_name), "__file__", None))  # not imported: raised nothing
        if folder is None:
            return None
        _FOLDERS[module_name] = folder
    return _FOLDERS[module_name]


def _file_folder(file: str | None) -> str | None:
    return os.path.dirname(os.path.realpath(file)) + os.sep if file else None


def _innermost_file(error: BaseException) -> str | None:
    traceback, filename = error.__traceback__, None
    while traceback is not None:
        filename = traceback.tb_frame.f_code.co_filename
        traceback = traceback.tb_next
    return filename


@functools.lru_cache(maxsize=1024)
def _in_computing_folder(path: str) -> bool:
    """Whether the absolute `path` is a file of COMPUTING_PACKAGES or of Python's standard library
    (its own folder, not the site-packages inside it)."""
    path = os.path.realpath(path)
    if any(folder is not None and path.startswith(folder) for folder in map(_folder, COMPUTING_PACKAGES)):
        return True
    standard = _standard_folder()
    return standard is not None and path.startswith(standard) and "-packages" + os.sep not in path[len(standard):]


@functools.cache
def _standard_folder() -> str | None:
    return _file_folder(os.path.join(sysconfig.get_paths()["stdlib"], "os.py"))


def _computing_type(error: BaseException) -> bool:
    package = type(error).__module__.partition(".")[0]
    return isinstance(error, COMPUTING_ERRORS) or (package in COMPUTING_PACKAGES and package != "elbo_sym")


def _callers_class(error: BaseException) -> bool:
    """Whether `error`'s class was defined outside Python's builtins, its standard library and
    COMPUTING_PACKAGES: by the caller (its script, its tests, a timeout library).  The file its module
    was loaded from decides, not the module's name: a caller's own ``code/`` or ``types/`` package
    ahead of the standard library on sys.path has a standard-library name (red team rt22 F3)."""
    name = type(error).__module__
    if name == "builtins" or name in sys.builtin_module_names:
        return False  # compiled into the interpreter: found before anything on sys.path
    file = getattr(sys.modules.get(name), "__file__", None)
    return not (isinstance(file, str) and os.path.isabs(file) and _in_computing_folder(file))


def computing_failure(error: BaseException) -> bool:
    """Whether a check may turn `error` into a verdict (see the module docstring); False means:
    clean up and raise it again."""
    if not isinstance(error, Exception) or isinstance(error, (InputError, BudgetExceeded)):
        return False
    if _callers_class(error):
        return False  # the caller's own class, wherever it surfaced (an asynchronous timeout)
    filename = _innermost_file(error)
    if filename is None or filename.startswith("<frozen "):
        return True  # no frame of its own, or the import system (the standard library, frozen)
    if filename.startswith("<"):
        return _computing_type(error)  # generated code or a prompt's: the type decides
    if not os.path.isabs(filename):
        return True  # compiled extension code names its source relative to its package
    return _in_computing_folder(filename)


def callers_exception(error: BaseException) -> bool:
    """Whether a narrow handler (``except ValueError``: "no answer this way, try the next") must raise
    `error` again: the caller's own, of a type computing raises too -- a caller's ValueError subclass,
    or a plain one raised by the caller's signal handler or callback.  Swallowed, it was lost and the
    check went on as if nothing had happened (the audit after rt22 F3)."""
    return isinstance(error, Exception) and not isinstance(error, (InputError, BudgetExceeded)) \
        and not computing_failure(error)


def reraise_callers(error: BaseException) -> None:
    """Raise `error` again when it is the caller's (:func:`callers_exception`); return when the narrow
    handler that caught it may take it.  The first line of such a handler: one line, the same at each.
    Raised from here, `error` keeps its traceback, this frame before it: its innermost frame -- what
    :func:`computing_failure` judges by -- stays where it was raised."""
    if callers_exception(error):
        raise error


__all__ = ["COMPUTING_ERRORS", "COMPUTING_PACKAGES", "callers_exception", "computing_failure", "reraise_callers"]
