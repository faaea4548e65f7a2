"""Worked examples of the lesson on a finite latent variable, exact to the last digit.

Given a prior p(z), a likelihood p(x | z) for one observed x, and a variational q(z),
all rational -- one :class:`elbo_sym.engine.models.base.Instance`, the engine's value
type for an instance of the model -- :func:`worked_example` (or :func:`example_of`)
computes every quantity of the lesson -- the joint, the evidence p(x), the posterior, the
ELBO term by term, the reconstruction term, the two KL divergences and the gap -- as exact
numbers ``r0 + sum_i c_i log(prime_i)``
(:class:`elbo_sym.numbers.exact.LogNumber`), and decides the lesson's three identities exactly:

* ``gap_is_kl``:       log p(x) - ELBO(q) = KL(q(z) || p(z | x))
* ``decomposition``:   ELBO(q) = E_q[log p(x | z)] - KL(q(z) || p(z))
* ``gap_nonnegative``: log p(x) - ELBO(q) >= 0, with equality exactly when q = p(z | x)

"What you print is what you checked": every quantity carries the formula of the lesson's
vocabulary it is the value of (``symbol``, parsed by :mod:`elbo_sym.engine.parse`, typeset by
:func:`elbo_sym.engine.notation.to_latex`), and by default each value is re-derived by the
engine -- ``DiscreteModel(K).unfold(symbol)`` at the instance -- and must agree exactly.
Its textbook working (``working``, e.g. 1/3 log(4/9) + 2/3 log(8/3)) is checked equal to
the value too, so none of the printed forms is a second, unchecked copy.

The evidence p(x) and the posterior p(z | x) come from ``Instance.evidence()`` and
``Instance.posterior()``: the one place they are computed for a concrete instance.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Any

from sympy import Add, Expr, Integer, Mul, Pow, Rational, S, log

from elbo_sym.engine.models.base import Instance
from elbo_sym.files import InputError
from elbo_sym.limits import MAX_EXAMPLE_K, MAX_EXAMPLE_NUMBER_CHARS, MAX_EXAMPLE_TERM, SHOWN_DIGITS
from elbo_sym.numbers.exact import EXACT_NUMBER, LogNumber, from_sympy, kl, log_of

__all__ = [
    "ExampleInputError",
    "ConsistencyError",
    "Quantity",
    "StateRow",
    "Identity",
    "WorkedExample",
    "worked_example",
    "example_of",
    "worked",
    "lesson_instance",
    "example_instance",
    "parse_probabilities",
    "gap_identity_holds",
    "format_example",
    "fraction_text",
    "QUANTITY_KEYS",
    "IDENTITY_KEYS",
]


QUANTITY_KEYS = ("evidence", "log_evidence", "elbo", "reconstruction", "kl_prior", "kl_posterior", "gap")
"""The per-example (not per-state) quantities, in the order of the lesson."""
IDENTITY_KEYS = ("gap_is_kl", "decomposition", "gap_nonnegative")


class ExampleInputError(InputError, ValueError):
    """Bad input for a worked example; the message is one line, fit for a terminal.  ``entry``: the
    position in its list of the value at fault (None: the list, or no list), so a file's error can point
    at that value, not at the list's ``[`` (rt44 F5)."""

    def __init__(self, message: str, entry: int | None = None) -> None:
        super().__init__(message)
        self.entry = entry


class ConsistencyError(AssertionError):
    """Two computations of the same quantity disagree: a bug, never an input problem."""


# --------------------------------------------------------------------------- formulas

