"""The two-layer chain's reference evaluator: explicit tables, every density by brute-force
marginalisation -- no Markov shortcuts, no unfolding.

The model z2 -> z1 -> x: a table J(z1, z2) = p(z2) p(z1 | z2) p(x | z1) (and the same table
without p(x | z1) when x is summed out); the variational table Q(z1, z2) = q(z1 | x) q(z2 | z1).
With T layers (``deeper``: one (p(z_{t-1} | z_t), q(z_t | z_{t-1})) pair per step t = 3..T) the
tables run over every assignment (z1, ..., zT) of the K**T.
Any density is a ratio of marginals of its table: p(A | B) = P(A u B) / P(B), P(S) = the
table summed over the latent layers not in S.  Binders: ``Sum(f, z1)`` and ``Sum(f, z2)`` sum
one layer (``Sum(f, z)`` both); ``E(d, f)``, ``KL(d, e)``, ``H(d)``, ``ELBO(d)`` sum over d's
layers.  A claim with a free layer is judged at every value of it.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from functools import cache

import sympy

from elbo_sym.engine.notation import (
    ELBO,
    IWAE,
    KL,
    LAYER_SYMBOLS,
    Density,
    Entropy,
    Expectation,
    LatentSum,
    to_text,
    z,
    z1,
    z2,
)
from elbo_sym.engine.reference import discrete as arith
from elbo_sym.engine.reference.discrete import MINUS_ONE, ONE, ZERO, JudgeError, Judgement, Undefined, outcome_of, show
from elbo_sym.engine.reference.rationals import Rational, named_rationals, rationals
from elbo_sym.limits import REFERENCE_EXTREME_EPSILON_DIGITS

LAYERS = LAYER_SYMBOLS
"""Every layer a chain may have (an instance uses the first T)."""


@dataclass(frozen=True)
class ChainInstance:
    """prior[k] = p(z2 = k), transition[k][j] = p(z1 = j | z2 = k), likelihood[j] = p(x | z1 = j),
    q[j] = q(z1 = j | x), q2[j][k] = q(z2 = k | z1 = j); the file's parameters."""

    name: str
    prior: tuple[Rational, ...]
    transition: tuple[tuple[Rational, ...], ...]
    likelihood: tuple[Rational, ...]
    q: tuple[Rational, ...]
    q2: tuple[tuple[Rational, ...], ...]
    observation: str = "x"
    params: tuple[tuple[str, Rational], ...] = ()
    deeper: tuple = ()
    """Per further step t = 3..T: (rows[k][j] = p(z_{t-1} = j | z_t = k), rows[j][k] = q(z_t = k | z_{t-1} = j))."""
    binders: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        """Numbers from outside (a caller's or a test's Fractions) as the judges' exact type (`rationals`)."""
        for name in ("prior", "likelihood", "q"):
            object.__setattr__(self, name, rationals(getattr(self, name)))
        for name in ("transition", "q2"):
            object.__setattr__(self, name, tuple(rationals(row) for row in getattr(self, name)))
        object.__setattr__(self, "params", named_rationals(self.params))
        object.__setattr__(self, "deeper", tuple((tuple(rationals(r) for r in p), tuple(rationals(r) for r in q))
                                                 for p, q in self.deeper))

    @property
    def K(self) -> int:
        return len(self.prior)

    @property
    def T(self) -> int:
        return 2 + len(self.deeper)

    @property
    def layers(self) -> tuple:
        return LAYERS[:self.T]

    def steps(self) -> list[tuple[int, tuple, tuple]]:
        """(t, p(z_{t-1} | z_t) rows, q(z_t | z_{t-1}) rows) for t = 2..T."""
        return [(2, self.transition, self.q2)] + [(t, p, q) for t, (p, q) in enumerate(self.deeper, start=3)]

    def describe(self) -> str:
        def v(t) -> str:
            return "(" + ", ".join(show(a) for a in t) + ")"
        parts = [f"p(z{self.T}) = {v(self.prior)}"]
        parts += [f"p(z{t - 1} | z{t}) = " + ", ".join(map(v, p)) for t, p, _ in self.steps()]
        parts += [f"p({self.observation} | z1) = {v(self.likelihood)}", f"q(z1) = {v(self.q)}"]
        parts += [f"q(z{t} | z{t - 1}) = " + ", ".join(map(v, q)) for t, _, q in self.steps()]
        parts += [f"{n} = {show(a)}" for n, a in self.params]
        return f"[{self.name}] " + "; ".join(parts)

    def table(self, name: str, with_x: bool) -> dict[tuple, Rational]:
        """The full table over (z1, ..., zT) of the model (name "p") or of q."""
        out = {}
        for a in itertools.product(range(self.K), repeat=self.T):
            if name == "q":
                value = self.q[a[0]]
                for t, _, q in self.steps():
                    value *= q[a[t - 2]][a[t - 1]]
            else:
                value = self.prior[a[self.T - 1]] * (self.likelihood[a[0]] if with_x else 1)
                for t, p, _ in self.steps():
                    value *= p[a[t - 1]][a[t - 2]]
            out[a] = value
        return out

    def marginal(self, name: str, over: frozenset, with_x: bool, point: dict) -> Rational:
        """The table summed over the layers not in `over`, the layers in it at `point`."""
        return self.marginal_at(name, with_x, tuple(point.get(v) if v in over else None for v in self.layers))

    def marginal_at(self, name: str, with_x: bool, at: tuple) -> Rational:
        """The table summed over the layers whose entry in `at` is None, the others at that value."""
        key = ("marginal", name, with_x, at)
        known = self.binders.get(key)
        if known is not None:
            return known
        table = self.binders.get((name, with_x))
        if table is None:
            table = self.binders[(name, with_x)] = self.table(name, with_x)
        fixed = [(i, want) for i, want in enumerate(at) if want is not None]
        total = ZERO
        for a, value in table.items():
            for i, want in fixed:
                if a[i] != want:
                    break
            else:  # every fixed layer at its value
                total += value
        self.binders[key] = total
        return total


_SHAPES: dict = {}


def _named(d: Density) -> tuple:
    """The variables and given variables a density names, each once, in order."""
    return tuple(dict.fromkeys((*d.variables, *d.given)))


def _density(d: Density, inst: ChainInstance, point: dict):
    """The density's value at the point, remembered per instance by the values of the point's
    layers the density names (it is a pure function of them): the sums and expectations of a
    step visit the same points many times."""
    shape = _SHAPES.get(id(d))  # remembered_by_identity's look-up, written out: asked at every point
    named = shape[1] if shape is not None and shape[0] is d else arith.remembered_by_identity(_SHAPES, d, _named)
    key = ("density", id(d), tuple(map(point.get, named)))
    known = inst.binders.get(key)
    if known is not None and known[0] is d:
        return known[1]
    plan = _plan_of(d, inst)
    value = _density_at(d, inst, point) if plan is None else _planned_density(d, plan, inst, point)
    if len(inst.binders) < 200_000:
        inst.binders[key] = (d, value)
    return value


@cache
def _observation_symbol(name: str) -> sympy.Symbol:
    """The observation's symbol (made once: a density asks for it at every point)."""
    return sympy.Symbol(name)


_ABSENT = object()
"""A key no point has: ``point.get(_ABSENT)`` is None (a layer a marginal sums over)."""


@dataclass(frozen=True)
class _Plan:
    """What `_density_at` reads off a density that passes its checks, made once per density (and
    chain shape): the layers the point must bind, and the marginals of the ratio -- each a table
    name, whether x is in it and, per layer, the layer (fixed at the point's value) or _ABSENT."""

    needed: frozenset
    numerator: tuple
    divisor: tuple


_PLANS: dict = {}


def _plan_of(d: Density, inst: ChainInstance) -> _Plan | None:
    """`_density_at`'s reading of `d` for chains with these layers and this observation, remembered
    by the density's identity and the chain's shape (a pure function of them); None when `d` fails a
    check that does not depend on the point (then `_density_at` runs and raises its error each time)."""
    plans = arith.remembered_by_identity(_PLANS, d, _no_plans)
    shape = (inst.layers, inst.observation)
    plan = plans.get(shape, _ABSENT)  # one look-up (hashing the layers' symbols is a Python call each)
    if plan is _ABSENT:
        plan = plans[shape] = _plan(d, *shape)
    return plan


def _no_plans(d: Density) -> dict:
    """A density's plans by chain shape (layers, observation), none made yet."""
    return {}


