"""`elbo-sym explain` describes the model each family unfolds into (`Model.describe_unfolding`), never
the discrete family's words for another family.

The text is asserted from the model's own symbols, not copied: every parameter the family unfolds
into is named in the line above the unfolded sides, and every name the lines define (`pi_k = ...`,
`q_1 = 1 - the other q`) is one of the model's parameters.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elbo_sym.authoring.explain import explain, format_explanation
from elbo_sym.engine.derivation import load

REPO = Path(__file__).resolve().parent.parent

ONE_FILE_PER_FAMILY = {
    "discrete": "derivations/variants/iwae-one.toml",
    'discrete K = "any"': "derivations/gap.toml",
    "chain": "derivations/variants/hierarchical-gap.toml",
    'chain K = "any"': "docs/examples/chain-any-k.toml",
    "Gaussian": "derivations/variants/gaussian-kl.toml",
    "Gaussian, an assumption": "derivations/variants/gaussian-tight.toml",
    "Gaussian D = 2": "derivations/literature/kingma-welling-eq3-2d.toml",
    'Gaussian D = "any"': "docs/examples/gaussian-any-d.toml",
    "Gaussian chain": "docs/examples/gaussian-layers.toml",
}


def _stem(name: str) -> str:
    """A parameter's name without its index: pi_0 -> pi, t_0_1 -> t, mu1 -> mu, mu_d -> mu, D -> D."""
    return re.match(r"[A-Za-z]+", name).group()  # type: ignore[union-attr]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]+", text))


@pytest.fixture(scope="module")
def explained() -> dict[str, tuple]:
    """Family -> (its model, what explain printed for step 1, the unfolded sides' text)."""
    out = {}
    for family, path in ONE_FILE_PER_FAMILY.items():
        derivation = load(REPO / path)
        explanation = explain(derivation, 1)
        sides = " ".join(f"{pair.left} {pair.right}" for pair in explanation.pairs)
        out[family] = (derivation.model(), format_explanation(explanation), sides)
    return out


@pytest.mark.full
@pytest.mark.parametrize("family", list(ONE_FILE_PER_FAMILY))
def test_explain_prints_the_familys_own_unfolding(explained, family):
    model, text, sides = explained[family]
    words = model.describe_unfolding()
    lines = text.splitlines()
    assert words.unfolded in lines and words.canonical in lines
    own = {p.name for p in model.spec.params}  # the file's [params] are printed under their own names
    unfolded_into = {str(p) for p in model.parameters if re.search(rf"\b{re.escape(str(p))}\b", sides)} - own
    assert unfolded_into, f"{family}: no parameter of the model in the unfolded sides {sides}"
    stems = {_stem(name) for name in unfolded_into}
    missing = stems - _words(words.unfolded)
    assert not missing, f"{family}: the unfolding's words do not name {sorted(missing)}: {words.unfolded}"
    defined = set(re.findall(r"\b([A-Za-z]+)_\w+ = ", words.unfolded + " " + words.canonical))
    every_stem = {_stem(str(p)) for p in model.parameters}
    assert defined <= every_stem, f"{family}: defines {sorted(defined - every_stem)}, no parameter of its model"


@pytest.mark.full
def test_no_family_borrows_another_familys_words(explained):
    lines = [model.describe_unfolding().unfolded for model, _, _ in explained.values()]
    assert len(set(lines)) == len(lines)
    discrete_stems = {_stem(str(p)) for p in explained["discrete"][0].parameters}
    for family in ("Gaussian", "Gaussian D = 2", 'Gaussian D = "any"', "Gaussian chain"):
        model, text, _ = explained[family]
        defined = set(re.findall(r"\b([A-Za-z]+)_\w+ = ", text))
        assert not defined & discrete_stems, (family, defined & discrete_stems)