# key -> (label, formula in the derivation vocabulary, kind)
_SPECS: dict[str, tuple[str, str, str]] = {
    "evidence": ("evidence p(x)", "p(x)", "probability"),
    "log_evidence": ("log-evidence log p(x)", "log(p(x))", "information"),
    "elbo": ("ELBO", "ELBO(q)", "information"),
    "reconstruction": ("reconstruction E_q[log p(x|z)]", "E(q, log(p(x | z)))", "information"),
    "kl_prior": ("KL to the prior", "KL(q(z), p(z))", "information"),
    "kl_posterior": ("KL to the posterior", "KL(q(z), p(z | x))", "information"),
    "gap": ("gap log p(x) - ELBO", "log(p(x)) - ELBO(q)", "information"),
    # per state z = k
    "prior": ("prior p(z)", "p(z)", "probability"),
    "likelihood": ("likelihood p(x|z)", "p(x | z)", "probability"),
    "q": ("variational q(z)", "q(z)", "probability"),
    "joint": ("joint p(x,z)", "p(x, z)", "probability"),
    "posterior": ("posterior p(z|x)", "p(z | x)", "probability"),
    "elbo_term": ("ELBO term", "q(z) * log(p(x, z) / q(z))", "information"),
}

_IDENTITY_SPECS: dict[str, tuple[str, str, str]] = {
    # key -> (name, relation in the vocabulary, side condition)
    "gap_is_kl": ("gap identity", "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))", ""),
    "decomposition": ("reconstruction minus KL", "ELBO(q) = E(q, log(p(x | z))) - KL(q(z), p(z))", ""),
    "gap_nonnegative": ("the bound and when it is tight", "log(p(x)) - ELBO(q) >= 0",
                        "with equality exactly when q(z) = p(z | x)"),
}


@lru_cache(maxsize=64)
def _notation(text: str) -> Expr:
    from elbo_sym.engine.parse import parse_expression

    return parse_expression(text)


@lru_cache(maxsize=16)
def _relation(text: str) -> tuple[Expr, str, Expr]:
    from elbo_sym.engine.derivation import split_relation

    parts = split_relation(text)
    assert parts is not None, text
    left, rel, right = parts
    return _notation(left), rel, _notation(right)


# --------------------------------------------------------------------------- dataclasses


def fraction_text(f: Fraction) -> str:
    """'3/4', '1' -- the text form used everywhere (CLI, JSON, handouts)."""
    return str(f)


def _rational(f: Fraction) -> Rational:
    return Rational(f.numerator, f.denominator)


@dataclass(frozen=True)
class Quantity:
    """One number of the lesson, with the notation it is the value of.

    ``key``      machine name: one of QUANTITY_KEYS, or prior/likelihood/q/joint/posterior/
                 elbo_term for a per-state quantity (then ``state`` is the value of z)
    ``label``    short human name ("KL to the posterior")
    ``formula``  the quantity in the derivation vocabulary ("KL(q(z), p(z | x))")
    ``symbol``   that formula parsed (notation objects): ``to_latex(symbol)`` prints its symbol
    ``exact``    canonical closed form, a SymPy expression (a Rational for probabilities,
                 else r0 + sum c_i log(p_i) with primes p_i, ``value.to_sympy()``)
    ``working``  the textbook working as an unevaluated SymPy expression, e.g.
                 1/3 log(4/9) + 2/3 log(8/3) (checked equal to ``value``)
    ``value``    the exact number, a LogNumber (== decides equality; signs certified)
    ``kind``     "probability" (a number in (0, 1]; no bits) or "information" (nats)
    ``state``    z = state for per-state quantities, else None
    """

    key: str
    label: str
    formula: str
    symbol: Expr
    exact: Expr
    working: Expr
    value: LogNumber
    kind: str
    state: int | None = None

    @property
    def is_information(self) -> bool:
        return self.kind == "information"

    @cached_property
    def nats(self) -> str:
        """The value correctly rounded to SHOWN_DIGITS decimals (nats for information, else the probability);
        a tiny non-zero value in scientific notation (LogNumber.shown), never 0."""
        return self.value.shown(SHOWN_DIGITS)

    @cached_property
    def bits(self) -> str | None:
        """The value in bits (divided by log 2), correctly rounded; None for probabilities."""
        return self.value.shown(SHOWN_DIGITS, bits=True) if self.is_information else None

    @cached_property
    def number(self) -> float:
        """The nearest float to the value (nats), certified."""
        return self.value.to_float()

    @cached_property
    def number_bits(self) -> float | None:
        return self.value.to_float(bits=True) if self.is_information else None

    @property
    def exact_text(self) -> str:
        """The exact value in SymPy syntax: '3/10', 'log(3)/2 - log(5) + 1/2' (deterministic)."""
        return str(self.value)

    @property
    def working_text(self) -> str:
        return _working_text(self.working)

    @cached_property
    def display(self) -> Expr:
        """``exact`` as an unevaluated sum ordered by prime, rational last (for printing)."""
        return _display(self.value)

    @property
    def latex(self) -> str:
        """LaTeX of the exact value (through the lesson's printer)."""
        from elbo_sym.engine.notation import to_latex

        return to_latex(self.display)

    @property
    def working_latex(self) -> str:
        from elbo_sym.engine.notation import to_latex

        return to_latex(self.working)

    @property
    def symbol_latex(self) -> str:
        from elbo_sym.engine.notation import to_latex

        return to_latex(self.symbol)

    def as_dict(self) -> dict[str, Any]:
        """JSON form: ``exact`` (SymPy string) and ``value`` (float, nats); ``bits`` for information."""
        out: dict[str, Any] = {"exact": self.exact_text, "value": self.number}
        if self.is_information:
            out["bits"] = self.number_bits
        return out


