"""The soundness fuzzer for the families test_fuzz_soundness.py's expression generator does not
reach: IWAE (discrete, explicit K, k draws), the Gaussian family (D = 1, with [params] and the
tight assumption), its diagonal version (D = 2..8, with the linear decoder) and D = "any" (sums over
the dimensions), the two-layer chain, premises
(`assume` entries such as ``q(z) != p(z | x)``: the strict KL and the assumption rule, with
wrong and dropped premises; judged only where every premise holds), and derived
distributions as arguments (mixtures such as the aggregate posterior, two observations, K
explicit or "any", number or parameter weights).

Each case is a one-step derivation: a true statement of the family (from the lesson's variants
and the textbook identities), often perturbed (a tiny term, a factor 2, a changed constant,
swapped KL arguments, another density, a flipped or strict relation), with its plausible rule or
a random one.  The engine checks it (``check_derivation``, search off, the product path with
its second opinion); every ``proved`` step is then judged by the family's reference evaluator
(elbo_sym.engine.reference) at *more* instances than the product path uses (other seeds, the
discrete judge's full boundary set), and every step the product path turned into ``error``
with "internal disagreement" is counted too: the engine and the reference disagree there.
Both counts must stay 0.  Used by tests/test_fuzz_soundness.py (a derandomised slice per
family) and bench/fuzz_soundness.py (a long campaign).
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.engine.reference import chain as chain_ref
from elbo_sym.engine.reference import condition_text
from elbo_sym.engine.reference import discrete as discrete_ref
from elbo_sym.engine.reference import gaussian as gaussian_ref
from elbo_sym.engine.reference import gaussian_chain as gaussian_chain_ref
from elbo_sym.engine.reference.discrete import JudgeError
from elbo_sym.engine.rules import RULES

FAMILIES = ("IWAE", "IWAE k", "gaussian", "gaussian D", "gaussian any D", "chain", "premises", "mixture", "p_data",
            "data space", "r and theta", "IWAE draws", "limits", "gaussian chain")
ALL_RULES = tuple(sorted(RULES))
BUDGET = 2.0

# (lhs, rel, rhs, rule) -- true statements; "{k}" is a number of IWAE samples
IWAE_LIBRARY = (
    ("IWAE(q, 1)", "=", "ELBO(q)", "definition"),
    ("log(p(x))", ">=", "IWAE(q, {k})", "jensen"),
    ("IWAE(q, {k})", ">=", "ELBO(q)", "jensen"),
    ("IWAE(q, {k})", "=", "IWAE(q, {k})", "algebra"),
    ("IWAE(q, 1)", "=", "Sum(q(z) * log(p(x, z) / q(z)), z)", "definition"),
    ("IWAE(q, 1)", "=", "E(q, log(p(x | z))) - KL(q(z), p(z))", "definition"),
)
IWAE_EVERY_K = (  # k a whole-number parameter: Burda et al.'s Theorem 1 for every k
    ("log(p(x))", ">=", "IWAE(q, k)", "iwae-bound"),
    ("log(p(x))", ">=", "IWAE(q, k + 1)", "iwae-bound"),
    ("IWAE(q, k + 1)", ">=", "IWAE(q, k)", "iwae-monotone"),
    ("IWAE(q, k + 2)", ">=", "IWAE(q, k + 1)", "iwae-monotone"),
    ("IWAE(q, k)", ">=", "ELBO(q)", "iwae-monotone"),
    ("ELBO(q)", "<=", "IWAE(q, k + 1)", "iwae-monotone"),
    ("IWAE(q, 3)", ">=", "IWAE(q, 2)", "iwae-monotone"),
    ("IWAE(q, k)", "=", "IWAE(q, k)", "algebra"),
    # Li & Turner's Renyi bound, alpha in (0, 1): a power with a parameter exponent
    ("log(p(x))", ">=", "1 / (1 - alpha) * log(E(q, (p(x, z) / q(z))**(1 - alpha)))", "renyi-bound"),
    ("1 / (1 - alpha) * log(E(q, (p(x, z) / q(z))**(1 - alpha)))", ">=",
     "1 / (1 - alpha) * E(q, log((p(x, z) / q(z))**(1 - alpha)))", "jensen"),
    ("E(q, log((p(x, z) / q(z))**(1 - alpha)))", "=", "(1 - alpha) * ELBO(q)", "algebra"),
)
_TWO = "Sum(Sum(q(z) * q(w) * log((p(x, z) / q(z) + p(x, w) / q(w)) / 2), z), w)"
_THREE = "Sum(Sum(Sum(q(z) * q(w) * q(v) * log((p(x, z) / q(z) + p(x, w) / q(w) + p(x, v) / q(v)) / 3), z), w), v)"
IWAE_DRAWS = (  # IWAE's draws as bound variables (Burda et al. eq. 8), rule iwae-draws
    (_TWO, "=", "IWAE(q, 2)", "iwae-draws"),
    ("IWAE(q, 2)", "=", _TWO, "iwae-draws"),
    (_THREE, "=", "IWAE(q, 3)", "iwae-draws"),
    ("IWAE(q, 2)", "=", "Sum(Sum(q(u) * q(v) * log(1/2 * (p(x, v) / q(v) + p(x, u) / q(u))), u), v)", "iwae-draws"),
    (_TWO, "=", "IWAE(q, 2)", "algebra"),
    ("IWAE(q, 3)", "=", _THREE, "iwae-draws"),
    ("Sum(q(w) * log(p(x, w) / q(w)), w)", "=", "ELBO(q)", "algebra"),
    (_TWO, "=", _TWO, "algebra"),
)
_RENYI = "1 / (1 - alpha) * log(E(q, (p(x, z) / q(z))**(1 - alpha)))"
LIMITS = (  # Li & Turner's alpha -> 1 and 0, Burda et al.'s Theorem 1(b): rules renyi-limit and iwae-limit
    (f"limit({_RENYI}, alpha, 1)", "=", "ELBO(q)", "renyi-limit"),
    ("ELBO(q)", "=", f"limit({_RENYI}, alpha, 1)", "renyi-limit"),
    ("log(p(x))", "=", f"limit({_RENYI}, alpha, 0)", "renyi-limit"),
    (f"limit({_RENYI}, alpha, 1)", "=", "log(p(x)) - KL(q(z), p(z | x))", "renyi-limit"),
    ("limit(IWAE(q, k), k, oo)", "=", "log(p(x))", "iwae-limit"),
    ("log(p(x))", "=", "limit(IWAE(q, k), k, oo)", "iwae-limit"),
)
IWAE_TIGHT = (("IWAE(q, {k})", "=", "log(p(x))", "assumption"), ("IWAE(q, {k})", "=", "ELBO(q)", "assumption"))
GAUSSIAN_LIBRARY = (
    ("KL(q(z), p(z))", "=", "(mu**2 + sigma**2 - 1 - log(sigma**2)) / 2", "definition"),
    ("KL(q(z), Normal(0, 1))", "=", "E(q, log(q(z)) - log(p(z)))", "definition"),
    ("H(q)", "=", "(log(2 * pi * sigma**2) + 1) / 2", "definition"),
    ("ELBO(q)", "=", "E(q, log(p(x | z))) - KL(q(z), p(z))", "definition"),
    ("log(p(x)) - ELBO(q)", "=", "KL(q(z), p(z | x))", "bayes"),
    ("log(p(x)) - ELBO(q)", "=", "E(q, log(q(z)) - log(p(z | x)))", "bayes"),
    ("log(p(x))", ">=", "ELBO(q)", "jensen"),
    ("KL(q(z), p(z | x))", ">=", "0", "kl-nonneg"),
    ("E(q, z**2)", "=", "mu**2 + sigma**2", "definition"),
    ("E(q, (z - mu)**2)", "=", "sigma**2", "algebra"),
    ("log(p(x, z))", "=", "log(p(z)) + log(p(x | z))", "logarithm"),
    ("log(p(z | x))", "=", "log(p(x, z)) - log(p(x))", "bayes"),
    ("log(p(z | x))", "=", "log(Normal(w * (x - b) / (w**2 + s**2), s**2 / (w**2 + s**2)))", "definition"),
    ("H(Normal(0, 1))", "=", "(log(2 * pi) + 1) / 2", "definition"),
    ("ELBO(q)", "=", "-log(2 * pi * s**2) / 2 - ((x - w * mu - b)**2 + w**2 * sigma**2) / (2 * s**2) - "
     "(mu**2 + sigma**2 - 1 - log(sigma**2)) / 2", "algebra"),
    ("KL(Normal(0, t), p(z))", "=", "(t - 1 - log(t)) / 2", "definition"),
    ("t * KL(q(z), p(z))", "=", "t * (mu**2 + sigma**2 - 1 - log(sigma**2)) / 2", "algebra"),
    ("E(q, t * z)", "=", "t * mu", "linearity"),
)
ANY_D_KL = "Sum(mu_d**2 + sigma_d**2 - 1 - log(sigma_d**2), (d, 1, D)) / 2"
ANY_D_RECONSTRUCTION = ("-log(2 * pi * s**2) / 2 - ((x - b - Sum(w_d * mu_d, (d, 1, D)))**2 + "
                        "Sum(w_d**2 * sigma_d**2, (d, 1, D))) / (2 * s**2)")
GAUSSIAN_ANY_D_LIBRARY = (
    ("KL(q(z), p(z))", "=", ANY_D_KL, "definition"),
    ("KL(q(z), p(z))", "=", "E(q, log(q(z))) - E(q, log(p(z)))", "definition"),
    ("E(q, log(p(z)))", "=", "-D / 2 * log(2 * pi) - Sum(mu_d**2 + sigma_d**2, (d, 1, D)) / 2", "algebra"),
    ("E(q, log(q(z)))", "=", "-D / 2 * log(2 * pi) - Sum(1 + log(sigma_d**2), (d, 1, D)) / 2", "algebra"),
    ("H(q)", "=", "D / 2 * log(2 * pi) + Sum(1 + log(sigma_d**2), (d, 1, D)) / 2", "definition"),
    ("E(q, log(p(x | z)))", "=", ANY_D_RECONSTRUCTION, "algebra"),
    ("ELBO(q)", "=", "E(q, log(p(x | z))) - KL(q(z), p(z))", "definition"),
    ("ELBO(q)", "=", f"{ANY_D_RECONSTRUCTION} - {ANY_D_KL}", "algebra"),
    ("log(p(x)) - ELBO(q)", "=", "KL(q(z), p(z | x))", "bayes"),
    ("KL(q(z), p(z))", ">=", "0", "kl-nonneg"),
    ("KL(p(z), q(z))", "=", "Sum(log(sigma_d**2) + (1 + mu_d**2) / sigma_d**2 - 1, (d, 1, D)) / 2", "definition"),
    ("Sum(mu_d + w_d, (d, 1, D))", "=", "Sum(mu_d, (d, 1, D)) + Sum(w_d, (d, 1, D))", "algebra"),
    ("E(q, log(p(z))**2)", "=", "E(q, log(p(z)))**2 + Sum(sigma_d**2 * mu_d**2 + sigma_d**4 / 2, (d, 1, D))",
     "algebra"),
)
GAUSSIAN_TIGHT = (("ELBO(q)", "=", "log(p(x))", "assumption"), ("KL(q(z), p(z | x))", "=", "0", "assumption"),
                  ("ELBO(q)", "=", "log(p(x)) - KL(q(z), p(z | x))", "definition"))
CHAIN_LIBRARY = (
    ("log(p(x)) - ELBO(q)", "=", "KL(q(z1, z2 | x), p(z1, z2 | x))", "bayes"),
    ("ELBO(q)", "=", "E(q(z1, z2 | x), log(p(x, z1, z2) / q(z1, z2 | x)))", "definition"),
    ("ELBO(q)", "=", "E(q(z1, z2 | x), log(p(z2) * p(z1 | z2) * p(x | z1) / (q(z1 | x) * q(z2 | z1))))",
     "definition"),
    ("log(p(x))", ">=", "ELBO(q)", "jensen"),
    ("KL(q(z1, z2 | x), p(z1, z2 | x))", ">=", "0", "kl-nonneg"),
    ("log(p(x))", "=", "log(Sum(Sum(p(x, z1, z2), z1), z2))", "definition"),
    ("log(p(z1 | x))", "=", "log(p(x, z1)) - log(p(x))", "bayes"),
    ("log(p(x, z1, z2))", "=", "log(p(z2)) + log(p(z1 | z2)) + log(p(x | z1))", "definition"),
    ("E(q(z1, z2 | x), log(q(z1, z2 | x) / p(z1, z2 | x)))", "=", "KL(q(z1, z2 | x), p(z1, z2 | x))", "definition"),
    ("ELBO(q)", "=", "E(q(z1 | x), log(p(x | z1))) + E(q(z2 | x), E(q(z1 | z2, x), log(p(z1 | z2) / "
     "q(z1 | z2, x)))) + E(q(z2 | x), log(p(z2) / q(z2 | x)))", "bayes"),
    ("E(q(z1 | x), Sum(q(z2 | z1), z2))", "=", "1", "algebra"),  # z1 bound: a free z1 beside "1" is refused
    # a mean-field product as the distribution (derived: its obligation to be one is proved)
    ("ELBO(q(z1 | x) * q(z2 | x))", "=", "E(q(z1 | x) * q(z2 | x), log(p(x, z1, z2))) + H(q(z1 | x)) + H(q(z2 | x))",
     "algebra"),
    ("log(E(q(z1 | x) * q(z2 | x), p(x, z1, z2) / (q(z1 | x) * q(z2 | x))))", ">=",
     "E(q(z1 | x) * q(z2 | x), log(p(x, z1, z2) / (q(z1 | x) * q(z2 | x))))", "jensen"),
    ("KL(q(z1 | x) * q(z2 | x), p(z1, z2 | x))", ">=", "0", "kl-nonneg"),
    ("H(q(z1 | x) * q(z2 | x))", "=", "H(q(z1 | x)) + H(q(z2 | x))", "algebra"),
    ("log(p(x)) - ELBO(q(z1 | x) * q(z2 | x))", "=", "KL(q(z1 | x) * q(z2 | x), p(z1, z2 | x))", "bayes"),
    # the mean-field update q*(z1) = exp(E_q(z2 | x) log p(x, z1, z2)) / Z (Bishop eq. 10.9)
    ("ELBO(q(z1 | x) * q(z2 | x))", "=", "log(Sum(exp(E(q(z2 | x), log(p(x, z1, z2)))), z1)) - KL(q(z1 | x), "
     "exp(E(q(z2 | x), log(p(x, z1, z2)))) / Sum(exp(E(q(z2 | x), log(p(x, z1, z2)))), z1)) + H(q(z2 | x))", "algebra"),
    ("KL(q(z1 | x), exp(E(q(z2 | x), log(p(x, z1, z2)))) / Sum(exp(E(q(z2 | x), log(p(x, z1, z2)))), z1))", ">=", "0",
     "kl-nonneg"),
    # a mixture over one layer (with K = "any" too: the general chain's derived distributions)
    ("KL((q(z1 | x) + p(z1)) / 2, p(z1))", ">=", "0", "kl-nonneg"),
    ("E((q(z1 | x) + p(z1)) / 2, log(p(x | z1)))", "=",
     "(E(q(z1 | x), log(p(x | z1))) + E(p(z1), log(p(x | z1)))) / 2", "linearity"),
    ("KL(q(z1 | x) * q(z2 | z1), p(z1, z2 | x))", "=", "log(p(x)) - ELBO(q)", "bayes"),
    # not a distribution over (z1, z2): sums to sum_z1 q(z1 = j) p(z1 = j), not 1; never proved >= 0
    ("KL(q(z1 | x) * p(z1 | z2) * p(z2), p(z1, z2 | x))", ">=", "0", "kl-nonneg"),
    # nested binders that rebind a layer (a general chain must not capture the outer one)
    ("E(q(z1 | x), E(q(z2 | z1), KL(q(z1 | z2, x), p(z1 | z2))))", "=", "E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2)))",
     "bayes"),
    ("E(q(z1 | x), E(q(z2 | z1), log(p(z2))))", "=", "E(q(z2 | x), log(p(z2)))", "bayes"),
)
_MARGINAL = "a1**2 * (a2**2 + v2) + v1"  # the variance of x under two Gaussian layers
_BETA = "(1 - c1**2) * (1 - c2**2) / (1 - c1**2 * c2**2)"  # DDPM's forward posterior variance (eq. 7)
GAUSSIAN_CHAIN_LIBRARY = (  # model = "gaussian", latents = ["z1", "z2"] (engine.models.gaussian_chain)
    ("log(p(x)) - ELBO(q)", "=", "KL(q(z1, z2 | x), p(z1, z2 | x))", "bayes"),
    ("log(p(x))", ">=", "ELBO(q)", "kl-nonneg"),
    ("KL(q(z1, z2 | x), p(z1, z2 | x))", ">=", "0", "kl-nonneg"),
    ("ELBO(q)", "=", "E(q(z1 | x), log(p(x | z1))) - KL(q(z2 | x), p(z2)) - E(q(z2 | x), KL(q(z1 | z2, x), "
     "p(z1 | z2)))", "bayes"),
    ("ELBO(q)", "=", "E(q(z1, z2 | x), log(p(z2) * p(z1 | z2) * p(x | z1) / (q(z1 | x) * q(z2 | z1))))", "definition"),
    ("KL(q(z2 | x), p(z2))", "=", "(c1**2 * c2**2 * (x**2 - 1) - log(1 - c1**2 * c2**2)) / 2", "definition"),
    ("E(q(z1 | x), log(p(x | z1)))", "=", "-log(2 * pi * v1) / 2 - ((x - a1 * c1 * x - b1)**2 + a1**2 * (1 - c1**2)) / "
     "(2 * v1)", "definition"),
    ("log(p(x))", "=", f"-log(2 * pi * ({_MARGINAL})) / 2 - (x - b1 - a1 * b2)**2 / (2 * ({_MARGINAL}))", "definition"),
    ("H(q(z1 | x))", "=", "(log(2 * pi * (1 - c1**2)) + 1) / 2", "definition"),
    ("E(q(z1, z2 | x), z1 * z2)", "=", "c2 * (c1**2 * x**2 + 1 - c1**2)", "algebra"),
    ("log(q(z1 | z2, x))", "=", "log(q(z1 | x)) + log(q(z2 | z1)) - log(q(z2 | x))", "bayes"),
    ("log(q(z1 | z2, x))", "=", f"-log(2 * pi * {_BETA}) / 2 - (z1 - (c1 * (1 - c2**2) * x + c2 * (1 - c1**2) * z2) / "
     f"(1 - c1**2 * c2**2))**2 / (2 * {_BETA})", "algebra"),
    ("E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2)))", "=", f"({_BETA} / v2 - 1 - log({_BETA} / v2)) / 2 + ((c2 * "
     "(1 - c1**2) / (1 - c1**2 * c2**2) - a2)**2 * (1 - c1**2 * c2**2) + (c1 * x - a2 * c1 * c2 * x - b2)**2) / "
     "(2 * v2)", "definition"),
    ("log(p(z1 | z2))", "=", "-log(2 * pi * v2) / 2 - (z1 - a2 * z2 - b2)**2 / (2 * v2)", "definition"),
    ("E(q(z1 | x), z1 * p(x))", "=", "p(x) * c1 * x", "algebra"),  # a density constant under E
    ("E(q(z2 | x), E(q(z1 | z2, x), z1**2 * p(x)))", "=", "p(x) * (c1**2 * x**2 + 1 - c1**2)", "algebra"),
)
GAUSSIAN_CHAIN3_LIBRARY = (  # three Gaussian layers
    ("KL(q(z3 | x), p(z3))", "=", "(c1**2 * c2**2 * c3**2 * (x**2 - 1) - log(1 - c1**2 * c2**2 * c3**2)) / 2",
     "definition"),
    ("E(q(z1, z2, z3 | x), z3)", "=", "c1 * c2 * c3 * x", "algebra"),
    ("log(p(x)) - ELBO(q)", "=", "KL(q(z1, z2, z3 | x), p(z1, z2, z3 | x))", "bayes"),
    ("log(q(z2 | z3, x))", "=", "log(q(z2 | x)) + log(q(z3 | z2)) - log(q(z3 | x))", "bayes"),
    ("E(q(z3 | x), KL(q(z2 | z3, x), p(z2 | z3)))", ">=", "0", "kl-nonneg"),
)
SECOND_Q_LIBRARY = (
    ("log(p(x)) - ELBO(r)", "=", "KL(r(z), p(z | x))", "bayes"),
    ("log(Sum(r(z) * p(x, z) / r(z), z))", ">=", "Sum(r(z) * log(p(x, z) / r(z)), z)", "jensen"),
    ("log(p(x))", ">=", "ELBO(r)", "kl-nonneg"),
    ("ELBO(q) - ELBO(r)", "=", "KL(r(z), p(z | x)) - KL(q(z), p(z | x))", "bayes"),
    ("KL(r(z), q(z))", ">=", "0", "kl-nonneg"),
    ("E(r, log(r(z) / q(z)))", "=", "KL(r(z), q(z))", "definition"),
    ("H(r)", "=", "-E(r, log(r(z)))", "definition"),
    ("log(p(x)) - ELBO(q_star)", "=", "KL(q_star(z), p(z | x))", "bayes"),
    ("log(p(x | theta_old))", "=", "ELBO(q, theta_old) + KL(q(z), p(z | x; theta_old))", "bayes"),
    ("log(p(x | theta_new))", ">=", "ELBO(q, theta_new)", "kl-nonneg"),
    ("log(Sum(r(z) * p(x, z | theta_new) / r(z), z))", ">=", "Sum(r(z) * log(p(x, z | theta_new) / r(z)), z)",
     "jensen"),
    ("ELBO(q, theta_new) - ELBO(q, theta_old)", "=", "log(p(x | theta_new)) - KL(q(z), p(z | x; theta_new)) - "
     "log(p(x | theta_old)) + KL(q(z), p(z | x; theta_old))", "bayes"),
    ("ELBO(q, theta_old)", "=", "E(q, log(p(x | z; theta_old))) - KL(q(z), p(z | theta_old))", "definition"),
    ("log(p(x | theta_old))", "=", "log(Sum(p(z | theta_old) * p(x | z; theta_old), z))", "definition"),
)
"""r beside q, q_star, and a parameterised model with two parameter values (theta_old, theta_new)."""
SECOND_Q_TIGHT = (("ELBO(q, theta_old)", "=", "log(p(x | theta_old))", "assumption"),
                  ("KL(q(z), p(z | x; theta_old))", "=", "0", "assumption"))
# premises (assume entries that restrict the domain): (header lines, true statements under them)
PREMISE_LIBRARY = (
    ('assume = "q(z) != p(z | x)"', (
        ("log(p(x))", ">", "ELBO(q)", "kl-nonneg"),
        ("KL(q(z), p(z | x))", ">", "0", "kl-nonneg"),
        ("ELBO(q)", "<", "log(p(x))", "kl-nonneg"),
        ("log(p(x)) - ELBO(q)", ">", "0", "kl-nonneg"),
        ("E(q, log(p(x, z))) + H(q)", "<", "log(p(x))", "kl-nonneg"),
        ("KL(p(z | x), q(z))", ">", "0", "kl-nonneg"),
        ("log(p(x))", ">=", "ELBO(q)", "jensen"))),
    ('data = ["x1", "x2"]\nassume = ["ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)"]', (
        ("ELBO(q(z | x1), x2)", ">=", "ELBO(q(z | x1), x1)", "assumption"),
        ("ELBO(q(z | x1), x2) + log(p(x1))", ">=", "ELBO(q(z | x1), x1) + log(p(x1))", "assumption"),
        ("log(p(x2)) - KL(q(z | x1), p(z | x2))", ">=", "ELBO(q(z | x1), x1)", "assumption"),
        ("ELBO(q(z | x1), x1) - 1", "<=", "ELBO(q(z | x1), x2) - 1", "assumption"),
        ("log(p(x2))", ">=", "ELBO(q(z | x1), x1)", "assumption"))),
    ('data = ["x1", "x2"]\nassume = ["q(z | x1) = p(z | x1)", "ELBO(q(z | x1), x2) > ELBO(q(z | x1), x1)", '
     '"q(z | x2) != p(z | x2)"]', (
        ("ELBO(q(z | x1), x2)", ">", "log(p(x1))", "assumption"),
        ("ELBO(q(z | x1), x2)", ">", "ELBO(q(z | x1), x1)", "assumption"),
        ("log(p(x2))", ">", "ELBO(q(z | x2), x2)", "kl-nonneg"),
        ("ELBO(q(z | x1), x1)", "=", "log(p(x1))", "assumption"))),
)
GAUSSIAN_PREMISE_LIBRARY = (  # the Gaussian family (D = 1): q(z) = N(mu, sigma^2)
    ('assume = "q(z) != p(z | x)"', PREMISE_LIBRARY[0][1]),
    ('assume = ["mu > 1"]', (
        ("mu", ">", "1", "assumption"),
        ("mu**2", ">", "1", "algebra"),
        ("KL(q(z), p(z))", ">", "0", "kl-nonneg"),
        ("KL(q(z), p(z))", ">=", "0", "kl-nonneg"))),
    ('assume = ["ELBO(q) >= log(p(x))", "sigma != 1"]', (
        ("ELBO(q)", ">=", "log(p(x))", "assumption"),
        ("KL(q(z), p(z | x))", "<=", "0", "assumption"),
        ("log(p(x)) - ELBO(q)", "<=", "0", "assumption"))),
)
CHAIN_PREMISE_LIBRARY = (  # two layers (latents = ["z1", "z2"]): q stays the free chain
    ('assume = "q(z1, z2 | x) != p(z1, z2 | x)"', (
        ("log(p(x))", ">", "ELBO(q)", "kl-nonneg"),
        ("KL(q(z1, z2 | x), p(z1, z2 | x))", ">", "0", "kl-nonneg"),
        ("ELBO(q)", "<", "log(p(x))", "kl-nonneg"),
        ("log(p(x)) - ELBO(q)", ">", "0", "kl-nonneg"))),
    ('assume = ["KL(q(z1 | x), p(z1)) >= 1"]', (
        ("KL(q(z1 | x), p(z1))", ">=", "1", "assumption"),
        ("KL(q(z1 | x), p(z1)) + log(p(x))", ">=", "1 + log(p(x))", "assumption"),
        ("KL(q(z1 | x), p(z1))", ">", "0", "algebra"))),
)
PREMISE_SWAPS = (("!=", ">="), (">=", "<="), (" > ", " < "), ("p(z | x)", "p(z)"), ("x2) >=", "x1) >="),
                 ("q(z | x2) != p(z | x2)", "q(z | x2) != p(z | x1)"))
APPENDIX_A_3 = ("KL(q(z3 | x), p(z3)) + E(q(z3 | x), KL(q(z2 | z3, x), p(z2 | z3))) + E(q(z2 | x), KL(q(z1 | z2, x), "
                "p(z1 | z2))) - E(q(z1 | x), log(p(x | z1)))")
CHAIN3_LIBRARY = (  # three layers (latents = ["z1", "z2", "z3"])
    ("-ELBO(q)", "=", APPENDIX_A_3, "bayes"),
    ("log(p(x))", ">=", "ELBO(q)", "jensen"),
    ("log(p(x)) - ELBO(q)", "=", "KL(q(z1, z2, z3 | x), p(z1, z2, z3 | x))", "bayes"),
    ("KL(q(z1, z2, z3 | x), p(z1, z2, z3 | x))", ">=", "0", "kl-nonneg"),
    ("E(q(z3 | x), KL(q(z2 | z3, x), p(z2 | z3)))", ">=", "0", "kl-nonneg"),
    ("q(z3 | z2)", "=", "q(z2 | z3, x) * q(z3 | x) / q(z2 | x)", "bayes"),
    ("p(z1 | z2, z3)", "=", "p(z1 | z2)", "definition"),
    ("q(z3 | z2, z1)", "=", "q(z3 | z2)", "definition"),
    # a product over z2, z3 conditioned on the outer z1 (it does not re-bind z1): the chain rule of entropy
    ("E(q(z1 | x), H(q(z2 | z1) * q(z3 | z2)))", "=",
     "E(q(z1 | x), H(q(z2 | z1))) + E(q(z1 | x), E(q(z2 | z1), H(q(z3 | z2))))", "algebra"),
    ("E(q(z1 | x), H(q(z2, z3 | z1)))", "=", "E(q(z1 | x), H(q(z2 | z1) * q(z3 | z2)))", "algebra"),
    ("log(p(x, z1, z2, z3))", "=", "log(p(z3)) + log(p(z2 | z3)) + log(p(z1 | z2)) + log(p(x | z1))", "definition"),
)
AGGREGATE = "(q(z | x1) + q(z | x2)) / 2"
MIXTURE_LIBRARY = (
    ("(KL(q(z | x1), p(z)) + KL(q(z | x2), p(z))) / 2", "=",
     "(KL(q(z | x1), {m}) + KL(q(z | x2), {m})) / 2 + KL({m}, p(z))", "algebra"),
    ("KL({m}, p(z))", ">=", "0", "kl-nonneg"),
    ("H({m})", "=", "(H(q(z | x1)) + H(q(z | x2))) / 2 + (KL(q(z | x1), {m}) + KL(q(z | x2), {m})) / 2", "algebra"),
    ("E({m}, log(p(z)))", "=", "(E(q(z | x1), log(p(z))) + E(q(z | x2), log(p(z)))) / 2", "linearity"),
    ("KL({m}, p(z))", "=", "E({m}, log({m} / p(z)))", "definition"),
    ("log(p(x1))", ">=", "Sum({m} * log(p(x1, z) / ({m})), z)", "jensen"),
    ("ELBO({m}, x1)", "=", "E({m}, log(p(x1 | z))) - KL({m}, p(z))", "algebra"),
    ("log(p(x1)) - ELBO({m}, x1)", "=", "KL({m}, p(z | x1))", "bayes"),
    ("KL({m}, p(z | x2))", ">=", "0", "kl-nonneg"),
)
MIXTURES = (AGGREGATE, "q(z | x1) / 3 + 2 * q(z | x2) / 3", "(q(z | x1) + p(z)) / 2",
            "w * q(z | x1) + (1 - w) * q(z | x2)", "w * q(z | x1) + w * q(z | x2)", "(p(z | x1) + q(z | x2)) / 2",
            "exp(log(p(x1, z))) / Sum(exp(log(p(x1, z))), z)", "exp(log(p(x1, z)))",
            "exp(w * log(p(x2 | z))) * p(z) / Sum(exp(w * log(p(x2 | z))) * p(z), z)")
_WEIGHTED_LOG = "p_data(x1) * log(p(x1)) + p_data(x2) * log(p(x2))"
_WEIGHTED_ELBO = "p_data(x1) * ELBO(q(z | x1), x1) + p_data(x2) * ELBO(q(z | x2), x2)"
DATA_LIBRARY = (
    ("p_data(x1) + p_data(x2)", "=", "1", "algebra"),
    ("p_data(x2)", "=", "1 - p_data(x1)", "algebra"),
    (_WEIGHTED_LOG, ">=", _WEIGHTED_ELBO, "jensen"),
    (_WEIGHTED_ELBO, "=", "p_data(x1) * (E(q(z | x1), log(p(x1 | z))) - KL(q(z | x1), p(z))) + p_data(x2) * "
                          "(E(q(z | x2), log(p(x2 | z))) - KL(q(z | x2), p(z)))", "definition"),
    ("p_data(x1) * KL(q(z | x1), p(z)) + p_data(x2) * KL(q(z | x2), p(z))", ">=", "0", "kl-nonneg"),
    (f"{_WEIGHTED_LOG} - ({_WEIGHTED_ELBO})", "=",
     "p_data(x1) * KL(q(z | x1), p(z | x1)) + p_data(x2) * KL(q(z | x2), p(z | x2))", "bayes"),
    ("-p_data(x1) * log(p(x1) / p_data(x1)) - p_data(x2) * log(p(x2) / p_data(x2))", ">=", "-log(p(x1) + p(x2))",
     "jensen"),  # Gibbs over the data points (Alemi et al.'s H - D <= I)
)
"""The data distribution p_data over two data points (issue 17.8): its constraint, the
data-averaged bound and its parts (Alemi et al. 2018, section 2)."""
SPACE_LIBRARY = (
    ("p(x1 | z) + p(x2 | z)", "=", "1", "algebra"),
    ("p(x1) + p(x2)", "=", "1", "algebra"),
    ("p(x1)", "=", "1 - p(x2)", "algebra"),
    ("Sum(p(z) * p(x1 | z), z) + Sum(p(z) * p(x2 | z), z)", "=", "1", "algebra"),
    ("p(z | x1) * p(x1) + p(z | x2) * p(x2)", "=", "p(z)", "bayes"),
    ("log(p(x1)) - ELBO(q(z | x1), x1)", "=", "KL(q(z | x1), p(z | x1))", "bayes"),
    ("Sum(q(z | x1) * (p(x1 | z) + p(x2 | z)), z)", "=", "1", "algebra"),  # the decoder's sum rule inside a sum
    ("-p_data(x1) * log(Sum(q(z | x2) * p(x1 | z), z) / p_data(x1)) - p_data(x2) * log(Sum(q(z | x2) * p(x2 | z), z)"
     " / p_data(x2))", ">=", "-log(Sum(q(z | x2) * (p(x1 | z) + p(x2 | z)), z))", "jensen"),
)
"""A finite data space (``data_space``, issue 17.8): the decoder p(. | z) and the evidence are
distributions over the data points."""
SWAPS = (("p_data(x1)", "p_data(x2)"), ("alpha, 1)", "alpha, 0)"), ("k, oo)", "alpha, 1)"),
         ("q(w)", "q(z)"), ("p(x, w)", "p(x, z)"), ("/ 2)", "/ 3)"),
         ("p(z | x)", "p(z)"), ("q(z)", "p(z)"), ("p(x | z)", "p(x, z)"), ("z1", "z2"), ("q(z1 | x)", "p(z1 | x)"),
         ("mu", "sigma"), ("sigma**2", "sigma"), ("w", "s"), ("x - b", "x + b"), ("IWAE(q, 2)", "IWAE(q, 3)"),
         ("theta_old", "theta_new"))
PERTURB_REL = {"=": (">=", "<=", ">", "<"), ">=": (">", "<=", "=", "<"), "<=": ("<", ">=", "=", ">")}
_INTEGER = re.compile(r"(?<![\w.*])(\d+)(?![\w*])")
_KL = re.compile(r"KL\(((?:[^(),]|\([^()]*\))+), ((?:[^(),]|\([^()]*\))+)\)")


def perturb(rng: random.Random, text: str) -> tuple[str, str]:
    """(tag, text changed so that it is usually false)."""
    kinds = ["tiny", "double", "constant", "swap", "kl", "sign", "power"]
    kind = rng.choice(kinds)
    if kind == "tiny":
        return kind, f"{text} + 1/10**9"
    if kind == "double":
        return kind, f"2 * ({text})"
    if kind == "constant" and _INTEGER.search(text):
        matches = list(_INTEGER.finditer(text))
        m = rng.choice(matches)
        return kind, text[:m.start()] + str(int(m.group(1)) + 1) + text[m.end():]
    if kind == "kl" and _KL.search(text):
        return kind, _KL.sub(lambda m: f"KL({m.group(2)}, {m.group(1)})", text, count=1)
    if kind == "sign" and " - " in text:
        return kind, text.replace(" - ", " + ", 1)
    if kind == "power":
        return kind, f"({text})**2"
    present = [pair for pair in SWAPS if pair[0] in text or pair[1] in text]
    if present:
        a, b = rng.choice(present)
        return "swap", text.replace(a, "\0").replace(b, a).replace("\0", b) if a in text else text.replace(b, a)
    return "tiny", f"{text} - 1/10**9"


@dataclass(frozen=True)
class FamilyCase:
    family: str
    header: str
    start: str
    rel: str
    expr: str
    rule: str
    tags: tuple[str, ...]

    def toml(self) -> str:
        head, _, params = self.header.partition("[params]")
        text = f'title = "fuzz"\n{head.strip()}\nstart = "{self.start}"\n'
        text += f'[[step]]\nrel = "{self.rel}"\nexpr = "{self.expr}"\nrule = "{self.rule}"\nwhy = "fuzz"\n'
        if params:
            text += "[params]" + params + "\n"
        return text


def generate(family: str, rng: random.Random) -> FamilyCase:
    """One case of the family: a true statement, perturbed about two times in three."""
    tags: list[str] = []
    if family == "IWAE":
        K = rng.choice((2, 3))
        k = str(rng.choice((1, 2, 3) if K == 2 else (1, 2)))
        tight = rng.random() < 0.25
        header = f"K = {K}" + ('\nassume = "q(z) = p(z | x)"' if tight else "")
        lhs, rel, rhs, rule = rng.choice(IWAE_LIBRARY + (IWAE_TIGHT if tight else ()))
        lhs, rhs = lhs.replace("{k}", k), rhs.replace("{k}", k)
    elif family == "IWAE k":
        K = rng.choice(("2", "3", '"any"'))
        header = f'K = {K}\n[params]\nk = "integer >= {rng.choice((1, 1, 2))}"\nalpha = "in (0, 1)"'
        lhs, rel, rhs, rule = rng.choice(IWAE_EVERY_K)
    elif family == "limits":
        alpha = rng.choice(("in (0, 1)", "in (0, 1)", "> 1", "in (0, 1/2)", "in [0, 1)"))
        header = "K = " + rng.choice(("2", "3", '"any"')) + f'\n[params]\nalpha = "{alpha}"\nk = "integer >= 1"'
        lhs, rel, rhs, rule = rng.choice(LIMITS)
    elif family == "IWAE draws":
        header = "K = " + rng.choice(("2", "3", '"any"'))
        lhs, rel, rhs, rule = rng.choice(IWAE_DRAWS)
    elif family == "gaussian":
        tight = rng.random() < 0.2
        header = 'model = "gaussian"' + ('\nassume = "q(z) = p(z | x)"' if tight else "")
        lhs, rel, rhs, rule = rng.choice(GAUSSIAN_LIBRARY + (GAUSSIAN_TIGHT if tight else ()))
        if "t" in re.findall(r"\bt\b", lhs + " " + rhs):
            header += '\n[params]\nt = "' + rng.choice(("> 0", ">= 1", "in (0, 1]", "> 1/2")) + '"'
    elif family == "gaussian D":
        D = rng.randint(2, 8)
        header = f'model = "gaussian"\nD = {D}'
        kl = " + ".join(f"(mu{j}**2 + sigma{j}**2 - 1 - log(sigma{j}**2)) / 2" for j in range(1, D + 1))
        back = " + ".join(f"(log(sigma{j}**2) + (1 + mu{j}**2) / sigma{j}**2 - 1) / 2" for j in range(1, D + 1))
        entropy = " + ".join(f"(log(2 * pi * sigma{j}**2) + 1) / 2" for j in range(1, D + 1))
        moments = " + ".join(f"mu{j}**2 + sigma{j}**2" for j in range(1, D + 1))
        lhs, rel, rhs, rule = rng.choice((("KL(q(z), p(z))", "=", kl, "definition"),
                                          ("KL(p(z), q(z))", "=", back, "definition"),
                                          ("H(q)", "=", entropy, "definition"),
                                          ("KL(q(z), p(z))", ">=", "0", "kl-nonneg"),
                                          ("KL(q(z), p(z)) + H(q)", "=", f"{kl} + {entropy}", "algebra"),
                                          ("E(q, log(p(z)))", "=", f"-{D} * log(2 * pi) / 2 - ({moments}) / 2",
                                           "algebra"),
                                          ("ELBO(q)", "=", "E(q, log(p(x | z))) - KL(q(z), p(z))", "definition"),
                                          ("log(p(x)) - ELBO(q)", "=", "KL(q(z), p(z | x))", "bayes")))
    elif family == "gaussian any D":
        header = 'model = "gaussian"\nD = "any"'
        lhs, rel, rhs, rule = rng.choice(GAUSSIAN_ANY_D_LIBRARY)
    elif family == "chain":
        if rng.random() < 0.25:  # three layers: two states each, or every latent space
            header = 'latents = ["z1", "z2", "z3"]\nK = ' + rng.choice(("2", '"any"'))
            lhs, rel, rhs, rule = rng.choice(CHAIN3_LIBRARY)
        else:
            K = rng.choice((2, 3, "any"))  # "any": the general chain (models.chain_general)
            header = f'latents = ["z1", "z2"]\nK = {K if K != "any" else chr(34) + K + chr(34)}'
            lhs, rel, rhs, rule = rng.choice(CHAIN_LIBRARY)
    elif family == "gaussian chain":
        if rng.random() < 0.25:
            header = 'model = "gaussian"\nlatents = ["z1", "z2", "z3"]'
            lhs, rel, rhs, rule = rng.choice(GAUSSIAN_CHAIN3_LIBRARY)
        else:
            header = 'model = "gaussian"\nlatents = ["z1", "z2"]'
            lhs, rel, rhs, rule = rng.choice(GAUSSIAN_CHAIN_LIBRARY)
    elif family == "r and theta":
        tight = rng.random() < 0.25
        lhs, rel, rhs, rule = rng.choice(SECOND_Q_LIBRARY + (SECOND_Q_TIGHT if tight else ()))
        header = "K = " + rng.choice(('"any"', "2", "3"))
        if "theta" in lhs + rhs or tight:
            header += ('\nassume = "q(z) = p(z | x; theta_old)"' if tight else "") + \
                '\n[params]\ntheta_old = "real"\ntheta_new = "real"'
    elif family == "premises":
        draw = rng.random()
        gaussian, chain = draw < 0.3, 0.3 <= draw < 0.5
        premises, library = rng.choice(GAUSSIAN_PREMISE_LIBRARY if gaussian else CHAIN_PREMISE_LIBRARY if chain
                                       else PREMISE_LIBRARY)
        if rng.random() < 0.25:  # a wrong or dropped premise: the statement must then not be proved
            a, b = rng.choice(PREMISE_SWAPS)
            premises = premises.replace(a, b, 1) if a in premises else "\n".join(
                line for line in premises.splitlines() if not line.startswith("assume"))
            tags.append("premise")
        model = 'model = "gaussian"' if gaussian else f"K = {rng.choice((2, 3))}"
        if chain:
            model = 'latents = ["z1", "z2"]\nK = ' + rng.choice(("2", '"any"'))
        header = f"# premises\n{model}\n{premises}"
        lhs, rel, rhs, rule = rng.choice(library)
    elif family == "mixture":
        K = rng.choice((2, 3, '"any"'))
        header = f'K = {K}\ndata = ["x1", "x2"]'
        lhs, rel, rhs, rule = rng.choice(MIXTURE_LIBRARY)
        m = AGGREGATE
        if rng.random() < 0.5:  # another mixture, often with weights that are no distribution
            m = rng.choice(MIXTURES)
            tags.append("mixture")
        if rng.random() < 0.2:  # the two sides' mixtures differ
            lhs, rhs = lhs.replace("{m}", m), rhs.replace("{m}", rng.choice(MIXTURES))
            tags.append("mixtures differ")
        lhs, rhs = lhs.replace("{m}", m), rhs.replace("{m}", m)
        if re.search(r"\bw\b", lhs + " " + rhs):
            header += '\n[params]\nw = "' + rng.choice(("in (0, 1)", "in [1/4, 3/4]", "in (0, 2)", "> 0")) + '"'
    elif family == "data space":
        header = 'K = ' + rng.choice(("2", "3", '"any"')) + '\ndata = ["x1", "x2"]\ndata_space = ["x1", "x2"]'
        lhs, rel, rhs, rule = rng.choice(SPACE_LIBRARY)
    elif family == "p_data":
        header = 'K = ' + rng.choice(("2", "3", '"any"')) + '\ndata = ["x1", "x2"]'
        lhs, rel, rhs, rule = rng.choice(DATA_LIBRARY)
    else:
        raise ValueError(family)
    draw = rng.random()
    if draw < 0.6:
        tag, rhs = perturb(rng, rhs)
        tags.append(tag)
    elif draw < 0.7:
        tag, lhs = perturb(rng, lhs)
        tags.append(f"lhs {tag}")
    if rng.random() < 0.2 and rel in PERTURB_REL:
        rel = rng.choice(PERTURB_REL[rel])
        tags.append("relation")
    if rng.random() < 0.15:
        rule = rng.choice(ALL_RULES)
        tags.append("rule")
    return FamilyCase(family, header, lhs, rel, rhs, rule, tuple(tags))


# ----------------------------------------------------------------------------- judging


FUZZ_SEEDS = (101, 102, 103)
"""The fuzzer's instances come from other seeds than the product path's (seed 0)."""


def fuzz_instances(spec, K) -> tuple[str, list]:
    """More instances than the product path: other seeds, the discrete judge's boundary set."""
    params = tuple((p.name, condition_text(p.interval)) for p in spec.params)
    fixes = [(str(r.lhs.expr.given[0]) if r.lhs.expr.given else spec.data[0], r.rhs.expr) for r in spec.assumptions]
    if spec.family == "gaussian" and spec.layered:  # Gaussian layers
        return "gaussian_chain", [i for seed in FUZZ_SEEDS
                                  for i in gaussian_chain_ref.instances(spec.layers, 8, seed, params)]
    if spec.family == "gaussian":
        found = [i for seed in FUZZ_SEEDS for i in gaussian_ref.instances(spec.D, 10, seed, params)]
        found = gaussian_ref.with_assumptions(found, fixes)[0]
        return "gaussian", [i for i in found if all(gaussian_ref.premise_holds(p.lhs.expr, p.rel, p.rhs.expr, i)
                                                     is True for p in spec.premises)]
    if spec.family == "chain":
        every_k = (2, 3, 5) if K == "any" else (int(K),)
        found = [i for seed in FUZZ_SEEDS for k in every_k
                 for i in chain_ref.instances(k, 8, seed, spec.data[0], params, spec.layers)]
        return "chain", [i for i in found if all(chain_ref.premise_holds(p.lhs.expr, p.rel, p.rhs.expr, i) is True
                                                 for p in spec.premises)]
    if spec.variationals or spec.indices:  # r, q_star and each parameter's tables, drawn per seed
        every_k = discrete_ref.ANY_K if K == "any" else (int(K),)
        found = [i for k in every_k for i in discrete_ref.instances(k, 1, tuple(spec.data), params)]
        found = [i for seed in FUZZ_SEEDS for i in discrete_ref.with_model_names(found, spec.variationals,
                                                                                  spec.indices, seed)]
    else:
        found = (discrete_ref.instances_any(1, tuple(spec.data), params) if K == "any"
                 else discrete_ref.instances(int(K), 1, tuple(spec.data), params))
    if spec.data_space:  # the observations are every value of x: the likelihood normalised
        found = discrete_ref.with_data_space(found)
    if spec.data_weights:  # each instance with the data distribution's weights, at other seeds too
        found = [i for seed in FUZZ_SEEDS for i in discrete_ref.with_data_weights(found, seed)]
    found = discrete_ref.with_assumptions(found, fixes)[0]
    if spec.premises:  # a step is claimed only where every premise holds: judge it only there
        found = [i for i in found if all(discrete_ref.premise_holds(p.lhs.expr, p.rel, p.rhs.expr, i) is True
                                         for p in spec.premises)]
    return "discrete", found