def _plan(d: Density, layers: tuple, observation: str) -> _Plan | None:
    obs = _observation_symbol(observation)
    variables, given = set(d.variables), set(d.given)
    if d.name not in ("p", "q") or not variables or any(v not in layers and v != obs for v in variables | given):
        return None
    if d.name == "q":
        if obs in variables:
            return None
        given = given - {obs}
        top, bottom = ("q", variables | given, False), ("q", given, False)
    else:
        top = ("p", (variables | given) - {obs}, obs in variables | given)
        bottom = ("p", given - {obs}, obs in given)

    def fixed(name: str, over: set, with_x: bool) -> tuple:
        return name, with_x, tuple(v if v in over else _ABSENT for v in layers)
    return _Plan(frozenset((set(d.variables) | set(d.given)) - {obs}), fixed(*top), fixed(*bottom))


def _planned_density(d: Density, plan: _Plan, inst: ChainInstance, point: dict):
    """`_density_at` by its plan: the same checks on the point, the same marginals, the same ratio."""
    for v in plan.needed:
        if point.get(v) is None:
            return _density_at(d, inst, point)  # raises its own error about the unbound layer
    name, with_x, keys = plan.numerator
    numerator = inst.marginal_at(name, with_x, tuple(map(point.get, keys)))
    name, with_x, keys = plan.divisor
    divisor = inst.marginal_at(name, with_x, tuple(map(point.get, keys)))
    if divisor == 0:
        raise Undefined(f"{d}: division by zero")
    return numerator / divisor


def _density_at(d: Density, inst: ChainInstance, point: dict):
    if d.name not in ("p", "q"):
        raise JudgeError(f"no density named {d.name} in the two-layer chain")
    obs = _observation_symbol(inst.observation)
    variables, given = set(d.variables), set(d.given)
    for v in variables | given:
        if v not in inst.layers and v != obs:
            raise JudgeError(f"{v} is not a variable of the chain")
    for v in (variables | given) - {obs}:
        if point.get(v) is None:
            raise JudgeError(f"{d} with {v} unbound")
    if not variables:
        raise JudgeError(f"{d} has no variable")
    if d.name == "q":
        if obs in variables:
            raise JudgeError("q is a distribution over the latent layers")
        given = given - {obs}
        numerator = inst.marginal("q", frozenset(variables | given), False, point)
        divisor = inst.marginal("q", frozenset(given), False, point)
    else:
        numerator = inst.marginal("p", frozenset((variables | given) - {obs}), obs in variables | given, point)
        divisor = inst.marginal("p", frozenset(given - {obs}), obs in given, point)
    if divisor == 0:
        raise Undefined(f"{d}: division by zero")
    return numerator / divisor


def _bound(d) -> tuple:
    if _is_derived(d):
        layers = free_layers(d)
        if not layers:
            raise JudgeError(f"{to_text(d)} is not a distribution over the latent layers")
        over = layers & _layers_of_densities(d)  # q(z2 | z1) * q(z3 | z2): over z2, z3 (z1 from outside)
        return tuple(v for v in LAYERS if v in (over or layers))
    if not isinstance(d, Density) or not d.variables or any(v not in LAYERS for v in d.variables):
        raise JudgeError(f"{d} is not a distribution over the latent layers")
    return tuple(dict.fromkeys(d.variables))


_BINDERS = (KL, Entropy, ELBO, IWAE)  # E over another layer may occur (a mean-field update)


def _is_derived(d) -> bool:
    """A derived distribution argument: an expression of densities (a product q(z1 | x) * q(z2 | x),
    a mixture), not one density."""
    return isinstance(d, sympy.Expr) and not isinstance(d, Density) and not d.has(*_BINDERS)


def _weights(d, inst: ChainInstance, point: dict) -> list:
    """The values of a distribution argument over its layers (the rest fixed by `point`); a derived
    one must be a distribution there -- every value > 0, summing to 1 -- or it is undefined."""
    points = list(_assignments(_bound(d), point, inst.K))
    if not _is_derived(d):
        return [(p, _density(d, inst, p)) for p in points]
    values = [(p, evaluate(d, inst, p)) for p in points]
    for p, v in values:
        if not arith._positive(v):
            raise Undefined(f"{to_text(d)} is not a distribution: its value is {show(v)} at {p}")
    total = arith._sum([v for _, v in values])
    if not arith._is_one(total):
        raise Undefined(f"{to_text(d)} is not a distribution: it sums to {show(total)}, not 1")
    return values