@dataclass(frozen=True)
class StateRow:
    """Everything about one latent state z = ``z``: inputs and per-state results."""

    z: int
    prior: Quantity
    likelihood: Quantity
    q: Quantity
    joint: Quantity
    posterior: Quantity
    elbo_term: Quantity

    @property
    def cells(self) -> tuple[Quantity, ...]:
        return (self.prior, self.likelihood, self.q, self.joint, self.posterior, self.elbo_term)


@dataclass(frozen=True)
class Identity:
    """One of the lesson's identities, decided exactly on this instance.

    ``verdict`` is "proved" when it holds exactly here (LogNumber equality / certified
    sign), "refuted" otherwise. ``lhs``/``rhs`` are notation (printable), ``lhs_value``/
    ``rhs_value`` their exact values at the instance.
    """

    key: str
    name: str
    formula: str
    lhs: Expr
    rel: str
    rhs: Expr
    lhs_value: LogNumber
    rhs_value: LogNumber
    verdict: str
    detail: str
    condition: str = ""

    @property
    def holds(self) -> bool:
        return self.verdict == "proved"

    @property
    def latex(self) -> str:
        from elbo_sym.engine.notation import relation_latex

        return relation_latex(self.lhs, self.rel, self.rhs)


@dataclass(frozen=True)
class WorkedExample:
    """A complete worked example: its instance, per-state rows, the quantities, the identities.

    ``instance`` holds the inputs (blocks prior, likelihood, q); ``prior``, ``likelihood``
    and ``q`` read them. Per-state quantities are in ``rows`` (and, as tuples, in ``joint``,
    ``posterior``, ``elbo_terms``). ``tight`` is True exactly when q = p(z | x).
    ``engine_checked`` is the number of quantities re-derived by unfolding their notation in
    ``DiscreteModel(K)`` (0 when built with ``cross_check=False``).
    """

    instance: Instance
    rows: tuple[StateRow, ...]
    evidence: Quantity
    log_evidence: Quantity
    elbo: Quantity
    reconstruction: Quantity
    kl_prior: Quantity
    kl_posterior: Quantity
    gap: Quantity
    identities: tuple[Identity, ...]
    tight: bool
    engine_checked: int = 0

    @property
    def K(self) -> int:
        return len(self.prior)

    @property
    def prior(self) -> tuple[Fraction, ...]:
        return self.instance.prior

    @property
    def likelihood(self) -> tuple[Fraction, ...]:
        return self.instance.likelihood()

    @property
    def q(self) -> tuple[Fraction, ...]:
        return _q_of(self.instance)

    @property
    def joint(self) -> tuple[Quantity, ...]:
        return tuple(r.joint for r in self.rows)

    @property
    def posterior(self) -> tuple[Quantity, ...]:
        return tuple(r.posterior for r in self.rows)

    @property
    def posterior_values(self) -> tuple[Fraction, ...]:
        """p(z | x) as exact Fractions (``Instance.posterior()``, which the rows print)."""
        return self.instance.posterior()

    @property
    def elbo_terms(self) -> tuple[Quantity, ...]:
        return tuple(r.elbo_term for r in self.rows)

    @property
    def quantities(self) -> tuple[Quantity, ...]:
        """The per-example quantities in QUANTITY_KEYS order (a table's rows)."""
        return tuple(getattr(self, key) for key in QUANTITY_KEYS)

    def quantity(self, key: str) -> Quantity:
        if key not in QUANTITY_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def identity(self, key: str) -> Identity:
        for identity in self.identities:
            if identity.key == key:
                return identity
        raise KeyError(key)

    @property
    def all_proved(self) -> bool:
        return all(i.holds for i in self.identities)

    @property
    def inputs_text(self) -> dict[str, list[str]]:
        return {"prior": [fraction_text(f) for f in self.prior],
                "likelihood": [fraction_text(f) for f in self.likelihood],
                "q": [fraction_text(f) for f in self.q]}

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (documented in the README): scalars are {exact, value[, bits]},
        per-state quantities are lists of such objects (index = z)."""
        out: dict[str, Any] = {"K": self.K, **self.inputs_text}
        for key in QUANTITY_KEYS:
            out[key] = getattr(self, key).as_dict()
        out["joint"] = [r.joint.as_dict() for r in self.rows]
        out["posterior"] = [r.posterior.as_dict() for r in self.rows]
        out["elbo_terms"] = [r.elbo_term.as_dict() for r in self.rows]
        out["tight"] = self.tight
        out["identities"] = {i.key: i.verdict for i in self.identities}
        return out

    # -- the engine's view -------------------------------------------------------------

    def engine_values(self) -> list[tuple[Quantity, LogNumber]]:
        """Each quantity re-derived by the engine: unfold its notation in DiscreteModel(K),
        substitute this instance, convert exactly. Independent of the arithmetic above."""
        from elbo_sym.engine.models.discrete import DiscreteModel

        model = DiscreteModel(self.K)
        model.validate(self.instance)
        values = {s: _rational(v) for s, v in model.values(self.instance).items()}
        out = []
        everything = list(self.quantities) + [cell for row in self.rows for cell in row.cells]
        for quantity in everything:
            unfolded = model.unfold(quantity.symbol, quantity.state)
            out.append((quantity, from_sympy(unfolded.xreplace(values))))
        return out

    def engine_check(self) -> int:
        """Raise ConsistencyError unless the engine agrees on every quantity; return how many."""
        checked = self.engine_values()
        for quantity, engine in checked:
            if engine != quantity.value:
                at = f" at z = {quantity.state}" if quantity.state is not None else ""
                raise ConsistencyError(f"{quantity.formula}{at}: computed {quantity.value}, "
                                       f"the engine's unfolding gives {engine}")
        return len(checked)


# --------------------------------------------------------------------------- input


_NUMBER = EXACT_NUMBER  # one syntax for exact numbers everywhere (signs are refused before)


def _parse_number(item: Any, name: str) -> Fraction:
    if isinstance(item, bool) or isinstance(item, float):
        raise ExampleInputError(f"{name}: {item!r} is not exact; write fractions like 3/4 or decimals like 0.25")
    if isinstance(item, int):
        f = Fraction(item)
    elif isinstance(item, Fraction):
        f = item
    elif isinstance(item, Rational):
        f = Fraction(int(item.p), int(item.q))
    elif isinstance(item, str):
        text = item.strip()
        if not text:
            raise ExampleInputError(f"{name}: empty value")
        shown = text if len(text) <= MAX_EXAMPLE_NUMBER_CHARS else text[:MAX_EXAMPLE_NUMBER_CHARS] + "..."
        if len(text) > MAX_EXAMPLE_NUMBER_CHARS:
            raise ExampleInputError(f"{name}: {shown!r} is too long for a probability")
        if text.startswith("-"):
            raise ExampleInputError(f"{name}: {shown!r} is negative, not a probability")
        if not _NUMBER.fullmatch(text):
            raise ExampleInputError(f"{name}: {shown!r} is not a number like 3/4 or 0.25")
        try:
            f = Fraction(text)
        except ZeroDivisionError:
            raise ExampleInputError(f"{name}: {shown!r} divides by zero") from None
    else:
        raise ExampleInputError(f"{name}: {type(item).__name__} is not an exact number")
    if f.numerator > MAX_EXAMPLE_TERM or f.denominator > MAX_EXAMPLE_TERM:
        raise ExampleInputError(f"{name}: {f} is too large (numerators and denominators up to {MAX_EXAMPLE_TERM})")
    return f


def parse_probabilities(value: str | Sequence[Any], name: str) -> tuple[Fraction, ...]:
    """'3/4,1/4' (or a sequence of ints, Fractions, strings) -> exact Fractions, each in (0, 1]."""
    if isinstance(value, str):
        if len(value) > MAX_EXAMPLE_NUMBER_CHARS * (MAX_EXAMPLE_K + 1):
            raise ExampleInputError(f"{name}: too long")
        items: Sequence[Any] = value.split(",")
    else:
        items = value
    if len(items) > MAX_EXAMPLE_K:
        raise ExampleInputError(f"{name}: {len(items)} values; at most {MAX_EXAMPLE_K} latent states")
    out = []
    for entry, item in enumerate(items):
        try:
            f = _parse_number(item, name)
        except ExampleInputError as error:
            raise ExampleInputError(str(error), entry) from None
        if f == 0:
            raise ExampleInputError(f"{name}: a probability of 0 is not allowed (every value must be > 0)", entry)
        if f > 1:
            raise ExampleInputError(f"{name}: {f} is not a probability (above 1)", entry)
        out.append(f)
    return tuple(out)


def lesson_instance(prior: Sequence[Any], likelihood: Sequence[Any], q: Sequence[Any] | None = None) -> Instance:
    """The lesson's p(z), p(x | z) and q(z) as one Instance (blocks prior, likelihood[, q]).

    Values are made exact (Fraction) but not validated; :func:`example_of` validates.
    Without ``q`` it is a model only: ``.posterior()`` gives the q of the tight case.
    """
    blocks = {"prior": prior, "likelihood": likelihood}
    if q is not None:
        blocks["q"] = q
    return Instance.of("example", **blocks)


def example_instance(prior: str | Sequence[Any], likelihood: str | Sequence[Any],
                     q: str | Sequence[Any]) -> Instance:
    """The validated Instance of a worked example (as :func:`worked_example` checks its input),
    without computing anything; ExampleInputError on bad input."""
    return _validate(prior, likelihood, q)


def _validate(prior, likelihood, q) -> Instance:
    prior = parse_probabilities(prior, "prior")
    likelihood = parse_probabilities(likelihood, "likelihood")
    q = parse_probabilities(q, "q")
    K = len(prior)
    if K < 2:
        raise ExampleInputError(f"prior: {K} value; the latent variable needs at least 2 states")
    for name, values in (("likelihood", likelihood), ("q", q)):
        if len(values) != K:
            raise ExampleInputError(f"{name} has {len(values)} values but the prior has {K} (one per state of z)")
    for name, values in (("prior", prior), ("q", q)):
        total = sum(values)
        if total != 1:
            raise ExampleInputError(f"{name} sums to {total}, not 1")
    return lesson_instance(prior, likelihood, q)


# --------------------------------------------------------------------------- building


def _ulog(f: Fraction) -> Expr:
    return log(_rational(f), evaluate=False)


def _umul(*args: Expr) -> Expr:
    return Mul(*args, evaluate=False)


def _uadd(*args: Expr) -> Expr:
    return args[0] if len(args) == 1 else Add(*args, evaluate=False)


def _q_log_sum(weights: Sequence[Fraction], ratios: Sequence[Fraction]) -> Expr:
    """sum_k w_k log(r_k), unevaluated: the working of an ELBO, a KL or an expectation."""
    return _uadd(*(_umul(_rational(w), _ulog(r)) for w, r in zip(weights, ratios)))


def _display(value: LogNumber) -> Expr:
    terms: list[Expr] = [log(Integer(p)) if c == 1 else _umul(_rational(c), log(Integer(p))) for p, c in value.logs]
    if value.rational or not terms:
        terms.append(_rational(value.rational))
    return _uadd(*terms)


def _working_text(e: Expr) -> str:
    from elbo_sym.engine.notation import to_text

    return to_text(e)


def _quantity(key: str, value: LogNumber, working: Expr, state: int | None = None) -> Quantity:
    label, formula, kind = _SPECS[key]
    exact = _rational(value.rational) if kind == "probability" else value.to_sympy()
    if kind == "probability" and not value.is_rational:
        raise ConsistencyError(f"{key} is not rational: {value}")
    if from_sympy(working) != value:
        raise ConsistencyError(f"{key}: the working {working} does not evaluate to {value}")
    return Quantity(key, label, formula, _notation(formula), exact, working, value, kind, state)


def _probability(key: str, f: Fraction, working: Expr | None = None, state: int | None = None) -> Quantity:
    return _quantity(key, LogNumber.of(f), working if working is not None else _rational(f), state)


def _q_of(instance: Instance) -> tuple[Fraction, ...]:
    """q(z) of an instance that has one (every instance :func:`_validate` builds does)."""
    q = instance.q()
    if q is None:
        raise ConsistencyError("the instance has no q block")
    return q


def _exact_parts(instance: Instance):
    """The core arithmetic (shared with the benchmark): all exact; evidence and posterior
    are the Instance's own."""
    joint = tuple(a * b for a, b in zip(instance.prior, instance.likelihood()))
    evidence = instance.evidence()
    posterior = instance.posterior()
    log_evidence = log_of(evidence)
    terms = tuple(log_of(j / w) * w for j, w in zip(joint, _q_of(instance)))
    elbo = sum(terms, LogNumber.of(0))
    return joint, evidence, posterior, log_evidence, terms, elbo


