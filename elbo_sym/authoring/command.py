"""The command line's one error path and the work of `check`, free of click.

elbo_sym.cli (click) runs every command through :func:`safe_streams` and :func:`guarded`;
elbo_sym.__main__ runs a plain `check` (paths and the options elbo_sym.authoring.cache's
``plain_check_line`` reads) through the same two and :func:`check_command` without importing
click, so both print the same bytes and end with the same exit status
(tests/test_cache_fast_path.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from elbo_sym.files import FileReadError, InputError, describe_os_error
from elbo_sym.limits import BudgetError
from elbo_sym.prose import TerminalSafeStream

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130

__all__ = ["EXIT_FAILED", "EXIT_INPUT", "EXIT_INTERRUPTED", "EXIT_OK", "check_command", "guarded", "input_error",
           "safe_streams"]


def safe_streams(run: Callable[[], int]) -> int:
    """`run()` with stdout and stderr through the terminal filter (elbo_sym.prose.TerminalSafeStream)."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = TerminalSafeStream(stdout), TerminalSafeStream(stderr)
    try:
        return run()
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def guarded(run: Callable[[], int]) -> int:
    """`run()`'s exit status; every input problem is one line and exit 2, never a traceback."""
    try:
        return run()
    except (InputError, FileReadError, BudgetError) as error:
        status = input_error(str(error))
        pointer = getattr(error, "pointer", None)  # a DerivationError (elbo-sym.toml, a deck): its line and caret
        if callable(pointer) and pointer():
            print(pointer(), file=sys.stderr)
        return status
    except BrokenPipeError:  # `elbo-sym ... | head`: stop quietly (no flush error at exit either)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_FAILED
    except OSError as error:
        return input_error(describe_os_error(error))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def input_error(message: str) -> int:
    print(f"elbo-sym: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_INPUT


def check_command(paths: Sequence[str], as_json: bool, budget: float, file_budget: float | None, no_cache: bool,
                  jobs: int | None) -> int:
    """`elbo-sym check` on `paths` (already resolved): print the reports, or JSON, and the summary.

    Reports come from elbo_sym.authoring.cache: unchanged files that passed are not re-checked
    (and SymPy is not imported when every file hits); `no_cache` checks everything."""
    import json

    from elbo_sym.authoring.cache import check_paths
    from elbo_sym.report.text import derivation_text, error_text, summary_text, warning_lines

    reports, errors = check_paths(list(paths), budget=budget, use_cache=not no_cache, total=file_budget, jobs=jobs)
    for line in warning_lines(reports):  # on stderr, JSON or not: a warning changes no verdict and no exit status
        print(line, file=sys.stderr)  # (safe_streams escapes it)
    if as_json:
        print(json.dumps([r.to_dict() for r in reports] + [e.to_dict() for e in errors], indent=2,
                         ensure_ascii=False))
    else:
        for report in reports:
            print(derivation_text(report))
        for problem in errors:
            print(error_text(problem), file=sys.stderr)
        print(summary_text(reports, errors))
    return EXIT_INPUT if errors else EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED
