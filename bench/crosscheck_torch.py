"""Cross-check elbo-sym's exact values against Pyro and torch (an independent view, not a proof).

(a) The discrete lesson family: the exact ELBO of the lesson's binary example (prior
    (3/4, 1/4), likelihood (1/5, 3/5), q (1/3, 2/3)) and of seeded random rational
    instances at K = 2 and 3, against Pyro's ``TraceEnum_ELBO`` (its loss is -ELBO) on a
    model/guide pair whose discrete z is enumerated in parallel in the guide, so that Pyro
    sums over z exactly (no sampling).  The evidence log p(x) is compared too: the same
    model with z enumerated in the model and an empty guide gives loss = -log p(x).
(b) The Gaussian family: KL(N(mu, sigma**2) || N(0, 1)), elbo-sym's unfolding of
    ``KL(q(z), p(z))`` evaluated at rational mu, sigma, against
    ``torch.distributions.kl_divergence(Normal(mu, sigma), Normal(0, 1))``.

Everything in torch runs in float64.  Prints a table and the largest absolute and relative
difference; exit 0 when every relative difference is below 1e-6, 1 when one is not, 2
when torch or pyro-ppl is not installed.  torch is not a dependency of elbo-sym; run this
from a separate venv (see docs/05-benchmarks.md, "Cross-checks against Pyro and torch"):

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 pyro-ppl
    /tmp/torchvenv/bin/pip install -e .
    /tmp/torchvenv/bin/python bench/crosscheck_torch.py [--seed 2026] [--count 4]
"""

from __future__ import annotations

import argparse
import random
import sys
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOLERANCE = 1e-6  # relative