def gap_identity_holds(prior: Sequence[Fraction], likelihood: Sequence[Fraction], q: Sequence[Fraction]) -> bool:
    """log p(x) - ELBO(q) == KL(q || p(z | x)), decided exactly (the benchmark's unit of work).

    Inputs must already be valid Fractions (no validation here: this is the hot path).
    """
    instance = Instance((("prior", tuple(prior)), ("likelihood", tuple(likelihood)), ("q", tuple(q))))
    _, _, posterior, log_evidence, _, elbo = _exact_parts(instance)
    return log_evidence - elbo == kl(_q_of(instance), posterior)


def worked_example(prior: str | Sequence[Any], likelihood: str | Sequence[Any], q: str | Sequence[Any],
                   *, cross_check: bool = True) -> WorkedExample:
    """Every intermediate quantity of the lesson for one instance, exact, with the identities decided.

    ``prior`` and ``q`` are distributions over the K states of z (each value in (0, 1],
    summing to 1), ``likelihood`` gives p(x | z = k) in (0, 1] for the observed x. Values
    are exact: Fractions, ints, or strings like "3/4" / "0.25" (or one string "3/4,1/4").
    Raises ExampleInputError (one-line message) on bad input. With ``cross_check`` every
    quantity is re-derived by the engine (see WorkedExample.engine_check).
    """
    return _checked_build(_validate(prior, likelihood, q), cross_check)


