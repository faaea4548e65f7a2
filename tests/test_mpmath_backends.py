"""The second opinion is the same whichever backend mpmath runs on.

mpmath uses gmpy2 for its integers when gmpy2 is installed (many scientific Python setups have it)
and pure Python otherwise.  With gmpy2 an mpf's mantissa is an ``mpz``, which python-flint's ``arb``
refused: every second opinion of the Gaussian and chain families read "could not decide" (67 steps
of the tree) while the pure-Python backend agreed.  gmpy2 is in the test extra so both backends run
here; ``MPMATH_NOGMPY=1`` selects the pure-Python one in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

REPO = Path(__file__).resolve().parent.parent

# One file per family whose second opinion goes through the interval evaluators.
FILES = [
    "derivations/variants/gaussian-bayes.toml",               # Gaussian
    "derivations/literature/ddpm-appendix-a-two-layers.toml",  # two-layer chain
    "derivations/literature/kingma-welling-appendix-b-1d.toml",  # Gaussian KL in closed form
    "derivations/jensen.toml",                                 # discrete, K = "any"
]


def _run(python_code: str, *args: str, pure_python: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MPMATH_NOGMPY"}
    env["ELBO_SYM_NO_CACHE"] = "1"
    if pure_python:
        env["MPMATH_NOGMPY"] = "1"
    done = subprocess.run([sys.executable, "-c", python_code, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


_BACKEND = "import mpmath.libmp as m; print(m.BACKEND)"
_OPINIONS = """
import json, subprocess, sys
out = subprocess.run([sys.executable, "-m", "elbo_sym", "check", "--no-cache", "--json", "--jobs", "1",
                      *sys.argv[1:]], capture_output=True, text=True).stdout
print(json.dumps([[r["file"], s["index"], s["verdict"], s["second_opinion"]]
                  for r in json.loads(out) for s in r["steps"]]))
"""


def test_both_mpmath_backends_are_exercised() -> None:
    assert _run(_BACKEND, pure_python=False).strip() == "gmpy"  # gmpy2 is in the test extra
    assert _run(_BACKEND, pure_python=True).strip() == "python"


@pytest.mark.full
def test_the_second_opinion_agrees_on_both_backends() -> None:
    with_gmpy = json.loads(_run(_OPINIONS, *FILES, pure_python=False))
    pure = json.loads(_run(_OPINIONS, *FILES, pure_python=True))
    assert with_gmpy == pure
    proved = [row for row in with_gmpy if row[2] == "proved"]
    assert {row[0] for row in proved} == set(FILES)
    undecided = [row for row in proved if not row[3].startswith("the reference evaluator agrees")]
    assert not undecided, undecided
