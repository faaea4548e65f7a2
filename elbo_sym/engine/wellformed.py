"""Model well-formedness: every distribution block of a model is a distribution.

One mechanism for every family: the model lists its distribution blocks
(`Model.distributions()`: each observation's q, each layer of a chain, each Gaussian's
variance, the derived ones), and each block an assumption fixes is shown, on the whole
domain, to be

* a discrete distribution: every value > 0 (a sign certificate) and the values summing to
  1 (the canonical form of ``sum - 1`` is zero; for ``K = "any"`` by the laws of sums), or
* a Gaussian: its variance > 0.

What is not shown is refused -- undecided is never "a distribution" -- with the exact
reason and, where one exists among simple and seeded random instances of the family's
explicit models, an exact instance where it fails ("q(z | x2) sums to 1/2, not 1, at
p(z) = (1/2, 1/2), ...").  A block the family builds from its own free parameters is a
distribution by construction; ``everything=True`` checks those too (the tests do, for
every family).
"""

from __future__ import annotations

import itertools
from collections import Counter
from fractions import Fraction
from functools import lru_cache

from sympy import Add, Expr, Integer, Mul

from elbo_sym.engine.canonical import TooLarge, canonical
from elbo_sym.engine.definedness import is_positive
from elbo_sym.engine.models.base import PARAMETER, SIMPLEX, UNIT, Block, Distribution, ExplicitModel, Instance, Model
from elbo_sym.engine.models.discrete import UnfoldError
from elbo_sym.engine.notation import ELBO, IWAE, KL, Entropy, Expectation, is_derived, to_text
from elbo_sym.engine.search import exact_candidates, seed_for
from elbo_sym.failures import reraise_callers
from elbo_sym.numbers.evaluate import Undefined, as_float, sign_of, value, value_text

__all__ = ["well_formedness_problem", "distribution_problem", "factored_sum", "derived_arguments",
           "derived_distribution_problem", "instance_problem", "algebraic_instance_problem"]


def well_formedness_problem(model: Model, everything: bool = False) -> str | None:
    """None when every distribution block an assumption fixes (with ``everything``: every
    block) is shown to be a distribution on the whole domain; else what is wrong, and where."""
    try:
        blocks = model.distributions()
    except UnfoldError as error:
        return f"the assumption does not define a distribution: {error}"
    for block in blocks:
        if block.assumption is None and not everything:
            continue
        problem = distribution_problem(block, model)
        if problem is not None:
            return problem
    return None


def distribution_problem(block: Distribution, model: Model, same=None) -> str | None:
    """None when `block` is shown to be a distribution; else the reason and a failing instance
    (`same`: the block in an explicit model of the family; default: the one of that label)."""
    not_positive, sums = _shown(block, model)
    if block.gaussian:
        if not not_positive:
            return None
        return _refusal(block, "a normal distribution", "its variance is not shown > 0",
                        _failure(model, block, _variance_failure, same))
    if not not_positive and sums:
        return None
    why = ("not shown to be positive with sum 1" if not_positive and not sums else
           "not shown to be positive" if not_positive else "not shown to sum to 1")
    return _refusal(block, "a distribution", why, _failure(model, block, _discrete_failure, same))


def _shown(block: Distribution, model: Model) -> tuple[bool, bool]:
    """(some value -- or a Gaussian's variance -- is not shown > 0, the values are shown to sum to 1) on
    the whole domain: a sign certificate and the canonical form of the sum - 1."""
    if block.gaussian:
        assert block.variance is not None
        return not is_positive(block.variance, model), True
    not_positive = any(not is_positive(v, model) for v in block.values)
    try:
        mass = block.total if block.total is not None else factored_sum(block.values)
        sums = canonical(mass - 1, model).is_zero
    except (TooLarge, UnfoldError):
        sums = False
    return not_positive, sums


def instance_problem(explicit: ExplicitModel, values: dict) -> str | None:
    """None when every block an assumption fixes is shown to be a distribution at this one exact
    instance (`values`: the explicit model's parameters -> numbers) -- each value > 0 and the values
    summing to 1, a variance > 0, each decided exactly; else which block is not, and why.  Only such
    an instance is a model of the family, and only a model may refute a step (docs/02): KL >= 0 fails
    where an assumed q is negative, which is no counterexample.  Undecided is not shown."""
    for block in _assumed_blocks(explicit):
        judge = _variance_failure if block.gaussian else _discrete_failure
        failure = judge((block, values), strict=True)
        if failure is not None:
            return f"{block.label} is not a distribution there ({failure})"
    return None


def algebraic_instance_problem(explicit: ExplicitModel, values: dict) -> str | None:
    """`instance_problem` at an algebraic point (`values`: parameters -> exact SymPy numbers, some
    with square roots), decided by SymPy's exact arithmetic on each assumed block's values."""
    from sympy import expand, radsimp

    def at(e: Expr) -> Expr:
        return radsimp(expand(e.xreplace(values)))

    for block in _assumed_blocks(explicit):
        if block.gaussian:
            assert block.variance is not None
            shown = at(block.variance).is_positive is True
        else:
            shown = all(at(v).is_positive is True for v in block.values) and at(block.mass - 1).is_zero is True
        if not shown:
            return f"{block.label} is not shown to be a distribution there"
    return None


