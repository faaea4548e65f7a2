"""Justification rules: each decides whether it *proves* one step of a chain.

A rule only ever says "proved" with a reason, or "not proved" with the condition that
failed.  Finding counterexamples is the checker's job, not the rules'.  Inequality rules
work by exhibiting a fact ``big >= small`` (Jensen, KL >= 0) with its side conditions
proved, and then proving ``upper - lower == big - small`` by canonical forms, so the rule
also applies inside a larger expression (a common term added on both sides).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import product

from sympy import (
    Add,
    Dummy,
    Expr,
    FiniteSet,
    Integer,
    Mul,
    Poly,
    Pow,
    S,
    Symbol,
    exp,
    expand,
    linsolve,
    log,
    preorder_traversal,
)

from elbo_sym.engine.canonical import Canonical, canonical
from elbo_sym.engine.definedness import certified, is_positive, nonnegative, obligations
from elbo_sym.engine.models.base import Model, limit_moves, remembered
from elbo_sym.engine.models.discrete import UnfoldError, has_free_latent
from elbo_sym.engine.notation import (
    DATA_DENSITY,
    ELBO,
    IWAE,
    KL,
    Density,
    Expectation,
    Index,
    LatentSum,
    Limit,
    approached,
    distribution_variables,
    is_derived,
    is_real_power,
    limit_value,
    renyi_parts,
    to_text,
    x,
    z,
)
from elbo_sym.engine.premises import premise_text, premises_of
from elbo_sym.engine.wellformed import factored_sum
from elbo_sym.failures import reraise_callers


@dataclass(frozen=True)
class RuleOutcome:
    """What a rule established; `conditions` lists each side condition and whether it held."""

    proved: bool
    reason: str
    conditions: tuple[tuple[str, bool], ...] = ()
    residual: tuple[Canonical, ...] = field(default=(), compare=False)
    proved_by: str = ""
    """What proved the step when not its rule's own reasoning: "exact" (the exact rule decided an
    `algebra` step whose sides differ: engine.check); the reports show it beside the rule."""


Rule = Callable[[Expr, str, Expr, Model], RuleOutcome]


def condition_failed(pattern: str, conditions: tuple[tuple[str, bool], ...]) -> str:
    """A rule's reason when its pattern matched but not every condition held, naming the first
    that failed (red team rt32: "a condition failed" left the reader to run explain)."""
    failed = next((text for text, held in conditions if not held), None)
    return f"{pattern} found but a condition failed" + (f": {failed}" if failed else "")


def difference(a: Expr, b: Expr) -> Expr:
    return Add(a, Mul(S.NegativeOne, b))


def residuals(e: Expr, model: Model) -> tuple[Canonical, ...]:
    """Canonical forms of `e`, one per value of a free z."""
    return tuple(canonical(u, model) for u in model.unfold_pointwise(e))


def proves_zero(e: Expr, model: Model) -> bool:
    return all(c.is_zero for c in residuals(e, model))


# --------------------------------------------------------------------------- equality


def equality(prev: Expr, rel: str, new: Expr, model: Model) -> RuleOutcome:
    """Both sides have the same canonical form on the model's domain."""
    if prev.has(Limit) or new.has(Limit):
        return RuleOutcome(False, "a limit is taken by the rule that names its theorem: renyi-limit or iwae-limit")
    forms = residuals(difference(prev, new), model)
    holds = all(c.is_zero for c in forms)
    condition = ("both sides reduce to the same canonical form", holds)
    if not holds:
        return RuleOutcome(False, "the two sides differ after unfolding and reduction", (condition,), forms)
    if rel in ("<", ">"):
        return RuleOutcome(False, "the sides are equal, so a strict inequality is false", (condition,), forms)
    return RuleOutcome(True, "identity on the model's domain (canonical forms agree)", (condition,), forms)


# --------------------------------------------------------------------------- inequality facts


def _bounds(prev: Expr, rel: str, new: Expr) -> tuple[Expr, Expr] | None:
    if rel == ">=":
        return prev, new
    if rel == "<=":
        return new, prev
    return None


def is_distribution(values: tuple[Expr, ...], model: Model) -> bool:
    """Every value provably positive and the values sum to 1 on the domain."""
    if not all(is_positive(v, model) for v in values):
        return False
    try:
        total = model.latent_sum(values)
    except UnfoldError:  # a sum with no meaning for every latent space (Sum(p(x | z), z)) is not shown to be 1
        return False
    if total == Add(*values):  # a plain sum: the factors every value shares first (p(x) in K posteriors)
        total = factored_sum(values)
    return canonical(total - 1, model).is_zero


def _weighted_sums(e: Expr, model: Model):
    """Sum(w * log g, z) and E(w, log g) subterms, as (weights w, log g).

    A factor free of z -- a number such as -1 or 1/2, a parameter -- is not part of the
    weights: it scales the Jensen pair (``Sum(q * -log(p / q))`` is -1 times the pair)."""
    params = set(model.parameter_bounds)
    for node in preorder_traversal(e):
        if isinstance(node, Expectation):
            logs = [f for f in _flat_factors(node.body) if isinstance(f, log)]
            rest = [f for f in _flat_factors(node.body) if not isinstance(f, log)]
            if len(logs) == 1 and rest and all(_is_scale(f, params) for f in rest):
                yield node.distribution, logs[0]  # E(q, -log(g)): -1 scales the pair
            else:
                yield node.distribution, node.body  # the condition on the smaller side decides
        elif isinstance(node, LatentSum):
            factors = _flat_factors(node.body)
            logs = [f for f in factors if isinstance(f, log)]
            rest = [f for f in factors if not isinstance(f, log)]
            if len(logs) != 1 or not rest:
                continue
            yield Mul(*rest), logs[0]  # the factors as written first: 2 * q(z) is not a distribution
            weights = [f for f in rest if not _is_scale(f, params)]
            if weights and len(weights) < len(rest):
                yield Mul(*weights), logs[0]


def _is_scale(factor: Expr, params: set) -> bool:
    """A number, a parameter or a data weight p_data(x1): a factor that does not depend on z."""
    return factor.is_Number or factor in params or (isinstance(factor, Density) and factor.name == DATA_DENSITY)


def _flat_factors(e: Expr) -> list[Expr]:
    if e.is_Mul:
        return [f for a in e.args for f in _flat_factors(a)]
    return [e]


def _log_of_sums(e: Expr):
    for node in preorder_traversal(e):
        if isinstance(node, log) and isinstance(node.args[0], (LatentSum, Expectation)):
            yield node


MAX_JENSEN_PAIRS = 16
"""Candidate pairs (a log of a sum, a weighted sum of logs) the rule examines in one step."""


