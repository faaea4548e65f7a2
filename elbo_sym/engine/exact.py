"""The exact plan of a search: what the exact decisions of :mod:`elbo_sym.engine.dimensions` add to it.

For a model of every number of dimensions (the Gaussian ``D = "any"``) or with a whole-number
parameter (``n = "integer >= 1"``), the residual left - right of a step may be decided exactly over
every whole value: where it first fails (searched there, refuted at an exact instance), or that it
never fails (a note in the search's summary).  What cannot be decided names the values a search must
try, or makes the step an `error` (`ExactPlan.unreached`): never `checked` on less evidence.
`exact_plan` is what the checker (:mod:`elbo_sym.engine.check`) calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import product
from math import ceil, floor

from sympy import Expr, Poly, Rational, Symbol, expand
from sympy.polys.polyerrors import BasePolynomialError

from elbo_sym.engine.canonical import TooLarge
from elbo_sym.engine.derivation import Relation, Step
from elbo_sym.engine.dimensions import Span, decide_with_free, factor_sign_changes, first_failure, least_over
from elbo_sym.engine.models.base import PARAMETER, Interval, remembered
from elbo_sym.engine.models.discrete import UnfoldError
from elbo_sym.engine.premises import is_bound, premise_text, premises_of
from elbo_sym.engine.rules import FLIPPED, RuleOutcome, difference, residuals
from elbo_sym.failures import reraise_callers
from elbo_sym.limits import (
    EXACT_MEMOS_KEPT,
    GAUSSIAN_ANY_D,
    INTEGER_OFFSETS,
    MAX_ANCHORED_VARIABLES,
    MAX_CONFIGURED_DECISIONS,
    MAX_CONFIGURED_VARIABLES,
    MAX_PINNED_VALUES,
    MAX_SEARCH_D,
)

_MEMOS_AT: dict[frozenset, dict] = {}
"""memo_at's memos of exact values, by point."""


def memo_at(values: Mapping[Symbol, Fraction]) -> dict:
    """A memo of exact values (elbo_sym.numbers.evaluate's `exact`, `value`, `sign_of`, `decide`) at the
    point `values`, shared by the callers that evaluate there: a file's examples re-decided step after
    step (a step's right side is the next step's left) and its report's start and end values.  An
    exact value, or the error that says there is none (Undefined, Inexact), is a pure function of the
    expression and the point (the key).  Bounded: limits.EXACT_MEMOS_KEPT points, all emptied when full."""
    key = frozenset(values.items())
    memo = _MEMOS_AT.get(key)
    if memo is None:
        if len(_MEMOS_AT) >= EXACT_MEMOS_KEPT:
            _MEMOS_AT.clear()
        memo = _MEMOS_AT[key] = {}
    return memo


Premises = tuple[tuple[str, Expr], ...] | None
"""(rel, left - right in the model's parameters) of each premise, read once per step
(`_premise_differences`); None when one cannot be read so."""


@dataclass(frozen=True)
class Pin:
    """Values the exact decision names, searched before the plan with the quick pass: `blocks` given to
    every instance (a whole number's value, a dimension's means) in the explicit model with `D`
    dimensions (None: the plan's first model); `where` says so in a counterexample."""

    D: int | None
    blocks: tuple[tuple[str, tuple[Fraction, ...]], ...]
    where: str
    renames: bool = False
    """The blocks change what the instance's source says (q's means): `where` names it alone."""


@dataclass(frozen=True)
class ExactPlan:
    """What the exact decision of engine.dimensions adds to a search: the D's searched `first` (where
    the step fails) and `after` the usual ones (where a factor changes sign), the values searched
    before them all (`pins`: a D beyond the usual ones, a whole number's value, a dimension's means
    where the step fails), and `unreached`: the error when the search finds nothing, because a value
    that decides the step lies beyond it."""

    first: tuple[int, ...] = ()
    after: tuple[int, ...] = ()
    unreached: str | None = None
    pins: tuple[Pin, ...] = ()
    notes: tuple[str, ...] = ()
    """What the search's summary adds: the exact decision found the step true for every value."""
    proof: ExactProof | None = None
    """The decision that the step holds, when it is complete (`ExactProof`): the step is proved."""


@dataclass(frozen=True)
class ExactProof:
    """An exact decision that left - right makes the relation hold at every value of every symbol in
    `covers`, over the whole range the model and the premises give each: a whole number (D >= 1, n from
    its least value, to a premise's bound), a free variable (its interval, open or closed ends as they
    are, or every value a sum over the dimensions takes), real parameters minimised over exactly.  No
    sampling and no heuristic: `exact_plan` gives it only when `covers` holds every symbol of the
    residual, so the step holds on the whole domain (definedness and the second opinion are the
    checker's, as for every proved step)."""

    statement: str
    covers: frozenset[Symbol]

    def outcome(self) -> RuleOutcome:
        """The proof as a rule's outcome: the exact rule (EXACT_RULE), with what it covered."""
        symbols = ", ".join(sorted(map(str, self.covers)))
        return RuleOutcome(True, f"{self.statement} ({EXACT_RULE}: every value of every symbol of left - right)",
                           ((f"{EXACT_RULE}: left - right is one canonical form, a polynomial with rational "
                             f"coefficients in {symbols}", True),
                            (f"{EXACT_RULE}: decided for every value of {symbols} the domain and the premises allow, "
                             "without sampling", True)))


EXACT_RULE = "the exact rule"
"""How a proof by exact decision names itself in the report and in `explain` (it proves an `algebra`
step whose sides are not identical: engine.check)."""


def _holds(note: str, covers: set[Symbol], pins: tuple[Pin, ...] = ()) -> ExactPlan:
    """The plan when the exact decision finds the step true for every value of `covers`."""
    return ExactPlan(pins=pins, notes=(note,), proof=ExactProof(note, frozenset(covers)))


Blocks = tuple[tuple[str, tuple[Fraction, ...]], ...]
"""The values an instance gets, block by block (a `Pin`'s)."""

_BEYOND = f"more dimensions than the counterexample search builds an instance in ({MAX_SEARCH_D})"


def _failure(fails: str, symbol: Symbol, n: int, shown: str, blocks: Blocks | None, *, dimension: bool,
             first: bool = True, tried: bool = False, reach: str = "") -> ExactPlan:
    """The one policy of every plan for a failure an exact decision names: left - right fails (`fails`
    says so) at `symbol` = n with the other variables at `shown` (the values `blocks` gives an instance;
    None: irrational, where no exact instance is built).  `dimension`: `symbol` is D, whose instances
    the search builds up to MAX_SEARCH_D dimensions, in full up to 12; else a whole number, `tried` in
    full when the search tries n anyway.  A failure the search cannot reach (beyond MAX_SEARCH_D
    dimensions, or irrational) is left to the search first -- it may refute the step elsewhere, or at
    an algebraic point in a D it builds in full -- and is an error when it finds nothing (red team
    rt23); any other is pinned (searched before the plan), or, with no other variable, searched in full
    at n.  Never `checked`: `unreached` says why when the search finds nothing (`reach`: where the search
    looks otherwise).  `first`: n is the least value where it fails (else one where it does)."""
    full = n <= max(GAUSSIAN_ANY_D) if dimension else tried
    at = f", at {shown}" if shown else ""
    if dimension and n > MAX_SEARCH_D:
        return ExactPlan(unreached=f"{fails}, {_BEYOND}")
    if blocks is None:
        return ExactPlan(first=(n,) if dimension and full else (),
                         unreached=f"{fails}{at}: no exact instance is built there (an irrational value), and no "
                                   "instance the search built refuted it")
    if full:  # the search tries n itself: "beyond" would be false (red team rt34, F1)
        unreached = (f"{fails}{at}, a value the search tries, but no instance it built there decided the step "
                     "(none was shown to satisfy every premise, or the relation was undecided there)")
    else:
        unreached = f"{fails}{at}{', beyond ' + reach if reach else ''}, but no instance the search built there " \
                    "decided it"
    if not blocks and full:
        return ExactPlan(first=(n,) if dimension else (), unreached=unreached)
    where = f"{symbol} = {n}{', ' + shown if shown else ''} (where left - right {'first ' * first}fails, exactly)"
    own = () if dimension else ((symbol.name, (Fraction(n),)),)
    return ExactPlan(pins=(Pin(n if dimension else None, own + blocks, where, bool(blocks)),), unreached=unreached)


