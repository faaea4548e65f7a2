"""The sizes of the suite's long campaigns, in one place (issue 19 item 6).

`make test` is the author's fast loop: the fuzz campaigns and the time-bounded counterexample
searches run at a smaller size there, each still covering every kind and family and asserting its
minimum. `make soundness` (run by CI after `make test`) sets ELBO_SYM_FULL_CAMPAIGNS=1: the same
tests at their full size. Nothing is skipped in either: only the sizes differ.
"""

from __future__ import annotations

import os

FULL_CAMPAIGNS = os.environ.get("ELBO_SYM_FULL_CAMPAIGNS") == "1"
"""True under `make soundness` (and so in CI after `make test`): the campaigns at full size."""


def sized(fast: int | float, full: int | float) -> int | float:
    """`full` when the full campaigns are asked for, else `fast` (both chosen by the caller, with
    the reason next to them)."""
    return full if FULL_CAMPAIGNS else fast


def sized_int(fast: int, full: int) -> int:
    """`sized` for counts (typed as int)."""
    return full if FULL_CAMPAIGNS else fast
