"""Canonical forms (elbo_sym.engine.canonical): identities of the lesson reduce to the zero
form, non-identities do not, and the size guards refuse work instead of running away.

Each identity is a law of the notation (linearity of sums, log of a product or quotient
of positive values, Bayes' rule, the constraints sum q = 1 and sum pi = 1); each
non-identity is one of those laws broken in a way a student might (KL arguments swapped,
a term dropped, a sign flipped), so its two sides differ at some point of the domain.
"""

from __future__ import annotations

import math

import pytest
from sympy import Add, Integer, Mul, Pow, Symbol, expand, log, together

from elbo_sym.budget import limit
from elbo_sym.engine.canonical import (
    MAX_DENOMINATORS,
    Canonical,
    TooLarge,
    bounded_expand,
    bounded_together,
    canonical,
    expansion_terms,
)
from elbo_sym.engine.models import ModelSpec, build
from elbo_sym.engine.models.discrete import UnfoldError
from elbo_sym.engine.parse import parse_expression as parse
from elbo_sym.engine.rules import difference
from elbo_sym.limits import MAX_EXPANSION_TERMS

MODELS = {K: build(ModelSpec(K=K)) for K in (2, 3, "any")}
KS = list(MODELS)


def forms(text: str, model) -> tuple[Canonical, ...]:
    """The canonical forms of an expression, one per value of a free z."""
    return tuple(canonical(u, model) for u in model.unfold_pointwise(parse(text)))


def zero(lhs: str, rhs: str, model) -> bool:
    return all(c.is_zero for c in (canonical(u, model) for u in
                                   model.unfold_pointwise(difference(parse(lhs), parse(rhs)))))


IDENTITIES = [
    # linearity of Sum and E
    ("Sum(q(z) * log(p(x)) + q(z) * log(q(z)), z)", "Sum(q(z) * log(p(x)), z) + Sum(q(z) * log(q(z)), z)"),
    ("Sum(3 * q(z) * log(p(x | z)), z)", "3 * Sum(q(z) * log(p(x | z)), z)"),
    ("E(q, log(p(x | z)) - log(q(z)))", "E(q, log(p(x | z))) - E(q, log(q(z)))"),
    ("Sum(q(z) * log(p(x)), z)", "log(p(x))"),  # a z-free factor comes out, and sum q = 1
    # logs of products and quotients of positive densities
    ("log(p(x, z) / q(z))", "log(p(x, z)) - log(q(z))"),
    ("log(p(x | z) * p(z))", "log(p(x | z)) + log(p(z))"),
    ("log(p(x) ** 3)", "3 * log(p(x))"),
    ("log(1/4)", "-2 * log(2)"),
    ("log(6)", "log(2) + log(3)"),
    ("exp(log(p(x)))", "p(x)"),
    # Bayes in the model
    ("p(x, z) / p(x)", "p(z | x)"),
    ("p(x | z) * p(z)", "p(x, z)"),
    ("log(p(z | x))", "log(p(x | z)) + log(p(z)) - log(p(x))"),
    ("Sum(p(z | x), z)", "1"),
    ("Sum(p(x, z), z)", "p(x)"),
    # definitions and the lesson's identities
    ("H(q)", "-E(q, log(q(z)))"),
    ("ELBO(q)", "E(q, log(p(x | z))) - KL(q(z), p(z))"),
    ("log(p(x)) - ELBO(q)", "KL(q(z), p(z | x))"),
    ("ELBO(q)", "E(q, log(p(x, z))) + H(q)"),
]

