"""Helpers for tests that look at the reference evaluators' intervals, whichever backend makes them
(`elbo_sym.engine.reference.intervals`: arb balls or mpmath (lo, hi) pairs)."""

from __future__ import annotations

import pytest

from elbo_sym.engine import reference
from elbo_sym.engine.reference import discrete
from elbo_sym.engine.reference.rationals import Rational


def ends(v) -> tuple:
    """(lo, hi) raw mpf floats that enclose the value (an interval of the backend in use)."""
    return discrete.backend().ends(v)


def same(a, b) -> bool:
    """Two values are the same value: equal fractions, or intervals with the same midpoint and radius
    (ends and bits) -- not arb's ``==``, which holds only between equal exact points."""
    if type(a) is Rational or type(b) is Rational:
        return type(a) is type(b) and a == b
    backend = discrete.backend()
    return backend.is_interval(a) and backend.is_interval(b) and backend.key(a) == backend.key(b)


@pytest.fixture
def mpmath_backend():
    """The test runs on the pure-Python intervals (the browser's), whatever the process uses."""
    with reference.use_backend("mpmath") as backend:
        yield backend