def exact_plan(lhs: Expr, step: Step, model) -> ExactPlan:
    """For a model of every number of dimensions D (the Gaussian D = "any"): the least D where the
    step fails when left - right is a polynomial in D alone (exact: red team rt7), or in D and one
    variable whose values are known for every D (`_free_variable`: a sum of squares; red team rt10),
    searched there (up to MAX_SEARCH_D dimensions; beyond, an error, never "held"); else the D's where
    a part of left - right that is a polynomial in D alone (a factor, or a coefficient) vanishes or
    changes sign (red team rt9).  The same for a whole-number parameter (``n = "integer >= 1"``),
    searched at the value the decision names.  When a decision finds the step true for every value of
    every symbol of left - right, the plan carries its `proof` (the exact rule: engine.check proves an
    `algebra` step by it)."""
    wholes = {s: int(i.lower) for s, i in model.parameter_bounds.items() if i.integer and i.lower is not None}
    D = model.dimension
    inside = premise_pins(model)
    if D is None and not wholes:
        return ExactPlan(pins=inside)
    try:
        forms = residuals(difference(lhs, step.expr), model)
    except (TooLarge, UnfoldError, ValueError, TypeError, ArithmeticError) as raised:  # no canonical form: search
        reraise_callers(raised)
        return ExactPlan(pins=inside)
    if len(forms) != 1:
        return ExactPlan(pins=inside)
    residual = forms[0].as_expr()
    premises = _premise_differences(model)  # once per step: every variable's range reads them
    plans = [_whole_number_plan(residual, step.rel, symbol, least, model, premises) for symbol, least in wholes.items()]
    if D is not None:
        plans.append(_dimension_plan(residual, step.rel, D, model, premises))
    proof = next((p.proof for p in plans if p.proof is not None and residual.free_symbols <= p.proof.covers), None)
    jointly = sorted((s for s in wholes if s in residual.free_symbols), key=str)
    with_D = D is not None and D in residual.free_symbols
    if proof is None and (with_D and jointly or len(jointly) > 1):  # no decision covers them together
        plans.append(_joint_plan(residual, step.rel, D, {s: wholes[s] for s in jointly}, model, premises))
    return ExactPlan(tuple(n for p in plans for n in p.first), tuple(n for p in plans for n in p.after),
                     next((p.unreached for p in plans if p.unreached is not None), None),
                     tuple(dict.fromkeys([*(pin for p in plans for pin in p.pins), *inside])),
                     tuple(note for p in plans for note in p.notes), proof)


def _joint_plan(residual: Expr, rel: str, D: Symbol | None, wholes: dict[Symbol, int], model,
                premises: Premises) -> ExactPlan:
    """Left - right in D and a whole number n together, or in two whole numbers (red team rt21:
    `(D - 20)**2 + (n - 1)**2 >= 1/2` was `checked`, exit 0 with accept, though false at D = 20, n = 1):
    each decision above covers its own symbol alone.  Each whole number is held at its least value
    and the rest decided as above (a failure there is pinned: the search's judge refutes it exactly);
    with no failure found there, the step is an `error`, since a failure at values the search does
    not try cannot be ruled out -- never `checked`."""
    pins: list[Pin] = []
    inner_reasons: list[str] = []  # what the decisions with a whole number held could not settle
    for n, least in wholes.items():
        held = residual.xreplace({n: least})
        rest = {s: v for s, v in wholes.items() if s != n and s in held.free_symbols}
        if D is not None and D in held.free_symbols:
            inner = _dimension_plan(held, rel, D, model, premises)
        elif len(rest) == 1:
            (other, other_least), = rest.items()
            inner = _whole_number_plan(held, rel, other, other_least, model, premises)
        else:
            continue
        if inner.unreached is not None:
            inner_reasons.append(f"with {n} = {least}: {inner.unreached}")
        elif inner.proof is not None:
            inner_reasons.append(f"with {n} = {least} it holds for every value of the rest (exactly)")
        elif not inner.pins and not inner.first:
            inner_reasons.append(f"with {n} = {least} the rest is not decided exactly either")
        block = ((n.name, (Fraction(least),)),)
        pins += [Pin(d, block, f"D = {d}, {n} = {least} (where left - right fails, exactly)") for d in inner.first]
        pins += [Pin(pin.D, block + pin.blocks, f"{n} = {least}, {pin.where}", pin.renames) for pin in inner.pins]
    names = " and ".join([*(["D"] if D is not None and D in residual.free_symbols else []), *map(str, wholes)])
    held_at = ", then ".join(f"{n} = {least}" for n, least in wholes.items())
    settled = ("; ".join(inner_reasons) if inner_reasons  # red team rt22: say what each held value settled
               else f"held at {held_at}, the values the rest's decision named did not fail")
    return ExactPlan(pins=tuple(pins)[:MAX_PINNED_VALUES],
                     unreached=f"left - right = {residual} depends on {names} together, which the exact decisions "
                               f"cover only one at a time ({settled}), and the search found no failure where it "
                               "looked: not decided for every value")


def _dimension_plan(residual: Expr, rel: str, D: Symbol, model, premises: Premises) -> ExactPlan:
    """`exact_plan` for the number of dimensions D."""
    found = first_failure(residual, D, rel)
    if found is not None:
        if found.D is None:
            return _holds(_holds_note(found.residual, rel, D, ()), {D})
        return _failure(_fails(found.residual, D, found.D), D, found.D, "", (), dimension=True)
    free = _free_decision(residual, rel, D, 1, model, premises)
    if free is not None:
        return _free_plan(free, residual, rel, D, 1, dimension=True)
    least = _least_plan(residual, rel, D, model, premises)
    if least is not None:
        return least
    anchored = _anchored_plan(residual, rel, D, model, premises)
    if anchored is not None:
        return anchored
    equal = _equal_dimensions_plan(residual, rel, D, model, premises)
    if equal is not None and equal.pins:
        return equal  # a failure with every dimension equal, pinned
    configured = _configured_plan(residual, rel, D, model, premises)
    wanted = factor_sign_changes(residual, D)
    # a D beyond the usual ones gets the quick pass and the point where every variable is 0, not the
    # usual ones' boundary instances and minimiser (seconds each at 40 dimensions), so it does not
    # count as searched (red team rt13: Sum(mu_d**2) + b**2 + (D-20)**2 > 0 was checked, exit 0)
    far = tuple(n for n in wanted if max(GAUSSIAN_ANY_D) < n <= MAX_SEARCH_D)[:MAX_PINNED_VALUES]
    why = "where a part of left - right in D alone vanishes or changes sign"
    zero = tuple(Pin(n, blocks, f"D = {n}, {what} ({why})", True)
                 for n in far for blocks, what in [_zero_point(residual, n, model)] if blocks)
    unreached = _undecided(residual, D, model, wanted, lambda n: n <= max(GAUSSIAN_ANY_D),
                           f"the dimensions the counterexample search builds in full (D = "
                           f"{', '.join(map(str, GAUSSIAN_ANY_D))}; beyond, up to {MAX_SEARCH_D}, "
                           "only examples, special cases, random instances and every variable at 0)")
    if unreached is None and equal is not None:
        unreached = equal.unreached  # equal values fail beyond the search, irrationally, or undecided
    parts = ExactPlan(after=tuple(n for n in wanted if n <= max(GAUSSIAN_ANY_D)),
                      pins=tuple(Pin(n, (), f"D = {n} ({why})") for n in far) + zero, unreached=unreached)
    if configured is None:
        return parts
    return replace(parts, first=configured.first, pins=configured.pins + parts.pins,  # its failure is searched first
                   unreached=configured.unreached)