_UNSHOWN = ("assumed blocks not shown to be distributions",)
"""The key, in an explicit model's sign memo, of `_assumed_blocks`."""


def _assumed_blocks(explicit: ExplicitModel) -> tuple[Distribution, ...]:
    """The blocks an assumption fixes that are not shown to be distributions on the explicit model's
    whole domain (the others are: by construction, or shown once here -- a softmax q, whose values at
    one instance are exps the exact evaluator may not decide), remembered per explicit model."""
    memo = explicit.sign_memo
    known = memo.get(_UNSHOWN)
    if known is None:
        known = memo[_UNSHOWN] = tuple(b for b in explicit.distributions()
                                       if b.assumption is not None and _shown(b, explicit) != (False, True))
    return known


def derived_arguments(*exprs: Expr) -> tuple[Expr, ...]:
    """The derived distribution arguments of E, KL, H, ELBO in `exprs` (mixtures, products,
    normalised exp), each once, in order."""
    found: dict[Expr, None] = {}
    for e in exprs:
        found.update(dict.fromkeys(_derived_in(e)))
    return tuple(found)


@lru_cache(maxsize=4096)
def _derived_in(e: Expr) -> tuple[Expr, ...]:
    """`derived_arguments(e)`, remembered (a pure function of e: the file's check and each step's
    ask for the same sides), in the order of a preorder walk that visits each distinct subtree once
    (a subtree seen before holds only arguments found already)."""
    found: dict[Expr, None] = {}
    seen: set[Expr] = set()
    stack = [e]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, (Expectation, KL, Entropy, ELBO, IWAE)):
            for d in (node.args[:2] if isinstance(node, KL) else node.args[:1]):
                if is_derived(d):
                    found.setdefault(d, None)
        stack.extend(reversed(node.args))
    return tuple(found)


def derived_distribution_problem(d: Expr, model: Model) -> str | None:
    """None when the derived distribution `d` (a mixture, a product, a normalised exp) is shown
    to be a distribution on the whole domain -- every value > 0 and the values summing to 1,
    like any other distribution block; else the reason and, where one is found, an exact
    instance of the family where it fails."""
    label = to_text(d)
    try:
        blocks = _derived_blocks_of(model, d, label)
    except (UnfoldError, KeyError, TypeError) as error:
        reraise_callers(error)
        return f"{label} is not a distribution of this model: {error}"
    for i, block in enumerate(blocks):
        problem = distribution_problem(block, model, lambda explicit, i=i: _derived_block(explicit, d, label, i))
        if problem is not None:
            return problem.replace(f"{label} is not", f"the argument {label} is not", 1)
    return None


def _derived_blocks_of(model: Model, d: Expr, label: str) -> tuple[Distribution, ...]:
    """The blocks of a derived distribution: its value at every point of the model, and its
    total over its own variables (E(d, 1): a distribution over z1 alone in the two-layer chain
    sums to 1 over z1, not over the pairs).  A layer it only conditions on (z1 in
    q(z2 | z1) * q(z3 | z2)) is free in the total: it must be 1 at every value of that layer,
    one block per distinct total."""
    values = tuple(model.unfold(d, k) for k in model.points)
    total = Expectation(d, Integer(1))
    if not _conditioning_layers(d):
        return (Distribution(label, values, total=model.unfold(total)),)
    totals = tuple(dict.fromkeys(model.unfold(total, k) for k in model.points))
    return tuple(Distribution(label, values, total=t) for t in totals)


def _conditioning_layers(d: Expr) -> frozenset:
    """The latent variables free in a derived distribution that it is not over."""
    from elbo_sym.engine.notation import distribution_variables, free_latent_symbols

    return free_latent_symbols(d) - set(distribution_variables(d))


def _derived_block(explicit: ExplicitModel, d: Expr, label: str, i: int = 0) -> Distribution | None:
    try:
        blocks = _derived_blocks_of(explicit, d, label)
    except (UnfoldError, KeyError, TypeError) as raised:
        reraise_callers(raised)
        return None
    return blocks[min(i, len(blocks) - 1)]


def _refusal(block: Distribution, kind: str, why: str, where: str | None) -> str:
    head = (f"the assumption {block.assumption} does not make {block.label} {kind}" if block.assumption else
            f"{block.label} is not {kind}")
    tail = f": {where}" if where else " (no instance where it fails was found; a distribution must be shown)"
    return f"{head} ({why}){tail}"


