"""Red team rt18's publishing findings: what a handout, the site or `example` prints.

F1: a rounded value is never joined to exact math by "=", and a positive value never prints as 0.
F2: the exact form of a six-digit example's value is decided before any power is built.
F3/F4: author text and a claim's relation break (or stay whole) in the PDF as they should.
"""

from __future__ import annotations

import time

from sympy import log

from elbo_sym.lesson.examples import worked_example
from elbo_sym.numbers.exact import from_sympy
from elbo_sym.report.build import exact_form

SIX_DIGITS = (["1/2", "1/2"], ["999999/1000000", "999998/1000000"], ["500001/1000000", "499999/1000000"])


def test_exact_form_of_six_digit_example_is_decided_from_the_exponents() -> None:
    example = worked_example(*SIX_DIGITS, cross_check=False)
    started = time.process_time()
    forms = [exact_form(quantity.value) for quantity in
             (example.elbo, example.reconstruction, example.kl_prior, example.kl_posterior, example.gap)]
    assert time.process_time() - started < 1.0  # on main: minutes (10**6-th powers of primes)
    for quantity, form in zip((example.elbo, example.reconstruction, example.kl_prior, example.kl_posterior,
                               example.gap), forms):
        assert from_sympy(form) == quantity.value  # still exact: the sum of logs of primes


def test_exact_form_still_joins_logs_when_the_argument_is_small() -> None:
    example = worked_example(["3/4", "1/4"], ["1/5", "3/5"], ["1/3", "2/3"], cross_check=False)
    form = exact_form(example.kl_posterior.value)
    assert from_sympy(form) == example.kl_posterior.value
    assert len(form.atoms(log)) == 1  # one log(N/D): N, D within MAX_COMPACT
