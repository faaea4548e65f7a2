"""Red team rt16: the second opinion agreed with steps false only at a distribution's extremes.

Called directly on false steps, the reference evaluator answered ``agrees`` on all of them, because
none of its instances was near a vertex of the simplex (KL(q, p) <= 30 at K = 2: false at
p = (1e-14, 1 - 1e-14), q reversed), had the observations' q's nearly disjoint (the mixture entropy
bound with log(2)/2 for log(2)), or had more than 7 states (H(q) <= log(7), K = "any").  The engine
refutes these itself; the second opinion exists to catch an engine bug, so it must not agree either.
Its instances now include extremes (every q and prior within 1e-30 of a vertex, never exactly on
it) and a larger K for K = "any"; true steps that are tight or extreme there still agree.
"""

from __future__ import annotations

import math

import mpmath
import pytest

from elbo_sym.engine.derivation import loads
from elbo_sym.engine.reference import cases, second_opinion
from elbo_sym.engine.reference import chain as chain_ref
from elbo_sym.engine.reference import discrete as discrete_ref
from elbo_sym.engine.reference.rationals import Rational
from elbo_sym.limits import REFERENCE_ANY_K, REFERENCE_EXTREME_ANY_K, REFERENCE_EXTREME_EPSILON_DIGITS

TWO_OBSERVATIONS = 'K = "any"\ndata = ["x1", "x2"]'
CHAIN = 'latents = ["z1", "z2"]\nK = 2'
MIXTURE = "H((q(z | x1) + q(z | x2)) / 2)"
MIXED = "(H(q(z | x1)) + H(q(z | x2))) / 2"


def _derivation(header: str, lhs: str, rel: str, rhs: str):
    return loads(f'title = "t"\n{header}\nclaim = "{lhs} {rel} {rhs}"\nstart = "{lhs}"\n\n'
                 f'[[step]]\nrel = "{rel}"\nexpr = "{rhs}"\nrule = "algebra"\n', "t.toml")


def _model(header: str):
    return _derivation(header, "1", "=", "1").model()


def _opinion(header: str, lhs: str, rel: str, rhs: str):
    derivation = _derivation(header, lhs, rel, rhs)
    model = derivation.model()
    return second_opinion(derivation.start.expr, rel, derivation.steps[0].expr, model.spec, model.K)


FALSE_AT_THE_EXTREMES = [
    ("mixture entropy bound halved", TWO_OBSERVATIONS, MIXTURE, "<=", f"{MIXED} + log(2) / 2"),
    ("entropy at most log(7) for every K", 'K = "any"', "-Sum(q(z) * log(q(z)), z)", "<=", "log(7)"),
    ("KL between opposite vertices at most 30", "K = 2", "KL(q(z), p(z))", "<=", "30"),
    ("KL of a chain at most 30", CHAIN, "KL(q(z1, z2 | x), p(z1, z2))", "<=", "30"),
    ("KL of a chain, K any, at most 30", 'latents = ["z1", "z2"]\nK = "any"', "KL(q(z1, z2 | x), p(z1, z2))",
     "<=", "30"),
]


@pytest.mark.parametrize("label, header, lhs, rel, rhs", FALSE_AT_THE_EXTREMES,
                         ids=[case[0] for case in FALSE_AT_THE_EXTREMES])
def test_a_step_false_only_at_the_extremes_gets_a_disagreeing_second_opinion(label, header, lhs, rel, rhs):
    """rt16's probes (and a chain's): each agreed on 8 or 9 moderate instances before."""
    opinion = _opinion(header, lhs, rel, rhs)
    assert opinion.disagrees, opinion.describe()
    assert "extremes" in opinion.detail  # refuted at an extreme instance, as intended


TRUE_AT_THE_EXTREMES = [
    ("mixture entropy bound log(2): tight at disjoint q's", TWO_OBSERVATIONS, MIXTURE, "<=", f"{MIXED} + log(2)"),
    ("mixture entropy at least the mixed entropies (Jensen)", TWO_OBSERVATIONS, MIXTURE, ">=", MIXED),
    ("KL convex in q", TWO_OBSERVATIONS, "KL((q(z | x1) + q(z | x2)) / 2, p(z))", "<=",
     "(KL(q(z | x1), p(z)) + KL(q(z | x2), p(z))) / 2"),
    ("KL >= 0, K = 2", "K = 2", "KL(q(z), p(z))", ">=", "0"),
    ("KL >= 0, K any", 'K = "any"', "KL(q(z), p(z))", ">=", "0"),
    ("log-sum inequality", 'K = "any"', "Sum(q(z) * log(q(z) / p(z)), z)", ">=",
     "Sum(q(z), z) * log(Sum(q(z), z) / Sum(p(z), z))"),
    ("Jensen: log E >= E log", 'K = "any"', "log(E(q, p(x, z) / q(z)))", ">=", "E(q, log(p(x, z) / q(z)))"),
    ("the evidence bounds the ELBO", 'K = "any"', "log(p(x))", ">=", "ELBO(q)"),
    ("entropy at most log(K), tight at q uniform", 'K = "any"', "-Sum(q(z) * log(q(z)), z)", "<=",
     f"log({REFERENCE_EXTREME_ANY_K})"),
    ("the chain's KL >= 0", CHAIN, "KL(q(z1, z2 | x), p(z1, z2))", ">=", "0"),
    ("the chain's joint KL bounds its marginal's", CHAIN, "KL(q(z1, z2 | x), p(z1, z2 | x))", ">=",
     "KL(q(z1 | x), p(z1 | x))"),
]