def _jensen_pair(outer: Expr, weights: Expr, body: Expr, model: Model) -> tuple[Expr, tuple[tuple[str, bool], ...]]:
    """The fact ``outer - Sum(weights * body) >= 0`` and the conditions under which it holds."""
    inside = outer.args[0]
    a = tuple(model.unfold(inside.body if isinstance(inside, LatentSum)
                           else Mul(inside.distribution, inside.body), k) for k in model.points)
    w = tuple(model.unfold(weights, k) for k in model.points)
    g = tuple(ak / wk for ak, wk in zip(a, w))
    conditions = (
        ("the log's argument is the weighted sum over the same points",  # one layer of two is not
         canonical(model.unfold(inside) - model.latent_sum(a), model).is_zero),
        ("the weights are a distribution over z (positive, sum to 1)", is_distribution(w, model)),
        ("the averaged quantity is positive", all(is_positive(v, model) for v in g)),
        ("the weighted sum is the weighted average of log of the same quantity",  # wherever it stands (rt38 F3)
         all(canonical(model.unfold(Mul(weights, body), k) - w[i] * log(g[i]), model).is_zero
             for i, k in enumerate(model.points))),
    )
    return difference(outer, LatentSum(Mul(weights, body))), conditions


MAX_MIXTURE_TERMS = 8
"""Most terms of a finite mixture log(w_1 g_1 + ... + w_n g_n) the Jensen rule splits."""


def _logs_of_mixtures(*sides: Expr):
    """log(w_1 g_1 + ... + w_n g_n) with rational weights w_i > 0 summing to 1 (an average over
    data, written out): Jensen over the n terms, weights w_i."""
    seen = set()
    for side in sides:
        for node in preorder_traversal(side):
            if not isinstance(node, log) or not node.args[0].is_Add or node in seen:
                continue
            terms = Add.make_args(node.args[0])
            weights = [_weight_of(term)[0] for term in terms]
            if 2 <= len(terms) <= MAX_MIXTURE_TERMS and all(w.is_Rational and w > 0 for w in weights) \
                    and Add(*weights) == 1:
                seen.add(node)
                yield node


def _weight_of(term: Expr) -> tuple[Expr, Expr]:
    """(number, rest) of one term: p(x1) / 2 is (1/2, p(x1)), also as the parser writes it."""
    factors = _flat_factors(term)
    numbers = [f for f in factors if f.is_number and not f.has(log, exp)]
    rest = [f for f in factors if f not in numbers]
    return Mul(*(Mul(f, 1) for f in numbers)).doit() if numbers else Integer(1), Mul(*rest)


def _mixture_pair(outer: Expr, model: Model) -> tuple[Expr, str, tuple[tuple[str, bool], ...]]:
    """The fact ``log(sum w_i g_i) - sum w_i log(g_i) >= 0`` for rational weights summing to 1."""
    split = [_weight_of(term) for term in Add.make_args(outer.args[0])]
    weights = tuple(w for w, _ in split)
    try:
        positive = all(is_positive(v, model) for _, g in split for v in model.unfold_pointwise(g))
    except (UnfoldError, KeyError) as raised:
        reraise_callers(raised)
        positive = False
    conditions = (
        (f"the weights {', '.join(map(str, weights))} are positive and sum to 1", True),  # so they were chosen
        ("the averaged quantities are positive", positive),
    )
    fact = difference(outer, Add(*(w * log(g, evaluate=False) for w, g in split)))
    return fact, " and ".join(map(str, weights)), conditions


def _data_weighted_logs(*sides: Expr) -> dict[Expr, list[Expr]]:
    """Each data weight p_data(o) with the quantities g of the terms ``c * p_data(o) * log(g)``
    (c a number) on either side: the candidate terms of Jensen over the data points."""
    found: dict[Expr, list[Expr]] = {}
    for side in sides:
        for node in preorder_traversal(side):
            if not node.is_Mul:
                continue
            factors = _flat_factors(node)
            weights = [f for f in factors if isinstance(f, Density) and f.name == DATA_DENSITY]
            logs = [f for f in factors if isinstance(f, log)]
            if len(weights) == 1 and len(logs) == 1 and len(factors) - 2 == sum(f.is_Number for f in factors) \
                    and not has_free_latent(logs[0]):  # a quantity of the data point, not of z
                quantities = found.setdefault(weights[0], [])
                if logs[0].args[0] not in quantities:
                    quantities.append(logs[0].args[0])
    return found


def _data_jensen_choices(*sides: Expr):
    """One quantity per data weight: the pairs log(sum_o p_data(o) g_o) >= sum_o p_data(o) log(g_o)."""
    found = _data_weighted_logs(*sides)
    if not found:  # product() of nothing is one empty choice: no pattern, not a pair with no weights (rt29)
        return
    weights = sorted(found, key=to_text)
    for choice in product(*(found[w] for w in weights)):
        yield tuple(zip(weights, choice))


def _data_pair(choice: tuple[tuple[Expr, Expr], ...], model: Model) -> tuple[Expr, str, tuple[tuple[str, bool], ...]]:
    """The fact ``log(sum_o p_data(o) g_o) - sum_o p_data(o) log(g_o) >= 0`` (Gibbs' inequality
    over the data points, Jensen for the concave log): the weights must be the whole data
    distribution (one positive weight per observation, summing to 1) and every g_o positive."""
    try:
        unfolded = [model.unfold(w) for w, _ in choice]
        positive = all(is_positive(model.unfold(g), model) for _, g in choice)
    except (UnfoldError, KeyError) as raised:
        reraise_callers(raised)
        unfolded, positive = [], False
    whole = len(set(unfolded)) == len(unfolded) and set(unfolded) == set(model.data_constants) and bool(unfolded)
    weights = ", ".join(to_text(w) for w, _ in choice)
    conditions = (
        (f"the weights {weights} are the data distribution (positive, sum to 1 over the observations)", whole),
        ("the averaged quantities are positive", positive),
    )
    average = _one_sum(Add(*(w * g for w, g in choice)))
    fact = difference(log(average), Add(*(w * log(g, evaluate=False) for w, g in choice)))
    return fact, weights, conditions


def _one_sum(e: Expr) -> Expr:
    """c_1 Sum(f_1, z) + ... + c_n Sum(f_n, z) with z-free c_i as the one sum Sum(c_1 f_1 + ... +
    c_n f_n, z) (linearity), so that what holds at every z (a normalised decoder) applies to it;
    `e` itself when it is not of that form."""
    parts = []
    for term in Add.make_args(e):
        sums = [f for f in _flat_factors(term) if isinstance(f, LatentSum)]
        if len(sums) != 1 or sums[0].args[1] != z:
            return e
        scale = term / sums[0]
        if scale.has(z):
            return e
        parts.append(scale * sums[0].body)
    return LatentSum(Add(*parts)) if len(parts) >= 2 else e


def _power_candidates(*sides: Expr):
    """(log E(w, g**n), log E(w, g)) with the same weights w and an integer n >= 2."""
    logs = [node for side in sides for node in _log_of_sums(side) if isinstance(node.args[0], Expectation)]
    for power in dict.fromkeys(logs):
        body = power.args[0].body
        if not (body.is_Pow and body.exp.is_Integer and body.exp >= 2):
            continue
        for mean in dict.fromkeys(logs):
            if mean is not power and mean.args[0].distribution == power.args[0].distribution:
                yield power, mean


def _power_pair(power: Expr, mean: Expr, model: Model) -> tuple[Expr, str, tuple[tuple[str, bool], ...]]:
    """The fact ``log E_w[g**n] - n log E_w[g] >= 0``: t**n is convex for t > 0 and n >= 1, so
    E_w[g**n] >= E_w[g]**n (Jensen), and log is increasing."""
    weights = power.args[0].distribution
    base, n = power.args[0].body.base, power.args[0].body.exp
    w = tuple(model.unfold(weights, k) for k in model.points)
    g = tuple(model.unfold(base, k) for k in model.points)
    averages_here = all(  # as for every Jensen pair: the averages run over the model's own points
        canonical(model.unfold(average.args[0]) - model.latent_sum(tuple(wk * v for wk, v in zip(w, values))),
                  model).is_zero
        for average, values in ((power, tuple(gk ** n for gk in g)), (mean, g)))
    conditions = (
        ("both logs' arguments are weighted sums over the same points", averages_here),
        ("the weights are a distribution over z (positive, sum to 1)", is_distribution(w, model)),
        ("the averaged quantity is positive", all(is_positive(v, model) for v in g)),
        (f"the power's base is the other average's quantity, and {n} >= 1",
         all(canonical(gk - model.unfold(mean.args[0].body, k), model).is_zero for gk, k in zip(g, model.points))),
    )
    return difference(power, n * mean), f"{to_text(weights)} (for the power {n})", conditions


def jensen(prev: Expr, rel: str, new: Expr, model: Model) -> RuleOutcome:
    """log E_w[g] >= E_w[log g] for a distribution w over z (log is concave) -- also negated,
    scaled by a constant shown >= 0, and several such pairs at once (an average over data):
    upper - lower must be c_1 F_1 + ... + c_n F_n with every F_i a Jensen pair whose
    conditions hold and every c_i shown >= 0."""
    bounds = _bounds(prev, rel, new)
    if bounds is None:
        return RuleOutcome(False, "Jensen's inequality gives >= (or <=), never =, < or >")
    upper, lower = bounds
    if any(isinstance(node, IWAE) for side in (upper, lower) for node in preorder_traversal(side)):
        outcome = _iwae_jensen(upper, lower, model)
        if outcome is not None:
            return outcome
    outers = list(dict.fromkeys(node for side in (upper, lower) for node in _log_of_sums(side)))
    sums = list(dict.fromkeys(pair for side in (upper, lower) for pair in _weighted_sums(side, model)))
    gap = difference(upper, lower)
    tried: list[tuple[tuple[str, bool], ...]] = []
    pairs: list[tuple[Expr, str, tuple[tuple[str, bool], ...]]] = []  # (fact, its weights, conditions)
    for outer in outers:
        for weights, body in sums:
            if len(tried) >= MAX_JENSEN_PAIRS:
                break
            fact, conditions = _jensen_pair(outer, weights, body, model)
            tried.append(conditions)
            if not all(held for _, held in conditions):
                continue
            pairs.append((fact, to_text(weights), conditions))
            if proves_zero(difference(gap, fact), model):  # the textbook pair, coefficient 1
                return RuleOutcome(True, "Jensen's inequality with weights " + to_text(weights),
                                   conditions + (("apart from the Jensen pair, both sides agree", True),))
    with_weights = "Jensen's inequality with weights "
    other_pairs = (  # each a family of candidates and its Jensen pair, tried in this order (lazily)
        (lambda: _logs_of_mixtures(upper, lower), lambda c: _mixture_pair(c, model), with_weights),
        (lambda: _power_candidates(upper, lower), lambda c: _power_pair(c[0], c[1], model), with_weights),
        (lambda: _data_jensen_choices(upper, lower), lambda c: _data_pair(c, model),
         "Jensen's inequality over the data with weights "),
    )
    for candidates, pair_of, named in other_pairs:
        for candidate in candidates():
            if len(tried) >= MAX_JENSEN_PAIRS:
                break
            fact, weights, conditions = pair_of(candidate)
            tried.append(conditions)
            if all(held for _, held in conditions):
                pairs.append((fact, weights, conditions))
                if proves_zero(difference(gap, fact), model):
                    return RuleOutcome(True, named + weights,
                                       conditions + (("apart from the Jensen pair, both sides agree", True),))
    if not tried:
        return RuleOutcome(False, "no log of a sum/expectation matched a weighted sum of logs of the step")
    combination = _nonnegative_combination(gap, [fact for fact, _, _ in pairs], model) if pairs else None
    if combination is not None and proves_zero(difference(gap, Add(*(c * f for c, f in combination))), model):
        shown: list[tuple[str, bool]] = []
        for c, f in combination:
            _, weights, conditions = next(pair for pair in pairs if pair[0] == f)
            shown += [(f"{to_text(c)} >= 0 (the Jensen pair with weights {weights} is scaled by it)", True)]
            shown += conditions
        shown.append(("apart from the scaled Jensen pairs, both sides agree", True))
        weights_text = ", ".join(next(p[1] for p in pairs if p[0] == f) for _, f in combination)
        return RuleOutcome(True, f"Jensen's inequality with weights {weights_text}, scaled by "
                                 f"{', '.join(to_text(c) for c, _ in combination)} >= 0", tuple(shown))
    if not pairs:
        return RuleOutcome(False, condition_failed("Jensen's pattern", tried[0]), tried[0])
    reversed_pair = next((p for p in pairs if proves_zero(Add(gap, p[0]), model)), None)
    if reversed_pair is not None:  # upper - lower = -(log E - E log): the step says log E <= E log (rt38 F3)
        failed = reversed_pair[2] + ((WRONG_WAY, False),)
        return RuleOutcome(False, condition_failed("Jensen's pattern", failed), failed)
    failed = pairs[0][2] + (("apart from Jensen pairs scaled by constants >= 0, both sides agree", False),)
    return RuleOutcome(False, condition_failed("Jensen's pattern", failed), failed)


WRONG_WAY = ("the log of the average is on the larger side (Jensen gives log E[g] >= E[log g]; "
             "this step has it the wrong way round)")
"""The condition a Jensen step written the wrong way round fails: its explanation says so, not that the
sides disagree (red team rt38 F3)."""


def _iwae_jensen(upper: Expr, lower: Expr, model: Model) -> RuleOutcome | None:
    """Jensen for the importance-weighted bound, over the k-tuples (z_1..z_k) drawn from q:

    * ``log p(x) >= IWAE(q, k)``: the tuple weights W_t = q(z_1)...q(z_k) are a distribution
      and the W-average of the averaged ratio (1/k) sum_i p(x, z_i)/q(z_i) is the argument
      of a log on the larger side;
    * ``IWAE(q, k) >= ...``: for every tuple, log of the average ratio >= the average of the
      logs (uniform weights 1/k); weighted by W_t >= 0 this bounds IWAE below by
      sum_t W_t (1/k) sum_i log r_i, which must equal the smaller side (the ELBO).
    The rest of both sides must agree, as for every inequality rule."""
    for node in preorder_traversal(lower):  # log p(x) >= IWAE
        if not isinstance(node, IWAE):
            continue
        terms = model.iwae_terms(node)
        if terms is None:  # a family without IWAE
            return None
        weights = tuple(w for w, _ in terms)
        averages = tuple(Add(*ratios) / node.samples for _, ratios in terms)
        mean = Add(*(w * a for w, a in zip(weights, averages)))
        for outer in preorder_traversal(upper):
            if not isinstance(outer, log):
                continue
            conditions = (
                ("the tuple weights q(z_1)...q(z_k) are a distribution (positive, sum to 1)",
                 all(is_positive(w, model) for w in weights)
                 and canonical(Add(*weights) - 1, model).is_zero),
                ("the averaged ratios are positive", all(is_positive(a, model) for a in averages)),
                ("the log on the larger side is of the average over the draws",
                 canonical(model.unfold(outer.args[0]) - mean, model).is_zero),
                ("apart from the Jensen pair, both sides agree",
                 proves_zero(difference(difference(upper, lower), difference(outer, node)), model)),
            )
            if all(held for _, held in conditions):
                return RuleOutcome(True, f"Jensen's inequality over the {node.samples} draws from q", conditions)
    for node in preorder_traversal(upper):  # IWAE >= sum_t W_t (1/k) sum_i log r_i
        if not isinstance(node, IWAE):
            continue
        terms = model.iwae_terms(node)
        if terms is None:
            return None
        below = Add(*(w * Add(*(log(r, evaluate=False) for r in ratios)) / node.samples for w, ratios in terms))
        inside = (
            ("the tuple weights are positive", all(is_positive(w, model) for w, _ in terms)),
            ("the ratios p(x, z)/q(z) are positive", all(is_positive(r, model) for _, ratios in terms for r in ratios)),
            ("the smaller side is the tuple-average of the mean log ratio (each draw is distributed as q)",
             proves_zero(difference(difference(upper, lower), difference(node, below)), model)),
        )
        if all(held for _, held in inside):
            return RuleOutcome(True, "Jensen's inequality inside the average of the k weights, for every draw",
                               inside)
        return RuleOutcome(False, condition_failed("Jensen's pattern for IWAE", inside), inside)
    return None


# --------------------------------------------------------------------------- IWAE for every k


def _at_least(count: Expr, least: int, model: Model) -> bool:
    """`count` is a whole number >= `least` on the whole domain: a number, or k + n with k a
    whole-number parameter whose least value plus n is >= `least`."""
    if count.is_Integer:
        return bool(count >= least)
    bounds = {s.name: interval for s, interval in model.parameter_bounds.items()}
    (symbol,) = count.free_symbols if len(count.free_symbols) == 1 else (None,)
    interval = bounds.get(getattr(symbol, "name", ""))
    if symbol is None or interval is None or not interval.integer or interval.lower is None:
        return False
    shift = count - symbol
    return bool(shift.is_Integer and interval.lower + int(shift) >= least)


def _ratios_positive_over_distribution(q: Expr, joint: Expr, model: Model) -> tuple[bool, bool]:
    """(every importance ratio joint / q is positive at the model's points, q is a distribution
    over z): what Burda et al.'s and Li and Turner's theorems assume of the weights (both False
    where either does not unfold)."""
    try:
        ratios = tuple(model.unfold(joint / q, k) for k in model.points)
        return all(is_positive(r, model) for r in ratios), _is_distribution_notation(q, q, model)
    except (UnfoldError, KeyError) as raised:
        reraise_callers(raised)
        return False, False


def _iwae_side_conditions(node: IWAE, model: Model) -> tuple[tuple[str, bool], ...]:
    """What Burda et al.'s Theorem 1 assumes of IWAE(q, k): k a whole number >= 1, q a
    distribution over z, every importance ratio p(x, z) / q(z) positive."""
    q, joint = node.distribution, node.joint
    positive, distribution = _ratios_positive_over_distribution(q, joint, model)
    return (
        (f"the number of samples of {to_text(node)} is a whole number >= 1", _at_least(node.count, 1, model)),
        (f"{to_text(q)} is a distribution over z", distribution),
        (f"the importance ratios {to_text(joint)} / {to_text(q)} are positive", positive),
    )


def iwae_bound(prev: Expr, rel: str, new: Expr, model: Model) -> RuleOutcome:
    """Burda et al. (2016), Theorem 1 (the bound): log p(x) >= IWAE(q, k) for every k >= 1.

    The theorem, applied to the exact form ``log(p(x)) >= IWAE(q, k)``: the average
    (1/k) sum_i p(x, z_i) / q(z_i) has mean p(x) under z_i ~ q (importance sampling:
    sum_z q(z) p(x, z) / q(z) = p(x), shown by canonical forms), and log is concave (Jensen)."""
    bounds = _bounds(prev, rel, new)
    if bounds is None:
        return RuleOutcome(False, "the IWAE bound gives >= (or <=), never =, < or >")
    upper, lower = bounds
    if not isinstance(lower, IWAE):
        return RuleOutcome(False, "the smaller side is not IWAE(q, k)")
    evidence = Density("p", (lower.observation,))
    if upper != log(evidence):
        return RuleOutcome(False, f"the larger side is not log({to_text(evidence)}) of IWAE's observation")
    q, joint = lower.distribution, lower.joint
    try:
        mean = model.latent_sum(tuple(model.unfold(Mul(q, joint / q), k) for k in model.points))
        unbiased = canonical(mean - model.unfold(evidence), model).is_zero
    except (UnfoldError, KeyError) as raised:
        reraise_callers(raised)
        unbiased = False
    conditions = _iwae_side_conditions(lower, model) + (
        (f"the ratios average to {to_text(evidence)} under {to_text(q)} (importance sampling)", unbiased),)
    if not all(held for _, held in conditions):
        return RuleOutcome(False, condition_failed("the IWAE bound's pattern", conditions), conditions)
    return RuleOutcome(True, f"Burda et al.'s Theorem 1: log p(x) >= {to_text(lower)} for every number of "
                             f"samples (Jensen over the draws)", conditions)


def iwae_monotone(prev: Expr, rel: str, new: Expr, model: Model) -> RuleOutcome:
    """Burda et al. (2016), Theorem 1 (monotonicity): IWAE(q, m) >= IWAE(q, k) for m >= k >= 1.

    The theorem, applied to the exact form ``IWAE(q, m) >= IWAE(q, k)`` (or ``>= ELBO(q)``,
    which is IWAE(q, 1)): the average of m ratios is the average, over the subsets of k of the
    m draws, of their k-averages; log is concave (Jensen), and every subset's draws are k
    independent draws from q.  m - k must be a whole number >= 0 on the whole domain."""
    bounds = _bounds(prev, rel, new)
    if bounds is None:
        return RuleOutcome(False, "IWAE's monotonicity gives >= (or <=), never =, < or >")
    upper, lower = bounds
    written = lower
    if isinstance(lower, ELBO):
        lower = IWAE(lower.distribution, 1, lower.observation)
    if not (isinstance(upper, IWAE) and isinstance(lower, IWAE)):
        return RuleOutcome(False, "the two sides are not IWAE(q, m) and IWAE(q, k) (or ELBO(q))")
    gap = upper.count - lower.count
    conditions = (
        ("both sides are about the same q and the same observation",
         upper.distribution == lower.distribution and upper.observation == lower.observation),
        (f"the larger side has at least as many samples as the smaller ({to_text(upper)} against "
         f"{to_text(lower)})", _at_least(gap, 0, model)),
    ) + _iwae_side_conditions(upper, model) + _iwae_side_conditions(lower, model)[:1]
    if not all(held for _, held in conditions):
        return RuleOutcome(False, condition_failed("IWAE's monotonicity pattern", conditions), conditions)
    return RuleOutcome(True, f"Burda et al.'s Theorem 1: more samples never lower the bound, "
                             f"{to_text(upper)} >= {to_text(written)}", conditions)


def _factors(e: Expr) -> list[Expr]:
    """The factors of a product as written (unevaluated products nest)."""
    return [f for a in Mul.make_args(e) for f in (_factors(a) if a.is_Mul and a != e else (a,))]


def _terms(e: Expr) -> list[Expr]:
    return [t for a in Add.make_args(e) for t in (_terms(a) if a.is_Add and a != e else (a,))]


def _draws_match(written: Expr, iwae: IWAE) -> str | None:
    """None when `written` is exactly IWAE(q, k)'s definition with its k draws as bound
    variables -- Sum(... Sum(q(v1) * ... * q(vk) * log((p(x, v1) / q(v1) + ... + p(x, vk) / q(vk)) / k),
    v1) ..., vk), each bound name once, in any order -- else what differs."""
    bound: list[Expr] = []
    body = written
    while isinstance(body, LatentSum):
        bound.append(body.args[1])
        body = body.body
    k = iwae.samples
    if len(bound) != k or len(set(bound)) != k:
        return f"the other side is not {k} nested sums over {k} different draws (z, w, ...)"
    q = iwae.distribution
    if not isinstance(q, Density) or not q.is_over_z:
        return "IWAE's distribution is not a density over z"
    at = {v: (q.xreplace({z: v}), {iwae.joint.xreplace({z: v}), Density("p", (z, iwae.observation)).xreplace({z: v})})
          for v in bound}
    weights = [f for f in _factors(body) if isinstance(f, Density)]
    logs = [f for f in _factors(body) if not isinstance(f, Density)]
    if sorted(map(str, weights)) != sorted(str(at[v][0]) for v in bound) or \
            any(weights.count(at[v][0]) != 1 for v in bound):
        return f"the weights are not {to_text(q)} at each draw once"
    if len(logs) != 1 or not isinstance(logs[0], log):
        return "the summand is not the weights times one log"
    scale, sums = S.One, []
    for f in _factors(logs[0].args[0]):
        if f.is_Rational or (f.is_Pow and f.base.is_Integer and f.exp == -1):
            scale *= f.base ** f.exp if f.is_Pow else f
        else:
            sums.append(f)
    if scale != S.One / k or len(sums) != 1:
        return f"the log's argument is not the sum of the ratios divided by {k}"
    seen = []
    for term in _terms(sums[0]):
        parts = _factors(term)
        match = [v for v in bound if len(parts) == 2 and any(p_ in at[v][1] for p_ in parts)
                 and Pow(at[v][0], -1) in parts]
        if len(match) != 1:
            return f"{to_text(term)} is not an importance ratio p(x, v) / q(v) at a draw v"
        seen.append(match[0])
    if sorted(map(str, seen)) != sorted(map(str, bound)):
        return "the ratios are not one at each draw"
    return None


def iwae_draws(prev: Expr, rel: str, new: Expr, model: Model) -> RuleOutcome:
    """Burda et al. (2016), eq. 8: IWAE(q, k) *is* E over z_1, ..., z_k drawn independently from
    q of log((1/k) sum_i p(x, z_i) / q(z_i)) -- the k-fold sum (or integral) over the draws
    weighted by q(z_1) ... q(z_k).  The definition, applied to that exact form (each draw a bound
    name: Sum(Sum(q(z) * q(w) * log((p(x, z) / q(z) + p(x, w) / q(w)) / 2), z), w) = IWAE(q, 2))."""
    if rel != "=":
        return RuleOutcome(False, "IWAE's draws give an identity (=), not an inequality")
    pairs = [(a, b) for a, b in ((prev, new), (new, prev)) if isinstance(a, IWAE) and not a.symbolic]
    if not pairs:
        return RuleOutcome(False, "neither side is IWAE(q, k) with a number k of samples")
    iwae, written = pairs[0]
    problem = _draws_match(written, iwae)
    if problem is not None:
        return RuleOutcome(False, f"IWAE's draws written out do not match: {problem}")
    conditions = _iwae_side_conditions(iwae, model)
    if not all(held for _, held in conditions):
        return RuleOutcome(False, "IWAE's draws matched but a condition failed", conditions)
    return RuleOutcome(True, f"Burda et al.'s eq. 8: {to_text(iwae)} is the expectation over {iwae.samples} "
                             f"independent draws from {to_text(iwae.distribution)}, each draw a bound name", conditions)


def _limit_sides(prev: Expr, new: Expr) -> tuple[Limit, Expr] | None:
    """(the limit, the other side) when one side is a limit(...) as written."""
    for a, b in ((prev, new), (new, prev)):
        if isinstance(a, Limit):
            return a, b
    return None


def _limit_step(prev: Expr, rel: str, new: Expr) -> tuple[Limit, Expr] | RuleOutcome:
    """(the limit, the other side) of a step that takes a limit, or why the step is not one."""
    if rel != "=":
        return RuleOutcome(False, "a limit gives an identity (=), not an inequality")
    sides = _limit_sides(prev, new)
    if sides is None:
        return RuleOutcome(False, "neither side is limit(...)")
    return sides


def _interval_of(symbol: Symbol, model: Model):
    return {s.name: iv for s, iv in model.parameter_bounds.items()}.get(symbol.name)


def _stays_fixed(found: Limit, q: Expr, model: Model) -> tuple[str, bool]:
    """The condition that the distribution stays fixed while the limit's variable moves (the
    theorems are about a fixed q), with the reason when it does not (models.base.limit_moves)."""
    moving = limit_moves(found, model.spec)
    text = f"{to_text(q)} stays fixed as {found.variable} -> {to_text(found.point)}"
    return (text if moving is None else f"{text}: {moving}"), moving is None


def _limit_equals(found: Limit, other: Expr, model: Model) -> tuple[Expr | None, bool]:
    """The theorem's value of the limit (None: none here, the model's `limit_of` says why) and
    whether the other side is it."""
    try:
        value = model.limit_of(found)
    except ValueError as raised:  # UnfoldError, or a family that takes no limit
        reraise_callers(raised)
        return None, False
    try:
        return value, proves_zero(difference(value, other), model)
    except (UnfoldError, KeyError) as raised:
        reraise_callers(raised)
        return value, False


def renyi_limit(prev: Expr, rel: str, new: Expr, model: Model) -> RuleOutcome:
    """Li and Turner (2016), the Renyi bound's limits: with s = 1 - alpha and every weight
    w = p(x, z) / q(z) > 0, 1/s log E_q[w**s] -> E_q[log w] = ELBO(q) as alpha -> 1 (the derivative
    of s -> log E_q[w**s] at s = 0: d/ds E_q[w**s] = E_q[w**s log w] and E_q[w**0] = 1) and
    -> log E_q[w] = log p(x) as alpha -> 0 (continuity).  For a finite K each is a finite sum of
    analytic functions of s; for densities the limits pass under the integral when alpha stays in
    [0, 1): E_q[w**s] <= p(x)**s (Jensen), (w**s - 1)/s decreases to log w as s -> 0 (monotone
    convergence) and w**s <= 1 + w (dominated convergence as s -> 1)."""
    sides = _limit_step(prev, rel, new)
    if isinstance(sides, RuleOutcome):
        return sides
    found, other = sides
    parts = renyi_parts(found.body, found.variable)
    if parts is None:
        return RuleOutcome(False, f"the limit's expression is not 1 / (1 - {found.variable}) * log(E(q, (p(x, z) / "
                                  f"q(z))**(1 - {found.variable}))) as written")
    q, joint, _ = parts
    interval = _interval_of(found.variable, model)
    positive, distribution = _ratios_positive_over_distribution(q, joint, model)
    value, equal = _limit_equals(found, other, model)
    steady = _stays_fixed(found, q, model)
    conditions = (
        (f"{found.variable} tends to {to_text(found.point)} (the theorem's points are 1 and 0), from inside its "
         f"domain", found.point in (S.Zero, S.One) and approached(interval, found.point)),
        ("the importance ratios are positive", positive),
        (f"{to_text(q)} is a distribution over z", distribution),
        steady,
    ) + (((f"{found.variable} stays in [0, 1) (densities: the limit passes under the integral)",
           limit_value(found, interval, explicit=False) is not None),) if model.K == "any" else ()) + (
        (f"the other side is the limit, {to_text(value) if value is not None else 'its value'}", equal),)
    if not all(held for _, held in conditions):
        return RuleOutcome(False, condition_failed("the Renyi limit's pattern", conditions), conditions)
    why = "the derivative of log E_q[w**s] at s = 0 is E_q[log w]" if found.point == 1 else \
        "at alpha = 0 the bound is log E_q[w] = log p(x), and it is continuous there"
    return RuleOutcome(True, f"Li and Turner's Renyi bound tends to {to_text(value)} as {found.variable} -> "
                             f"{to_text(found.point)}: {why}", conditions)


def iwae_limit(prev: Expr, rel: str, new: Expr, model: Model) -> RuleOutcome:
    """Burda et al. (2016), Theorem 1(b): IWAE(q, k) -> log p(x) as k -> oo when the weights
    p(x, z) / q(z) are bounded (the average of k weights tends to p(x) almost surely, and the
    logs of averages bounded between the least and the largest weight converge in mean).  A
    finite K with every weight positive bounds them; densities need not, so K = "any" is refused."""
    sides = _limit_step(prev, rel, new)
    if isinstance(sides, RuleOutcome):
        return sides
    found, other = sides
    body = found.body
    if not (isinstance(body, IWAE) and body.count == found.variable and found.point is S.Infinity):
        return RuleOutcome(False, "the limit is not limit(IWAE(q, k), k, oo) as written")
    value, equal = _limit_equals(found, other, model)
    conditions = (
        ("the weights p(x, z) / q(z) are bounded: an explicit, finite K (for densities they need not be)",
         model.K != "any"),
        _stays_fixed(found, body.distribution, model),
    ) + _iwae_side_conditions(body, model)[1:] + (
        (f"the other side is the limit, {to_text(value) if value is not None else 'log p(x)'}", equal),)
    if not all(held for _, held in conditions):
        return RuleOutcome(False, condition_failed("the IWAE limit's pattern", conditions), conditions)
    return RuleOutcome(True, f"Burda et al.'s Theorem 1(b): {to_text(body)} -> {to_text(value)} as "
                             f"{found.variable} -> oo (the weights are bounded)", conditions)


def renyi_bound(prev: Expr, rel: str, new: Expr, model: Model) -> RuleOutcome:
    """Li and Turner (2016), the Renyi bound: log p(x) >= 1/s * log E_q[(p(x, z) / q(z))**s]
    for 0 < s <= 1 or s < 0 (s = 1 - alpha: alpha in [0, 1), or alpha > 1).

    The theorem, applied to that exact form (the coefficient shown to be 1/s by canonical
    forms): t**s is concave on t > 0 for 0 < s <= 1, so E_q[w**s] <= (E_q[w])**s = p(x)**s
    (Jensen; E_q[w] = p(x) by importance sampling); log is increasing and 1/s > 0.  For s < 0
    t**s is convex, E_q[w**s] >= p(x)**s, and dividing by s < 0 turns the inequality over."""
    bounds = _bounds(prev, rel, new)
    if bounds is None:
        return RuleOutcome(False, "the Renyi bound gives >= (or <=), never =, < or >")
    upper, lower = bounds
    if not (isinstance(upper, log) and isinstance(upper.args[0], Density) and upper.args[0].name == "p"
            and len(upper.args[0].variables) == 1 and not upper.args[0].given):
        return RuleOutcome(False, "the larger side is not log(p(x))")
    evidence = upper.args[0]
    found = [node for node in preorder_traversal(lower) if isinstance(node, log)
             and isinstance(node.args[0], Expectation) and is_real_power(node.args[0].body)
             and node.args[0].body.parts is not None]
    if len(found) != 1:
        return RuleOutcome(False, "the smaller side has no single log(E(q, (p(x, z) / q(z))**(1 - alpha)))")
    (outer,) = found
    q, (base, power) = outer.args[0].distribution, outer.args[0].body.parts
    joint = Density("p", (*evidence.variables, *getattr(q, "variables", (z,))))
    try:
        weights = tuple(model.unfold(base, k) for k in model.points)
        ratios_here = all(canonical(w - model.unfold(joint / q, k), model).is_zero
                          for w, k in zip(weights, model.points))
        positive = all(is_positive(w, model) for w in weights)
        mean = model.latent_sum(tuple(model.unfold(joint, k) for k in model.points))
        unbiased = canonical(mean - model.unfold(evidence), model).is_zero
        distribution = _is_distribution_notation(q, q, model)
        exponent = model.unfold(power)  # the parameters as the model's symbols (with their intervals)
        concave = is_positive(exponent, model) and nonnegative(1 - exponent, model)  # 0 < s <= 1
        exponent_ok = concave or is_positive(-exponent, model)  # s < 0 (alpha > 1): t**s is convex
        scaled = proves_zero(difference(lower, Mul(Pow(power, -1), outer)), model)
    except (UnfoldError, KeyError, TypeError) as raised:
        reraise_callers(raised)
        return RuleOutcome(False, "the Renyi bound's pattern could not be unfolded in this model")
    conditions = (
        (f"the base is the importance ratio {to_text(joint)} / {to_text(q)}", ratios_here),
        ("the importance ratios are positive", positive),
        (f"{to_text(q)} is a distribution over z", distribution),
        (f"the ratios average to {to_text(evidence)} under {to_text(q)} (importance sampling)", unbiased),
        (f"the exponent {to_text(power)} is in (0, 1], or < 0, on the parameters' intervals", exponent_ok),
        (f"the smaller side is 1 / ({to_text(power)}) times the log of the average", scaled),
    )
    if not all(held for _, held in conditions):
        return RuleOutcome(False, condition_failed("the Renyi bound's pattern", conditions), conditions)
    shape = "concave for s in (0, 1]" if concave else "convex for s < 0 (and 1/s < 0)"
    return RuleOutcome(True, f"Li and Turner's Renyi bound: t**s is {shape}, s = {to_text(power)} (Jensen), so "
                             f"the bound lies below log p(x)", conditions)