def _least_plan(residual: Expr, rel: str, D: Symbol, model, premises: Premises) -> ExactPlan | None:
    """`exact_plan` when left - right is, one real variable at a time, a quadratic with a positive leading
    coefficient (`dimensions.least_over`: its least value over them is a polynomial in D alone): the least
    D where the step fails, searched at the variables' values where it is least (red team rt13: two
    parameters and no part in D alone changing sign).  A variable is a parameter of every real value or a
    sum over the dimensions that `_free_variable` writes as c * v**k, v real, in dimension 1's block
    (red team rt15: Sum(w_d**2) + (b - D)**2 + (D - 20)**2 > 0, false at D = 20, b = 20, every w_d = 0);
    None for any other residual."""
    variables = tuple(sorted(residual.free_symbols - {D}, key=str))
    if len(variables) < 2 or rel not in FLIPPED:
        return None
    frees = _independent({t: _least_variable(t, model, D, premises) for t in variables})
    if frees is None:
        return None
    own = {t: Symbol(f"v#{t}", real=True) for t in variables}
    written = residual.xreplace({t: f.written.xreplace({f.variable: own[t]}) for t, f in frees.items()})
    sign, want = (1, rel) if rel in (">=", ">") else (-1, FLIPPED[rel])  # an upper bound: the greatest value
    found = least_over(expand(sign * written), D, tuple(own[t] for t in variables))
    failure = None if found is None else first_failure(found.value, D, want)
    if found is None or failure is None:
        return None
    if failure.D is None:
        return _holds(_holds_note(str(residual), rel, D, tuple(f.values(t) for t, f in frees.items())),
                      {D, *variables})
    fails, n = _fails(residual, D, failure.D), failure.D
    if n > MAX_SEARCH_D:
        return _failure(fails, D, n, "", (), dimension=True)
    at = dict(found.point(D, n))
    values = {t: frees[t].written.xreplace({frees[t].variable: at[own[t]], D: n}) for t in variables}
    shown = ", ".join(f"{t} = {values[t]}" for t in variables)
    blocks = tuple(block for t in variables for block in frees[t].blocks(n, _fraction(at[own[t]]))) \
        if all(v.is_Rational for v in at.values()) else None
    return _failure(fails, D, n, shown, blocks, dimension=True)


def _independent(found: dict[Symbol, _Free | None]) -> dict[Symbol, _Free] | None:
    """Each variable's `_Free`, when every variable has one and no two share a block; None otherwise (two
    sums over one block, Sum(mu_d) and Sum(mu_d**2), are not independent variables)."""
    frees = {t: f for t, f in found.items() if f is not None}
    blocks_used = [f.block for f in frees.values()]
    return frees if len(frees) == len(found) and len(set(blocks_used)) == len(blocks_used) else None


def _anchored_plan(residual: Expr, rel: str, D: Symbol, model, premises: Premises) -> ExactPlan | None:
    """`exact_plan` when every variable of left - right but D ranges as `_free_variable` says and the other
    plans gave up: each variable in turn is left free and the others are held at their anchors
    (`_anchors`: a sum of squares at its least value 0, a real variable at 0 or 1), so that
    `dimensions.decide_with_free` decides exactly, in D and that one variable, where the step first fails
    (red team rt19: ``(b**2 - 2*D)**2 + Sum(w_d**2) + (D - 8)**2 > 0``, false at D = 8, b = 4, every w_d =
    0; ``(b*Sum(mu_d) - 3)**2 + (D - 10)**2 > 0``, false at D = 10, b = 3, mu_1 = 1).  A rational point is
    pinned for the search's judge; a failure only at an irrational one (``(b**2 - 2)**2 + Sum(w_d**2) +
    (D - 9)**2 > 0`` at b = sqrt(2)) makes the step an error naming it unless the search refutes it.
    None when no anchored residual fails: finding none proves nothing, the usual plan follows."""
    variables = tuple(sorted(residual.free_symbols - {D}, key=str))
    if not 2 <= len(variables) <= MAX_ANCHORED_VARIABLES or rel not in FLIPPED:
        return None
    frees = _independent({t: _free_variable(t, model, D, premises) for t in variables})
    if frees is None:
        return None
    found = []  # (irrational, D, the free variable, the others' anchors, the free variable's value)
    for t in variables:
        others = [s for s in variables if s != t]
        for values in product(*(_anchors(frees[s].span) for s in others)):
            held = dict(zip(others, values))
            anchored = residual.xreplace({s: _held(frees[s], v) for s, v in held.items()})
            decision = decide_with_free(anchored.xreplace({t: frees[t].written}), D, frees[t].variable,
                                        frees[t].span, rel)
            if decision is not None and decision.D is not None:
                found.append((decision.t is None, decision.D, t, held, decision.t, anchored))
    if not found:
        return None
    irrational, n, t, held, value, anchored = min(found, key=lambda f: f[:2])  # a rational point first, least D
    fails = _fails(residual, D, n)
    if n > MAX_SEARCH_D:
        return _failure(fails, D, n, "", (), dimension=True)
    if irrational:
        root = _irrational_root(anchored.xreplace({D: n}), t, frees[t], D, n)
        shown = ", ".join([f"{t} = {root}"] + [f"{s} = {_held(frees[s], v, D, n)}" for s, v in held.items()])
        return _failure(fails, D, n, shown, None, dimension=True, first=False)
    at = dict(sorted({t: value, **held}.items(), key=lambda item: str(item[0])))
    shown = ", ".join(f"{s} = {_held(frees[s], v, D, n)}" for s, v in at.items())
    blocks = tuple(block for s, v in at.items() for block in frees[s].blocks(n, v))
    return _failure(fails, D, n, shown, blocks, dimension=True, first=False)