def example_of(instance: Instance, *, cross_check: bool = True) -> WorkedExample:
    """:func:`worked_example` of an Instance with blocks prior, likelihood and q (validated alike)."""
    q = instance.q()
    if q is None:
        raise ExampleInputError("q: missing (the instance has no q block)")
    return _checked_build(_validate(instance.prior, instance.likelihood(), q), cross_check)


def worked(example: Instance | WorkedExample) -> WorkedExample:
    """The worked example of `example`: itself when it is one already (a project's, evaluated once
    when elbo-sym.toml is read), else :func:`example_of` it."""
    return example if isinstance(example, WorkedExample) else example_of(example)


def _checked_build(instance: Instance, cross_check: bool) -> WorkedExample:
    try:
        return _build(instance, cross_check)
    except (ValueError, ArithmeticError) as error:
        if isinstance(error, ExampleInputError):
            raise
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        if len(detail) > 100:
            detail = "an intermediate fraction exceeds 10**30 or has a prime factor above 10**12"
        raise ExampleInputError(f"numbers too large for exact arithmetic ({detail}); use smaller fractions") \
            from None


def _build(instance: Instance, cross_check: bool) -> WorkedExample:
    prior, likelihood, q = instance.prior, instance.likelihood(), _q_of(instance)
    K = len(prior)
    joint, evidence, posterior, log_evidence, terms, elbo = _exact_parts(instance)
    reconstruction = sum((log_of(l) * w for l, w in zip(likelihood, q)), LogNumber.of(0))
    kl_prior = kl(q, prior)
    kl_posterior = kl(q, posterior)
    gap = log_evidence - elbo

    joint_work = [_umul(_rational(a), _rational(b)) for a, b in zip(prior, likelihood)]
    evidence_work = _uadd(*joint_work)
    ratios = [j / w for j, w in zip(joint, q)]
    rows = tuple(
        StateRow(
            k,
            _probability("prior", prior[k], state=k),
            _probability("likelihood", likelihood[k], state=k),
            _probability("q", q[k], state=k),
            _probability("joint", joint[k], joint_work[k], k),
            _probability("posterior", posterior[k],
                         _umul(_rational(joint[k]), Pow(_rational(evidence), -1, evaluate=False)), k),
            _quantity("elbo_term", terms[k], _umul(_rational(q[k]), _ulog(ratios[k])), k),
        )
        for k in range(K)
    )
    elbo_work = _q_log_sum(q, ratios)
    log_evidence_work = _ulog(evidence)
    quantities = (
        _probability("evidence", evidence, evidence_work),
        _quantity("log_evidence", log_evidence, log_evidence_work),
        _quantity("elbo", elbo, elbo_work),
        _quantity("reconstruction", reconstruction, _q_log_sum(q, likelihood)),
        _quantity("kl_prior", kl_prior, _q_log_sum(q, [w / a for w, a in zip(q, prior)])),
        _quantity("kl_posterior", kl_posterior, _q_log_sum(q, [w / b for w, b in zip(q, posterior)])),
        _quantity("gap", gap, _uadd(log_evidence_work, _umul(S.NegativeOne, elbo_work))),
    )  # in QUANTITY_KEYS order, as WorkedExample's fields after ``rows``
    tight = tuple(q) == tuple(posterior)
    identities = _identities(log_evidence, elbo, reconstruction, kl_prior, kl_posterior, gap, tight)
    example = WorkedExample(instance, rows, *quantities, identities=identities, tight=tight)
    if cross_check:
        example = _replace_engine_checked(example, example.engine_check())
    return example