def _assignments(layers, point: dict, K: int):
    for values in itertools.product(range(K), repeat=len(layers)):
        yield {**point, **dict(zip(layers, values))}


def _layers_of_densities(e) -> frozenset:
    """Layers some density of `e` is a distribution over (left of |), or some sum in `e` binds."""
    if isinstance(e, Density):
        return frozenset(v for v in e.variables if v in LAYERS)
    found = frozenset(LAYERS if e.args[1] == z else {e.args[1]}) if isinstance(e, LatentSum) else frozenset()
    for a in getattr(e, "args", ()):
        found |= _layers_of_densities(a)
    return found


_FREE_LAYERS: dict = {}


def free_layers(e) -> frozenset:
    """The layers free in `e`, remembered by identity (a pure function of the expression, asked for
    at every instance of every step; an error is raised again, not remembered)."""
    return arith.remembered_by_identity(_FREE_LAYERS, e, _free_layers)


def _free_layers(e) -> frozenset:
    if isinstance(e, Density):
        return frozenset(v for v in (*e.variables, *e.given) if v in LAYERS)
    if isinstance(e, LatentSum):
        bound = set(LAYERS) if e.args[1] == z else {e.args[1]}
        return free_layers(e.args[0]) - bound
    if isinstance(e, Expectation):
        return (free_layers(e.args[0]) | free_layers(e.args[1])) - set(_bound(e.args[0]))
    if isinstance(e, (KL, Entropy, ELBO)):
        inner = frozenset().union(*(free_layers(a) for a in e.args if isinstance(a, Density) or _is_derived(a)))
        return inner - set(_bound(e.args[0]))
    if isinstance(e, sympy.Symbol) and e in LAYERS:
        raise JudgeError(f"{e} may only appear inside p(...) or q(...)")
    return frozenset().union(*(free_layers(a) for a in e.args)) if e.args else frozenset()


def evaluate(e, inst: ChainInstance, point: dict):
    """The value of `e` at the instance with the layers at `point`; Undefined where it has none.

    A compound expression's value (or its Undefined) is remembered per instance by the expression,
    the precision and the values of the layers free in it (it reads no other: sums and
    expectations set the layers they bind), with the work its evaluation counted: a repeat charges
    that count again, so the work budget stops where it stops without the memo (the count of an
    evaluation is a pure function of the same key).  The terms of a sum over z2 that do not
    depend on z2, and the parts both sides of a step share, are so evaluated once per instance."""
    if isinstance(e, (Density, sympy.Atom)):
        return _evaluate(e, inst, point)  # a leaf: cheap, no work counted (densities have their own memo)
    known = _VALUE_KEYS.get(id(e))  # remembered_by_identity's look-up, written out: a hot path
    keys = known[1] if known is not None and known[0] is e else _value_keys(e)
    if keys is None:  # a layer where only a density may name it: evaluated (and refused) afresh
        return _evaluate(e, inst, point)
    key = ("value", id(e), arith.PREC, tuple(map(point.get, keys)))
    known = inst.binders.get(key)
    if known is not None and known[0] is e:
        arith._spend(known[2])
        if isinstance(known[1], Undefined):
            raise known[1]
        return known[1]
    before = arith.work_spent()
    try:
        value = _evaluate(e, inst, point)
    except Undefined as error:
        _remember(inst, key, (e, error, arith.work_spent() - before))
        raise
    _remember(inst, key, (e, value, arith.work_spent() - before))
    return value


_VALUE_KEYS: dict = {}


def _value_keys(e) -> tuple | None:
    """Per layer: the layer when it is free in `e`, else _ABSENT (so that mapping a point's `get` over
    them gives the values `e` depends on); None when free_layers refuses `e`.  By identity."""
    return arith.remembered_by_identity(_VALUE_KEYS, e, _value_keys_of)


def _value_keys_of(e) -> tuple | None:
    try:
        free = free_layers(e)
    except JudgeError:
        return None
    return tuple(v if v in free else _ABSENT for v in LAYERS)


def _remember(inst: ChainInstance, key: tuple, entry: tuple) -> None:
    if len(inst.binders) < 200_000:
        inst.binders[key] = entry  # keyed by identity, e pinned