def _equal_dimensions_plan(residual: Expr, rel: str, D: Symbol, model, premises: Premises) -> ExactPlan | None:
    """`exact_plan` when left - right holds sums over the dimensions of one parameter only (``Sum(mu_d**2)``
    and ``Sum(mu_d)``, as the canonical form writes ``Sum((mu_d - 1)**2)``; ``Sum(mu_d**4)``) and nothing
    else but D, and the other plans gave up: with every dimension's value equal to one v, each sum is
    D times its body at v, and `dimensions.decide_with_free` decides exactly, in D and v, where the
    step first fails (red team rt22: ``Sum((mu_d - 1)**2) + (D - 20)**2 > 0``, false at D = 20, every
    mu_d = 1, was `checked`, exit 0 with accept).  It only names a failure -- pinned for the search's
    judge, or an error at an irrational v or beyond the search -- or, when the equal-values difference
    is too large or not a polynomial, an error (rt23: never `checked` on a shape it reads); None (no
    failure with equal values proves nothing, or equal values cancel the sums) leaves the usual plan."""
    from elbo_sym.engine.models.gaussian import PER_DIMENSION  # here: a cold check imports no other family

    others = residual.free_symbols - {D}
    bodies = {t: model.sum_body(t) for t in others}
    if rel not in FLIPPED or premises != () or not others or any(b is None for b in bodies.values()):
        return None
    used = {s for body in bodies.values() for s in body.free_symbols}
    shared = [name for name in PER_DIMENSION if model.params[name] in used]
    if len(shared) != 1 or used != {model.params[shared[0]]}:
        return None
    name, p = shared[0], model.params[shared[0]]
    v = Symbol("v#", positive=True) if name == "sigma_d" else Symbol("v#", real=True)
    span = Span(1, Fraction(0), False) if name == "sigma_d" else Span()
    equal = expand(residual.xreplace({t: D * body.xreplace({p: v}) for t, body in bodies.items()}))
    if v not in equal.free_symbols:
        return None  # equal values cancel the sums (Cauchy-Schwarz: D*Sum(mu_d**2) - Sum(mu_d)**2): the usual plan
    decision = decide_with_free(equal, D, v, span, rel)
    if decision is None:  # too large or not a polynomial (red team rt23: Sum((mu_d - 1)**10) + (D - 20)**2 > 0)
        return ExactPlan(unreached=f"left - right = {residual} is not decided exactly with every {name} equal, "
                                   "and the search found no failure where it looked")
    if decision.D is None:
        return None
    n = decision.D
    fails = f"{_fails(residual, D, n)} with every {name} equal"
    if n > MAX_SEARCH_D:  # the search still runs first: it may fail at a smaller D (red team rt23)
        return _failure(fails, D, n, "", (), dimension=True)
    if decision.t is None:
        root = _irrational_root(equal.xreplace({D: n}), v, _Free(v, span, v, name), D, n)
        return _failure(fails, D, n, f"every {name} = {root}", None, dimension=True, first=False)
    shown = f"every {name} = {decision.t}"
    blocks = tuple((f"{name[:-2]}{j}", (decision.t,)) for j in range(1, n + 1))
    return _failure(fails, D, n, shown, blocks, dimension=True, first=False)


def _fails(residual, symbol: Symbol, n: int) -> str:
    """What every failure an exact decision names starts with (`_failure`)."""
    return f"left - right = {residual} makes the relation fail at {symbol} = {n} (exactly)"


def _fraction(r: Rational) -> Fraction:
    """A SymPy rational as a Fraction (an instance's value)."""
    return Fraction(int(r.p), int(r.q))


@dataclass(frozen=True)
class _Configuration:
    """How `_configured_plan` sets the dimensions' values of one per-dimension symbol (`name`, mu_d) from
    one real variable v: every dimension at v (`apart` None), or dimension 1 at v and every other at
    `apart`; a sum over the dimensions of a body in that symbol is then a polynomial in D and v."""

    name: str
    apart: Fraction | None

    def written(self, body: Expr, p: Symbol, v: Symbol, D: Symbol) -> Expr:
        """Sum(body, (d, 1, D)) in this configuration (`p`: the symbol in `body`)."""
        if self.apart is None:
            return D * body.xreplace({p: v})
        return body.xreplace({p: v}) + (D - 1) * body.xreplace({p: _rational(self.apart)})

    def blocks(self, n: int, value: Fraction) -> Blocks:
        """The blocks of the instance with `n` dimensions where v = `value`."""
        return tuple((f"{self.name[:-2]}{j}", (value if j == 1 or self.apart is None else self.apart,))
                     for j in range(1, n + 1))

    def shown(self, value) -> str:
        """The values in the report: ``every mu_d = 1``, ``mu_1 = 2, every other mu_d = 0``."""
        if self.apart is None:
            return f"every {self.name} = {value}"
        return f"{self.name[:-2]}_1 = {value}, every other {self.name} = {self.apart}"


def _configured_plan(residual: Expr, rel: str, D: Symbol, model, premises: Premises) -> ExactPlan | None:
    """`exact_plan` for the shapes the other plans gave up on (session 14): left - right in D, parameters
    (each with its interval) and sums over the dimensions of one per-dimension symbol each -- several sums
    over one symbol (``Sum(mu_d)`` beside ``Sum(mu_d**2)``), a sum beside a parameter, up to
    MAX_CONFIGURED_VARIABLES variables, an equation.  The sums over one symbol become one variable v
    by a configuration of the dimensions' values (`_Configuration`: every one at v, or dimension 1 at v
    and the others at an anchor, which reaches a failure only where the values differ, such as
    ``(D*Sum(mu_d**2) - Sum(mu_d)**2 - (D - 1))**2 + (D - 20)**2 > 0`` at mu_1 = 1, the others 0); then each
    variable in turn is left free and the others held at anchors (as `_anchored_plan`), and
    `dimensions.decide_with_free` decides exactly, in D and that variable, where the step fails -- at
    most MAX_CONFIGURED_DECISIONS decisions.  A failure is a `_failure` (pinned, or left to the search
    first and then an error); none found proves nothing (None: the parts rule follows)."""
    from elbo_sym.engine.models.gaussian import PER_DIMENSION  # here: a cold check imports no other family

    if premises != () or (rel not in FLIPPED and rel != "="):
        return None
    params: dict[Symbol, _Free] = {}
    groups: dict[str, list[Symbol]] = {}
    for t in sorted(residual.free_symbols - {D}, key=str):
        body = model.sum_body(t)
        if body is None:
            free = _free_variable(t, model, D, premises)
            if free is None or free.where != "own":
                return None
            params[t] = free
            continue
        names = [name for name in PER_DIMENSION if body.free_symbols == {model.params[name]}]
        if not names:
            return None  # a body in two symbols (Sum(mu_d*w_d)): the search decides
        groups.setdefault(names[0], []).append(t)
    if len(params) + len(groups) > MAX_CONFIGURED_VARIABLES or (not groups and len(params) <= MAX_ANCHORED_VARIABLES):
        return None  # parameters alone, up to 3: the anchored plan made these decisions already
    own = {name: _group_variable(name) for name in groups}
    frees = {**params, **{free.variable: free for free in own.values()}}
    choices = {name: (None, *_anchors(own[name].span)) for name in groups}
    anchors = {s: _anchors(free.span) for s, free in frees.items()}
    tries = sorted(((configured, t, values)  # the fewest choices off the first (every dimension equal, anchor 0) first
                    for configured in product(*choices.values())
                    for t in frees
                    for values in product(*(anchors[s] for s in frees if s != t))),
                   key=lambda c: sum(map(bool, c[0])) + sum(anchors[s].index(v) for s, v in
                                                            zip([s for s in frees if s != c[1]], c[2])))
    found: list[tuple] = []  # (beyond, irrational, D, order, configurations, free variable, others' anchors, value)
    decided: set[tuple[Symbol, Expr]] = set()
    written = {configured: expand(residual.xreplace({atom: _Configuration(name, a).written(
        model.sum_body(atom), model.params[name], own[name].variable, D)
        for (name, atoms), a in zip(groups.items(), configured) for atom in atoms}))
        for configured in product(*choices.values())}  # once per configuration
    for configured, t, values in tries[:2 * MAX_CONFIGURED_DECISIONS]:  # shared ones skipped, not counted
        configurations = {name: _Configuration(name, a) for name, a in zip(groups, configured)}
        held = dict(zip([s for s in frees if s != t], values))
        anchored = expand(written[configured].xreplace({s: _rational(v) for s, v in held.items()}))
        if (t, anchored) in decided:
            continue  # two configurations that agree here (every mu_d = 0, or mu_1 = 0 and the others 0)
        if len(decided) == MAX_CONFIGURED_DECISIONS:
            break
        decided.add((t, anchored))
        decision = decide_with_free(anchored, D, t, frees[t].span, rel)
        if decision is not None and decision.D is not None:
            found.append((decision.D > MAX_SEARCH_D, decision.t is None, decision.D, len(found),
                          configurations, t, held, decision.t, anchored))
    if not found:
        return None
    _, irrational, n, _, configurations, t, held, value, anchored = min(found, key=lambda f: f[:4])
    fails = _fails(residual, D, n)
    if n > MAX_SEARCH_D:
        return _failure(fails, D, n, "", (), dimension=True)
    named = {free.variable: configurations[name] for name, free in own.items()}

    def shown(s: Symbol, v) -> str:
        return named[s].shown(v) if s in named else f"{s} = {v}"

    if irrational:
        root = _irrational_root(anchored.xreplace({D: n}), t, frees[t], D, n)
        text = ", ".join([shown(t, root)] + [shown(s, v) for s, v in held.items()])
        return _failure(fails, D, n, text, None, dimension=True, first=False)
    at = {t: value, **held}
    text = ", ".join(shown(s, v) for s, v in at.items())
    blocks = tuple(block for s, v in at.items()
                   for block in (named[s].blocks(n, v) if s in named else frees[s].blocks(n, v)))
    return _failure(fails, D, n, text, blocks, dimension=True, first=False)


