"""Every proved step of a corpus gets an agreeing second opinion, family by family.

The second opinion (elbo_sym.engine.reference) re-evaluates every `proved` step; where it cannot
decide, the step stands on the engine alone.  The corpus is every file of derivations/ and
docs/examples/ and the true steps of tests/data/second-opinion-corpus.toml that the engine proves in
each family (densities under E, Bayes at a point, products with p(x), [params], several observations,
IWAE): each proved step of it must get "agrees", none "could not decide".  The judges' newer reach
(the Gaussian chain's densities free of the layers an E integrates) has false twins below, off by a
tiny amount, with the wrong sign or the wrong factor, on which the judge must disagree.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from elbo_sym.engine.check import check_derivation
from elbo_sym.engine.derivation import load, loads
from elbo_sym.engine.models.base import ModelSpec
from elbo_sym.engine.reference import second_opinion

REPO = Path(__file__).resolve().parent.parent
REPOSITORY_FILES = sorted([*REPO.glob("derivations/**/*.toml"), *REPO.glob("docs/examples/*.toml")])

GAUSSIAN_CHAIN = 'model = "gaussian"\nlatents = ["z1", "z2"]'

CORPUS = REPO / "tests" / "data" / "second-opinion-corpus.toml"


def variants() -> list[tuple[str, str, str, str, str, str]]:
    """(the file's header, its [params] entries or "", start, relation, the step, rule) of every true step of
    tests/data/second-opinion-corpus.toml."""
    families = tomllib.loads(CORPUS.read_text("utf-8"))["family"]
    return [(family["header"], family.get("params", ""), *step) for family in families for step in family["steps"]]


def _text(header: str, params: str, start: str, rel: str, expr: str, rule: str) -> str:
    params = f"[params]\n{params}" if params else ""
    return (f'title = "a true step"\n{header}\nstart = "{start}"\n{params}\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n')


def family_label(spec: ModelSpec, K) -> str:
    """The family a second opinion is given in (each judge and each of its variants by name)."""
    if spec.family == "gaussian":
        if spec.layered:
            return "Gaussian chain"
        return 'Gaussian D = "any"' if spec.D == "any" else "Gaussian"
    any_k = ' K = "any"' if K == "any" else ""
    return ("chain" if spec.family == "chain" else "discrete") + any_k


FAMILIES = ["discrete", 'discrete K = "any"', "chain", 'chain K = "any"', "Gaussian", 'Gaussian D = "any"',
            "Gaussian chain"]


@pytest.fixture(scope="module")
def opinions(checked_report) -> dict[str, list[tuple[str, str]]]:
    """Family -> (where, the second opinion) of every proved step of the corpus."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for path in REPOSITORY_FILES:
        derivation = load(path)
        family = family_label(derivation.model().spec, derivation.K)
        for step in checked_report(path).steps:
            if step.verdict == "proved":
                found[family].append((f"{path.relative_to(REPO)} step {step.index}", step.second_opinion))
    for variant in variants():
        derivation = loads(_text(*variant))
        (result,) = check_derivation(derivation, search=False).steps
        where = f"{variant[0]!r}: {variant[2]} {variant[3]} {variant[4]}"
        assert result.verdict.value == "proved", f"the corpus holds only proved steps: {where}: {result.reason}"
        found[family_label(derivation.model().spec, derivation.K)].append((where, result.second_opinion))
    return found


@pytest.mark.full
def test_the_corpus_covers_every_family(opinions):
    assert sorted(opinions) == sorted(FAMILIES)


@pytest.mark.full
@pytest.mark.parametrize("family", FAMILIES)
def test_every_proved_step_of_the_corpus_gets_agree(opinions, family):
    steps = opinions[family]
    assert len(steps) >= 3, f"the corpus has only {len(steps)} proved step(s) of the family {family}"
    not_agreeing = [f"{where}: {opinion}" for where, opinion in steps
                    if not opinion.startswith("the reference evaluator agrees on ")]
    assert not_agreeing == [], "\n".join(not_agreeing)


def _opinion(header: str, start: str, expr: str, rel: str = "="):
    derivation = loads(_text(header, "", start, rel, expr, "algebra"))
    model = derivation.model()
    return second_opinion(derivation.start.expr, rel, derivation.steps[0].expr, model.spec, model.K)


# (start, a true right-hand side, false twins of it): a density constant under the E, in the Gaussian chain
CONSTANT_DENSITIES = [
    ("E(q(z1 | x), z1 * p(x))", "p(x) * c1 * x",
     ["p(x) * c1 * x * (1 + 1/10**9)", "-p(x) * c1 * x", "2 * p(x) * c1 * x", "p(x)**2 * c1 * x", "c1 * x"]),
    ("E(q(z1 | x), z1**2 * p(x))", "p(x) * (c1**2 * x**2 + 1 - c1**2)",
     ["p(x) * (c1**2 * x**2 + 1 - c1**2) + 1/10**12", "p(x) * (c1**2 * x**2 + 1)", "p(x) * c1**2 * x**2"]),
    ("E(q(z2 | x), E(q(z1 | z2, x), z1 * p(x)))", "p(x) * c1 * x",
     ["p(x) * c1 * c2 * x", "p(x) * c1 * x - 1/10**9", "p(x) * x"]),
    ("E(q(z1 | x), z1 / p(x))", "c1 * x / p(x)", ["c1 * x * p(x)", "-c1 * x / p(x)", "c1 * x / p(x) * 999999/1000000"]),
    ("E(q(z1 | x), z1 * exp(log(p(x))))", "p(x) * c1 * x",
     ["p(x) * c1 * x * (1 + 1/10**9)", "-p(x) * c1 * x", "exp(2 * log(p(x))) * c1 * x"]),
    ("E(q(z1 | x), z1 * q(z2 | x))", "c1 * x * q(z2 | x)", ["c1 * x * p(z2)", "c1 * x * q(z2 | x) * (1 + 1/10**6)"]),
]


@pytest.mark.parametrize("start, true, false", CONSTANT_DENSITIES, ids=[c[0] for c in CONSTANT_DENSITIES])
def test_the_gaussian_chain_judges_a_density_constant_under_E(start, true, false):
    assert _opinion(GAUSSIAN_CHAIN, start, true).status == "agrees"
    for twin in false:
        opinion = _opinion(GAUSSIAN_CHAIN, start, twin)
        assert opinion.disagrees, (twin, opinion.describe())


@pytest.mark.parametrize("start, rhs, why", [
    ("E(q(z1 | x), p(x | z1))", "p(x)", "integrated layer"),  # true, but exp of a quadratic in z1: never agreed
    ("E(q(z1 | x), p(z1))", "1", "integrated layer"),  # false
    ("E(q(z2 | x), E(q(z1 | z2, x), z1 * p(z2)))", "0", "integrated layer"),  # p(z2): the outer E's layer
    ("E(q(z1, z2 | x), q(z2 | x))", "1", "integrated layer"),
    ("E(q(z1 | x), exp(log(p(z1))))", "1", "log or exp of a function of the layers"),
    ("E(q(z1 | x), exp(z1))", "exp(c1 * x + (1 - c1**2) / 2)", "log or exp of a function of the layers"),  # true
])
def test_the_gaussian_chain_never_agrees_on_a_density_of_an_integrated_layer(start, rhs, why):
    opinion = _opinion(GAUSSIAN_CHAIN, start, rhs)
    assert opinion.status == "undecided" and why in opinion.detail, opinion.describe()