def _evaluate(e, inst: ChainInstance, point: dict):
    kind = type(e)  # the commonest nodes first (no branch below takes a sum or product before its own)
    if kind is sympy.Add:
        return arith._sum([evaluate(a, inst, point) for a in e.args])
    if kind is sympy.Mul:
        return arith._product([evaluate(a, inst, point) for a in e.args])
    if isinstance(e, Density):
        return _density(e, inst, point)
    if isinstance(e, LatentSum):
        layers = inst.layers if e.args[1] == z else (e.args[1],)
        if any(v not in inst.layers for v in layers):
            raise JudgeError(f"Sum over {e.args[1]}")
        return arith._sum([evaluate(e.args[0], inst, p) for p in _assignments(layers, point, inst.K)])
    if isinstance(e, Expectation):
        d, body = e.args
        return arith._sum([arith._product2(w, evaluate(body, inst, p)) for p, w in _weights(d, inst, point)])
    if isinstance(e, KL):
        a, b = e.args
        if _is_derived(b):
            _weights(b, inst, point)  # the second argument must be a distribution too

        def at(p: dict):
            return evaluate(b, inst, p) if _is_derived(b) else _density(b, inst, p)
        return arith._sum([_plogq(w, w, at(p)) for p, w in _weights(a, inst, point)])
    if isinstance(e, Entropy):
        (a,) = e.args
        terms = [_plogq(w, w, ONE) for _, w in _weights(a, inst, point)]
        return arith._product2(MINUS_ONE, arith._sum(terms))
    if isinstance(e, ELBO):
        a = e.args[0]
        joint = Density("p", (e.args[1], *_bound(a)))
        return arith._sum([_plogq(w, _density(joint, inst, p), w) for p, w in _weights(a, inst, point)])
    if isinstance(e, IWAE):
        raise JudgeError("IWAE is not defined for the two-layer chain")
    if isinstance(e, sympy.Rational):
        return Rational(int(e.p), int(e.q))
    if isinstance(e, sympy.Symbol):
        value = dict(inst.params).get(e.name)
        if value is None:
            raise JudgeError(f"no value for the name {e.name}")
        return value
    if isinstance(e, sympy.Add):
        return arith._sum([evaluate(a, inst, point) for a in e.args])
    if isinstance(e, sympy.Mul):
        return arith._product([evaluate(a, inst, point) for a in e.args])
    if isinstance(e, sympy.Pow):
        if not isinstance(e.exp, sympy.Integer):
            raise JudgeError(f"non-integer exponent in {e}")
        return arith._power(evaluate(e.base, inst, point), int(e.exp))
    if isinstance(e, sympy.log):
        return arith._log(evaluate(e.args[0], inst, point))
    if isinstance(e, sympy.exp):
        return arith._exp(evaluate(e.args[0], inst, point))
    raise JudgeError(f"the chain judge does not know {type(e).__name__}: {e}")


def _plogq(weight, top, bottom):
    """weight * log(top / bottom)."""
    return arith._product2(weight, arith._log(arith._product2(top, arith._power(bottom, -1))))