def _group_variable(name: str) -> _Free:
    """The one variable v that `_configured_plan` gives the dimensions' values of `name` (mu_d, w_d: every
    real value; sigma_d: every positive one)."""
    if name == "sigma_d":
        v = Symbol(f"v#{name}", positive=True)
        return _Free(v, Span(1, Fraction(0), False), v, name[:-2])
    v = Symbol(f"v#{name}", real=True)
    return _Free(v, Span(), v, name[:-2])


def _rational(value: Fraction) -> Rational:
    """A Fraction as a SymPy rational (an exact value in an expression)."""
    return Rational(value.numerator, value.denominator)


def _held(free: _Free, value: Fraction, D: Symbol | None = None, n: int | None = None) -> Expr:
    """The residual's variable as `free` writes it, its own variable at `value` (and D at `n`, if given)."""
    written = free.written.xreplace({free.variable: Rational(value.numerator, value.denominator)})
    return written if D is None else written.xreplace({D: n})


def _anchors(span: Span) -> tuple[Fraction, ...]:
    """The values a variable is held at while `_anchored_plan` leaves another free: its span's closed end
    (a sum of squares' least value), else 0 and 1 when the span holds them, else a point inside it."""
    if span.direction and span.closed:
        return (span.start,)
    inside = tuple(u for u in (Fraction(0), Fraction(1)) if span.holds(u))
    if not span.direction:
        return inside
    u = inside[0] if inside else (span.length / 2 if span.length is not None else Fraction(1))
    return (span.start + span.direction * u,)


def _irrational_root(anchored: Expr, t: Symbol, free: _Free, D: Symbol, n: int) -> Expr:
    """The value of `t` (exact: ``sqrt(2)``) where the `anchored` residual, at D = `n`, meets 0 at an
    irrational point of the free variable's span, for the error's text (`decide_with_free` found only such
    a failure)."""
    at_n = Poly(anchored.xreplace({t: free.written}).xreplace({D: n}), free.variable)  # written may hold D (sigma_d)
    roots = [r for r in dict.fromkeys(at_n.real_roots()) if not r.is_Rational and _in_span(r, free.span)]
    if not roots:
        return free.variable
    root = min(roots, key=lambda r: (bool(r < 0), abs(r)))  # sqrt(2) rather than -sqrt(2)
    return free.written.xreplace({free.variable: root, D: n})


def _in_span(r: Expr, span: Span) -> bool:
    """The real algebraic number `r` lies in `span` (exact comparisons)."""
    if not span.direction:
        return True
    u = (r - Rational(span.start.numerator, span.start.denominator)) * span.direction
    if not (u > 0 or (span.closed and u == 0)):
        return False
    if span.length is None:
        return True
    length = Rational(span.length.numerator, span.length.denominator)
    return bool(u < length or (span.end_closed and u == length))


def _least_variable(t: Symbol, model, D: Symbol, premises: Premises) -> _Free | None:
    """`_free_variable` for `_least_plan`: a parameter of every real value, or a sum c * v**k with v real
    in dimension 1's block (not sigma_d: v > 0); None otherwise."""
    if model.sum_body(t) is None:
        interval = model.parameter_bounds.get(t)
        return _Free(t, Span(), t, t.name) if interval == Interval() else None
    free = _free_variable(t, model, D, premises)
    return free if free is not None and free.where == "first" and free.span == Span() else None


def _zero_point(residual: Expr, n: int, model) -> tuple[tuple[tuple[str, tuple[Fraction, ...]], ...], str]:
    """(blocks, their text) at D = `n`: every real variable of `residual` at 0 where its interval allows it
    (a sum's means or weights in every dimension, a parameter), where sums of squares and squares are
    least: the search's boundary instances at 20 dimensions do not reach that point (red team rt13:
    Sum(mu_d**2, (d, 1, D)) + b**2 + (D-20)**2 > 0 fails at D = 20 there only)."""
    from elbo_sym.engine.models.gaussian import PER_DIMENSION  # here: a cold check imports no other family

    names: set[str] = set()
    for t in residual.free_symbols - {model.dimension}:
        body = model.sum_body(t)
        if body is None:
            names.add(t.name)
            continue
        names.update(name[:-2] + str(j) for name in PER_DIMENSION if model.params[name] in body.free_symbols
                     for j in range(1, n + 1))
    zero = tuple(b for b in model.explicit(n).blocks
                 if b.name in names and b.kind == PARAMETER and b.bounds.contains(Fraction(0)))
    shown = sorted({b.name.rstrip("0123456789") + ("_d" if b.name[-1].isdigit() else "") for b in zero})
    return tuple((b.name, (Fraction(0),)) for b in zero), " = ".join(shown) + " = 0"