def _kl_candidates(prev: Expr, new: Expr, model) -> list:
    """KL terms the difference may be made of: those in the step, and q against the posterior
    and the prior for each observation."""
    out = [node for side in (prev, new) for node in preorder_traversal(side) if isinstance(node, KL)]
    spec = model.spec
    for o in model.observations:
        symbol = x if o == "x" else Symbol(o)
        q = model.variational(o)
        # r, q_star beside q; each model of a parameterised family (p(z | x; theta))
        distributions = [q] + [Density(name, q.variables, q.given) for name in spec.variationals]
        indices: list[tuple] = [(Index(t),) for t in spec.indices] or [()]
        out += [KL(d, Density("p", d.variables, given)) for d in distributions for index in indices
                for given in ((symbol,) + index, index)]
    return [term for term in dict.fromkeys(out) if _has_meaning(term, model)]


def _has_meaning(term: Expr, model) -> bool:
    """The model can unfold the term (a family without a posterior has no KL(q, p(z | x)))."""
    try:
        model.unfold(term)
    except (UnfoldError, KeyError) as raised:
        reraise_callers(raised)
        return False
    return True


def _distributions(term: KL, model) -> tuple[tuple[str, bool], ...]:
    a, b = term.args
    return tuple((f"{to_text(d)} is a distribution", _is_distribution_notation(d, a, model)) for d in (a, b))


_DISTRIBUTIONS_SHOWN = ("distributions shown",)
"""The key, in a model's sign memo, of its memo of `_is_distribution_notation`'s answers."""


def _is_distribution_notation(d: Expr, first: Expr, model: Model) -> bool:
    """`_shown_distribution`, remembered per model (a pure function: the KL rule asks it of the
    same arguments for each candidate KL of each step; 50 calls, 33 distinct on the literature)."""
    return remembered(model.sign_memo.setdefault(_DISTRIBUTIONS_SHOWN, {}), (d, first),
                      lambda: _shown_distribution(d, first, model))


def _shown_distribution(d: Expr, first: Expr, model: Model) -> bool:
    """The notation `d` is shown to be a distribution: the family says so (densities), or it is
    positive at every point and sums to 1 over the joint latent space -- or over its own
    variables when they are exactly those the KL sums over (its first argument's): a marginal
    such as q(z1 | x) of the two-layer chain sums to 1 over z1 alone.  (p(z1) against
    q(z1, z2 | x) is not a distribution over the pairs: KL of it can be negative.)"""
    shown = model.distribution_shown(d)  # a family with densities (not sums) says it itself
    if shown is not None:
        return shown
    values = tuple(model.density(d, k) if isinstance(d, Density) else model.unfold(d, k) for k in model.points)
    if not all(is_positive(v, model) for v in values):
        return False
    if canonical(model.latent_sum(values) - 1, model).is_zero:
        return True
    if not (isinstance(d, Density) or is_derived(d)) or not (isinstance(first, Density) or is_derived(first)) \
            or set(distribution_variables(d)) != set(distribution_variables(first)):
        return False
    try:
        own = model.unfold_pointwise(Expectation(d, Integer(1)))
    except (UnfoldError, KeyError) as raised:
        reraise_callers(raised)
        return False
    return all(canonical(total - 1, model).is_zero for total in own)


def kl_nonneg(prev: Expr, rel: str, new: Expr, model) -> RuleOutcome:
    """upper - lower is a KL divergence between two distributions over z, hence >= 0 -- or a
    combination c_1 KL_1 + ... + c_n KL_n whose coefficients are shown >= 0 (e.g. beta - 1
    where beta >= 1).  Strict (> or <): upper - lower is one KL(a, b) whose arguments a premise
    says differ (``a != b``), hence > 0 (:func:`strict_kl`)."""
    if rel in (">", "<"):
        return strict_kl(prev, rel, new, model)
    bounds = _bounds(prev, rel, new)
    if bounds is None:
        return RuleOutcome(False, "KL >= 0 gives >= (or <=), never =, < or >")
    upper, lower = bounds
    candidates = _kl_candidates(prev, new, model)
    gap = difference(upper, lower)
    for term in candidates:
        if not proves_zero(difference(gap, term), model):
            continue
        conditions = ((f"upper - lower = {to_text(term)}", True),) + _distributions(term, model)
        held = all(h for _, h in conditions)
        return RuleOutcome(held, f"the difference is {to_text(term)} >= 0" if held else "KL's arguments are not "
                           "both distributions", conditions)
    combination = _nonnegative_combination(gap, candidates, model)
    if combination is None:
        return RuleOutcome(False, "the difference of the two sides is not a KL divergence (or a combination of "
                                  "KL divergences with coefficients shown >= 0) of the step")
    text = " + ".join(to_text(t) if c == 1 else f"({to_text(c)}) * {to_text(t)}" for c, t in combination)
    shown = [(f"upper - lower = {text}", True)]
    for c, term in combination:
        shown.append((f"{to_text(c)} >= 0", True))
        shown += _distributions(term, model)
    held = all(h for _, h in shown)
    return RuleOutcome(held, f"the difference is {text}, each coefficient >= 0" if held else
                       "KL's arguments are not all distributions", tuple(shown))


def strict_kl(prev: Expr, rel: str, new: Expr, model) -> RuleOutcome:
    """Gibbs' inequality with its equality condition: for distributions a, b over z, KL(a, b) >= 0
    with equality exactly when a = b as distributions; so KL(a, b) > 0 when a and b are different
    distributions -- what the premise ``a != b`` says (engine.premises: for densities, different on a
    set of positive probability, not merely at one z).  Proved when
    upper - lower = KL(a, b) identically, a and b are shown to be distributions, and a premise
    states ``a != b`` (or ``b != a``) with exactly these two arguments."""
    upper, lower = (prev, new) if rel == ">" else (new, prev)
    differ = {(p.lhs.expr, p.rhs.expr) for p in premises_of(model) if p.rel == "!="}
    gap = difference(upper, lower)
    for term in _kl_candidates(prev, new, model):
        if not proves_zero(difference(gap, term), model):
            continue
        a, b = term.args
        premise = (a, b) in differ or (b, a) in differ
        conditions = ((f"upper - lower = {to_text(term)}", True),) + _distributions(term, model) + (
            (f"a premise says {to_text(a)} != {to_text(b)}", premise),)
        if not all(h for _, h in conditions[:-1]):
            return RuleOutcome(False, "KL's arguments are not both distributions", conditions)
        if not premise:
            return RuleOutcome(False, f"KL >= 0 gives >=; a strict {rel} needs the premise that the arguments "
                               f"differ: assume = \"{to_text(a)} != {to_text(b)}\"", conditions)
        return RuleOutcome(True, f"the difference is {to_text(term)} > 0: the two are different distributions "
                           f"(premise), and KL is 0 only for equal ones (Gibbs)", conditions)
    return RuleOutcome(False, "the difference of the two sides is not one KL divergence of the step")


