"""The sizes of the suite's long campaigns, in one place (issue 19 item 6).

`make test` is the author's fast loop: the fuzz campaigns and the time-bounded counterexample
searches run at a smaller size there, each still covering every kind and family and asserting its
minimum. `make soundness` (run by CI after `make test`) sets ELBO_SYM_FULL_CAMPAIGNS=1: the same
tests at their full size. Nothing is skipped in either: only the sizes differ.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

FULL_CAMPAIGNS = os.environ.get("ELBO_SYM_FULL_CAMPAIGNS") == "1"
"""True under `make soundness` (and so in CI after `make test`): the campaigns at full size."""


def sized(fast: int | float, full: int | float) -> int | float:
    """`full` when the full campaigns are asked for, else `fast` (both chosen by the caller, with
    the reason next to them)."""
    return full if FULL_CAMPAIGNS else fast


def sized_int(fast: int, full: int) -> int:
    """`sized` for counts (typed as int)."""
    return full if FULL_CAMPAIGNS else fast


@functools.cache
def family(path: Path) -> str:
    """The model a derivation file is checked in, as the registry tells them apart: the discrete
    model with K = "any" is the general family; a chain with K = "any" the general chain; a Gaussian
    with D = "any", with D >= 2 and with 2 or 3 latent layers each its own model. Read once per
    file (the samples ask for every file's family, and for the sample's again in their assertion)."""
    from elbo_sym.engine.derivation import load

    derivation = load(path)
    if derivation.family == "discrete":
        return "general" if derivation.K == "any" else "discrete"
    if derivation.family == "chain":
        return "general chain" if derivation.K == "any" else f"chain ({len(derivation.latents)} layers)"
    if derivation.family == "gaussian" and len(derivation.latents) > 1:
        return f"gaussian layers ({len(derivation.latents)})"
    if derivation.family == "gaussian":
        return {"any": "gaussian, D any", 1: "gaussian"}.get(derivation.D, "gaussian, D >= 2")
    return derivation.family


def one_per_family(paths: list[Path]) -> list[Path]:
    """Every file at full size; else the first file of each family (in the given order), asserted
    to cover every family of `paths` (the web tests' samples of the lesson's and the literature's
    files: each family's pages and checks, not each file's)."""
    if FULL_CAMPAIGNS:
        return list(paths)
    first: dict[str, Path] = {}
    for path in paths:
        first.setdefault(family(path), path)
    sample = list(first.values())
    assert {family(p) for p in sample} == {family(p) for p in paths} and len(sample) >= 2
    return sample
