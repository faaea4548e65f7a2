"""The Model interface: a family written only here plugs into the engine unchanged.

`ConstantLikelihood` is a toy family: p(x | z) = c for every z, with c a parameter in
(0, 1].  It reuses the discrete family's unfolding and overrides what differs: the
likelihood, its blocks and its description.  Registered as `model = "constant-likelihood"`,
files are loaded, proved, refuted and searched by the unchanged engine.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cached_property

import pytest
from sympy import Symbol

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.engine.models import DiscreteModel, Instance, Interval, ModelSpec, build, families, register
from elbo_sym.engine.models.base import PARAMETER, SIMPLEX, Block, validate_blocks


class ConstantLikelihood(DiscreteModel):
    """K states; every p(x | z = k) is the same c in (0, 1]."""

    @cached_property
    def c(self) -> Symbol:
        return Symbol("c", positive=True)

    @cached_property
    def likelihoods(self) -> dict:
        return {o: (self.c,) * self.K for o in self.observations}

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        return (Block("prior", "p(z)", SIMPLEX, self.prior),
                Block("c", "c", PARAMETER, (self.c,), Interval(Fraction(0), Fraction(1), lower_open=True)),
                Block("q", "q(z)", SIMPLEX, self.q_symbols))

    @cached_property
    def parameter_bounds(self) -> dict:
        return {self.c: Interval(Fraction(0), Fraction(1), lower_open=True)}

    def describe(self) -> str:
        return f"every model with {self.K} states and a constant likelihood"

    def special_instances(self, base: Instance) -> list[Instance]:
        return [Instance(base.with_block("q", base.prior).blocks, "q = p(z)")]

    def validate(self, instance: Instance) -> None:
        validate_blocks(self.blocks, instance)

    def explicit(self, K: int) -> ConstantLikelihood:
        return self if K == self.K else ConstantLikelihood(K, ModelSpec("constant-likelihood", K))


register("constant-likelihood", lambda spec: ConstantLikelihood(spec.K, spec))


def derivation(start: str, rel: str, expr: str, rule: str = "algebra", extra: str = "") -> str:
    return (f'title = "t"\nmodel = "constant-likelihood"\nK = 3\nstart = "{start}"\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n{extra}')


def test_the_family_is_in_the_registry():
    assert "constant-likelihood" in families() and "discrete" in families()
    assert isinstance(build(ModelSpec("constant-likelihood", 3)), ConstantLikelihood)


def test_the_lesson_identities_hold_in_the_new_family():
    gap = derivation("log(p(x)) - ELBO(q)", "=", "KL(q(z), p(z | x))")
    result = check_derivation(loads(gap, "gap.toml"))
    assert result.steps[0].verdict is Verdict.proved and result.ok
    jensen = derivation("log(p(x))", ">=", "ELBO(q)", "kl-nonneg")
    assert check_derivation(loads(jensen, "j.toml")).steps[0].verdict is Verdict.proved


def test_a_fact_of_the_family_only_is_proved_there_and_refuted_in_the_discrete_family():
    # with a constant likelihood the posterior is the prior, and p(x) = c does not depend on q
    text = derivation("KL(q(z), p(z | x))", "=", "KL(q(z), p(z))")
    assert check_derivation(loads(text, "t.toml")).steps[0].verdict is Verdict.proved
    discrete = text.replace('model = "constant-likelihood"\n', "")
    assert check_derivation(loads(discrete, "t.toml")).steps[0].verdict is Verdict.refuted


def test_counterexamples_come_from_the_family_blocks():
    result = check_derivation(loads(derivation("log(p(x))", ">=", "-1"), "t.toml"))
    step = result.steps[0]
    assert step.verdict is Verdict.refuted
    c = Fraction(step.counterexample.value_of("c")[0])
    assert 0 < c < Fraction(1, 2)  # log(c) < -1 needs c < 1/e
    assert step.counterexample.likelihood is None  # no likelihood vector in this family


def test_examples_are_validated_by_the_family():
    good = derivation("log(p(x))", "=", "log(Sum(p(x, z), z))", "definition",
                      '[[example]]\nprior = ["1/2", "1/4", "1/4"]\nlikelihood = ["1/2"]\nq = ["1/3", "1/3", "1/3"]\n')
    with pytest.raises(DerivationError, match="params"):  # no likelihood block here: c is a parameter
        loads(good, "t.toml")


def test_unknown_families_are_named_with_the_registry():
    with pytest.raises(DerivationError, match="constant-likelihood"):
        loads('title = "t"\nmodel = "gaussianish"\nstart = "log(p(x))"\n'
              '[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n', "t.toml")


def test_examples_give_the_family_parameters_under_params():
    text = derivation("log(p(x))", "=", "log(Sum(p(x, z), z))", "definition",
                      '[[example]]\nprior = ["1/2", "1/4", "1/4"]\nq = ["1/3", "1/3", "1/3"]\nparams = { c = "1/2" }\n'
                      '[example.expect]\n"p(x)" = "1/2"\n')
    result = check_derivation(loads(text, "t.toml"))
    assert result.ok and result.examples[0].holds