def assumption(prev: Expr, rel: str, new: Expr, model: Model) -> RuleOutcome:
    """An identity under the q definitions (as ``algebra``), or a premise ``A rel' B`` used as
    it stands: the step ``prev rel new`` is proved when prev - new = A - B identically (the
    premise with the same term added to both sides, each side rewritten by identities) and
    rel' gives rel -- or prev - new = B - A and the flipped rel' gives it.  The premise's own
    expressions must be shown defined on the domain."""
    plain = equality(prev, rel, new, model)
    if plain.proved or not premises_of(model):
        return plain
    gap = difference(prev, new)
    for premise in premises_of(model):
        if premise.rel == "!=":
            continue
        A, B = premise.lhs.expr, premise.rhs.expr
        if proves_zero(difference(gap, difference(A, B)), model):
            have = premise.rel
        elif proves_zero(difference(gap, difference(B, A)), model):
            have = FLIPPED[premise.rel]
        else:
            continue
        matched = (f"{to_text(prev)} - ({to_text(new)}) equals the difference of the sides of the premise "
                   f"{premise_text(premise)}", True)
        defined = all(certified(o, model) for side in (A, B) for o in obligations(side, model))
        gives = have == rel or (have, rel) in ((">", ">="), ("<", "<="))
        conditions = (matched, ("the premise is defined on the domain", defined),
                      (f"the premise gives {rel}", gives))
        if defined and gives:
            return RuleOutcome(True, f"the premise {premise_text(premise)}, with the same term on both sides",
                               conditions)
        return RuleOutcome(False, f"the premise {premise_text(premise)} does not give {rel} here" if defined else
                           f"the premise {premise_text(premise)} is not shown to be defined", conditions)
    return RuleOutcome(False, "not an identity, and no premise matches: the difference of the two sides is not "
                              "the difference of a premise's sides", plain.conditions, plain.residual)


FLIPPED = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}
"""An inequality read from its other side (a <= b is b >= a): the one table of it."""


def combination_numerator(coefficient: Expr) -> Expr:
    """A numerator N of a canonical form's coefficient N / D (D != 0): the coefficient vanishes
    exactly where N does.  The coefficient is already over one denominator (canonical's `reduce`),
    so `as_numer_denom` reads N off it; `together` would find the same N up to a factor free of the
    unknowns after a costly search for common terms, and a factor does not change which c_i make
    N vanish identically (so linsolve's answer is the same: tests/test_rules.py)."""
    return coefficient.as_numer_denom()[0]


def _nonnegative_combination(gap: Expr, candidates: list, model) -> list | None:
    """Coefficients c_i (numbers or functions of the parameters) with gap = sum c_i KL_i
    identically and every c_i shown >= 0 on the parameters' intervals; None if there are none.

    The canonical form of gap - sum c_i KL_i is linear in the unknowns c_i; each of its
    coefficients, as a polynomial in the model's own symbols, must vanish term by term."""
    if not candidates:  # nothing to combine (linsolve needs at least one unknown)
        return None
    unknowns = [Dummy(f"c{i}") for i in range(len(candidates))]
    combination = difference(gap, Add(*(c * t for c, t in zip(unknowns, candidates))))
    params = set(model.parameter_bounds) | model.data_constants
    equations = []
    for form in residuals(combination, model):
        for _, coefficient in form.terms:
            numerator = combination_numerator(coefficient)
            others = sorted((numerator.free_symbols - params - set(unknowns)), key=lambda s: s.name)
            if not others:
                equations.append(numerator)
                continue
            equations += Poly(expand(numerator), *others).coeffs()
    try:  # SymPy's own messages never reach a verdict: no solution found is "no combination"
        solutions = linsolve(equations, unknowns) if equations else FiniteSet(tuple(Integer(0) for _ in unknowns))
    except (ValueError, TypeError, NotImplementedError) as raised:
        reraise_callers(raised)
        return None
    if not solutions or not isinstance(solutions, FiniteSet) or len(solutions) != 1:
        return None
    (solution,) = tuple(solutions)
    free = set().union(*(value.free_symbols for value in solution)) & set(unknowns)
    values = [value.xreplace({f: 0 for f in free}) for value in solution]
    chosen = [(value, term) for value, term in zip(values, candidates) if value != 0]
    if not chosen or not all(nonnegative(value, model) for value, _ in chosen):
        return None
    return chosen


RULES: dict[str, Rule] = {
    "algebra": equality,
    "definition": equality,
    "bayes": equality,
    "logarithm": equality,
    "linearity": equality,
    "assumption": assumption,
    "jensen": jensen,
    "kl-nonneg": kl_nonneg,
    "iwae-bound": iwae_bound,
    "iwae-monotone": iwae_monotone,
    "renyi-bound": renyi_bound,
    "iwae-draws": iwae_draws,
    "renyi-limit": renyi_limit,
    "iwae-limit": iwae_limit,
}
"""Rule name (as written in a derivation file) -> its check."""

RULE_HELP: dict[str, str] = {
    "algebra": "an identity: both sides unfold to the same canonical form",
    "definition": "unfold a definition (E, KL, H, ELBO, p(x), p(z|x)); checked as an identity",
    "bayes": "Bayes' rule / product rule; checked as an identity",
    "logarithm": "log rules (log ab = log a + log b); checked as an identity on positive values",
    "linearity": "linearity of sums and expectations; checked as an identity",
    "assumption": "use the derivation's assumption: an identity under q(z) = p(z | x), or a premise "
                  "(ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)) with the same term on both sides",
    "jensen": "log E_w[g] >= E_w[log g] for a distribution w (concavity of log)",
    "kl-nonneg": "drop or add a KL divergence term, KL >= 0 (> 0 with the premise that its arguments differ)",
    "iwae-bound": "log p(x) >= IWAE(q, k) for every k >= 1 (Burda et al. 2016, Theorem 1)",
    "iwae-monotone": "IWAE(q, m) >= IWAE(q, k) for m >= k >= 1; ELBO(q) is IWAE(q, 1) (Burda et al. 2016, Theorem 1)",
    "renyi-bound": "log p(x) >= 1/(1 - alpha) log E_q[(p(x, z)/q(z))**(1 - alpha)], alpha in [0, 1) or "
                   "alpha > 1 (Li & Turner 2016)",
    "iwae-draws": "IWAE(q, k) = Sum(... Sum(q(z) * q(w) * ... * log((p(x, z) / q(z) + p(x, w) / q(w) + ...) / k), z), "
                  "w) ...: its k draws as bound names (Burda et al. 2016, eq. 8)",
    "renyi-limit": "limit(1/(1 - alpha) log E_q[(p(x, z)/q(z))**(1 - alpha)], alpha, 1) = ELBO(q), and at alpha -> 0 "
                   "it is log p(x) (Li & Turner 2016); for densities with alpha in [0, 1)",
    "iwae-limit": "limit(IWAE(q, k), k, oo) = log p(x) for an explicit K: bounded weights (Burda et al. 2016, "
                  "Theorem 1(b))",
}