NON_IDENTITIES = [
    ("log(p(x)) - ELBO(q)", "KL(p(z | x), q(z))"),                        # KL arguments swapped
    ("KL(q(z), p(z))", "KL(p(z), q(z))"),                                 # KL is not symmetric
    ("ELBO(q)", "E(q, log(p(x | z)))"),                                   # - KL(q, p(z)) dropped
    ("log(p(x))", "ELBO(q)"),                                             # the gap KL dropped
    ("ELBO(q)", "-ELBO(q)"),                                              # sign flip
    ("log(p(x, z) / q(z))", "log(q(z) / p(x, z))"),                       # quotient upside down
    ("H(q)", "E(q, log(q(z)))"),                                          # entropy without its minus
    ("log(p(x, z))", "log(p(x | z)) * log(p(z))"),                        # log of product != product of logs
    ("log(6)", "log(2) + log(4)"),
    ("p(x, z)", "p(z | x)"),                                              # Bayes without the evidence
    ("log(Sum(q(z) * p(x | z), z))", "Sum(q(z) * log(p(x | z)), z)"),    # Jensen's gap is not zero
    ("Sum(q(z), z)", "2"),
]


@pytest.mark.parametrize("lhs, rhs", IDENTITIES, ids=[f"{a} = {b}" for a, b in IDENTITIES])
def test_identities_canonicalise_to_zero(lhs, rhs):
    assert [K for K in KS if not zero(lhs, rhs, MODELS[K])] == []


@pytest.mark.parametrize("lhs, rhs", NON_IDENTITIES, ids=[f"{a} != {b}" for a, b in NON_IDENTITIES])
def test_non_identities_keep_a_residual(lhs, rhs):
    assert [K for K in KS if zero(lhs, rhs, MODELS[K])] == []


@pytest.mark.parametrize("K", KS)
def test_both_sides_of_an_identity_have_the_same_form(K):
    """Canonical forms are keys: the two sides of an identity are the same form, item by item."""
    model = MODELS[K]
    for lhs, rhs in [("log(p(x)) - ELBO(q)", "KL(q(z), p(z | x))"), ("ELBO(q)", "E(q, log(p(x, z))) + H(q)"),
                     ("Sum(q(z) * log(p(x, z) / q(z)), z)", "Sum(q(z) * log(p(x, z)), z) - Sum(q(z) * log(q(z)), z)")]:
        assert forms(lhs, model) == forms(rhs, model)
    assert forms("KL(q(z), p(z))", model) != forms("KL(p(z), q(z))", model)


def test_the_zero_form_is_empty_and_prints_as_zero():
    model = MODELS[2]
    (form,) = forms("ELBO(q) - ELBO(q)", model)
    assert form.is_zero and form.terms == () and form.as_expr() == 0


def test_the_residual_of_a_constant_is_that_constant():
    """log(12) - log(3) - 1 reduces to 2 log 2 - 1: a log-prime atom and a constant term."""
    (form,) = forms("log(12) - log(3) - 1", MODELS[2])
    assert not form.is_zero
    assert dict(form.terms) == {(("log", Integer(2)),): Integer(2), (): Integer(-1)}
    assert (form.as_expr() - (2 * log(2) - 1)).expand() == 0


def test_the_two_state_identity_that_fails_with_three_states():
    """With K = 2, 1 - q(z) is the other state's q: sum_z q log(1 - q) = q0 log q1 + q1 log q0
    = sum_z (1 - q) log q.  With K = 3 it is not an identity; for every latent space the
    right side has no meaning (Sum(log(q(z)), z), with no density of z as a factor)."""
    lhs, rhs = "Sum(q(z) * log(1 - q(z)), z)", "Sum((1 - q(z)) * log(q(z)), z)"
    assert zero(lhs, rhs, MODELS[2])
    assert not zero(lhs, rhs, MODELS[3])
    with pytest.raises(UnfoldError, match="has no meaning for every latent space"):
        zero(lhs, rhs, MODELS["any"])


def test_coefficients_are_reduced_modulo_the_constraints():
    model = MODELS[3]
    q0, q1, q2 = model.q_symbols
    pi0, pi1, pi2 = model.prior
    assert canonical(q0 + q1 + q2 - 1, model).is_zero
    assert canonical((pi0 + pi1 + pi2) * log(q0) - log(q0), model).is_zero
    assert not canonical(q0 + q1 - 1, model).is_zero  # q2 > 0: two of three do not sum to 1