def instances(K: int, count: int, seed: int = 0, observation: str = "x",
              params: tuple[tuple[str, str], ...] = (), layers: int = 2) -> list[ChainInstance]:
    """`count` valid instances: random ones, q the exact posterior chain (tight), q = the prior
    chain, one probability 1e-6 in each block, a likelihood of 1 and of 1e-6.  With `layers` > 2
    each gets random further steps (the tight ones the posterior chain of the whole table)."""
    rng = random.Random(f"reference-chain-{K}-{seed}")
    tiny = Rational(1, 10**6)

    def dist() -> tuple[Rational, ...]:
        return arith._normalise([rng.randint(1, 97) for _ in range(K)])

    def rows() -> tuple[tuple[Rational, ...], ...]:
        return tuple(dist() for _ in range(K))

    def lik() -> tuple[Rational, ...]:
        return tuple(Rational(rng.randint(1, 100), 100) for _ in range(K))

    def edge(v: tuple[Rational, ...]) -> tuple[Rational, ...]:
        rest = sum(v[1:], ZERO)
        return (tiny,) + tuple(a * (1 - tiny) / rest for a in v[1:])

    def make(name, prior, transition, likelihood, q, q2) -> ChainInstance:
        return ChainInstance(name, prior, transition, likelihood, q, q2, observation)

    def tight(name, prior, transition, likelihood) -> ChainInstance:
        """q(z1 | x) = p(z1 | x), q(z2 | z1) = p(z2 | z1, x) = p(z2 | z1), from the table."""
        table = {(j, k): prior[k] * transition[k][j] * likelihood[j] for j in range(K) for k in range(K)}
        evidence = sum(table.values(), ZERO)
        q = tuple(sum((table[(j, k)] for k in range(K)), ZERO) / evidence for j in range(K))
        q2 = tuple(tuple(table[(j, k)] / (q[j] * evidence) for k in range(K)) for j in range(K))
        return make(name, prior, transition, likelihood, q, q2)

    prior, transition, likelihood = dist(), rows(), lik()
    out = [make("random 0", prior, transition, likelihood, dist(), rows()),
           tight("q = posterior (tight)", prior, transition, likelihood),
           make("q = prior chain", prior, transition, tuple(ONE for _ in range(K)),
                tuple(sum((prior[k] * transition[k][j] for k in range(K)), ZERO) for j in range(K)),
                tuple(tuple(prior[k] * transition[k][j] / sum((prior[m] * transition[m][j] for m in range(K)),
                                                              ZERO) for k in range(K)) for j in range(K))),
           make("random 1", dist(), rows(), lik(), dist(), rows()),
           make(f"p(z2)[0] = q(z1)[0] = {tiny}", edge(dist()), rows(), lik(), edge(dist()), rows()),
           make(f"p(z1 | z2 = 0)[0] = q(z2 | z1 = 0)[0] = {tiny}", dist(), (edge(dist()),) + rows()[1:],
                lik(), dist(), (edge(dist()),) + rows()[1:]),
           tight(f"l[0] = {tiny}, tight", dist(), rows(), (tiny,) + lik()[1:]),
           make("random 2", dist(), rows(), lik(), dist(), rows())]
    out = [_deepen(inst, layers, seed) for inst in out[:max(1, count)]]
    return _with_cycled_params(out, params)


def _with_cycled_params(out: list[ChainInstance], params: tuple[tuple[str, str], ...]) -> list[ChainInstance]:
    """Each instance with every parameter at one of its samples (`discrete.cycled_params`), each a new
    instance with its own memo of values (`binders`)."""
    samples = [(name, arith.parameter_samples(condition)) for name, condition in params]
    return [ChainInstance(inst.name, inst.prior, inst.transition, inst.likelihood, inst.q, inst.q2, inst.observation,
                          tuple(values), inst.deeper)
            for inst, values in zip(out, arith.cycled_params(len(out), samples))] if samples else out


def extreme_instances(K: int, observation: str = "x", params: tuple[tuple[str, str], ...] = (),
                      layers: int = 2) -> list[ChainInstance]:
    """Two instances at the distributions' extremes (red team rt16: the discrete family's second opinion
    agreed with steps false only near a vertex): the model's chain near one path of equal states (its top
    prior and every row p(z_{t-1} | z_t = k) near that state), q's chain near another, in both directions; the
    likelihood 1 at q's state and eps elsewhere.  eps = 10**-REFERENCE_EXTREME_EPSILON_DIGITS, never 0
    (every log a step takes stays defined); deterministic."""
    eps = Rational(1, 10**REFERENCE_EXTREME_EPSILON_DIGITS)

    def toward(at: int) -> tuple[tuple[Rational, ...], ...]:  # every row near state `at`
        return tuple(arith.near_vertex(K, at, eps) for _ in range(K))

    out = []
    for model_at, q_at in ((0, 1), (K - 1, 0)):
        p, q = toward(model_at), toward(q_at)
        out.append(ChainInstance(
            f"model near z = {model_at}, q near z = {q_at} (extremes, eps = 1e-{REFERENCE_EXTREME_EPSILON_DIGITS})",
            arith.near_vertex(K, model_at, eps), p, tuple(ONE if j == q_at else eps for j in range(K)),
            arith.near_vertex(K, q_at, eps), q, observation, (), tuple((p, q) for _ in range(3, layers + 1))))
    return _with_cycled_params(out, params)