def _whole_number_plan(residual: Expr, rel: str, symbol: Symbol, least: int, model, premises: Premises) -> ExactPlan:
    """`exact_plan` for a whole-number parameter: the value where the step fails (alone, or with one
    free variable's value), searched at it; the values where a part in `symbol` alone vanishes or
    changes sign beyond those the search tries, searched at each (at most MAX_PINNED_VALUES); an
    error when such a value is left unsearched."""
    tried = {least + d for d in INTEGER_OFFSETS}
    allowed = _whole_range(symbol, least, model, premises)  # the values the premises allow (red team rt13)
    if allowed is None or (allowed[1] is not None and allowed[1] < allowed[0]):
        empty = next((e for e in empty_ranges(model) if e.name == symbol.name), None)
        if empty is not None:  # say what is true: no whole number satisfies them (rt33 F1)
            return ExactPlan(unreached=f"{empty.describe()}, so no instance satisfies the premises")
    if allowed is None:
        return ExactPlan(unreached=f"a premise restricts {symbol} otherwise than by a bound on {symbol} alone (or "
                                    f"cannot be read), so the exact decision in {symbol} does not apply; nothing "
                                    "failed where the search looked")
    least, upper = allowed
    if upper is not None and upper < least:  # no whole number allowed: the search reports no instance in the premises
        return ExactPlan()
    allowed_tried = {n for n in tried if least <= n and (upper is None or n <= upper)}
    where = f"the values the search tries ({symbol} = {', '.join(map(str, sorted(allowed_tried or tried)))}" + (
        "" if allowed_tried else ", none of which the premises allow") + ")"  # red team rt19: "(n = )"
    tried = allowed_tried
    found = first_failure(residual, symbol, rel, least)
    if found is not None and found.D is not None and upper is not None and found.D > upper:
        found = replace(found, D=None)
    if found is not None:
        if found.D is None:
            return _holds(_holds_note(found.residual, rel, symbol, (), least, upper), {symbol})
        return _failure(_fails(found.residual, symbol, found.D), symbol, found.D, "", (), dimension=False,
                        tried=found.D in tried, reach=where)
    free = _free_decision(residual, rel, symbol, least, model, premises)
    if free is not None:
        if free[0].D is not None and upper is not None and free[0].D > upper:
            free = (replace(free[0], D=None, t=None),) + free[1:]
        return _free_plan(free, residual, rel, symbol, least, dimension=False, upper=upper)
    changes = tuple(n for n in factor_sign_changes(residual, symbol, least) if upper is None or n <= upper)
    far = [n for n in changes if n not in tried][:MAX_PINNED_VALUES]
    why = f"where a part of left - right in {symbol} alone vanishes or changes sign"
    pins = tuple(Pin(None, ((symbol.name, (Fraction(n),)),), f"{symbol} = {n} ({why})") for n in far)
    unreached = _undecided(residual, symbol, model, changes, lambda n: n in tried or n in far, where)
    return ExactPlan(pins=pins, unreached=unreached)


@dataclass(frozen=True)
class _Free:
    """A variable t of a residual whose values are the same for every value of the whole number:
    t is `written` in a `variable` whose values are `span`; an instance gets the variable's value in
    `block` (a parameter's own block, or per dimension: `where` "first", the dimension-1 block and 0
    in the others, or "every", the same in each dimension's block)."""

    variable: Symbol
    span: Span
    written: Expr
    block: str
    where: str = "own"
    within: str = ""
    """The values the decision gave a parameter, for the report: its interval as the premises narrow it
    ("beta in (0, 1)"); "" for every real value (red team rt14: "every value of beta" read as beta = 2 too)."""
    narrowed: bool = False
    """The premises narrow the parameter's interval: the search's own samples of it mostly fall outside."""

    def values(self, t: Symbol) -> str:
        """What "every ..." ranges over in the report: ``beta in (0, 1)``, else ``value of t``."""
        return self.within or f"value of {t}"

    def blocks(self, n: int, value: Fraction) -> tuple[tuple[str, tuple[Fraction, ...]], ...]:
        """The blocks an instance gets for the variable's `value` at D = `n`."""
        if self.where == "own":
            return ((self.block, (value,)),)
        return tuple((f"{self.block}{j}", (value if j == 1 or self.where == "every" else Fraction(0),))
                     for j in range(1, n + 1))


def _free_decision(residual: Expr, rel: str, whole: Symbol, least: int, model, premises: Premises):
    """(`dimensions.decide_with_free`'s decision, the free variable t, its `_Free`) when left - right
    is a polynomial in the whole number `whole` and one variable t whose values are the same for
    every `whole` (`_free_variable`); None otherwise."""
    others = residual.free_symbols - {whole}
    if len(others) != 1:
        return None
    (t,) = others
    free = _free_variable(t, model, whole, premises)
    if free is None:
        return None
    decision = decide_with_free(residual.xreplace({t: free.written}), whole, free.variable, free.span, rel, least)
    return None if decision is None else (replace(decision, residual=str(residual)), t, free)


def _free_variable(t: Symbol, model, whole: Symbol, premises: Premises) -> _Free | None:
    """How the variable `t` of a residual ranges, the same for every value of `whole`: a sum over the
    dimensions of c * mu_d**k or c * w_d**k (k = 1, 2), which takes every value of c * v**k for a
    real v at every D (v in dimension 1, 0 in the others), or of c * sigma_d**k (c * D * v**k with
    every sigma_d = v > 0); or a parameter of the model (its interval).
    None for anything else (the search decides)."""
    if t == model.dimension:
        return None
    body = model.sum_body(t)
    if premises is None or any((whole in d.free_symbols and d.free_symbols != {whole})
                               or any(model.sum_body(s) is not None for s in d.free_symbols) for _, d in premises):
        return None  # the exact decision could name a failing value outside the premises: the search decides
    if body is not None and whole == model.dimension:
        from elbo_sym.engine.models.gaussian import PER_DIMENSION  # here: a cold check imports no other family

        for name in PER_DIMENSION:
            symbol = model.params[name]
            for k in (1, 2):
                c = (body / symbol**k).expand()
                if c.free_symbols or not c.is_Rational or c == 0:
                    continue
                block = name[:-2]  # mu_d -> mu1, mu2, ...
                if name == "sigma_d":
                    v = Symbol("v#", positive=True)
                    return _Free(v, Span(1, Fraction(0), False), c * whole * v**k, block, "every")
                v = Symbol("v#", real=True)
                return _Free(v, Span(), c * v**k, block, "first")
    if body is not None:
        return None
    interval = model.parameter_bounds.get(t)
    if interval is None or interval.integer:
        return None
    allowed = _within_premises(t, interval, premises)
    if allowed is None:
        return None
    within = "" if allowed == Interval() else allowed.describe(t.name) + (
        " (as the premises narrow it)" if allowed != interval else "")
    return _Free(t, _span(allowed), t, t.name, within=within, narrowed=allowed != model.parameter_bounds.get(t))


def _span(interval: Interval) -> Span:
    """The values of a real `interval` as a `Span` (start, direction, length, which ends are in)."""
    if interval.lower is not None and interval.upper is not None:
        width = interval.upper - interval.lower
        return Span(1, interval.lower, not interval.lower_open, width, not interval.upper_open)
    if interval.lower is not None:
        return Span(1, interval.lower, not interval.lower_open)
    if interval.upper is not None:
        return Span(-1, interval.upper, not interval.upper_open)
    return Span()


def _premise_differences(model) -> Premises:
    """(rel, left - right in the model's parameters) of each premise (``assume = ["mu >= 1"]``); None
    when one cannot be read so."""
    found = _readable_premises(model)
    return None if len(found) != len(premises_of(model)) else found


def _readable_premises(model, names: frozenset[str] | None = None) -> tuple[tuple[str, Expr], ...]:
    """(rel, left - right) of each premise that reads as one canonical form, leaving out the others
    (``q(z) != p(z | x)``); with `names`, only of those whose text names one of them."""
    return tuple((rel, d) for _, rel, d in _premises_read(model, names))


