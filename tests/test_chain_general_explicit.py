"""The general chain (``K = "any"``, elbo_sym.engine.models.chain_general): its explicit chains are
remembered per K, and a product of log-densities of degree 4 is an identity it proves.

`explicit(K)` built a new ChainModel on every call, so what the K = 2 chain had unfolded for one
step's search was unfolded again for the next.  It is now one model per (K, spec), a pure function
of both: the same object for every step and every file with that spec, a different one for another
K, other layers or other parameters.
"""

from __future__ import annotations

import pytest

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.engine.models import GeneralChainModel, ModelSpec
from elbo_sym.engine.models.chain import ChainModel
from elbo_sym.engine.parse import Vocabulary, parse_expression


def test_the_explicit_chain_is_one_model_per_k_and_spec():
    model = GeneralChainModel(ModelSpec("chain", "any"))
    same_spec = GeneralChainModel(ModelSpec("chain", "any"))
    two = model.explicit(2)
    assert isinstance(two, ChainModel) and two.K == 2 and two.T == 2
    assert model.explicit(2) is two and same_spec.explicit(2) is two
    assert model.explicit(3) is not two and model.explicit(3).K == 3
    three_layers = GeneralChainModel(ModelSpec("chain", "any", layers=3))
    assert three_layers.explicit(2) is not two and three_layers.explicit(2).T == 3
    assert model.search_models() == (two, model.explicit(3), model.explicit(5), model.density_model())
    assert model.density_model() is not None  # the Gaussian layers: the search's density stage (rt37 F4)
    assert GeneralChainModel(ModelSpec("chain", "any", layers=4)).density_model() is None  # at most 3 layers


def test_what_the_explicit_chain_unfolded_is_still_known_at_the_next_call(monkeypatch):
    model = GeneralChainModel(ModelSpec("chain", "any", layers=3))
    vocabulary = Vocabulary(("x",), latents=("z1", "z2", "z3"))
    e = parse_expression("E(q(z1, z2, z3 | x), log(p(x, z1, z2, z3) / q(z1, z2, z3 | x)))", vocabulary)
    unfolded = []
    plain = ChainModel._unfold

    def counted(self, f, point):
        if f == e:
            unfolded.append(self)
        return plain(self, f, point)

    monkeypatch.setattr(ChainModel, "_unfold", counted)
    first = model.explicit(2).unfold(e)
    before = len(unfolded)  # 1, or 0 when an earlier test in this process unfolded e there
    assert model.explicit(2).unfold(e) == first
    assert len(unfolded) == before  # the second call read the one model's memo
    assert first == ChainModel(2, ModelSpec("chain", 2, layers=3)).unfold(e)  # what a fresh model gives
    assert len(unfolded) == before + 1


def step_of(claim: str, K: str, latents: str):
    left, right = claim.split(" = ", 1)
    text = (f'title = "t"\nlatents = {latents}\nK = {K}\nclaim = "{claim}"\nstart = "{left}"\n\n'
            f'[[step]]\nrel = "="\nexpr = "{right}"\nrule = "algebra"\n')
    (step,) = check_derivation(loads(text, "c.toml")).steps
    return step


SQUARED = "E(q(z1, z2 | x), (log(q(z1 | x)) * log(p(z2 | z1)))**2)"
FOURTH = "E(q(z1, z2 | x), (log(q(z1 | x)) + log(p(z2 | z1)))**4)"
DEGREE_FOUR = [  # (true, the wrong twin with a coefficient changed)
    (f"E(q(z1, z2 | x), log(q(z1 | x))**2 * log(p(z2 | z1))**2) = {SQUARED}",
     f"E(q(z1, z2 | x), log(q(z1 | x))**2 * log(p(z2 | z1))**2) = 2*{SQUARED}"),
    (f"{FOURTH} = E(q(z1, z2 | x), log(q(z1 | x) * p(z2 | z1))**4)",
     f"{FOURTH} = E(q(z1, z2 | x), log(q(z1 | x) * p(z2 | z1)**2)**4)"),
]
CHAINS = [('"any"', '["z1", "z2"]'), ('"any"', '["z1", "z2", "z3"]'), ("2", '["z1", "z2"]')]


@pytest.mark.full
@pytest.mark.parametrize("K, latents", CHAINS)
@pytest.mark.parametrize("true, wrong", DEGREE_FOUR)
def test_a_degree_four_product_of_log_densities_is_proved_for_every_latent_space(true, wrong, K, latents):
    if "z3" in latents:
        true, wrong = (c.replace("z1, z2 | x", "z1, z2, z3 | x") for c in (true, wrong))
    step = step_of(true, K, latents)
    assert step.verdict is Verdict.proved, (step.verdict, step.reason)
    assert "agrees" in step.second_opinion, step.second_opinion
    twin = step_of(wrong, K, latents)
    assert twin.verdict is Verdict.refuted, (twin.verdict, twin.reason)
