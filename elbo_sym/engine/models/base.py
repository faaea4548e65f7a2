"""What every model family provides, the one `Instance` value type, and the registry.

A family turns the lesson's notation into expressions in its parameters and describes
those parameters as *blocks* -- a distribution over z (a simplex), a vector of
likelihoods in (0, 1], a real parameter in an interval.  Everything the engine does
beyond unfolding is written against blocks, so a new family is one module:

* proofs use ``unfold``, ``points``, ``latent_sum``, ``positive_symbols``, ``simplices``,
  ``elimination`` (the constraints as substitutions) and ``parameter_bounds``;
* the counterexample search draws instances block by block (``blocks``), adds the
  family's own special cases (``special_instances``) and evaluates ``values(instance)``
  -- on explicit models (`ExplicitModel`; ``search_models()``, ``explicit(K)``);
* reports and handouts say what was proved with ``describe()``.

``register(name, factory)`` makes a family available as ``model = "name"`` in files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property, lru_cache
from math import ceil
from typing import Protocol, TypeVar

from sympy import Add, Expr, Rational, Symbol, preorder_traversal

from elbo_sym.engine.notation import (
    LAYER_SYMBOLS,
    RELATION_LATEX,
    Density,
    Limit,
    limit_distribution,
    to_latex,
    to_text,
    x,
    z,
)
from elbo_sym.failures import reraise_callers
from elbo_sym.limits import INTEGER_OFFSETS

# --------------------------------------------------------------------------- parameters



@dataclass(frozen=True)
class Spelling:
    """How an :class:`Interval` is written as a statement about a parameter: in the file syntax
    (text) or through the printer (LaTeX); the formats take ``name``, ``left``, ``lower``, ``upper``,
    ``right`` and ``next``."""

    number: Callable[[Fraction], str]
    relation: dict[str, str]
    interval: str
    whole: str
    real: str


TEXT_SPELLING = Spelling(str, {r: r for r in (">", ">=", "<", "<=")}, "{name} in {left}{lower}, {upper}{right}",
                         "{name} >= {lower} (a whole number)", "{name} real")
LATEX_SPELLING = Spelling(lambda v: to_latex(Rational(v.numerator, v.denominator)), RELATION_LATEX,
                          r"{name} \in \left{left}{lower},\ {upper}\right{right}",
                          r"{name} \in \{{{lower}, {next}, \dots\}}", r"{name} \in \mathbb{{R}}")


@dataclass(frozen=True)
class Interval:
    """Where a real parameter lives: ``lower``/``upper`` (None: unbounded), open or closed."""

    lower: Fraction | None = None
    upper: Fraction | None = None
    lower_open: bool = False
    upper_open: bool = False
    integer: bool = False
    """A whole number (``k = "integer >= 1"``: IWAE's number of samples), bounded below."""

    def contains(self, v: Fraction) -> bool:
        if self.integer and Fraction(v).denominator != 1:
            return False
        if self.lower is not None and (v < self.lower or (self.lower_open and v == self.lower)):
            return False
        if self.upper is not None and (v > self.upper or (self.upper_open and v == self.upper)):
            return False
        return True

    @property
    def positive(self) -> bool:
        """Every value is > 0."""
        return self.lower is not None and (self.lower > 0 or (self.lower == 0 and self.lower_open))

    @property
    def negative(self) -> bool:
        return self.upper is not None and (self.upper < 0 or (self.upper == 0 and self.upper_open))

    def describe(self, name: str) -> str:
        """``beta in [0, 1]``, ``beta >= 1``, ``k >= 1 (a whole number)``, ``beta real``."""
        return self.spelled(name, TEXT_SPELLING)

    def latex(self, name: str) -> str:
        """:meth:`describe` through the printer: ``\\beta \\in [0, 1]``, ``k \\in \\{1, 2, \\dots\\}``
        (`name`: the parameter's LaTeX)."""
        return self.spelled(name, LATEX_SPELLING)

    def spelled(self, name: str, spelling: Spelling) -> str:
        """The interval as a statement about `name`, in `spelling`'s notation."""
        number = spelling.number
        if self.integer and self.lower is not None:
            first = ceil(self.lower)
            return spelling.whole.format(name=name, lower=number(Fraction(first)), next=number(Fraction(first + 1)))
        if self.lower is not None and self.upper is not None:
            return spelling.interval.format(name=name, left="(" if self.lower_open else "[", lower=number(self.lower),
                                            upper=number(self.upper), right=")" if self.upper_open else "]")
        if self.lower is not None:
            return f"{name} {spelling.relation['>' if self.lower_open else '>=']} {number(self.lower)}"
        if self.upper is not None:
            return f"{name} {spelling.relation['<' if self.upper_open else '<=']} {number(self.upper)}"
        return spelling.real.format(name=name)

    def samples(self) -> tuple[Fraction, ...]:
        """Values for the counterexample search: the bounds (or just inside), the middle, far out.
        Remembered per interval (the search asks at every random instance); the bounds' types are
        part of the key, so an int bound and an equal Fraction bound never share an answer."""
        return _samples(self, type(self.lower).__name__, type(self.upper).__name__)


@lru_cache(maxsize=256)
def _samples(interval: Interval, *bound_types: str) -> tuple[Fraction, ...]:
    """Interval.samples (`bound_types`: only a key)."""
    if interval.integer and interval.lower is not None:  # small whole numbers: K**k terms stay countable
        return tuple(interval.lower + d for d in INTEGER_OFFSETS)
    out: list[Fraction] = []
    lo, hi = interval.lower, interval.upper
    tiny = Fraction(1, 10**9)
    if lo is not None and hi is not None:
        width = hi - lo
        out += [lo + width * Fraction(k, 8) for k in range(1, 8)]
        out += [lo + width * tiny, hi - width * tiny]
        if not interval.lower_open:
            out.append(lo)
        if not interval.upper_open:
            out.append(hi)
    elif lo is not None:
        out += [lo + d for d in (Fraction(1, 2), Fraction(1), Fraction(3), Fraction(10), Fraction(1000),
                                 tiny, Fraction(10**9))]
        if not interval.lower_open:
            out.append(lo)
    elif hi is not None:
        out += [hi - d for d in (Fraction(1, 2), Fraction(1), Fraction(3), Fraction(10), Fraction(1000),
                                 tiny, Fraction(10**9))]
        if not interval.upper_open:
            out.append(hi)
    else:
        out += [Fraction(v) for v in (0, 1, -1, Fraction(1, 2), Fraction(-1, 2), 3, -3, 1000, -1000)]
    return tuple(dict.fromkeys(v for v in out if interval.contains(v)))


@dataclass(frozen=True)
class Parameter:
    """A parameter declared in ``[params]`` (e.g. ``beta = ">= 1"``): a real symbol and its interval."""

    name: str
    interval: Interval

    @property
    def symbol(self) -> Symbol:
        if self.interval.positive:
            return Symbol(self.name, positive=True)
        if self.interval.negative:
            return Symbol(self.name, negative=True)
        return Symbol(self.name, real=True)

    def describe(self) -> str:
        return self.interval.describe(self.name)

    def latex(self) -> str:
        """:meth:`describe` through the printer (the name as the printer writes the symbol)."""
        return self.interval.latex(to_latex(Symbol(self.name)))


# --------------------------------------------------------------------------- blocks and instances

SIMPLEX, UNIT, PARAMETER = "simplex", "unit", "parameter"
DATA_BLOCK = "p_data"
"""The block of the data distribution p_data(x1), ..., p_data(xn) (a simplex over the observations)."""


@dataclass(frozen=True)
class Block:
    """A group of parameters an instance gives together.

    ``kind``: SIMPLEX (positive, summing to 1), UNIT (each in (0, 1]) or PARAMETER (one
    real value in ``interval``).  ``label`` is how reports name it: "p(z)", "p(x1 | z)",
    "q(z | x1)", "beta".
    """

    name: str
    label: str
    kind: str
    symbols: tuple[Symbol, ...]
    interval: Interval | None = None

    @property
    def bounds(self) -> Interval:
        """The interval of a PARAMETER block (the other kinds have none)."""
        if self.interval is None:
            raise TypeError(f"block {self.name!r} ({self.kind}) has no interval")
        return self.interval


@dataclass(frozen=True)
class Instance:
    """Exact values for a model's blocks: ``(("prior", (1/2, 1/2)), ("beta", (2,)), ...)``.

    One value type for examples, counterexamples and the search, in every family.
    """

    blocks: tuple[tuple[str, tuple[Fraction, ...]], ...]
    source: str = "instance"

    @classmethod
    def of(cls, source: str = "instance", **blocks: Sequence) -> Instance:
        return cls(tuple((name, tuple(Fraction(v) for v in values)) for name, values in blocks.items()), source)

    def __getitem__(self, name: str) -> tuple[Fraction, ...]:
        return self._by_name[name]

    @cached_property
    def _by_name(self) -> dict[str, tuple[Fraction, ...]]:
        """The blocks by name, the first of each name: the search reads every block of instances
        with hundreds of them (471 at K = 233 over a data space), a scan each time was quadratic."""
        return dict(reversed(self.blocks))

    def get(self, name: str, default=None):
        try:
            return self[name]
        except KeyError as raised:
            reraise_callers(raised)
            return default

    def with_block(self, name: str, values: Sequence, source: str | None = None) -> Instance:
        return self.with_blocks({name: values}, source)

    def with_blocks(self, replaced: Mapping[str, Sequence], source: str | None = None) -> Instance:
        """The instance with these blocks' values replaced (or added, in the mapping's order): what
        with_block one block after the other gives, in one copy (the search makes tens of thousands)."""
        new = {name: tuple(v if type(v) is Fraction else Fraction(v) for v in values)
               for name, values in replaced.items()}
        blocks = tuple((k, new.get(k, v)) for k, v in self.blocks)
        blocks += tuple((name, values) for name, values in new.items() if name not in self._by_name)
        return Instance(blocks, source if source is not None else self.source)

    def key(self) -> tuple:
        return self.blocks

    @property
    def prior(self) -> tuple[Fraction, ...]:
        return self["prior"]

    def likelihood(self, observation: str = "x") -> tuple[Fraction, ...]:
        return self[likelihood_block(observation)]

    def q(self, observation: str = "x") -> tuple[Fraction, ...] | None:
        return self.get(q_block(observation))

    def evidence(self, observation: str = "x") -> Fraction:
        """p(x) = sum_k p(z = k) p(x | z = k)."""
        return sum((a * b for a, b in zip(self.prior, self.likelihood(observation))), Fraction(0))

    def posterior(self, observation: str = "x") -> tuple[Fraction, ...]:
        """p(z | x) by Bayes' rule, exactly (the one place it is computed for instances)."""
        evidence = self.evidence(observation)
        return tuple(a * b / evidence for a, b in zip(self.prior, self.likelihood(observation)))


def likelihood_column_block(k: int, index: str | None = None) -> str:
    """The block of p(x | z = k) over the data space (a normalised likelihood), k from 0; with
    `index`, p(x | z = k; theta) of the model with that parameter."""
    return f"likelihood[z={k}]" if index is None else f"likelihood[z={k}; {index}]"


def likelihood_block(observation: str = "x") -> str:
    return "likelihood" if observation == "x" else f"likelihood[{observation}]"


def q_block(observation: str = "x") -> str:
    return "q" if observation == "x" else f"q[{observation}]"


def variational_block(name: str, observation: str = "x") -> str:
    """The block of a variational distribution beside q: "r", "r[x1]", "q_star"."""
    return name if observation == "x" else f"{name}[{observation}]"


def prior_block(index: str) -> str:
    """The prior table of the model with parameter `index`: "prior[theta]"."""
    return f"prior[{index}]"


def indexed_likelihood_block(observation: str, index: str) -> str:
    """The likelihood table of an observation under parameter `index`: "likelihood[theta]",
    "likelihood[x1; theta]"."""
    return f"likelihood[{index}]" if observation == "x" else f"likelihood[{observation}; {index}]"


# --------------------------------------------------------------------------- distributions


@dataclass(frozen=True)
class Distribution:
    """One distribution block of a model, in the model's parameters: what well-formedness asks.

    A discrete block gives its value at each point of the model (``values``: each > 0, summing
    to 1 over the points); a Gaussian block gives its ``variance`` (> 0).  ``label`` is the
    author's notation ("q(z | x2)", "p(z1 | z2 = 0)").  ``assumption`` is the text of the
    assumption that fixes (or feeds) the block; None for a block the family builds from its
    own free parameters, which is a distribution by construction (the tests check every
    family's construction once; the checker re-checks only what an assumption can break).
    """

    label: str
    values: tuple[Expr, ...] = ()
    variance: Expr | None = None
    assumption: str | None = None
    total: Expr | None = None
    """The sum (or integral) of the values over the support, when it is not their plain sum
    (``K = "any"``: the one value at the generic point, summed by the family's laws)."""

    @property
    def gaussian(self) -> bool:
        return self.variance is not None

    @property
    def mass(self) -> Expr:
        return self.total if self.total is not None else Add(*self.values)


def q_label(observation: str, observations: Sequence[str]) -> str:
    """How the author writes an observation's q: "q(z)" with one observation, "q(z | x2)" with several."""
    return "q(z)" if len(observations) == 1 else f"q(z | {observation})"


def symbol_legend(observations: Sequence[str], point: str, at: str, evidence: bool) -> str:
    """What the unfolded symbols of each observation stand for, named as the models name them
    (``l_z = p(x|z), q_z = q(z)`` for x; ``l_x1_z = p(x1|z), q_x1_z = q(z | x1)`` for x1): `point`
    is the symbols' suffix (``z``, ``k``), `at` the value of z (``z``, ``z=k``); `evidence` adds
    ``p_x = p(x)`` (rt26: a two-observation file's legend named only q_z and p_x)."""
    parts = []
    for o in observations:
        middle = "" if o == "x" else f"{o}_"
        q = q_label(o, observations).replace("q(z", f"q({at}", 1)
        parts += [f"l_{middle}{point} = p({o}|{at})", f"q_{middle}{point} = {q}"]
        if evidence:
            parts.append(f"p_{o} = p({o})")
    return ", ".join(parts)


# --------------------------------------------------------------------------- the interface


@dataclass(frozen=True)
class ModelSpec:
    """Everything a file says about its model: family, K, observations, parameters, assumptions."""

    family: str = "discrete"
    K: int | str = 2
    data: tuple[str, ...] = ("x",)
    params: tuple[Parameter, ...] = ()
    assumptions: tuple = field(default=())
    """Relations ``q(z | x) = <expression>`` (elbo_sym.engine.derivation.Relation)."""
    D: int | str = 1
    """Dimensions of a real latent z (the Gaussian family's diagonal version; "any": every D; 1 elsewhere)."""
    premises: tuple = field(default=())
    """Relations that restrict the domain (``ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)``,
    ``q(z) != p(z | x)``): a step is proved on the models satisfying every premise
    (elbo_sym.engine.premises).  The families never read them; the checker, the rules and the
    reference evaluator do."""
    layers: int = 2
    """Latent layers of the chain family (``latents = ["z1", "z2", "z3"]``: 3); 2 elsewhere."""
    layered: bool = False
    """The file names its latent layers (``latents = [...]``): the Gaussian family's chain of
    Gaussian layers (elbo_sym.engine.models.gaussian_chain); the chain family is always layered."""
    data_weights: bool = False
    """The file uses the data distribution ``p_data(x1)``: positive weights of the observations
    summing to 1 (the block :data:`DATA_BLOCK`, a simplex over the data points)."""
    data_space: bool = False
    """The observations are all the values x takes (``data_space = ["x1", "x2"]``): the likelihood
    is normalised, p(x1 | z) + ... + p(xn | z) = 1 for every z (one simplex block per latent state,
    :func:`likelihood_column_block`)."""
    variationals: tuple[str, ...] = ()
    """Variational distributions beside q the file uses ("r", "q_star"): each free, its own
    distribution over z per observation, drawn independently of q."""
    indices: tuple[str, ...] = ()
    """Parameters that index the model (``p(x | z; theta)``): each names its own prior and
    likelihood tables, arbitrary and independent (engine.notation.Index)."""


@dataclass(frozen=True)
class Unfolding:
    """How a family's unfolding reads, in `elbo-sym explain`: the line above the unfolded sides
    (what each parameter means) and the line above their canonical forms (what the reduction uses)."""

    unfolded: str
    canonical: str


LOG_ATOMS = "logs split into atoms, log(f) meaning log|f|"
"""What every family's canonical forms do to logs (the end of `Unfolding.canonical`)."""


class Model(Protocol):
    """The interface every family implements (see the module docstring).

    A family whose model is not itself explicit (``K = "any"``) is searched through
    ``search_models()`` / ``explicit(K)``, which give `ExplicitModel`s.
    """

    @property
    def spec(self) -> ModelSpec: ...

    @property
    def K(self) -> int | str: ...

    @property
    def observations(self) -> tuple[str, ...]: ...

    @property
    def points(self) -> Sequence: ...

    @property
    def parameters(self) -> tuple[Symbol, ...]: ...

    @property
    def positive_symbols(self) -> frozenset[Symbol]: ...

    @property
    def simplices(self) -> tuple[tuple[Symbol, ...], ...]: ...

    @property
    def elimination(self) -> dict: ...

    @property
    def parameter_bounds(self) -> dict[Symbol, Interval]: ...

    @property
    def data_constants(self) -> frozenset[Symbol]:
        """The data distribution's weights (z-free, >= 0; none unless the file uses p_data)."""
        ...

    @property
    def sign_memo(self) -> dict: ...

    @property
    def assumed(self) -> dict[str, tuple[Expr, ...]]:
        """Per observation, q as an assumption fixes it (values per point, or a Gaussian's
        mean and variance); observations whose q is free are not in it.  There is no "the" q:
        code that needs q asks for one observation's."""
        ...

    def distributions(self) -> tuple[Distribution, ...]:
        """Every distribution block of the model (each observation's q, each layer, each
        variance, the derived ones), for the well-formedness check (engine.wellformed)."""
        ...

    def assumption_problem(self) -> str | None:
        """What is wrong with the assumptions beyond well-formedness (a family's own rule), or None."""
        ...

    def distribution_shown(self, d: Expr) -> bool | None:
        """Whether the notation `d` is shown to be a distribution over z; None: decide it from
        its values at the points (the default)."""
        ...

    def distribution_parameters(self, d: Expr) -> tuple[Expr, ...] | None:
        """Parameters that determine the distribution `d` over z: two distributions of the family
        are the same distribution exactly when these agree (a premise ``a != b`` compares them);
        None: compare the values at each point (the default)."""
        ...

    def divisors(self, d: Density, point) -> tuple[Expr, ...] | None:
        """The divisors a density's value has (definedness obligations: each != 0); None: the
        engine's default (p(z | x) divides by p(x))."""
        ...

    def iwae_terms(self, e) -> list[tuple[Expr, tuple[Expr, ...]]] | None:
        """IWAE(q, k) as weighted tuples of ratios; None when the family has no IWAE."""
        ...

    def limit_of(self, e: Expr) -> Expr:
        """The value a theorem certifies for the limit `e` here (engine.notation.limit_value); an
        error when there is none -- an uncertified limit has no value, not an opaque one."""
        ...

    def pin_draw(self, body: Expr, draw: Symbol, point) -> Expr:
        """`body` with another draw of z (bound by ``Sum(f, w)``) at the `point`-th point: its
        densities q(w), p(x, w) replaced by their values there (IWAE's draws written out)."""
        ...

    def density_witness(self, expr: Expr, kind: str) -> str | None:
        """Density values at a point under which a definedness obligation fails although it holds
        for every finite K (K = "any": q(z) = 2 for log(-log(q(z)))), in the author's names; None."""
        ...

    def convention_text(self) -> str:
        """The convention a `proved` of this family holds under, beyond its domain ("" for none):
        K = "any" families state that, for densities, a step holds wherever its integrals are
        finite (engine.models.general.INTEGRABILITY_CONVENTION)."""
        ...

    def dimension_bodies(self, e) -> tuple[Expr, ...]:
        """The terms of a sum over the dimensions ``Sum(f, (d, 1, D))``, one per dimension (the
        generic dimension's f alone when D is "any"): what definedness walks."""
        ...

    def domain_text(self) -> str:
        """The domain every `proved` is about, in words."""
        ...

    def variational(self, observation: str) -> Density:
        """An observation's q as the author writes it: q(z), q(z | x2), q(z1, z2 | x)."""
        ...

    def assumed_label(self, observation: str) -> str:
        """How reports name the values of `assumed[observation]`: "q(z | x2)" (one per point)."""
        ...

    def point_text(self, k: int) -> str:
        """The latent values of the k-th of `points`, as a counterexample names them: "z = 1",
        or each layer's value in a chain ("z1 = 0, z2 = 1")."""
        ...

    def density(self, d: Density, k) -> Expr: ...

    def unfold(self, e: Expr, point=None) -> Expr: ...

    def unfold_pointwise(self, e: Expr) -> tuple[Expr, ...]: ...

    def latent_sum(self, values: Sequence[Expr]) -> Expr: ...

    def describe(self) -> str: ...

    def describe_unfolding(self) -> Unfolding:
        """What the unfolded sides' parameters mean and what their canonical forms use, in this family's
        own symbols (`elbo-sym explain` prints it)."""
        ...

    def search_models(self) -> tuple[ExplicitModel, ...]: ...

    def no_densities(self) -> str:
        """Why ``search_models()`` holds no density model, for a family whose domain includes densities: the
        words after "no densities (the domain includes densities, but" in a searched step's note."""
        ...

    @property
    def dimension(self) -> Symbol | None:
        """The number of dimensions a model for every number of dimensions is about (the Gaussian
        ``D = "any"``'s D, a whole number >= 1: engine.dimensions decides a residual in it alone);
        None for the others."""
        ...

    def explicit(self, K: int) -> ExplicitModel: ...

    def sum_body(self, atom: Symbol) -> Expr | None:
        """The body f of an atom ``Sum(f, (d, 1, D))`` of this model's canonical forms (the Gaussian
        ``D = "any"``'s sums over the dimensions); None when `atom` is not one."""
        ...


class ExplicitModel(Model, Protocol):
    """A model with finitely many states given by blocks: what the counterexample search and
    examples work on."""

    @property
    def K(self) -> int: ...

    @property
    def blocks(self) -> tuple[Block, ...]: ...

    def values(self, instance: Instance) -> dict[Symbol, Fraction]: ...

    def special_instances(self, base: Instance) -> list[Instance]: ...

    def planned_instances(self, base: Instance) -> list[Instance]: ...

    def validate(self, instance: Instance) -> None: ...


class _HasBlocks(Protocol):
    @property
    def blocks(self) -> tuple[Block, ...]: ...

    @property
    def spec(self) -> ModelSpec: ...


NO_GAUSSIAN_FORM = "no model of the Gaussian family has this file's form"
"""Why a K = "any" search met no density, when the family names no more precise reason (Model.no_densities)."""


class ModelDefaults:
    """The defaults of the `Model` interface's optional parts (a base class of every family):
    a family overrides what it has, so the interface says everything a family may provide."""

    spec: ModelSpec

    def no_densities(self) -> str:
        """A family that knows no more says only that no Gaussian model has the file's form."""
        return NO_GAUSSIAN_FORM

    @property
    def simplices(self) -> tuple[tuple[Symbol, ...], ...]:
        """No constraint blocks (BlockInstances derives them from its blocks): only structural
        signs hold, as for every latent space or every Gaussian dimension."""
        return ()

    @cached_property
    def elimination(self) -> dict:
        return {}

    @cached_property
    def sign_memo(self) -> dict:
        return {}

    @property
    def assumed(self) -> dict[str, tuple[Expr, ...]]:
        return {}

    @cached_property
    def params(self) -> dict[str, Symbol]:
        """The file's [params] by name (a family with its own parameters adds them)."""
        return {p.name: p.symbol for p in self.spec.params}

    @cached_property
    def parameter_bounds(self) -> dict[Symbol, Interval]:
        return {p.symbol: p.interval for p in self.spec.params}

    def distributions(self) -> tuple[Distribution, ...]:
        return ()

    def assumption_problem(self) -> str | None:
        return None

    def distribution_shown(self, d: Expr) -> bool | None:
        return None

    def distribution_parameters(self, d: Expr) -> tuple[Expr, ...] | None:
        return None

    def divisors(self, d: Density, point) -> tuple[Expr, ...] | None:
        return None

    def iwae_terms(self, e) -> list[tuple[Expr, tuple[Expr, ...]]] | None:
        return None

    def limit_of(self, e: Expr) -> Expr:
        raise ValueError("a limit(...) is taken only in the one-layer discrete family (explicit K or K = \"any\")")

    def pin_draw(self, body: Expr, draw: Symbol, point) -> Expr:
        raise ValueError(f"this family has no sums over another draw of z (Sum(f, {draw}))")

    def convention_text(self) -> str:
        return ""

    @property
    def dimension(self) -> Symbol | None:
        return None

    def sum_body(self, atom: Symbol) -> Expr | None:
        return None

    def density_witness(self, expr: Expr, kind: str) -> str | None:
        return None

    def planned_instances(self, base: Instance) -> list[Instance]:
        """Further special cases tried once per step, after the seeded random instances (not beside
        every boundary combination, as ``special_instances`` are): none unless the family has some."""
        return []

    def dimension_bodies(self, e) -> tuple[Expr, ...]:
        return (e.body,)

    def point_text(self, k: int) -> str:
        """The latent values of the k-th of `points`, as a counterexample names them ("z = 1")."""
        return f"z = {k}"

    def describe_unfolding(self) -> Unfolding:
        """Plain words for a family that says nothing of its own (each family of the package does)."""
        return Unfolding("unfolded into the model's parameters:", f"canonical forms ({LOG_ATOMS}):")

    def assumed_label(self, observation: str) -> str:
        return q_label(observation, self.spec.data)

    @cached_property
    def data_weights(self) -> dict[str, Symbol]:
        """p_data(o) of each observation when the file uses the data distribution (only the
        one-layer discrete families admit it): one positive symbol per data point, summing to 1
        (a simplex block of the explicit models, so every constraint mechanism -- elimination,
        sign certificates, the search's corners -- treats it like the prior)."""
        if not self.spec.data_weights:
            return {}
        return {o: Symbol(f"p_data({o})", positive=True) for o in self.spec.data}

    @property
    def data_constants(self) -> frozenset[Symbol]:
        """Symbols constant in z besides the [params]: the data distribution's weights
        p_data(x1), ... (a Jensen pair or a KL may be scaled by them: they are >= 0)."""
        return frozenset(self.data_weights.values())

    def variational(self, observation: str) -> Density:
        if len(self.spec.data) == 1:
            return Density("q", (z,))
        return Density("q", (z,), (x if observation == "x" else Symbol(observation),))

    def domain_text(self) -> str:
        """Latent states, p(z), and per observation its likelihood and q (free, or as assumed)."""
        spec = self.spec
        states = "K = any (every latent space: any finite K, or densities)" if spec.K == "any" else \
            f"K = {spec.K} latent states"
        fixed = {assumption_observation(a): f"{a.lhs.text} = {a.rhs.text} (assumed)" for a in spec.assumptions}
        if spec.indices:
            parts = [states] + [f"p(z | {t}) > 0 with sum 1 and "
                                + decoder_text(spec.data, f"; {t}", spec.data_space, spec.K == "any")
                                for t in spec.indices]
            parts.append("the tables of each parameter value arbitrary and independent")
        else:
            parts = [states, "p(z) > 0 with sum 1"] + ([decoder_text(spec.data, "", spec.data_space, True)]
                                                        if spec.data_space or spec.K == "any" else
                                                        [f"p({o} | z) in (0, 1]" for o in spec.data])
        for o in spec.data:
            parts.append(fixed.get(o) or f"{q_label(o, spec.data)} > 0 with sum 1")
        if spec.data_weights:
            parts.append(f"p_data({', '.join(spec.data)}) > 0 with sum 1")
        for name in spec.variationals:
            parts += [q_label(o, spec.data).replace("q(", f"{name}(", 1) + " > 0 with sum 1 (free, independent of q)"
                      for o in spec.data]
        parts += [p.describe() for p in spec.params]
        return "; ".join(parts)


def decoder_text(data: Sequence[str], index: str, data_space: bool, any_k: bool = False) -> str:
    """The likelihoods' domain in words: each in (0, 1], or over a data space a distribution over
    the observations at every z.  `index`: "" or "; theta" (a parameterised model's).  With `any_k`
    (``K = "any"``, whose models include densities) a likelihood may be a density value above 1: "in
    (0, 1]" made `log(p(x)) <= 0` look true, which a density refutes (red team rt47 F8)."""
    likelihoods = [f"p({o} | z{index})" for o in data]
    if data_space:
        return f"{', '.join(likelihoods)} > 0 with {' + '.join(likelihoods)} = 1 at every z (the data space)"
    if any_k:
        return ", ".join(likelihoods) + " > 0 (a probability in (0, 1] for a finite K, a density value otherwise)"
    return ", ".join(likelihoods) + " in (0, 1]"


def assumption_observation(relation) -> str:
    """The observation whose q an assumption fixes: "q(z | x2) = ..." -> "x2", "q(z) = ..." -> "x"
    (the loader admits only assumptions whose left side is a q density)."""
    given = relation.lhs.expr.given
    return given[0].name if given else "x"


def limit_moves(e: Limit, spec: ModelSpec) -> str | None:
    """Why no theorem gives the limit `e` its value here when the distribution it averages over moves
    with the limit's variable -- written with it, or fixed by an assumption that names it (q(z) =
    alpha*p(z) + (1 - alpha)*p(z | x)); None when it stays fixed.  Li and Turner's and Burda et al.'s
    limits (notation.limit_value) hold for a fixed q: with a moving q the Renyi bound tends to the
    ELBO of q at alpha = 1, not to ELBO(q) at the file's alpha (red team rt11).  Refusing is the
    sound choice: the limit of q need not exist, and the convergence argument needs a fixed q."""
    q = limit_distribution(e)
    if q is None:
        return None
    name, point = e.variable.name, to_text(e.point)
    if name in {s.name for s in q.free_symbols}:
        return f"{to_text(q)} depends on {name}, the limit's variable: the theorem holds for a q that stays " \
               f"fixed as {name} -> {point}"
    written = [d for d in preorder_traversal(q) if isinstance(d, Density) and d.name == "q"]
    for r in spec.assumptions:
        if name in {s.name for s in r.rhs.expr.free_symbols} and any(_may_fix(r, d) for d in written):
            return f"the assumption {to_text(r.lhs.expr)} = {to_text(r.rhs.expr)} makes {to_text(q)} depend on " \
                   f"{name}, the limit's variable: the theorem holds for a q that stays fixed as {name} -> {point}"
    return None


def _may_fix(assumption, density: Density) -> bool:
    """The assumption may fix this q: the same observation, or either names none (q(z) is the only q)."""
    given, fixed = density.given, assumption.lhs.expr.given
    return not given or not fixed or given[0].name == fixed[0].name


_Made = TypeVar("_Made")


def remembered(memo: dict, key, make: Callable[[], _Made]) -> _Made:
    """memo[key], made by make() the first time (a family's memo of unfolded forms: the same
    sub-expressions recur from step to step)."""
    known = memo.get(key)
    if known is None:
        known = memo[key] = make()
    return known


class ChainLayers:
    """The layers of a chain family (a mixin of the discrete, general and Gaussian chains): T =
    spec.layers latent layers z1 (next to x), ..., zT (the top), in the order of an assignment."""

    spec: ModelSpec

    @property
    def T(self) -> int:
        return self.spec.layers

    @cached_property
    def layers(self) -> tuple[Symbol, ...]:
        """z1 (next to x), ..., zT (the top), in the order of an assignment."""
        return LAYER_SYMBOLS[:self.T]


class BlockInstances(ModelDefaults):
    """What every explicit family does the same way with its blocks (a mixin): it is its own
    search model, reads an instance's values block by block, and checks its domain."""

    def search_models(self) -> tuple:
        return (self,)

    @cached_property
    def parameters(self: _HasBlocks) -> tuple[Symbol, ...]:
        return tuple(s for b in self.blocks for s in b.symbols)

    @cached_property
    def positive_symbols(self: _HasBlocks) -> frozenset[Symbol]:
        """The parameters that are > 0 on the whole domain (every probability; a real
        parameter whose interval says so)."""
        return frozenset(s for b in self.blocks for s in b.symbols if b.kind != PARAMETER or b.bounds.positive)

    @cached_property
    def simplices(self: _HasBlocks) -> tuple[tuple[Symbol, ...], ...]:
        """Groups of parameters that sum to 1 (the sign certificates homogenise each)."""
        return tuple(b.symbols for b in self.blocks if b.kind == SIMPLEX)

    @cached_property
    def elimination(self: _HasBlocks) -> dict[Symbol, Expr]:
        """The linear constraints as substitutions: the last probability = 1 - the others."""
        simplices = (b.symbols for b in self.blocks if b.kind == SIMPLEX)
        return {group[-1]: 1 - Add(*group[:-1]) for group in simplices}

    @cached_property
    def sign_memo(self) -> dict:
        """Certified signs per expression (elbo_sym.engine.definedness), shared by every step."""
        return {}

    def values(self: _HasBlocks, instance: Instance) -> dict[Symbol, Fraction]:
        return block_values(self.blocks, instance)

    def validate(self: _HasBlocks, instance: Instance) -> None:
        validate_blocks(self.blocks, instance)


# --------------------------------------------------------------------------- registry

_FAMILIES: dict[str, Callable[[ModelSpec], Model]] = {}


def register(name: str, factory: Callable[[ModelSpec], Model]) -> None:
    """Make a family available as ``model = "name"``."""
    _FAMILIES[name] = factory


def families() -> tuple[str, ...]:
    return tuple(sorted(_FAMILIES))


def build(spec: ModelSpec) -> Model:
    """The model a file's spec asks for (KeyError for an unknown family)."""
    return _FAMILIES[spec.family](spec)


def block_values(blocks: Iterable[Block], instance: Instance) -> dict[Symbol, Fraction]:
    """An instance's values per symbol, block by block."""
    out: dict[Symbol, Fraction] = {}
    for block in blocks:
        values = instance[block.name]
        if len(values) != len(block.symbols):
            raise ValueError(f"{block.label} has {len(values)} values; the model needs {len(block.symbols)}")
        out.update(zip(block.symbols, values))
    return out


class BlockValueError(ValueError):
    """A value of a block outside its domain, and which one (0-based ``position`` in the block's list): an
    example's error names that value's place in the file, not its list's (red team rt47 err/e4: the caret of
    a likelihood of 3/2 was under the list that holds it)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


def validate_blocks(blocks: Iterable[Block], instance: Instance) -> None:
    """ValueError unless the instance is in the domain: simplices positive with sum 1, likelihoods
    in (0, 1], parameters in their intervals (:class:`BlockValueError` naming the first value that is not,
    when one value is at fault; a sum that is not 1 is the whole list's)."""
    for block in blocks:
        try:
            values = instance[block.name]
        except KeyError as raised:
            reraise_callers(raised)
            raise ValueError(f"no values for {block.name} ({block.label})") from None
        if len(values) != len(block.symbols):
            if block.kind == PARAMETER:
                raise ValueError(f"{block.name} takes one value")
            raise ValueError(f"{block.name} has {len(values)} values; the model has K = {len(block.symbols)} states")
        if block.kind == SIMPLEX:
            bad = next((k for k, v in enumerate(values) if v <= 0), None)
            if bad is not None:
                raise BlockValueError(f"{block.name} has a probability <= 0: {', '.join(map(str, values))}", bad)
            if sum(values) != 1:
                raise ValueError(f"{block.name} sums to {sum(values)}, not 1")
        elif block.kind == UNIT:
            bad = next((k for k, v in enumerate(values) if v <= 0 or v > 1), None)
            if bad is not None:
                raise BlockValueError(f"{block.name} values p(x | z = k) must lie in (0, 1]", bad)
        elif block.kind == PARAMETER:
            if not block.bounds.contains(values[0]):
                raise ValueError(f"{block.label} = {values[0]} is outside {block.bounds.describe(block.label)}")


__all__ = ["BlockInstances", "ModelDefaults", "Distribution", "q_label", "assumption_observation", "Interval",
           "Parameter", "Block", "Instance", "ModelSpec", "Model", "ExplicitModel",
           "register", "build", "families", "block_values", "validate_blocks", "BlockValueError", "likelihood_block",
           "q_block", "likelihood_column_block", "variational_block", "prior_block", "indexed_likelihood_block",
           "SIMPLEX", "UNIT", "PARAMETER", "DATA_BLOCK", "Unfolding", "LOG_ATOMS"]