def _premises_read(model, names: frozenset[str] | None = None, *,
                   bounds_only: bool = False) -> tuple[tuple[Relation, str, Expr], ...]:
    """`_readable_premises` with each premise (the file's Relation, which knows its line) beside it; with
    `bounds_only`, only the premises that can bound a parameter (`premises.is_bound`: <=, >=, <, >), so a
    ``q(z) != p(z | x)`` is not put in canonical form where nothing would read it."""
    found = []
    for premise in premises_of(model):
        if bounds_only and not is_bound(premise):
            continue
        if names is not None and not names & {s.name for s in (premise.lhs.expr - premise.rhs.expr).free_symbols}:
            continue
        try:
            forms = residuals(difference(premise.lhs.expr, premise.rhs.expr), model)
        except (TooLarge, UnfoldError, ValueError, TypeError, ArithmeticError) as raised:
            reraise_callers(raised)
            continue
        if len(forms) == 1:
            found.append((premise, premise.rel, forms[0].as_expr()))
    return tuple(found)


def _whole_range(symbol: Symbol, least: int, model, premises: Premises) -> tuple[int, int | None] | None:
    """(least, most or None) whole-number value of `symbol` the premises allow, by their bounds on it alone
    (``n <= 30``); None when a premise mentions it any other way, or one that mentions it or might (one
    that cannot be read) cannot be read.  A [params] symbol is in a premise only where its text has it."""
    if not any(symbol.name in {s.name for s in (p.lhs.expr - p.rhs.expr).free_symbols} for p in premises_of(model)):
        return least, None
    if premises is None:
        return None
    allowed = _within_premises(symbol, Interval(Fraction(least), integer=True), premises)
    if allowed is None or allowed.lower is None:
        return None
    return _whole_ends(allowed)


def _whole_ends(allowed: Interval) -> tuple[int, int | None]:
    """(least, most or None) whole number in `allowed` (bounded below); least > most when there is none."""
    assert allowed.lower is not None
    low = ceil(allowed.lower) + (1 if allowed.lower_open and allowed.lower == ceil(allowed.lower) else 0)
    if allowed.upper is None:
        return low, None
    return low, floor(allowed.upper) - (1 if allowed.upper_open and allowed.upper == floor(allowed.upper) else 0)


def _within_premises(t: Symbol, interval: Interval, premises: Premises) -> Interval | None:
    """`interval` narrowed by the premises that bound t alone (a*t + c rel 0: ``mu >= 1``), so that the
    value the exact decision names satisfies them; None when a premise mentions t any other way (or none
    is left): the search decides (red team rt13: under mu >= 1, mu*((n-40)**2 + 1) >= 1 "failed at mu =
    -1")."""
    for rel, d in premises or ():
        if t not in d.free_symbols:
            continue
        if d.free_symbols != {t} or rel not in FLIPPED:
            return None
        try:
            poly = Poly(d, t, domain="QQ")
        except (BasePolynomialError, ValueError, TypeError) as raised:
            reraise_callers(raised)
            return None
        if poly.degree() != 1:
            return None
        a, c = (Fraction(int(k.p), int(k.q)) for k in poly.all_coeffs())
        bound, rel = -c / a, rel if a > 0 else FLIPPED[rel]
        if rel in (">=", ">") and (interval.lower is None or bound > interval.lower
                                   or (bound == interval.lower and rel == ">")):
            interval = replace(interval, lower=bound, lower_open=rel == ">")
        if rel in ("<=", "<") and (interval.upper is None or bound < interval.upper
                                   or (bound == interval.upper and rel == "<")):
            interval = replace(interval, upper=bound, upper_open=rel == "<")
    if interval.lower is not None and interval.upper is not None and (
            interval.lower > interval.upper
            or (interval.lower == interval.upper and (interval.lower_open or interval.upper_open))):
        return None
    return interval


def _free_plan(found, residual: Expr, rel: str, whole: Symbol, least: int, *, dimension: bool,
               upper: int | None = None) -> ExactPlan:
    """`exact_plan` from `_free_decision`'s answer: the step holds for every value (a note), or it
    fails first at `whole` = n with the free variable at a value (`_failure`: pinned, or left to the
    search first where it cannot be reached).  `dimension`: `whole` is D (else a whole-number
    parameter)."""
    decision, t, free = found
    if decision.D is None:
        note = _holds_note(decision.residual, rel, whole, (free.values(t),), least, upper)
        return _holds(note, {whole, t}, _inside_premises(free, whole, least, not dimension))
    n = decision.D
    fails = _fails(decision.residual, whole, n)
    if dimension and n > MAX_SEARCH_D:
        return _failure(fails, whole, n, "", (), dimension=True)
    if decision.t is None:  # a strict relation whose sides meet only where t is irrational
        root = _irrational_root(residual, t, free, whole, n)
        return _failure(fails, whole, n, f"{t} = {root}", None, dimension=dimension)
    at = free.written.xreplace({free.variable: decision.t, whole: n})
    return _failure(fails, whole, n, f"{t} = {at}", free.blocks(n, decision.t), dimension=dimension)


def _inside_premises(free: _Free, whole: Symbol, least: int, is_parameter: bool) -> tuple[Pin, ...]:
    """Instances with a parameter the premises narrow at points inside its range (at the least whole
    number), since the search's samples of the parameter mostly fall outside it (red team rt15: under
    ``mu > 1`` only 3 instances were decided, an error for a true step); none otherwise."""
    if not free.narrowed:
        return ()
    own = ((whole.name, (Fraction(least),)),) if is_parameter else ()
    return tuple(Pin(None if is_parameter else least, own + free.blocks(least, v),
                      f"{whole} = {least}, {free.variable} = {v} (inside the premises)") for v in _inside(free.span))


def _inside(span: Span) -> tuple[Fraction, ...]:
    """Four points inside a span that is not every real: 1/2, 1, 2 and 10 past its end, or 1/8, 3/8, 5/8
    and 7/8 of its length."""
    steps = (Fraction(1, 2), Fraction(1), Fraction(2), Fraction(10)) if span.length is None else \
        tuple(span.length * Fraction(k, 8) for k in range(1, 8, 2))
    return tuple(span.start + span.direction * u for u in steps if span.holds(u))


_PREMISE_PINS = ("premise pins",)
"""The key, in a model's sign memo, of its `premise_pins` (the model's spec holds its premises and [params])."""


def premise_pins(model) -> tuple[Pin, ...]:
    """`_premise_pins(model)`, made once per model: every step's plan (`exact_plan`) and the file's premise
    check (engine.check) ask for them, and reading them canonicalises every premise."""
    return remembered(model.sign_memo, _PREMISE_PINS, lambda: _premise_pins(model))