JUDGES = {"gaussian": gaussian_ref.judge, "chain": chain_ref.judge, "discrete": discrete_ref.judge,
          "gaussian_chain": gaussian_chain_ref.judge}


@dataclass
class FamilyCampaign:
    """Per family: cases, steps, proved, disagreements (proved but the judge finds it false),
    caught (the product path's second opinion turned a proof into error), crashes, seconds."""

    cases: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    steps: Counter = field(default_factory=Counter)
    proved: Counter = field(default_factory=Counter)
    judged: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    caught: list = field(default_factory=list)
    disagreements: list = field(default_factory=list)
    crashes: list = field(default_factory=list)
    seconds: Counter = field(default_factory=Counter)

    def merge(self, other: FamilyCampaign) -> None:
        for name in ("cases", "refused", "steps", "proved", "judged", "skipped", "seconds"):
            getattr(self, name).update(getattr(other, name))
        self.caught += other.caught
        self.disagreements += other.disagreements
        self.crashes += other.crashes

    def run(self, case: FamilyCase) -> None:
        started = time.perf_counter()
        try:
            self._run(case)
        finally:
            self.seconds[case.family] += time.perf_counter() - started

    def _run(self, case: FamilyCase) -> None:
        family = case.family
        self.cases[family] += 1
        try:
            derivation = loads(case.toml(), "fuzz.toml")
        except DerivationError:
            self.refused[family] += 1
            return
        try:
            result = check_derivation(derivation, budget=BUDGET, search=False)
        except Exception as error:  # noqa: BLE001 - a crash is a finding
            self.crashes.append((case.toml(), f"{type(error).__name__}: {error}"))
            return
        (step,) = result.steps
        self.steps[family] += 1
        if step.verdict is Verdict.error and step.reason.startswith("internal disagreement"):
            self.caught.append((case.toml(), step.reason))
            return
        if step.verdict is not Verdict.proved:
            return
        self.proved[family] += 1
        model = derivation.model()
        try:
            kind, instances = fuzz_instances(model.spec, model.K)
            if not instances:
                raise JudgeError("no valid instance")
            judgement = JUDGES[kind](derivation.start.expr, step.step.rel, step.step.expr, instances)
        except JudgeError:
            self.skipped[family] += 1
            return
        self.judged[family] += 1
        if not judgement.holds:
            failure = judgement.failures[0]
            self.disagreements.append((case.toml(), f"{failure.reason} at {failure.instance.describe()}"))

    def report(self) -> str:
        """One line per family: steps, steps per minute of its own checking time, findings."""
        lines = []
        for family in FAMILIES:
            seconds = self.seconds[family]
            rate = self.steps[family] / (seconds / 60) if seconds else 0.0
            disagreements = sum(1 for t, _ in self.disagreements if _family_of(t) == family)
            caught = sum(1 for t, _ in self.caught if _family_of(t) == family)
            lines.append(f"  {family:14} {self.steps[family]:6} steps, {rate:6.0f} steps/min, {self.proved[family]} "
                         f"proved, {disagreements} disagreements, {caught} caught by the second opinion "
                         f"({self.judged[family]} judged, {self.skipped[family]} undecided, "
                         f"{self.refused[family]} refused by the loader)")
        return "\n".join(lines)


