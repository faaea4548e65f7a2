"""The memos of the K = "any" family (elbo_sym.engine.models.general) change nothing but the cost.

Sums over z, split logs, the integrability refusal and expansions are remembered (per model, or
per process for `_expand`).  A model that has unfolded a whole file must give, for every side of
every step, exactly what a model built afresh gives for that side alone; the remembered helpers
must equal the functions they remember; a refused sum is refused again, naming its own source.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sympy import Integer, Rational, Symbol

from elbo_sym.engine.canonical import bounded_expand
from elbo_sym.engine.derivation import load
from elbo_sym.engine.models import ModelSpec, build, general
from elbo_sym.engine.models.discrete import UnfoldError
from elbo_sym.engine.notation import to_text
from elbo_sym.engine.parse import parse_expression as parse

ROOT = Path(__file__).resolve().parent.parent / "derivations"
FILES = ["gap.toml", "decomposition.toml", "literature/renyi-bound.toml", "literature/alemi-h-minus-d.toml",
         "literature/mixture-entropy.toml", "literature/chi-square-upper-bound.toml",
         "literature/iwae-draws-as-sums.toml", "literature/ddpm-eq3-two-layers.toml"]


def _sides(derivation):
    yield derivation.start.expr
    for step in derivation.steps:
        yield step.expr


@pytest.mark.parametrize("name", FILES)
def test_a_model_that_unfolded_the_file_agrees_with_a_fresh_one(name):
    derivation = load(ROOT / name)
    shared = derivation.model()
    sides = list(_sides(derivation))
    unfolded = []
    for e in sides:  # the whole file first: every memo filled
        try:
            unfolded.append(shared.unfold_pointwise(e))
        except UnfoldError:
            unfolded.append(None)
    for e, known in zip(sides, unfolded):
        fresh = build(derivation.spec)  # nothing remembered: only this side
        try:
            alone = fresh.unfold_pointwise(e)
        except UnfoldError:
            alone = None
        assert known == alone, (name, str(e))
        if known is not None:
            assert shared.unfold_pointwise(e) == known  # asked again: the same
    assert any(u is not None for u in unfolded)


def test_a_refused_sum_is_refused_again_naming_its_source():
    model = build(ModelSpec(K="any"))
    q = model.unfold(parse("q(z)"), general.GENERIC)
    for written in ("Sum(q(z)**2, z)", "E(q, q(z))"):
        with pytest.raises(UnfoldError, match=r"not admitted for every latent space") as refused:
            model.latent_sum((q**2,), parse(written))
        assert str(refused.value).startswith(to_text(parse(written)))  # this call's source, not the first one's
    assert model.latent_sum((q,)) == 1 == model.latent_sum((q,))


def test_remembered_helpers_equal_the_functions_they_remember():
    a, b = Symbol("a", positive=True), Symbol("b", positive=True)
    for e in [(a + b) ** 2, Rational(1, 2) - a + a, (a - 1) * (a + 1), Integer(3), a * (b + 1) ** 3]:
        assert general._expand(e) == bounded_expand(e) == general._expand(e)
    model = build(ModelSpec(K="any"))
    for text in ["log(p(x, z) / q(z))", "log(2 * p(x | z) * p(z))", "q(z) * log(q(z) / p(z | x))",
                 "log(p(x)) - log(p(x | z) ** 2)"]:
        value = model.unfold(parse(text), general.GENERIC)
        assert general._split_logs(value, model) == general._split_logs_once(value, build(ModelSpec(K="any")))
        terms = [value, value * model.unfold(parse("q(z)"), general.GENERIC)]
        for term in terms:
            args = (term, model._densities_of_z, model.pointwise_symbols, model, frozenset({model.prior_z}))
            assert general.sum_refusal(*args) == general._sum_refusal(*args) == general.sum_refusal(*args)


@pytest.mark.parametrize("name", ["literature/gibbs-inequality.toml", "literature/chain-tight-only-if.toml",
                                  "literature/cremer-gap-split-q-star.toml", "gap.toml"])
def test_remembered_distribution_checks_equal_fresh_ones(name):
    """The KL rule's "is a distribution" answers (remembered per model) equal those of a fresh model."""
    from elbo_sym.engine import rules
    from elbo_sym.engine.notation import KL

    derivation = load(ROOT / name)
    pairs = {(d, kl.args[0]) for e in _sides(derivation) for kl in e.atoms(KL) for d in kl.args}
    assert pairs
    model = derivation.model()
    for d, first in sorted(pairs, key=str):
        try:
            fresh = rules._shown_distribution(d, first, build(derivation.spec))
        except UnfoldError:
            continue
        assert rules._is_distribution_notation(d, first, model) is fresh is \
            rules._is_distribution_notation(d, first, model), (name, str(d))


def test_remembered_sample_parameters_equal_a_fresh_walk():
    """samples.sample_parameters (remembered per expression) gives the parameters of each symbolic
    IWAE in the order a fresh preorder walk meets them; limit(..., k, oo) binds its k."""
    from sympy import preorder_traversal

    from elbo_sym.engine.notation import IWAE
    from elbo_sym.engine.parse import Vocabulary
    from elbo_sym.engine.samples import _without_limits, sample_parameters

    def walk(*exprs):
        found: dict = {}
        for e in exprs:
            for node in preorder_traversal(_without_limits(e)):
                if isinstance(node, IWAE) and node.symbolic:
                    found.update(dict.fromkeys(sorted(node.count.free_symbols, key=lambda s: s.name)))
        return tuple(found)

    vocabulary = Vocabulary(params=("k", "m"), counts=(("k", 1), ("m", 1)))
    texts = ["IWAE(q, m) - IWAE(q, k + 1)", "IWAE(q, k + 1)", "ELBO(q)", "IWAE(q, 2)", "IWAE(q, m) + log(p(x))",
             "limit(IWAE(q, k), k, oo)"]
    exprs = [parse(t, vocabulary) for t in texts]
    assert walk(exprs[0]) and not walk(exprs[5])
    for first in exprs:
        for second in exprs:
            assert sample_parameters(first, second) == walk(first, second) == sample_parameters(first, second)