def _premise_pins(model) -> tuple[Pin, ...]:
    """Values inside the ranges the premises narrow, for instances of the plan's first model: each
    parameter that premises bound alone (``beta > 1``, ``n >= 35``: `_within_premises`, `_whole_range`)
    at four points of its narrowed range (a whole number at its least allowed value and 1, 2, 4 above it,
    up to its bound), every such parameter at once.  The search's own samples of such a parameter mostly
    fall outside (red team rt30: under ``t >= 5000`` none satisfied the premise, so a true step was an
    error and the premises were called unsatisfiable); none when no premise narrows a parameter."""
    if not any(is_bound(premise) for premise in premises_of(model)):
        return ()  # only a bound narrows a range; a != (read below with the bounds) only keeps one from narrowing
    premises = _readable_premises(model, frozenset(t.name for t in model.parameter_bounds))
    if not premises:
        return ()
    points: list[tuple[str, tuple[Fraction, ...]]] = []
    for t, interval in model.parameter_bounds.items():
        if interval.integer:
            if interval.lower is None:
                continue
            least = int(interval.lower)
            allowed = _whole_range(t, least, model, premises)
            if allowed is None or allowed == (least, None) or (allowed[1] is not None and allowed[1] < allowed[0]):
                continue
            low, high = allowed
            values = tuple(Fraction(low + d) for d in INTEGER_OFFSETS if high is None or low + d <= high)
        else:
            narrowed = _within_premises(t, interval, premises)
            if narrowed is None or narrowed == interval:
                continue
            values = _inside(_span(narrowed))
        if values:
            points.append((t.name, values))
    count = max((len(values) for _, values in points), default=0)
    pins = []
    for k in range(count):
        blocks = tuple((name, (values[min(k, len(values) - 1)],)) for name, values in points)
        shown = ", ".join(f"{name} = {value}" for name, (value,) in blocks)
        pins.append(Pin(None, blocks, f"{shown} (inside the premises)"))
    return tuple(pins)


@dataclass(frozen=True)
class EmptyRange:
    """Premises that bound one parameter alone (``n >= 35`` and ``n <= 34``; ``n > 3`` and ``n < 4`` for a
    whole number; ``beta > 3`` with beta declared in (0, 2)) and leave it no admissible value: no model
    satisfies the premises, whatever the others say (rt33 F1: it was worded "a premise restricts n otherwise
    than by a bound on n alone")."""

    name: str
    premises: tuple[tuple[str, int], ...]
    """(text, line) of each premise that bounds the parameter alone."""
    whole: bool
    declared: str = ""
    """The parameter's declared range ("beta in (0, 2)") when it takes part; "" when the premises alone
    leave no value."""

    def describe(self, path: str | None = None) -> str:
        """``the premises n >= 35 (t.toml:5) and n <= 34 (t.toml:5) leave no whole number n`` (a line
        alone, "line 5", without `path`)."""
        named = " and ".join(f"{text} ({f'{path}:{line}' if path else f'line {line}'})"
                             for text, line in self.premises)
        one = len(self.premises) == 1
        value = f"whole number {self.name}" if self.whole else f"value of {self.name}"
        within = f" in its declared range ({self.declared})" if self.declared else ""
        return f"the premise{'' if one else 's'} {named} leave{'s' if one else ''} no {value}{within}"


def empty_ranges(model) -> tuple[EmptyRange, ...]:
    """Each parameter whose bounds in the premises (those that bound it alone: a*t + c rel 0), with its
    declared range where that is needed, leave it no admissible value (`EmptyRange`); exact arithmetic
    on the bounds, so an empty range is certain.  A premise that mentions the parameter any other way
    can only narrow it further, so it is not needed to show the range empty."""
    read = _premises_read(model, frozenset(t.name for t in model.parameter_bounds), bounds_only=True)
    found = []
    for t, declared in model.parameter_bounds.items():
        bounding = tuple((premise, rel, d) for premise, rel, d in read if _bounds_alone(t, rel, d))
        if not bounding:
            continue
        bounds = tuple((rel, d) for _, rel, d in bounding)
        texts = tuple((premise_text(premise), premise.lhs.line) for premise, _, _ in bounding)
        if _leaves_none(t, Interval(integer=declared.integer), bounds):
            found.append(EmptyRange(t.name, texts, declared.integer))
        elif _leaves_none(t, declared, bounds):
            found.append(EmptyRange(t.name, texts, declared.integer, declared.describe(t.name)))
    return tuple(found)


def _bounds_alone(t: Symbol, rel: str, d: Expr) -> bool:
    """The premise ``d rel 0`` is a bound on t alone: d = a*t + c with rational a != 0 and c."""
    if d.free_symbols != {t} or rel not in FLIPPED:
        return False
    try:
        return Poly(d, t, domain="QQ").degree() == 1
    except (BasePolynomialError, ValueError, TypeError) as raised:
        reraise_callers(raised)
        return False


def _leaves_none(t: Symbol, interval: Interval, bounds: Premises) -> bool:
    """The bounds on t alone (`_bounds_alone`) leave no value of `interval` (no whole number in it, for a
    whole-number one)."""
    narrowed = _within_premises(t, interval, bounds)
    if narrowed is None:  # only bounds on t alone: None says the interval they leave is empty
        return True
    if not narrowed.integer or narrowed.lower is None or narrowed.upper is None:
        return False
    low, high = _whole_ends(narrowed)
    return high is not None and high < low


def _holds_note(residual: str, rel: str, whole: Symbol, free: tuple[str, ...], least: int = 1,
                upper: int | None = None) -> str:
    """What the exact decision says when it finds no value where the step fails: the proof's statement
    (`ExactProof`), and the search summary's note for a step whose rule is not `algebra` (it stays
    `checked`).  `free`: what each other variable ranged over ("value of mu", "beta in (0, 1)")."""
    every = (f"every whole number {whole} >= {least}" + (f" and <= {upper}" if upper is not None else "")
             + "".join(f" and every {values}" for values in free))
    return f"decided exactly: left - right = {residual} {rel} 0 for {every}"


def _alone_in(residual: Expr, symbol: Symbol, model) -> bool:
    """`residual` depends on the whole number `symbol` alone: its other symbols, if any, are atoms the
    canonical form made of expressions in `symbol` -- neither parameters, sums nor data, and naming it
    (``exp(D*log(2))`` for ``2**D``: red team rt9's ``2**D <= 5000``, false from D = 13, was `checked`)."""
    named = re.compile(rf"\b{re.escape(symbol.name)}\b")
    others = residual.free_symbols - {symbol}
    if not others:
        return symbol in residual.free_symbols
    return all(s not in model.parameter_bounds and model.sum_body(s) is None and s not in model.data_constants
               and named.search(s.name) for s in others)


def _undecided(residual: Expr, symbol: Symbol, model, changes: tuple[int, ...], reached, where: str) -> str | None:
    """Why a search that finds nothing has not decided the step, when the exact decision could not read
    the residual (`first_failure` gave None): it depends on the whole-number `symbol` alone (`_alone_in`),
    or a value in `changes` (where a part of it in `symbol` alone vanishes or changes sign) is not
    `reached`; None: every such value is."""
    if _alone_in(residual, symbol, model):
        # a function of the symbol alone that the exact decision cannot read (red team rt10:
        # `D**2 + 111 >= 21*D + 3*pi/4` fails at D = 10 and 11 only, between the D's searched)
        return (f"left - right = {residual} depends on {symbol} alone but is not a polynomial in {symbol} with "
                f"rational coefficients, so it is not decided for every {symbol}; nothing failed at {where}")
    beyond = [n for n in changes if not reached(n)]
    if not beyond:
        return None
    return (f"a part of left - right in {symbol} alone (a factor, or a coefficient) vanishes or changes sign at "
            f"{symbol} = {beyond[0]}, beyond {where}; nothing failed where the search looked")


__all__ = ["EXACT_RULE", "EmptyRange", "ExactPlan", "ExactProof", "Pin", "empty_ranges", "exact_plan"]