def _deepen(inst: ChainInstance, layers: int, seed: int) -> ChainInstance:
    """The instance with steps t = 3..layers added (random tables; the tight instances and the
    prior chain get q = the posterior chain of the whole table, read off it by brute force)."""
    if layers <= 2:
        return inst
    K = inst.K
    rng = random.Random(f"reference-chain-deeper-{K}-{seed}-{layers}-{inst.name}")

    def rows() -> tuple[tuple[Rational, ...], ...]:
        return tuple(arith._normalise([rng.randint(1, 97) for _ in range(K)]) for _ in range(K))

    deeper = tuple((rows(), rows()) for _ in range(3, layers + 1))
    out = ChainInstance(inst.name, inst.prior, inst.transition, inst.likelihood, inst.q, inst.q2,
                        inst.observation, inst.params, deeper)
    if "tight" not in inst.name and "prior chain" not in inst.name:
        return out
    table = out.table("p", True)
    evidence = sum(table.values(), ZERO)

    def marginal(positions: tuple[int, ...], values: tuple[int, ...]) -> Rational:
        return sum((v for a, v in table.items() if all(a[i] == w for i, w in zip(positions, values))),
                   ZERO) / evidence

    q = tuple(marginal((0,), (j,)) for j in range(K))
    forward = {t: tuple(tuple(marginal((t - 2, t - 1), (j, k)) / marginal((t - 2,), (j,)) for k in range(K))
                        for j in range(K)) for t in range(2, layers + 1)}
    return ChainInstance(inst.name, inst.prior, inst.transition, inst.likelihood, q, forward[2], inst.observation,
                         inst.params, tuple((p, forward[t]) for t, (p, _) in enumerate(deeper, start=3)))


def is_valid(inst: ChainInstance, params: tuple[tuple[str, str], ...] = ()) -> bool:
    """Every block a distribution (p(z2), each p(z1 | z2 = k), q(z1 | x), each q(z2 | z1 = j)),
    the likelihood in (0, 1], each parameter inside its interval."""
    simplices = (inst.prior, inst.q, *(row for _, p, q in inst.steps() for row in (*p, *q)))
    if not all(len(rows) == inst.K for _, p, q in inst.steps() for rows in (p, q)):
        return False
    if not all(len(v) == inst.K and arith.is_simplex(v) for v in simplices):
        return False
    values = dict(inst.params)
    return all(0 < v <= 1 for v in inst.likelihood) and all(
        name in values and arith.parameter_contains(condition, values[name]) for name, condition in params)


def judge(lhs, rel: str, rhs, cases: list[ChainInstance], stop_at_first: bool = True) -> Judgement:
    """`lhs rel rhs` at every instance, at every value of the free layers."""
    free = sorted(free_layers(lhs) | free_layers(rhs), key=LAYERS.index)
    result = Judgement()
    for inst in cases:
        for point in _assignments(tuple(free), {}, inst.K):
            at = tuple(point.get(v) for v in LAYERS) if free else None
            outcome = outcome_of(inst, at, lhs, rel, rhs, evaluate, inst, point, refine=True,
                                 tolerance=arith.EXACT)  # a side valued
            # before (the step before's right side) is found in `evaluate`'s memo, its work charged again
            result.outcomes.append(outcome)
            if stop_at_first and not outcome.holds:
                return result
    return result


def premise_holds(lhs, rel: str, rhs, inst: ChainInstance, memo: dict | None = None) -> bool | None:
    """Whether the premise `lhs rel rhs` holds at the instance: True when shown (exactly, or
    beyond the tolerance), False when shown to fail or undefined, None when not decided.
    ``a != b``: the sides differ at some value of the free layers (two distributions over the
    layers are different distributions); an inequality: at every value of the free layers."""
    free = sorted(free_layers(lhs) | free_layers(rhs), key=LAYERS.index)
    signs: list[int | None] = []
    for point in _assignments(tuple(free), {}, inst.K):
        try:
            a, b = evaluate(lhs, inst, point), evaluate(rhs, inst, point)
        except Undefined:
            return False
        signs.append(arith.sign_of_difference(a, b))
    return arith.signs_verdict(rel, signs)


__all__ = ["ChainInstance", "instances", "judge", "premise_holds", "evaluate", "free_layers", "z1", "z2"]