def _family_of(toml: str) -> str:
    if "theta" in toml or "r(z)" in toml or "ELBO(r)" in toml or "H(r)" in toml or "E(r," in toml or "q_star" in toml:
        return "r and theta"
    if "# premises" in toml:
        return "premises"
    if "data_space" in toml:
        return "data space"
    if "p_data" in toml:
        return "p_data"
    if '"x2"' in toml:
        return "mixture"
    if "latents" in toml and "gaussian" in toml:
        return "gaussian chain"
    if "latents" in toml:
        return "chain"
    if "gaussian" in toml:
        return "gaussian any D" if '\nD = "any"' in toml else "gaussian D" if "\nD = " in toml else "gaussian"
    if "limit(" in toml:
        return "limits"
    if re.search(r"\), [uvw]\)", toml):
        return "IWAE draws"
    return "IWAE k" if "integer >=" in toml else "IWAE"


def run_families(per_family: int, seed: int = 0) -> FamilyCampaign:
    """`per_family` generated cases of each family, reproducible from `seed`."""
    campaign = FamilyCampaign()
    for family in FAMILIES:
        rng = random.Random(f"fuzz-families-{family}-{seed}")
        for _ in range(per_family):
            campaign.run(generate(family, rng))
    return campaign


def run_families_until(at_least: int, at_most: int, seed: int = 0) -> FamilyCampaign:
    """The fast slice (`make test`): each family's cases in the same order as `run_families`
    (a prefix of it), until the family has `at_least` steps, two proved and judged steps and a
    step not proved, or `at_most` cases; the test then asserts those minimums."""
    campaign = FamilyCampaign()
    for family in FAMILIES:
        rng = random.Random(f"fuzz-families-{family}-{seed}")
        for _ in range(at_most):
            campaign.run(generate(family, rng))
            if (campaign.steps[family] >= at_least and campaign.judged[family] >= 2
                    and campaign.proved[family] < campaign.steps[family]):
                break
    return campaign


__all__ = ["FAMILIES", "FamilyCase", "FamilyCampaign", "generate", "perturb", "run_families", "run_families_until",
           "fuzz_instances"]