def _missing() -> str | None:
    missing = []
    for module, package in (("torch", "torch"), ("pyro", "pyro-ppl")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    return " and ".join(missing) or None


# ---------------------------------------------------------------------------- instances


def _simplex(rng: random.Random, K: int) -> tuple[Fraction, ...]:
    """K positive fractions summing to 1."""
    weights = [rng.randint(1, 9) for _ in range(K)]
    total = sum(weights)
    return tuple(Fraction(w, total) for w in weights)


def _likelihood(rng: random.Random, K: int) -> tuple[Fraction, ...]:
    """K values in (0, 1]."""
    out = []
    for _ in range(K):
        den = rng.randint(2, 12)
        out.append(Fraction(rng.randint(1, den), den))
    return tuple(out)


def _discrete_instances(seed: int, count: int):
    from elbo_sym.engine.models.base import Instance
    from elbo_sym.publish.handouts import LESSON_EXAMPLE

    rng = random.Random(seed)
    out = [("lesson example", LESSON_EXAMPLE)]
    for K in (2, 3):
        for i in range(count):
            instance = Instance.of(f"random K={K} #{i + 1}", prior=_simplex(rng, K),
                                   likelihood=_likelihood(rng, K), q=_simplex(rng, K))
            out.append((instance.source, instance))
    return out


def _gaussian_parameters(seed: int, count: int) -> list[tuple[Fraction, Fraction]]:
    rng = random.Random(seed + 1)
    out = [(Fraction(1, 2), Fraction(3, 4))]
    for _ in range(count * 2):
        mu = Fraction(rng.randint(-8, 8), rng.randint(1, 8))
        sigma = Fraction(rng.randint(1, 12), rng.randint(1, 8))
        if (mu, sigma) != (0, 1):  # KL = 0 there: no relative difference
            out.append((mu, sigma))
    return out


def _text(values) -> str:
    return "(" + ", ".join(str(v) for v in values) + ")"


# ---------------------------------------------------------------------------- Pyro


def _pyro_losses(instance) -> tuple[float, float]:
    """(-ELBO, -log p(x)) from TraceEnum_ELBO, exact by enumeration over z."""
    import pyro
    import pyro.distributions as dist
    import torch
    from pyro.infer import TraceEnum_ELBO, config_enumerate

    prior = torch.tensor([float(v) for v in instance.prior], dtype=torch.float64)
    likelihood = torch.tensor([float(v) for v in instance.likelihood()], dtype=torch.float64)
    q = torch.tensor([float(v) for v in instance.q()], dtype=torch.float64)
    x = torch.tensor(1.0, dtype=torch.float64)  # the observation: p(x = 1 | z = k) = likelihood[k]

    def model():
        z = pyro.sample("z", dist.Categorical(probs=prior))
        pyro.sample("x", dist.Bernoulli(probs=likelihood[z]), obs=x)

    @config_enumerate(default="parallel")
    def guide():
        pyro.sample("z", dist.Categorical(probs=q), infer={"enumerate": "parallel"})

    def no_guide():
        pass

    pyro.clear_param_store()
    elbo_loss = TraceEnum_ELBO(max_plate_nesting=0).loss(model, guide)
    evidence_loss = TraceEnum_ELBO(max_plate_nesting=0).loss(config_enumerate(model, default="parallel"), no_guide)
    return float(elbo_loss), float(evidence_loss)


# ---------------------------------------------------------------------------- comparisons


def _compare(exact: float, other: float) -> tuple[float, float]:
    diff = abs(exact - other)
    return diff, (diff / abs(exact) if exact else (0.0 if diff == 0 else float("inf")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026, help="seed of the random instances (default 2026)")
    parser.add_argument("--count", type=int, default=4, help="random instances per K and for the KL (default 4)")
    args = parser.parse_args()

    missing = _missing()
    if missing:
        print(f"crosscheck_torch: error: {missing} not installed; this script needs torch and pyro-ppl "
              "(kept out of elbo-sym's install). Install them in a separate venv:\n"
              "  python3 -m venv /tmp/torchvenv\n"
              "  /tmp/torchvenv/bin/pip install torch==2.13.0 pyro-ppl\n"
              "  /tmp/torchvenv/bin/pip install -e .\n"
              "  /tmp/torchvenv/bin/python bench/crosscheck_torch.py", file=sys.stderr)
        return 2

    import platform

    import pyro
    import sympy
    import torch
    from sympy import Rational

    from elbo_sym.engine.models.base import Instance
    from elbo_sym.engine.models.gaussian import GaussianModel
    from elbo_sym.engine.parse import Vocabulary, parse_expression
    from elbo_sym.lesson.examples import example_of

    torch.set_default_dtype(torch.float64)
    rows: list[tuple[str, str, str, float, float, float, float]] = []
    lesson_elbo = ""

    # (a) discrete: ELBO and log p(x) against TraceEnum_ELBO
    for name, instance in _discrete_instances(args.seed, args.count):
        example = example_of(instance)  # exact, and cross-checked by the engine's unfolding
        lesson_elbo = lesson_elbo or f"ELBO(q) = {example.elbo.exact_text} = {example.elbo.nats} nats"
        elbo_loss, evidence_loss = _pyro_losses(instance)
        inputs = f"prior {_text(instance.prior)} lik {_text(instance.likelihood())} q {_text(instance.q())}"
        for quantity, exact, other in (("ELBO(q)", example.elbo, -elbo_loss),
                                       ("log(p(x))", example.log_evidence, -evidence_loss)):
            diff, rel = _compare(exact.number, other)
            rows.append((name if quantity == "ELBO(q)" else "", quantity, inputs if quantity == "ELBO(q)" else "",
                         exact.number, other, diff, rel))

    # (b) Gaussian: KL(N(mu, sigma**2) || N(0, 1)) against torch.distributions.kl_divergence
    model = GaussianModel()
    vocabulary = Vocabulary(("x",), ("mu", "sigma", "w", "b", "s"), real=True)
    kl = model.unfold(parse_expression("KL(q(z), p(z))", vocabulary))
    for mu, sigma in _gaussian_parameters(args.seed, args.count):
        instance = Instance.of(mu=(mu,), sigma=(sigma,), w=(1,), b=(0,), s=(1,), x=(0,), z=(0,))
        values = {k: Rational(v.numerator, v.denominator) for k, v in model.values(instance).items()}
        exact = float(kl.xreplace(values).evalf(40))
        other = float(torch.distributions.kl_divergence(
            torch.distributions.Normal(torch.tensor(float(mu)), torch.tensor(float(sigma))),
            torch.distributions.Normal(torch.tensor(0.0), torch.tensor(1.0))))
        diff, rel = _compare(exact, other)
        rows.append(("Gaussian KL", "KL(q(z), p(z))", f"mu = {mu}, sigma = {sigma}", exact, other, diff, rel))

    print(f"# elbo-sym exact vs Pyro TraceEnum_ELBO / torch kl_divergence, float64 "
          f"(Python {platform.python_version()}, torch {torch.__version__}, pyro-ppl {pyro.__version__}, "
          f"SymPy {sympy.__version__}; seed {args.seed})")
    print(f"# lesson example (exact): {lesson_elbo}")
    print(f"{'case':<16} {'quantity':<15} {'elbo-sym (exact)':>20} {'Pyro / torch':>20} {'abs diff':>9} "
          f"{'rel diff':>9}  inputs")
    for name, quantity, inputs, exact, other, diff, rel in rows:
        print(f"{name:<16} {quantity:<15} {exact:>20.15f} {other:>20.15f} {diff:>9.1e} {rel:>9.1e}  {inputs}")
    worst_abs = max(r[5] for r in rows)
    worst_rel = max(r[6] for r in rows)
    ok = worst_rel < TOLERANCE
    print(f"# {len(rows)} comparisons; largest absolute difference {worst_abs:.1e}, "
          f"largest relative difference {worst_rel:.1e} ({'below' if ok else 'NOT below'} {TOLERANCE:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
