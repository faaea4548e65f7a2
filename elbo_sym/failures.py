"""Which exceptions a check may turn into a verdict, and which are the caller's to handle.

A step SymPy cannot simplify, an mpmath evaluation that fails, a division by zero, an expression
too deep -- or a bug of the engine (an AttributeError, a KeyError) -- ends as an `error` verdict or
an undecided instance: never a traceback, never a pass.  Any other exception is not the check's
to judge and propagates to its caller (red team rt17 F5: a caller's SIGALRM watchdog raising
``Exception`` during ``check_file`` was turned into "undecided" and the check went on to pass):
a type outside :data:`COMPUTING_ERRORS` (``Exception`` itself, ``TimeoutError`` and every other
``OSError``, ``InputError``, the caller's own classes), or any exception raised by code in a file
outside elbo-sym, the libraries it computes with and Python's standard library -- a signal
handler of the caller's raising ``ValueError`` is still the caller's (one typed at a prompt, in a
file-less cell, cannot be told apart from generated code: only its type decides there).
"""

from __future__ import annotations

import os
import sys

COMPUTING_ERRORS: tuple[type[BaseException], ...] = (
    ArithmeticError, ValueError, TypeError, LookupError, AttributeError, AssertionError, NotImplementedError,
    RuntimeError, MemoryError)
"""What computing raises: bad or undefined values, forms a library does not support, expressions
too deep (RecursionError is a RuntimeError) or too large, and what a bug of the engine raises."""

COMPUTING_PACKAGES = ("elbo_sym", "sympy", "mpmath", "flint", "numpy", "scipy")
"""elbo-sym and the libraries it computes with; their own exception classes (SymPy's
PolynomialError, mpmath's NoConvergence, ...) count as computing errors whatever their base."""


def _folder(module_name: str) -> str | None:
    module = sys.modules.get(module_name)  # a library that is not imported raised nothing
    file = getattr(module, "__file__", None)
    return os.path.dirname(os.path.realpath(file)) + os.sep if file else None


def _raised_by_computing_code(error: BaseException) -> bool:
    """Whether the innermost frame of `error`'s traceback runs code of COMPUTING_PACKAGES or of
    Python's standard library (not its site-packages): not a caller's signal handler."""
    traceback, filename = error.__traceback__, None
    while traceback is not None:
        filename = traceback.tb_frame.f_code.co_filename
        traceback = traceback.tb_next
    if filename is None or filename.startswith("<"):
        return True  # code without a file: the import system, a dataclass's generated methods, lambdify
    path = os.path.realpath(filename)
    folders = [_folder(name) for name in COMPUTING_PACKAGES]
    if any(folder is not None and path.startswith(folder) for folder in folders):
        return True
    standard = _folder("os")
    return standard is not None and path.startswith(standard) and "-packages" + os.sep not in path[len(standard):]


def computing_failure(error: BaseException) -> bool:
    """Whether a check may turn `error` into a verdict (see the module docstring); False means:
    clean up and raise it again."""
    package = type(error).__module__.partition(".")[0]
    known = isinstance(error, COMPUTING_ERRORS) or (package in COMPUTING_PACKAGES and package != "elbo_sym"
                                                     and isinstance(error, Exception))
    return known and _raised_by_computing_code(error)


__all__ = ["COMPUTING_ERRORS", "COMPUTING_PACKAGES", "computing_failure"]
