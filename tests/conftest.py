"""Shared test helpers: LaTeX-dependent tests skip without TeX, except in CI."""

from __future__ import annotations

import os
import shutil

import pytest

LATEX_TOOLS = ("latexmk", "pdflatex", "pdftotext")

# The suite checks the engine, not the result cache: a cached verdict would hide a change.
os.environ.setdefault("ELBO_SYM_NO_CACHE", "1")

try:  # Reproducible property tests in CI; a wider random search locally.
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, deadline=None)
    settings.register_profile("dev", deadline=None)
    settings.load_profile("ci" if os.environ.get("CI") else "dev")
except ImportError:  # pragma: no cover - hypothesis is a test extra
    pass


@pytest.fixture
def requires_latex() -> None:
    """Skip if TeX/poppler is missing; fail instead when ELBO_SYM_REQUIRE_LATEX=1 (CI)."""
    missing = [tool for tool in LATEX_TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    msg = f"LaTeX tools missing: {', '.join(missing)} (run `make latex`)"
    if os.environ.get("ELBO_SYM_REQUIRE_LATEX") == "1":
        pytest.fail(msg + "; ELBO_SYM_REQUIRE_LATEX=1 forbids skipping")
    pytest.skip(msg)
