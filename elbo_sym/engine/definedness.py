"""Definedness: every log argument > 0 and every divisor != 0 on the whole domain.

A canonical-form proof treats ``log f`` as ``log |f|`` and cancels ``g / g``; both are
right only where ``f > 0`` and ``g != 0``.  So before a step is proved, each such
*obligation* is collected from the expression as written (before SymPy can cancel
anything) and discharged by a certificate:

* **signs by structure**: positive parameters and numbers, closed under ``+``, ``*``,
  ``/`` and integer powers (``exp`` of anything is positive);
* **signs under the sum constraints**: for a rational function N / D whose signs are
  not structural, N and D are made homogeneous in each simplex (multiply a term by
  ``(sum pi)^a (sum q)^b``, which is 1 on the domain, so the value is unchanged); a
  homogeneous polynomial whose coefficients all have one sign has that sign at every
  point with positive coordinates.  When signs are mixed, a few rounds of Polya's
  multiplication by ``sum pi`` and ``sum q`` are tried, within a size budget.
* **logarithms**: ``c * log(u)`` with u > 0 certified has the sign of ``c * (u - 1)`` (so
  ``log(q_0) < 0`` on the simplex); and ``e >= 0`` (:func:`nonnegative`, not strictly) for a sum
  of terms each certified > 0 or an even power of a real value (``w**2 + s**2``, ``mu**2``).

An obligation without a certificate is not assumed: the checker then searches for an
exact instance where it fails (refuted) and otherwise reports that it could not show it
(error).  Nothing here ever answers "yes" without a reason.

The domain (discrete family): every ``pi_k > 0`` with ``sum pi = 1``, every
``q_k > 0`` with ``sum q = 1`` (unless an assumption fixes q), every ``l_k`` in (0, 1].
No expression is ever evaluated at a zero probability, so ``0 log 0`` never arises.
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import Add, Dummy, Expr, Poly, Pow, exp, log
from sympy.polys.polyerrors import GeneratorsNeeded, PolynomialError

from elbo_sym.budget import checkpoint
from elbo_sym.engine.canonical import TooLarge, bounded_expand, bounded_together
from elbo_sym.engine.models.base import Model, remembered
from elbo_sym.engine.models.discrete import has_free_latent
from elbo_sym.engine.notation import (
    ELBO,
    IWAE,
    KL,
    Density,
    DimensionSum,
    Draw,
    Entropy,
    Expectation,
    Index,
    LatentSum,
    Normal,
    is_real_power,
    to_text,
    z,
)

MAX_CERTIFICATE_TERMS = 20_000
"""Largest polynomial (in terms) the constraint certificate expands."""
POLYA_ROUNDS = 3
"""Rounds of multiplication by the simplex sums tried when coefficient signs are mixed."""


def latent_state(point: object) -> int | None:
    """The state of a finite latent space that `point` (one of a model's `points`) is, else None.

    Only the discrete family's points are states (0, ..., K - 1). A density family's point is
    its real symbol z (Gaussian) or None (a Gaussian chain), K = "any"'s its generic point, a
    chain's a tuple of layer values: none is a state, and a counterexample there names the
    values of z (if any) among its parameter values, not as "at z = ..."."""
    return point if type(point) is int else None


def require_state(z: object) -> None:
    """Refuse anything but a state (an int) or None where a latent state is stored: a model's
    point symbol stored by accident once crashed `check --json` (rt3 F1)."""
    if z is not None and type(z) is not int:
        raise TypeError(f"a latent state is an int or None, not {type(z).__name__} {z!r}")


@dataclass(frozen=True)
class Obligation:
    """`expr` (unfolded) must be > 0 ("positive") or != 0 ("nonzero") on the whole domain."""

    kind: str
    expr: Expr
    source: Expr
    """The notation it comes from (what the author wrote), for messages."""
    z: int | None = None
    """The latent state it is about (`latent_state`): None for one about no state or a density point."""
    power: bool = False
    """A "positive" one that is the base of a power with a parameter exponent (``b**a``, notation.RealPower),
    not a log the author wrote: its messages name the power (rt43 F5: ``((mu - 1)**2)**a`` at mu = 1 was "log of
    a non-positive value" in a file with no log)."""

    def __post_init__(self) -> None:
        require_state(self.z)
        if self.power and self.kind != "positive":
            raise ValueError("only a positive obligation is a power's base")

    def describe(self) -> str:
        at = f" at z = {self.z}" if self.z is not None else ""
        if self.power:
            return f"power base {to_text(self.source)} > 0{at} (the exponent is in parameters)"
        if self.kind == "positive":
            return f"log argument {to_text(self.source)} > 0{at}"
        return f"divisor {to_text(self.source)} != 0{at}"

    def failure(self) -> str:
        """What it means when the obligation fails at an instance."""
        at = f" at z = {self.z}" if self.z is not None else ""
        if self.power:
            return (f"the base of a power with a parameter exponent must be > 0 (b**a means exp(a*log(b))), "
                    f"and {to_text(self.source)}{at} is not")
        if self.kind == "positive":
            return f"log of a non-positive value: {to_text(self.source)}{at}"
        return f"division by zero: {to_text(self.source)}{at} is 0"

    def holds_at(self, sign: int) -> bool:
        return sign > 0 if self.kind == "positive" else sign != 0


# --------------------------------------------------------------------------- collection


def obligations(e: Expr, model: Model) -> tuple[Obligation, ...]:
    """Every definedness obligation of `e` (for each value of z when z is free in `e`)."""
    found: dict[tuple[str, Expr], Obligation] = {}
    walker = _Walker(model, found)
    if has_free_latent(e):
        for k in model.points:
            walker.walk(e, k)
    else:
        walker.walk(e, None)
    return tuple(found.values())


class _Walker:
    def __init__(self, model: Model, found: dict):
        self.model = model
        self.found = found
        self.seen: set = set()

    def need(self, kind: str, value: Expr, source: Expr, k: object, power: bool = False) -> None:
        """Obligation `kind` on `value`, at the model's point `k` (None: at no point); `power`: the base
        of a power with a parameter exponent (:attr:`Obligation.power`)."""
        key = (kind, value)
        if key not in self.found:
            self.found[key] = Obligation(kind, value, source, latent_state(k), power)

    def densities(self, d: Density) -> None:
        """A distribution over z used as weights or inside a log: each value must be > 0."""
        if isinstance(d, Normal):  # N(m, v) is a distribution exactly when v > 0
            self.walk(d, None)
            return
        for j in self.model.points:  # a derived one (a mixture) is its expression's value at j
            value = self.model.density(d, j) if isinstance(d, Density) else self.model.unfold(d, j)
            self.need("positive", value, d, j)

    def everywhere(self, d: Expr) -> None:
        """Walk a binder's distribution at every point: with two latent layers its divisors
        (q(z2 | x) in q(z1 | z2, x)) depend on the variables it does not bind."""
        for j in self.model.points:
            self.walk(d, j)

    def walk(self, e: Expr, k: object) -> None:
        key = (e, k if has_free_latent(e) else None)
        if key in self.seen:
            return
        self.seen.add(key)
        checkpoint()
        model = self.model
        if isinstance(e, Normal):  # log N(z; m, v) holds log(2 pi v) and divides by v
            self.walk(e.mean, None)
            self.walk(e.variance, None)
            self.need("positive", model.unfold(e.variance), e.variance, None)
            return
        if isinstance(e, Density):
            divisors = model.divisors(e, k)  # a family whose densities are ratios says so (None: the default)
            if divisors is not None:
                for value in divisors:
                    self.need("nonzero", value, e, None)
                return
            if e.name == "p" and e.variables == (z,) and e.given:  # p(z | x) = p(x, z) / p(x)
                observed = tuple(g for g in e.given if not isinstance(g, Index))  # p(z | x; theta): p(x | theta)
                if not observed:  # p(z | theta): the prior of a parameterised model, no divisor
                    return
                evidence = Density("p", observed, tuple(g for g in e.given if isinstance(g, Index)))
                self.need("nonzero", model.unfold(evidence), evidence, None)
            return
        if isinstance(e, LatentSum) and isinstance(e.args[1], Draw):  # another draw: z keeps its point k
            for j in model.points:
                self.walk(model.pin_draw(e.body, e.args[1], j), k)
            return
        if isinstance(e, LatentSum):
            for j in model.points:
                self.walk(e.body, j)
            return
        if isinstance(e, DimensionSum):  # Sum(f, (d, 1, D)): each dimension's f (one generic f for D = "any")
            for body in model.dimension_bodies(e):
                self.walk(body, k)
            return
        if isinstance(e, Expectation):
            self.everywhere(e.distribution)
            for j in model.points:
                self.walk(e.body, j)
            return
        if isinstance(e, KL):
            for d in e.args:
                self.everywhere(d)
                self.densities(d)
            return
        if isinstance(e, Entropy):
            self.everywhere(e.args[0])
            self.densities(e.args[0])
            return
        if isinstance(e, (ELBO, IWAE)):  # IWAE: logs of averages of the same ratios p(x, z) / q(z)
            self.everywhere(e.distribution)
            self.densities(e.distribution)
            self.densities(e.joint)
            return
        if is_real_power(e) and (parts := e.parts) is not None:  # b**a = exp(a*log(b)): b > 0, worded as a power
            base, exponent = parts
            self.walk(base, k)
            self.walk(exponent, k)
            self.need("positive", model.unfold(base, k), base, k if has_free_latent(e) else None, power=True)
            return
        if isinstance(e, log):
            self.walk(e.args[0], k)
            self.need("positive", model.unfold(e.args[0], k), e.args[0], k if has_free_latent(e) else None)
            return
        if e.is_Pow:
            self.walk(e.base, k)
            if e.exp.is_negative:
                self.need("nonzero", model.unfold(e.base, k), e.base, k if has_free_latent(e) else None)
            return
        for a in e.args:
            self.walk(a, k)


# --------------------------------------------------------------------------- certificates


def is_positive(e: Expr, model: Model) -> bool:
    """`e` > 0 on the whole domain, with a certificate."""
    return strict_sign(e, model) == 1


def certified(obligation: Obligation, model: Model) -> bool:
    """The obligation holds on the whole domain, with a certificate."""
    s = strict_sign(obligation.expr, model)
    return s == 1 if obligation.kind == "positive" else s in (1, -1)


def strict_sign(e: Expr, model) -> int | None:
    """1 or -1 when `e` has that sign everywhere on the domain (certified); None otherwise."""
    memo = model.sign_memo
    if e in memo:
        return memo[e]
    s = _structural_sign(e, model, _structural_memo(model))
    if s is None and not e.has(log, exp):
        found = _rational_function_sign(e, model)
        s = 1 if found == POSITIVE else -1 if found == NEGATIVE else None
    elif s is None and (scaled := _scaled_log(e)) is not None:
        c, u = scaled  # c log(u) has c's sign times that of u - 1 (log is increasing, log 1 = 0)
        t = strict_sign(u - 1, model) if strict_sign(u, model) == 1 else None
        s = None if t is None else t * (1 if c > 0 else -1)
    memo[e] = s
    return s


def nonnegative(e: Expr, model) -> bool:
    """`e` >= 0 on the whole domain, with a certificate (e.g. beta - 1 where beta >= 1; s**2 + w**2 and
    w**2 for a real w, a sum of terms each > 0 or an even power; -log(q) where 0 < q <= 1)."""
    if strict_sign(e, model) == 1 or e == 0:
        return True
    if all(strict_sign(t, model) == 1 or _even_power(t, model) for t in Add.make_args(e)):
        return True  # each term > 0 or an even power of a real value: the sum >= 0
    if (scaled := _scaled_log(e)) is not None:
        c, u = scaled  # as in strict_sign, not strictly: u >= 1 (c > 0) or u <= 1 (c < 0)
        return strict_sign(u, model) == 1 and nonnegative(u - 1 if c > 0 else 1 - u, model)
    if e.has(log, exp):
        return False
    return _rational_function_sign(e, model) in (POSITIVE, NONNEGATIVE)


def _scaled_log(e: Expr) -> tuple[Expr, Expr] | None:
    """``(c, u)`` when `e` is ``c * log(u)`` for a nonzero rational c (-log(q_0) is (-1, q_0)); else None."""
    c, rest = e.as_coeff_Mul()
    if isinstance(rest, log) and c.is_Rational and c != 0:
        return c, rest.args[0]
    return None


POSITIVE, NEGATIVE, NONNEGATIVE, NONPOSITIVE = "> 0", "< 0", ">= 0", "<= 0"
_PRODUCT = {(POSITIVE, POSITIVE): POSITIVE, (NEGATIVE, NEGATIVE): POSITIVE, (POSITIVE, NEGATIVE): NEGATIVE,
            (NEGATIVE, POSITIVE): NEGATIVE, (NONNEGATIVE, POSITIVE): NONNEGATIVE,
            (NONNEGATIVE, NEGATIVE): NONPOSITIVE, (NONPOSITIVE, POSITIVE): NONPOSITIVE,
            (NONPOSITIVE, NEGATIVE): NONNEGATIVE}
"""numerator class x denominator class (the denominator must be strict)."""


def _structural_memo(model) -> dict:
    """Structural signs per subtree; kept apart from `sign_memo`, whose answers are stronger."""
    memo = model.sign_memo.get(_STRUCTURAL)
    if memo is None:
        memo = model.sign_memo[_STRUCTURAL] = {}
    return memo


_STRUCTURAL = object()


def _structural_sign(e: Expr, model, memo: dict) -> int | None:
    """Signs by structure only (cheap, memoized per shared subtree)."""
    if e in memo:
        return memo[e]
    checkpoint()
    s: int | None = None
    if e.is_Rational:
        s = 1 if e > 0 else -1 if e < 0 else None
    elif e.is_NumberSymbol:  # pi, E
        s = 1 if e.is_positive else -1 if e.is_negative else None
    elif e.is_Symbol:
        bounds = model.parameter_bounds.get(e)
        s = 1 if e in model.positive_symbols else -1 if bounds is not None and bounds.negative else None
    elif e.is_Add:
        signs = {_structural_sign(a, model, memo) for a in e.args}
        s = signs.pop() if len(signs) == 1 else None
        if s is None and 1 in signs and all(_structural_sign(a, model, memo) == 1 or _nonnegative_square(a, model)
                                             for a in e.args):
            s = 1  # s**2 + w**2: a positive term plus squares of real values
    elif e.is_Mul:
        s = 1
        for a in e.args:
            factor = _structural_sign(a, model, memo)
            if factor is None:
                s = None
                break
            s *= factor
    elif e.is_Pow and e.exp.is_Integer:
        base = _structural_sign(e.base, model, memo)
        s = None if base is None else base ** (int(e.exp) % 2) if base < 0 else 1
    elif isinstance(e, exp):
        s = 1  # exp of a real value; the argument's own definedness is a separate obligation
    memo[e] = s
    return s


def _nonnegative_square(e: Expr, model) -> bool:
    """An even power of a real value (every symbol a real parameter), times a positive number."""
    coefficient, rest = e.as_coeff_Mul()
    if not (coefficient.is_Rational and coefficient > 0):
        return False
    return (rest.is_Pow and rest.exp.is_Integer and int(rest.exp) % 2 == 0
            and all(s in model.parameter_bounds or s.is_extended_real for s in rest.base.free_symbols)
            and not rest.base.has(log, exp))


def _even_power(e: Expr, model) -> bool:
    """A positive number times a positive even power of a real value (w**2, 2 * (x - b)**4): >= 0 and
    defined everywhere -- no negative power (1 / w**2 is not, at w = 0) and only integer powers inside
    (mu**(1 - alpha) is no real value where mu < 0)."""
    if not _nonnegative_square(e, model):
        return False
    power = e.as_coeff_Mul()[1]
    return power.exp > 0 and all(p.exp.is_Integer for p in power.base.atoms(Pow))


def _rational_function_sign(e: Expr, model) -> str | None:
    """The sign class of a rational function of the parameters, via homogenised polynomials."""
    known = set(model.positive_symbols) | set(model.parameter_bounds)
    if not e.free_symbols <= known:
        return None
    try:
        numerator, denominator = bounded_together(e).as_numer_denom()
    except TooLarge:
        return None
    classes = []
    for part in (numerator, denominator):
        found = _part_class(part, model)
        if found is None:
            return None
        classes.append(found)
    return _PRODUCT.get((classes[0], classes[1]))


_POLYNOMIAL_CLASSES = ("sign classes of polynomials",)
"""The key, in a model's sign memo, of its memo of polynomial_sign's answers (a pure function of the
polynomial and the model; an answer None is made again each time, never remembered)."""


def _part_class(part: Expr, model) -> str | None:
    """The sign class of a numerator or denominator: by structure, else factor by factor when each
    factor has a strict sign (the factors of a Gaussian chain's variances, 1 - c1**2 and
    1 - c1**2 c2**2, recur in many products: each is certified once, not once per product it
    is expanded into), else the certificate of the whole polynomial."""
    s = _structural_sign(part, model, _structural_memo(model))
    if s is not None:
        return POSITIVE if s == 1 else NEGATIVE
    by_factors = _strict_class_by_factors(part, model)
    return by_factors if by_factors is not None else _polynomial_class(part, model)


def _strict_class_by_factors(product: Expr, model) -> str | None:
    """POSITIVE or NEGATIVE when `product` is a product of integer powers of factors each with a
    strict sign on the whole domain (its sign is then the product of theirs); None otherwise (the
    caller certifies the whole)."""
    if not product.is_Mul:
        return None
    sign = 1
    for factor in product.args:
        base, power = factor.as_base_exp()
        if not (power.is_Integer and power > 0):
            return None
        s = _structural_sign(base, model, _structural_memo(model))
        found = (POSITIVE if s == 1 else NEGATIVE) if s is not None else _polynomial_class(base, model)
        if found not in (POSITIVE, NEGATIVE):
            return None
        if found == NEGATIVE and int(power) % 2:
            sign = -sign
    return POSITIVE if sign == 1 else NEGATIVE


def _polynomial_class(p: Expr, model) -> str | None:
    """polynomial_sign(p, model), remembered per model (a step's obligations share factors)."""
    return remembered(model.sign_memo.setdefault(_POLYNOMIAL_CLASSES, {}), p, lambda: polynomial_sign(p, model))


def _bounded_parameters(expression: Expr, model):
    """Each parameter with bounds written through a variable that is >= 0 (or > 0):
    beta >= 1 -> 1 + t, beta <= 2 -> 2 - t, beta in [a, b] -> a + (b - a) s with s + s' = 1.
    Returns (expression, extra simplices, variables that may be 0), or None for a parameter
    without a bound (no certificate then)."""
    substitution, simplices, may_vanish = {}, [], set()
    for symbol in sorted(expression.free_symbols & set(model.parameter_bounds), key=lambda s: s.name):
        bounds = model.parameter_bounds[symbol]
        if bounds.lower is not None and bounds.upper is not None:
            s, rest = Dummy(f"s_{symbol.name}", positive=True), Dummy(f"r_{symbol.name}", positive=True)
            substitution[symbol] = bounds.lower + (bounds.upper - bounds.lower) * s
            simplices.append((s, rest))
            if not bounds.lower_open:
                may_vanish.add(s)
            if not bounds.upper_open:
                may_vanish.add(rest)
        elif bounds.lower is not None:
            t = Dummy(f"t_{symbol.name}", positive=True)
            substitution[symbol] = bounds.lower + t
            if not bounds.lower_open:
                may_vanish.add(t)
        elif bounds.upper is not None:
            t = Dummy(f"t_{symbol.name}", positive=True)
            substitution[symbol] = bounds.upper - t
            if not bounds.upper_open:
                may_vanish.add(t)
        else:
            return None
    return expression.xreplace(substitution), simplices, may_vanish


def polynomial_sign(p: Expr, model) -> str | None:
    """The sign class of the polynomial `p` on the whole domain (certificate), else None.

    POSITIVE / NEGATIVE when every coefficient of its homogenised form has that sign and
    some monomial of it cannot vanish; NONNEGATIVE / NONPOSITIVE when the coefficients agree
    but every monomial may vanish (a variable of a closed bound, such as beta >= 1 at 1).
    """
    try:
        rewritten = _bounded_parameters(p, model)
        if rewritten is None:
            return None
        p, extra_simplices, may_vanish = rewritten
        expanded = bounded_expand(p)
        if expanded.is_Add and len(expanded.args) > MAX_CERTIFICATE_TERMS:
            return None
        if expanded.is_Rational:
            return POSITIVE if expanded > 0 else NEGATIVE if expanded < 0 else None
        present = expanded.free_symbols
        if not present:  # a constant such as E - 2: no certificate here (the search decides)
            return None
        simplices = tuple(model.simplices) + tuple(extra_simplices)
        # every coordinate of a simplex that occurs: the sum that is 1 is over all of them
        involved = set(present).union(*(set(g) for g in simplices if present & set(g)))
        gens = tuple(sorted(involved, key=lambda s: s.name))
        poly = Poly(expanded, *gens)
    except (PolynomialError, GeneratorsNeeded, TooLarge):
        return None
    groups = [tuple(i for i, g in enumerate(gens) if g in simplex) for simplex in simplices]
    groups = [g for g in groups if g]
    vanishing = [i for i, g in enumerate(gens) if g in may_vanish]
    sums = [Poly(Add(*(gens[i] for i in group)), *gens) for group in groups]
    terms = poly.terms()
    if not terms:
        return None
    # homogenise each simplex's variables: a term of degree d gets (sum)^(D - d)
    tops = [max(sum(m[i] for i in group) for m, _ in terms) for group in groups]
    homogeneous = Poly(0, *gens)
    for monomial, coefficient in terms:
        checkpoint()
        term = Poly.from_dict({monomial: coefficient}, *gens)
        for group, top, total in zip(groups, tops, sums):
            missing = top - sum(monomial[i] for i in group)
            if missing:
                term = term * total ** missing
                if len(term.terms()) > MAX_CERTIFICATE_TERMS:
                    return None
        homogeneous = homogeneous + term
        if len(homogeneous.terms()) > MAX_CERTIFICATE_TERMS:
            return None
    for _ in range(POLYA_ROUNDS + 1):
        if homogeneous.is_zero:
            return None
        found = _coefficient_class(homogeneous, vanishing, groups)
        if found is not None:
            return found
        if not sums:
            return None
        for total in sums:  # Polya: multiplying by a sum that is 1 keeps the value
            checkpoint()
            homogeneous = homogeneous * total
            if len(homogeneous.terms()) > MAX_CERTIFICATE_TERMS:
                return None
    return None


def _coefficient_class(poly: Poly, vanishing: list[int], groups: list) -> str | None:
    terms = poly.terms()
    if all(c > 0 for _, c in terms):
        strict = any(not any(m[i] for i in vanishing) for m, _ in terms) or _never_all_vanish(terms, vanishing,
                                                                                              groups)
        return POSITIVE if strict else NONNEGATIVE
    if all(c < 0 for _, c in terms):
        strict = any(not any(m[i] for i in vanishing) for m, _ in terms) or _never_all_vanish(terms, vanishing,
                                                                                              groups)
        return NEGATIVE if strict else NONPOSITIVE
    return None


def _never_all_vanish(terms, vanishing: list[int], groups: list) -> bool:
    """For a closed interval's pair s + s' = 1: s and s' are never 0 together, so monomials
    s^a and s'^b (nothing else that may vanish) cover every point between them."""
    for group in groups:
        if len(group) == 2 and all(i in vanishing for i in group):
            a, b = group
            others = [i for i in vanishing if i not in group]
            pure_a = any(m[a] and not m[b] and not any(m[i] for i in others) for m, _ in terms)
            pure_b = any(m[b] and not m[a] and not any(m[i] for i in others) for m, _ in terms)
            if pure_a and pure_b:
                return True
    return False


__all__ = ["Obligation", "obligations", "certified", "is_positive", "strict_sign", "nonnegative", "polynomial_sign",
           "MAX_CERTIFICATE_TERMS"]