def _replace_engine_checked(example: WorkedExample, n: int) -> WorkedExample:
    from dataclasses import replace

    return replace(example, engine_checked=n)


def _identity(key: str, lhs_value: LogNumber, rhs_value: LogNumber, verdict: bool, detail: str) -> Identity:
    name, formula, condition = _IDENTITY_SPECS[key]
    lhs, rel, rhs = _relation(formula)
    return Identity(key, name, formula, lhs, rel, rhs, lhs_value, rhs_value,
                    "proved" if verdict else "refuted", detail, condition)


def _identities(log_evidence, elbo, reconstruction, kl_prior, kl_posterior, gap, tight) -> tuple[Identity, ...]:
    gap_lhs = log_evidence - elbo
    first = _identity("gap_is_kl", gap_lhs, kl_posterior, gap_lhs == kl_posterior,
                      f"both sides are exactly {kl_posterior}" if gap_lhs == kl_posterior
                      else f"left side {gap_lhs}, right side {kl_posterior}")
    decomposition = reconstruction - kl_prior
    second = _identity("decomposition", elbo, decomposition, elbo == decomposition,
                       f"both sides are exactly {elbo}" if elbo == decomposition
                       else f"left side {elbo}, right side {decomposition}")
    sign = gap.sign()
    zero_iff_tight = (sign == 0) == tight
    if sign == 0:
        detail = "the gap is exactly 0 and q(z) = p(z | x)" if tight else "the gap is 0 but q(z) != p(z | x)"
    elif sign > 0:
        detail = (f"the gap is ≈ {gap.shown(SHOWN_DIGITS)} > 0 (certified) and q(z) != p(z | x)" if not tight
                  else "the gap is > 0 although q(z) = p(z | x)")
    else:
        detail = f"the gap is negative: ≈ {gap.shown(SHOWN_DIGITS)}"
    third = _identity("gap_nonnegative", gap, LogNumber.of(0), sign >= 0 and zero_iff_tight, detail)
    return (first, second, third)