@pytest.mark.parametrize("label, header, lhs, rel, rhs", TRUE_AT_THE_EXTREMES,
                         ids=[case[0] for case in TRUE_AT_THE_EXTREMES])
def test_a_true_step_still_agrees_on_every_instance_the_extremes_included(label, header, lhs, rel, rhs):
    """Decided at every instance (none undecided, none skipped), the extreme ones among them."""
    opinion = _opinion(header, lhs, rel, rhs)
    model = _model(header)
    _, found, _ = cases(model.spec, model.K)
    extremes = [case for case in found if "extremes" in case.name]
    assert extremes
    assert opinion.status == "agrees", opinion.describe()
    assert (opinion.decided, opinion.undecided, opinion.skipped) == (len(found), 0, 0)


def test_the_extreme_instances_are_valid_models_near_opposite_vertices_never_on_them():
    """Every block a distribution with every entry > 0 (a log of q needs q > 0), summing exactly to 1;
    the prior and q(z | x1) near different vertices in both directions, x1's and x2's q's disjoint."""
    eps = Rational(1, 10**REFERENCE_EXTREME_EPSILON_DIGITS)
    for K in (2, 3, REFERENCE_EXTREME_ANY_K):
        found = discrete_ref.extreme_instances(K, ("x1", "x2")) + discrete_ref.extreme_instances(K, ("x1", "x2"),
                                                                                                 uniform_q=True)
        assert len(found) == 3
        assert all(discrete_ref.is_valid(inst) for inst in found)
        assert all(min(inst.q_of(o)) >= eps / (K - 1) and min(inst.prior) > 0 for inst in found for o in ("x1", "x2"))
        tops = [(inst.prior.index(max(inst.prior)), inst.q_of("x1").index(max(inst.q_of("x1"))),
                 inst.q_of("x2").index(max(inst.q_of("x2")))) for inst in found[:2]]
        assert tops == [(0, 1, 2 % K), (K - 1, 0, 1)]
        assert all(max(inst.q_of("x1")) == 1 - eps for inst in found[:2])
        assert found[2].q_of("x1") == tuple(Rational(1, K) for _ in range(K))
    for layers in (2, 3):
        chains = chain_ref.extreme_instances(3, "x", (), layers)
        assert [inst.T for inst in chains] == [layers, layers]
        assert all(chain_ref.is_valid(inst) for inst in chains)


def test_k_any_is_tried_at_a_larger_k_and_a_fixed_k_at_its_own_extremes():
    """rt16: H(q) <= log(7) is false from K = 8 on; the K = "any" instances reach K = 9 now."""
    _, found, _ = cases(_model('K = "any"').spec, "any")
    assert {inst.K for inst in found} == set(REFERENCE_ANY_K) | {REFERENCE_EXTREME_ANY_K}
    assert max(REFERENCE_ANY_K) < 8 <= REFERENCE_EXTREME_ANY_K
    _, fixed, _ = cases(_model("K = 2").spec, 2)
    assert sum("extremes" in inst.name for inst in fixed) == 2


def test_the_entropy_at_an_extreme_instance_is_the_hand_computed_one():
    """The reference evaluator's -E(q, log q) at q = (1 - 1e-30, 1e-30), against mpmath at 80 digits."""
    model = _model("K = 2")
    _, found, _ = cases(model.spec, 2)
    inst = next(case for case in found if case.name.startswith("prior near z = 0"))
    value = discrete_ref.evaluate(_derivation("K = 2", "-E(q, log(q(z)))", "=", "H(q)").start.expr, inst)
    with mpmath.workdps(80):
        e = mpmath.mpf(10) ** -REFERENCE_EXTREME_EPSILON_DIGITS
        expected = -((1 - e) * mpmath.log(1 - e) + e * mpmath.log(e))
    shown = float(mpmath.mpf(discrete_ref.show(value).split()[0]))
    assert math.isclose(shown, float(expected), rel_tol=1e-12)
    assert 7.0e-29 < float(expected) < 7.1e-29  # eps * (log(1/eps) + 1): small but far from 0