def test_a_free_z_claim_is_checked_at_every_state():
    model = MODELS[3]
    assert len(model.unfold_pointwise(parse("log(p(z | x)) - log(p(x, z) / p(x))"))) == 3
    assert zero("log(p(z | x))", "log(p(x, z) / p(x))", model)
    # q(z) = p(z) at *every* z is not an identity even though both sum to 1
    assert not zero("q(z)", "p(z)", model)


# ------------------------------------------------------------------ size guards

SYMBOLS = [Symbol(f"a{i}", positive=True) for i in range(80)]


def product_of_sums(n: int):
    """(a0 + a1)(a2 + a3)...: 2**n monomials once expanded (all distinct)."""
    return Mul(*(Add(SYMBOLS[2 * i], SYMBOLS[2 * i + 1]) for i in range(n)), evaluate=False)


def test_expansion_estimate_counts_the_terms_it_bounds():
    assert expansion_terms(product_of_sums(10)) == 2 ** 10
    assert len(Add.make_args(expand(product_of_sums(10)))) == 2 ** 10  # the estimate is exact here
    a, b, c = SYMBOLS[:3]
    # monomials of degree 12 in 3 variables: C(12 + 2, 2) = 91
    assert expansion_terms(Pow(a + b + c, 12, evaluate=False)) == math.comb(14, 2) == 91


def test_bounded_expand_expands_what_fits():
    e = product_of_sums(5)
    assert bounded_expand(e) == expand(e)
    assert len(Add.make_args(bounded_expand(e))) == 32


def test_bounded_expand_refuses_a_product_of_many_sums():
    n = math.ceil(math.log2(MAX_EXPANSION_TERMS)) + 10  # 2**n is far beyond the limit
    with limit(10, "bounded_expand ran away"):
        with pytest.raises(TooLarge):
            bounded_expand(product_of_sums(n))
        with pytest.raises(TooLarge):  # also as a power: (a0 + ... + a39) ** 12
            bounded_expand(Pow(Add(*SYMBOLS[:40]), 12, evaluate=False))


def test_bounded_together_combines_a_few_denominators():
    e = Add(*(1 / (s + 1) for s in SYMBOLS[:3]))
    combined = bounded_together(e)
    assert combined == together(e)
    assert (combined - e).simplify() == 0
    assert combined.as_numer_denom()[1] != 1


def test_bounded_together_refuses_too_many_denominators():
    e = Add(*(1 / (s + 1) for s in SYMBOLS[:MAX_DENOMINATORS + 1]))
    with limit(10, "bounded_together ran away"):
        with pytest.raises(TooLarge):
            bounded_together(e)
    # exactly at the limit it is allowed: the check counts distinct denominators, and a repeated
    # one counts once
    with limit(10, "bounded_together ran away"):
        assert bounded_together(Add(*(1 / (s + 1) for s in SYMBOLS[:MAX_DENOMINATORS]))).is_Mul
        repeated = Add(*(k / (SYMBOLS[0] + 1) for k in range(1, 2 * MAX_DENOMINATORS)))
        assert bounded_together(repeated) == together(repeated)


def test_canonical_refuses_a_power_of_a_long_log_polynomial():
    """(log a0 + ... + log a39) ** 12 has C(51, 12) ~ 1.6e11 monomials in log atoms."""
    e = Pow(Add(*(log(s) for s in SYMBOLS[:40])), 12, evaluate=False)
    with limit(10, "canonical ran away"):
        with pytest.raises(TooLarge):
            canonical(e, MODELS[2])


def test_canonical_refuses_a_high_power_inside_a_coefficient():
    # a coefficient (a0 + ... + a19) ** 12 times a log: the expansion estimate refuses it
    e = Pow(Add(*SYMBOLS[:20]), 12, evaluate=False) * log(SYMBOLS[0])
    with limit(10, "canonical ran away"):
        with pytest.raises(TooLarge):
            canonical(e, MODELS[2])