# --------------------------------------------------------------------------- text


def _vector(values: Sequence[Fraction]) -> str:
    return "(" + ", ".join(fraction_text(v) for v in values) + ")"


def _table(rows: list[list[str]], right: Container[int] = frozenset()) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        out.append("  " + "  ".join(cells).rstrip())
        if n == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return out


_MARK = {"proved": "✓", "refuted": "✗"}


def format_example(example: WorkedExample, title: str | None = None) -> str:
    """A readable report: inputs, a per-state table, the quantities (exact, nats, bits), identities."""
    from elbo_sym.engine.notation import to_text

    lines = [title or f"Worked example (K = {example.K})"]
    lines.append(f"  prior       p(z)     = {_vector(example.prior)}")
    lines.append(f"  likelihood  p(x | z) = {_vector(example.likelihood)}")
    lines.append(f"  variational q(z)     = {_vector(example.q)}")
    lines.append("")
    head = ["z", "p(z)", "p(x | z)", "q(z)", "p(x, z)", "p(z | x)", "q(z) log(p(x, z)/q(z))", "nats"]
    table = [head]
    for r in example.rows:
        table.append([str(r.z), r.prior.exact_text, r.likelihood.exact_text, r.q.exact_text, r.joint.exact_text,
                      r.posterior.exact_text, to_text(r.elbo_term.working), r.elbo_term.nats])
    lines += _table(table, right={7})
    lines.append("")
    table = [["quantity", "formula", "exact", "nats", "bits"]]
    for quantity in example.quantities:
        table.append([quantity.label, quantity.formula, quantity.exact_text, quantity.nats, quantity.bits or "-"])
    lines += _table(table, right={3, 4})
    lines.append("")
    lines.append("  working:")
    width = max(len(q.formula) for q in example.quantities)
    for quantity in example.quantities:
        lines.append(f"    {quantity.formula.ljust(width)} = {quantity.working_text}")
    lines.append("")
    lines.append("  identities (decided exactly on this instance):")
    for identity in example.identities:
        condition = f", {identity.condition}" if identity.condition else ""
        lines.append(f"    {_MARK[identity.verdict]} {identity.verdict:<8} {identity.formula}{condition}")
        lines.append(f"               {identity.detail}")
    if example.engine_checked:
        lines.append(f"  engine: all {example.engine_checked} values agree with unfolding their notation "
                     f"in the discrete model (K = {example.K})")
    return "\n".join(lines) + "\n"