def factored_sum(values: tuple[Expr, ...]) -> Expr:
    """The sum of `values` with the factors every value shares pulled out (an exact rewriting):
    the K posteriors p(z = k | x) = pi_k l_k / p(x) sum to (sum pi_k l_k) / p(x), which the
    canonical form reduces at once, where expanding K fractions over one K-term denominator
    took minutes at K = 200."""
    common: Counter | None = None
    for v in values:
        factors = Counter(Mul.make_args(v))
        common = factors if common is None else common & factors
    if not common:
        return Add(*values)
    rest = Add(*(Mul(*(Counter(Mul.make_args(v)) - common).elements()) for v in values))
    return Mul(*common.elements(), rest)


# --------------------------------------------------------------------------- failing instances


def _variance_failure(found: tuple[Distribution, dict], strict: bool = False) -> str | None:
    """What is wrong with the block's variance at these values, or None (`strict`: an undecided
    sign is wrong too -- a model must be shown)."""
    block, values = found
    assert block.variance is not None
    try:
        s = sign_of(block.variance, values, {})
    except Undefined:
        return "its variance is undefined"
    if s is None and strict:
        return "its variance is not shown > 0"
    if s is not None and s <= 0:
        return f"its variance is {_text(block.variance, values)}"
    return None


def _discrete_failure(found: tuple[Distribution, dict], strict: bool = False) -> str | None:
    """What is wrong with the block's values at these values, or None (`strict`: an undecided
    sign or sum is wrong too -- a model must be shown)."""
    block, values = found
    several = len(block.values) > 1
    memo: dict = {}  # one memo: the values share p(x) and its parts
    for k, v in enumerate(block.values):
        try:
            s = sign_of(v, values, memo)
        except Undefined:
            return f"its value{f' at z = {k}' if several else ''} is undefined"
        if s is None and strict:
            return f"its value{f' at z = {k}' if several else ''} is not shown > 0"
        if s is not None and s <= 0:
            return f"its value{f' at z = {k}' if several else ''} is {_text(v, values)}"
    try:
        s = sign_of(Add(block.mass, Integer(-1)), values, memo)
    except Undefined:
        return "its sum is undefined"
    if s is None and strict:
        return "its sum is not shown to be 1"
    if s is not None and s != 0:
        try:
            exact = value(block.mass, values)
        except Undefined:
            exact = None
        if exact is None:  # exp of a non-integer log, say: no exact value to show
            return f"its sum is about {as_float(block.mass, values):.6g}, not 1 (no exact form found)"
        return f"it sums to {value_text(exact)}, not 1"
    return None


def _failure(model: Model, block: Distribution, judge, find=None) -> str | None:
    """"<what fails> at <instance>" in an explicit model of the family, or None."""
    for explicit in model.search_models():
        same = find(explicit) if find is not None else _same_block(explicit, block)
        if same is None:
            continue
        seed = seed_for(block.label, block.assumption, explicit.K)
        for instance in itertools.chain([_simple_instance(explicit)], exact_candidates(explicit, (), seed)):
            try:
                explicit.validate(instance)
                values = explicit.values(instance)
            except (ValueError, KeyError) as raised:
                reraise_callers(raised)
                continue
            failure = judge((same, values))
            if failure is not None:
                at = f"K = {explicit.K}, " if model.K == "any" else ""
                return f"{failure}, at {at}{_instance_text(explicit, instance, same)}"
    return None


def _same_block(explicit: ExplicitModel, block: Distribution) -> Distribution | None:
    try:
        blocks = explicit.distributions()
    except UnfoldError:
        return None
    return next((b for b in blocks if b.label == block.label), None)


def _simple_instance(model: ExplicitModel) -> Instance:
    """Uniform distributions, likelihoods 1/2, 1/3, ..., each parameter at its first sample:
    the instance an author checks by hand first."""
    def values(block: Block) -> tuple[Fraction, ...]:
        n = len(block.symbols)
        if block.kind == SIMPLEX:
            return tuple(Fraction(1, n) for _ in range(n))
        if block.kind == UNIT:
            return tuple(Fraction(1, k + 2) for k in range(n))
        assert block.kind == PARAMETER
        samples = block.bounds.samples()
        return (samples[0] if samples else Fraction(0),)

    return Instance(tuple((b.name, values(b)) for b in model.blocks), "simple instance")


def _instance_text(model: ExplicitModel, instance: Instance, block: Distribution) -> str:
    """The instance in the author's notation (the blocks it gives; z only when the block uses it)."""
    parts = []
    for b in model.blocks:
        if b.name == "z" and not any(s.name == "z" for e in (*block.values, block.variance) if e is not None
                                     for s in e.free_symbols):
            continue
        shown = instance[b.name]
        text = str(shown[0]) if len(shown) == 1 and b.kind == PARAMETER else f"({', '.join(map(str, shown))})"
        parts.append(f"{b.label} = {text}")
    return ", ".join(parts)


def _text(e: Expr, values: dict) -> str:
    try:
        v = value(e, values)
    except Undefined:
        return "undefined"
    return value_text(v) if v is not None else "not in closed form"
