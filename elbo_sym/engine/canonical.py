"""Domain-aware canonical forms: deciding `lhs = rhs` on the model's domain.

An unfolded expression is written as a polynomial in *log atoms* with coefficients that
are rational functions of the parameters::

    sum over monomials m of  c_m(pi, l, q) * prod(log f for f in m)

Each log argument is split into its factors, the linear constraints (sum pi = 1,
sum q = 1) are substituted, and every factor is reduced to a primitive polynomial with a
sign fixed (so log|f| is the atom and equal atoms are equal keys).  Coefficients are
reduced modulo the same constraints.  If every coefficient is 0, the expression is 0 on
the whole domain: that is a proof.  Logs of distinct irreducible polynomials are
linearly independent over rational functions, so for the lesson's fragment a nonzero
coefficient really means "not equal" -- but this module only ever claims the zero case;
the checker looks for a counterexample otherwise.

An exp (a softmax, a Gaussian density exp(log N)) becomes a product of positive symbols, one per
term of its argument, with one spelling per value: a term c log(f) is split as log(f) is split
above, so exp(-log(2 pi v)/2) and exp(-log(2)/2 - log(pi)/2 - log(v)/2) agree.  When that form is
not 0, a second spelling is tried: each product's exps merged into one, and every exp's rational
part written over one common denominator (Bayes' rule for densities at a point needs it).

Work is linear in the number of terms: no `simplify`, no factoring of big polynomials.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from sympy import (
    Add,
    Dummy,
    Expr,
    Float,
    Integer,
    Mul,
    Pow,
    Rational,
    Symbol,
    cancel,
    exp,
    expand,
    factor_list,
    factorint,
    isprime,
    log,
    primerange,
    sstr,
    together,
)
from sympy.core.cache import cacheit
from sympy.core.function import AppliedUndef

from elbo_sym.budget import checkpoint
from elbo_sym.engine.models.base import Model
from elbo_sym.engine.notation import Exp
from elbo_sym.engine.sparse import Fractions, TooLarge, expanded_polynomial, is_polynomial
from elbo_sym.engine.walks import replaced
from elbo_sym.failures import reraise_callers
from elbo_sym.limits import MAX_EXPANSION_TERMS, MAX_EXPONENT, MAX_MERGED_EXP_TERMS

MAX_FACTOR_SYMBOLS = 8
"""Log arguments with at most this many symbols are fully factored (cheap there)."""
MAX_DENOMINATORS = 64
"""Distinct denominators `together` may combine (work grows with their square)."""

Key = tuple  # a sorted tuple of atoms (a monomial in log atoms)


@dataclass(frozen=True)
class Canonical:
    """Monomials in log atoms -> reduced coefficient; empty means identically zero."""

    terms: tuple[tuple[Key, Expr], ...]

    @property
    def is_zero(self) -> bool:
        return not self.terms

    def as_expr(self) -> Expr:
        """The residual as an expression (for `explain`): sum of coefficient * atoms."""
        return Add(*(coefficient * Mul(*(_atom_expr(a) for a in key)) for key, coefficient in self.terms))


class _LogPoly:
    """Accumulates coefficient terms per monomial; a tiny polynomial ring over log atoms."""

    __slots__ = ("parts",)

    def __init__(self, parts: dict | None = None):
        # always a defaultdict: `add` creates keys (a plain dict here raised KeyError)
        self.parts: dict[Key, list[Expr]] = defaultdict(list, parts or {})

    @classmethod
    def constant(cls, c: Expr) -> _LogPoly:
        poly = cls()
        poly.parts[()].append(c)
        return poly

    def add(self, other: _LogPoly) -> None:
        for key, items in other.parts.items():
            self.parts[key].extend(items)

    def collapsed(self) -> dict[Key, Expr]:
        return {key: Add(*items) for key, items in self.parts.items()}

    def times(self, other: _LogPoly) -> _LogPoly:
        mine, theirs = self.collapsed(), other.collapsed()
        if len(mine) * len(theirs) > MAX_EXPANSION_TERMS:  # the step is too big to check
            raise TooLarge("product of log polynomials too large")
        out = _LogPoly()
        for k1, c1 in mine.items():
            for k2, c2 in theirs.items():
                key = k1 + k2
                if len(key) > 1:  # most monomials have one atom: no sort (and no O(K) compares)
                    key = tuple(sorted(key, key=_atom_order))
                out.parts[key].append(c1 * c2)
        return out


_CANONICAL_FORMS = ("canonical forms",)
"""The key, in a model's sign memo, of its memo of each unfolded expression's canonical form."""
MAX_REMEMBERED_FORMS = 10_000
"""Canonical forms a model remembers (beyond it they are computed again, never refused)."""
_BUILDER_PARTS = ("canonical form parts",)
"""The key, in a model's sign memo, of the parts its forms share (`_Builder`'s log atoms per argument,
log|f| per factor, transcendence per subtree)."""
MAX_REMEMBERED_PARTS = 20_000
"""Parts a model remembers in each of those memos; past it they are emptied and made again."""


def canonical(e: Expr, model: Model) -> Canonical:
    """The canonical form of an unfolded expression on the model's domain.

    Remembered per model (a pure function of the two): the rules ask again for forms the checker
    or another rule already built (a step's difference, Jensen's side conditions).  A form that
    raises (TooLarge, a budget) is not remembered, so it raises again the next time."""
    memo = model.sign_memo.setdefault(_CANONICAL_FORMS, {})
    known = memo.get(e)
    if known is None:
        known = _canonical(e, model)
        if len(memo) < MAX_REMEMBERED_FORMS:
            memo[e] = known
    return known


def _canonical(e: Expr, model: Model) -> Canonical:
    """The form with each exp's terms as symbols; when that is not 0 and e has an exp, the form with
    every product's exps merged over one denominator is tried too (both spell e's value: either
    being 0 is a proof; the residual shown is the first's)."""
    builder = _Builder(model)
    form = _form(builder, builder.exp_as_symbols(e))
    if form.is_zero or not e.has(exp):
        return form
    merged = builder.exps_on_one_denominator(e)
    return Canonical(()) if merged is not None and _form(builder, merged).is_zero else form


def _form(builder: _Builder, e: Expr) -> Canonical:
    poly = builder.poly(e)
    terms = []
    for key, items in poly.parts.items():
        coefficient = builder.reduce(Add(*items))
        if coefficient != 0:
            terms.append((key, coefficient))
    terms.sort(key=lambda t: tuple(_atom_order(a) for a in t[0]))
    return Canonical(tuple(terms))


class _Builder:
    def __init__(self, model: Model):
        self.model = model
        self.elimination = model.elimination
        # memo tables: the unfolded tree shares subtrees (p(x) = sum_k pi_k l_k sits inside K
        # logs); visiting each shared subtree once keeps the work linear in K.  They are the model's,
        # shared by all its forms: each entry is a pure function of the expression and the model (its
        # elimination; an exp's symbol stands for one argument for good), and a rule asks for several
        # forms of one step's sides (Jensen: the step's gap less each pair, less their combination, and
        # that combination again), whose log arguments and factors are the same.  Nothing is stored
        # before it is complete (a TooLarge or a spent budget leaves no entry), and no caller changes
        # what it is given (`factor_atoms` hands out copies; `poly` and `log_atoms` results are only read).
        memos = model.sign_memo.setdefault(_BUILDER_PARTS, ({}, {}, {}))
        for memo in memos:
            if len(memo) > MAX_REMEMBERED_PARTS:
                memo.clear()
        self._atoms: dict[Expr, _LogPoly] = memos[0]
        self._factor_memo: dict[Expr, _LogPoly] = memos[1]
        self._transcendental_memo: dict[Expr, bool] = memos[2]

    def transcendental(self, e: Expr) -> bool:
        """_is_transcendental(e), memoized per subtree."""
        if e.is_Atom:
            return False
        known = self._transcendental_memo.get(e)
        if known is None:
            known = isinstance(e, (log, exp, AppliedUndef)) or any(self.transcendental(a) for a in e.args)
            self._transcendental_memo[e] = known
        return known

    # -- exp as positive symbols ---------------------------------------------------------

    def exp_as_symbols(self, e: Expr) -> Expr:
        """`e` with log(exp(a)) = a and every exp(c_1 t_1 + ...) = E_1**c_1 * ..., where E_i is a
        positive symbol standing for exp(t_i) (integer c_i; the whole term otherwise).

        The model's values are real, so exp(t) > 0 and log(exp(a)) = a.  Equal terms give equal
        symbols (the name is the printed term), so a softmax's normaliser cancels and its values
        sum to 1 as a rational function; an identity in free positive symbols holds at their
        values, so this only ever helps to show zero (exp(a) exp(b) = exp(a + b) holds by
        construction: both become E_a E_b).  Each term has one spelling: the argument is first
        reduced by the model's `elimination` (sum q = 1, so exp(q_0 + q_1) is exp(1)) and
        expanded, a term's rational content is its exponent (x**2/(2 s**2 + 2 w**2) is
        exp(x**2/(s**2 + w**2)) ** (1/2)), and a term c log(f) is split as the log atoms of this
        form split log(f) (`log_atoms`, f > 0 was shown): exp(-log(2 pi v)/2) and
        exp(-log(2)/2 - log(pi)/2 - log(v)/2), two spellings of one Gaussian density's
        normaliser, are the same product of symbols."""
        if not e.has(exp):
            return e
        e = replaced(e, lambda n: isinstance(n, log) and isinstance(n.args[0], exp), lambda n: n.args[0].args[0])
        return replaced(e, lambda n: isinstance(n, exp), lambda n: self._exp_product(n.args[0]))

    def exps_on_one_denominator(self, e: Expr) -> Expr | None:
        """`e` with the exps of each product merged (exp(a) exp(b)**n = exp(a + n b), e expanded first)
        and every exp's rational part written over one common denominator L of them all: exp(P/L)
        is the product over P's monomials m (coefficient c) of exp(m / (n L))**(c n), n the least
        integer making every power of that monomial's symbol an integer; its log terms as in
        `exp_as_symbols`.  The monomials m / L are linearly independent, so the Gaussian densities
        of Bayes' rule at a point z, p(z | x) p(x) and p(x | z) p(z), have one form (the terms one
        exp at a time do not: x**2/(2 s**2) is split differently from x**2 w**2/(2 s**2 (s**2 +
        w**2)) + x**2/(2 (s**2 + w**2))).  None when the expansion or the common denominator would
        be too large."""
        e = replaced(e, lambda n: isinstance(n, log) and isinstance(n.args[0], exp), lambda n: n.args[0].args[0])
        # expanded with each exp held as a placeholder: its argument is read term by term below, and
        # an exp rebuilt around an expanded argument asks SymPy whether that argument is 0 (a
        # polynomial of thousands of terms took minutes: a wrong step ran out of its budget)
        held = {node: Dummy() for node in e.atoms(exp)}
        if _argument_terms(tuple(node.args[0] for node in held)) > MAX_MERGED_EXP_TERMS:
            return None  # over one denominator, their numerators would multiply out
        try:
            e = bounded_expand(e.xreplace(held)).xreplace({d: node for node, d in held.items()})
        except TooLarge:
            return None
        e = replaced(e, lambda n: n.is_Pow and isinstance(n.base, exp), lambda n: Exp(n.exp * n.base.args[0],
                                                                                      evaluate=False))
        e = replaced(e, lambda n: n.is_Mul and sum(isinstance(f, exp) for f in n.args) > 1, _merged_exps)
        nodes = tuple(e.atoms(exp))
        parts = {node: self._exponent_parts(node.args[0]) for node in nodes}
        denominators = {p.base for rational, _ in parts.values() for p in rational.atoms(Pow) if p.exp.is_negative}
        if len(denominators) > MAX_DENOMINATORS:
            return None
        fractions = {node: _cancelled(rational).as_numer_denom() for node, (rational, _) in parts.items()}
        common = _least_common_multiple(tuple(dict.fromkeys(d for _, d in fractions.values())))
        numerators = {node: bounded_expand(n * _cancelled(common / d)) for node, (n, d) in fractions.items()}
        scale: dict[Expr, int] = {}
        for numerator in numerators.values():
            for term in Add.make_args(numerator):
                c, m = term.as_coeff_Mul()
                scale[m] = math.lcm(scale.get(m, 1), int(Rational(c).q))
        spelled = {}
        for node in nodes:
            factors = [parts[node][1]]
            for term in Add.make_args(numerators[node]):
                c, m = term.as_coeff_Mul()
                power = Rational(c) * scale[m]
                if c != 0:
                    factors.append(Pow(_exp_symbol(m / (scale[m] * common)), power) if abs(power) <= MAX_EXPONENT
                                   else _exp_symbol(c * m / common))
            spelled[node] = Mul(*factors)
        return e.xreplace(spelled)

    def _exponent_parts(self, argument: Expr) -> tuple[Expr, Expr]:
        """An exp's argument as (its rational part, exp of the rest as `exp_as_symbols` spells it)."""
        rational: list[Expr] = []
        rest: list[Expr] = []
        for term in Add.make_args(bounded_expand(argument.xreplace(self.elimination))):
            (rest if self.transcendental(term) else rational).append(term)
        return Add(*rational), self._exp_product(Add(*rest)) if rest else Integer(1)

    def _exp_product(self, argument: Expr) -> Expr:
        factors = []
        powers: dict[Expr, Expr] = {}  # log atom g -> the power of exp(log|g|) over all the log terms
        for term in Add.make_args(bounded_expand(argument.xreplace(self.elimination))):
            content, primitive = term.as_content_primitive()
            sign, rest = primitive.as_coeff_Mul()
            coefficient = content * sign
            atoms = self._single_log_atoms(rest) if isinstance(rest, log) and coefficient.is_Rational else None
            if atoms is None:
                factors.append(_exp_power(rest, coefficient))
                continue
            for g, multiplicity in atoms:
                powers[g] = powers.get(g, Integer(0)) + coefficient * multiplicity
        for g, power in powers.items():
            if power.is_Integer and g.is_positive and abs(power) <= MAX_EXPONENT:
                factors.append(Pow(g, power))  # exp(n log g) = g**n for g > 0
            elif power != 0:
                factors.append(_exp_power(log(g), power))
        return Mul(*factors)

    def _single_log_atoms(self, logarithm: log) -> tuple[tuple[Expr, Expr], ...] | None:
        """log(f) as its log atoms log|g| with their rational multiplicities; None when an atom is not
        a single log (log f is not split: the term keeps its own symbol)."""
        atoms = self.log_atoms(logarithm.args[0]).collapsed()
        if not all(len(key) == 1 and key[0][0] == "log" and m.is_Rational for key, m in atoms.items()):
            return None
        return tuple((g, m) for ((_, g),), m in atoms.items())

    # -- coefficients -------------------------------------------------------------------

    def reduce(self, c: Expr) -> Expr:
        """A coefficient modulo the constraints: 0 exactly when it vanishes on the domain."""
        checkpoint()
        c = c.xreplace(self.elimination)
        if c == 0 or c.is_Number:
            return c
        found = c.atoms(Pow, Float)  # one walk for the powers and floats both tests below read
        if any(p.is_Pow and p.exp.is_negative for p in found):
            if _vanishes_as_fraction(c, found):
                return Integer(0)
            c = _cancel_negated(c)
            numerator, denominator = bounded_together(c).as_numer_denom()
            numerator = _bounded_expand(numerator)
            return Integer(0) if numerator == 0 else numerator / denominator
        return _bounded_expand(c)

    # -- the expression as a polynomial in log atoms -------------------------------------

    def poly(self, e: Expr) -> _LogPoly:
        checkpoint()
        if not self.transcendental(e):
            return _LogPoly.constant(e)
        if e.is_Add:
            out = _LogPoly()
            for arg in e.args:
                out.add(self.poly(arg))
            return out
        if e.is_Mul:
            algebraic = [a for a in e.args if not self.transcendental(a)]
            result = _LogPoly.constant(Mul(*algebraic))
            for a in e.args:
                if self.transcendental(a):
                    result = result.times(self.poly(a))
            return result
        if e.is_Pow and e.exp.is_Integer and e.exp > 0:
            result = _LogPoly.constant(Integer(1))
            base = self.poly(e.base)
            for _ in range(int(e.exp)):
                result = result.times(base)
            return result
        if isinstance(e, log):
            return self.log_atoms(e.args[0])
        # exp(...), a negative power of a log, anything else: an opaque atom (sound, maybe incomplete)
        poly = _LogPoly()
        poly.parts[(("opaque", e),)].append(Integer(1))
        return poly

    def log_atoms(self, argument: Expr) -> _LogPoly:
        """log(argument) as a sum of log|f| over primitive polynomial factors f (plus log primes)."""
        if argument in self._atoms:
            return self._atoms[argument]
        out = _LogPoly()
        if self.transcendental(argument):
            out.parts[(("opaque", log(argument)),)].append(Integer(1))
        else:
            for factor, multiplicity in _factors(argument):
                out.add(_scaled(self.factor_atoms(factor), multiplicity))
        self._atoms[argument] = out
        return out

    def factor_atoms(self, f: Expr) -> _LogPoly:
        """log|f| for one factor: a number, a symbol, or a sum (reduced by the constraints)."""
        known = self._factor_memo.get(f)
        if known is None:
            known = self._factor_memo[f] = self._factor_atoms(f)
        return _LogPoly({key: list(items) for key, items in known.parts.items()})  # callers extend it

    def _factor_atoms(self, f: Expr) -> _LogPoly:
        # log |f| of one factor: the whole argument was shown positive (elbo_sym.engine.definedness),
        # so a negative factor such as -1 pairs with another negative one
        if f.is_Rational:
            return _log_rational(abs(f))
        if f.is_Mul or (f.is_Pow and f.exp.is_Integer):
            out = _LogPoly()
            for factor, multiplicity in _factors(f):
                out.add(_scaled(self.factor_atoms(factor), multiplicity))
            return out
        if f in _EXP_ARGUMENTS:  # log(exp(t)) = t: t is real on the domain
            return self.poly(_EXP_ARGUMENTS[f])
        if f in self.elimination:
            f = self.elimination[f]
        elif f.is_Symbol:
            return _atom(("log", f))
        if any(p.exp.is_negative for p in f.atoms(Pow)):
            numerator, denominator = bounded_together(f).as_numer_denom()
            out = self.factor_atoms(numerator)
            out.add(_scaled(self.factor_atoms(denominator), -1))
            return out
        g = _bounded_expand(f.xreplace(self.elimination))
        if g.is_Rational:
            return _log_rational(abs(g))
        if g.is_Symbol:
            return _atom(("log", g))
        content, primitive = g.as_content_primitive()
        if primitive.is_Mul:
            out = _log_rational(abs(content))
            for factor, multiplicity in _factors(primitive):
                out.add(_scaled(self.factor_atoms(factor), multiplicity))
            return out
        if primitive.could_extract_minus_sign():
            primitive = -primitive
        out = _log_rational(abs(content))
        if len(primitive.free_symbols) <= MAX_FACTOR_SYMBOLS and _degree_above_one(primitive):
            c, pieces = _factor_list(primitive)
            if len(pieces) > 1 or (pieces and pieces[0][1] > 1):
                out.add(_log_rational(abs(Rational(c))))
                for piece, multiplicity in pieces:
                    piece = -piece if piece.could_extract_minus_sign() else piece
                    log_piece = self.poly(_EXP_ARGUMENTS[piece]) if piece in _EXP_ARGUMENTS else _atom(("log", piece))
                    out.add(_scaled(log_piece, multiplicity))
                return out
        out.add(_atom(("log", primitive)))
        return out


# ---------------------------------------------------------------------------- exp


def _argument_terms(arguments: tuple[Expr, ...]) -> int:
    """An upper bound on the terms of the exps' arguments and of their denominators, expanded."""
    try:
        return sum(expansion_terms(a) + sum(expansion_terms(p.base) for p in a.atoms(Pow) if p.exp.is_negative)
                   for a in arguments)
    except TooLarge:
        return MAX_EXPANSION_TERMS + 1


def _least_common_multiple(polynomials: tuple[Expr, ...]) -> Expr:
    """The least common multiple of polynomials, kept as a product of their irreducible factors."""
    contents: list[Rational] = []
    highest: dict[Expr, int] = {}
    for p in polynomials:
        c, pieces = _factor_list(p)
        contents.append(abs(Rational(c)))
        for piece, multiplicity in pieces:
            piece = -piece if piece.could_extract_minus_sign() else piece
            highest[piece] = max(highest.get(piece, 0), int(multiplicity))
    numerators = [int(c.p) for c in contents]
    return Integer(math.lcm(*numerators) if numerators else 1) * Mul(*(f ** k for f, k in highest.items()))


def _merged_exps(product: Expr) -> Expr:
    """exp(a) * exp(b) * c = exp(a + b) * c."""
    exponents = [f.args[0] for f in product.args if isinstance(f, exp)]
    rest = [f for f in product.args if not isinstance(f, exp)]
    return Mul(*rest, Exp(Add(*exponents), evaluate=False))


def _exp_power(t: Expr, coefficient: Expr) -> Expr:
    """exp(coefficient * t): exp(t/q) ** p for a rational coefficient p/q (|p| bounded), else one symbol."""
    if coefficient.is_Rational and abs(coefficient.p) <= MAX_EXPONENT:
        return Pow(_exp_symbol(t / coefficient.q), coefficient.p)
    return _exp_symbol(coefficient * t)


_EXP_SYMBOLS: dict[Expr, Symbol] = {}
_EXP_ARGUMENTS: dict[Symbol, Expr] = {}
"""The symbol standing for exp(t) -> t (log of it is t)."""
_EXP_NAMES: set[str] = set()


def _exp_symbol(argument: Expr) -> Symbol:
    """One positive symbol per argument, printed like exp(argument); distinct arguments that
    print alike (a symbol with other assumptions) get distinct names, so never one symbol."""
    known = _EXP_SYMBOLS.get(argument)
    if known is None:
        name = f"exp({sstr(argument, order='lex')})"
        while name in _EXP_NAMES:
            name += "'"
        _EXP_NAMES.add(name)
        known = _EXP_SYMBOLS[argument] = Symbol(name, positive=True)
        _EXP_ARGUMENTS[known] = argument
    return known


def with_exps(e: Expr) -> Expr:
    """`e` (a canonical form's coefficient) with each positive symbol that stands for exp(t) put back as
    exp(t): a value at a point is then the coefficient's own (engine.check._logs_vanish_where's rest)."""
    held = {symbol: exp(with_exps(_EXP_ARGUMENTS[symbol])) for symbol in e.free_symbols if symbol in _EXP_ARGUMENTS}
    return e.xreplace(held) if held else e


# ---------------------------------------------------------------------------- helpers


def _factors(e: Expr) -> list[tuple[Expr, Expr]]:
    """Multiplicative factors with their (integer) multiplicities."""
    out = []
    for factor in Mul.make_args(e):
        if factor.is_Pow and factor.exp.is_Integer:
            out.append((factor.base, factor.exp))
        else:
            out.append((factor, Integer(1)))
    return out


def _is_transcendental(e: Expr) -> bool:
    return e.has(log, exp, AppliedUndef) if not e.is_Atom else False


def _atom(atom) -> _LogPoly:
    poly = _LogPoly()
    poly.parts[(atom,)].append(Integer(1))
    return poly


def _scaled(poly: _LogPoly, factor: Expr) -> _LogPoly:
    if factor == 1:
        return poly
    return _LogPoly({key: [factor * Add(*items)] for key, items in poly.parts.items()}) if poly.parts \
        else _LogPoly()


def _log_rational(r: Rational) -> _LogPoly:
    """log of a positive rational as a combination of log primes (exact, canonical)."""
    r = Rational(r)
    out = _LogPoly()
    if r <= 0:
        raise ValueError(f"log of a non-positive number {r}")
    for prime, e in _prime_powers(int(r.p)):
        out.parts[(("log", Integer(prime)),)].append(Integer(e))
    for prime, e in _prime_powers(int(r.q)):
        out.parts[(("log", Integer(prime)),)].append(Integer(-e))
    return _LogPoly({k: v for k, v in out.parts.items()}) if out.parts else _LogPoly()


MAX_HARD_COFACTOR = 10**30
"""Largest part of a number without small prime factors that is handed to a full factoriser.

Size is not difficulty: 10**36 = 2**36 * 5**36 splits by trial division at once.  Only a
composite rest without factors below _TRIAL_BOUND is hard, and only that is bounded."""
_TRIAL_BOUND = 10_000


@lru_cache(maxsize=1)
def _trial_primes() -> tuple[int, ...]:
    return tuple(primerange(2, _TRIAL_BOUND))


@lru_cache(maxsize=4096)
def _prime_powers(n: int) -> tuple[tuple[int, int], ...]:
    """The prime factorisation of n >= 1: trial division by the small primes first, then the
    rest is 1, a prime, or (when at most MAX_HARD_COFACTOR) factored in full; TooLarge else."""
    powers: dict[int, int] = {}
    rest = n
    for p in _trial_primes():
        if p * p > rest:
            break
        while rest % p == 0:
            rest //= p
            powers[p] = powers.get(p, 0) + 1
    if rest > 1:
        if rest < _TRIAL_BOUND * _TRIAL_BOUND or isprime(rest):
            powers[rest] = powers.get(rest, 0) + 1
        elif rest <= MAX_HARD_COFACTOR:
            for p, e in factorint(rest).items():
                powers[p] = powers.get(p, 0) + e
        else:
            raise TooLarge(f"a number with a {len(str(rest))}-digit part that has no prime factor below "
                           f"{_TRIAL_BOUND} and is not prime: too hard to factor")
    return tuple(sorted(powers.items()))


@lru_cache(maxsize=1024)
def _factor_list(primitive: Expr) -> tuple:
    """`factor_list(primitive)`, remembered: the same log arguments recur from form to form
    (factoring is the dearest part of a canonical form; the answer depends on nothing else)."""
    c, pieces = factor_list(primitive)
    return c, tuple(pieces)  # immutable: every caller shares the answer


def _degree_above_one(e: Expr) -> bool:
    def linear(term: Expr) -> bool:
        return term.is_Symbol or term.is_Number or (term.is_Mul and len(term.args) == 2 and term.args[0].is_Number)

    return any(not linear(term) for term in Add.make_args(e))


def _bounded_expand(e: Expr) -> Expr:
    return bounded_expand(e)


def _vanishes_as_fraction(c: Expr, found: set | None = None) -> bool:
    """c is a rational function of its symbols that is identically 0 -- decided in sparse integer
    polynomial arithmetic (`engine.sparse.Fractions`), far cheaper than `together` and expanding the common
    numerator for the long sums of nested fractions a chain of Gaussian layers gives.  Only a 0 is
    trusted; anything else (or anything not a rational function with rational coefficients: floats,
    pi, roots) goes the usual way, so the coefficient the residual shows is unchanged.  Past the
    usual way's budgets it leaves the decision (and the refusal) to it.  `found`: c.atoms(Pow, Float)
    when the caller has it already."""
    found = c.atoms(Pow, Float) if found is None else found
    powers = [p for p in found if p.is_Pow]
    if len(powers) < len(found) or any(not p.exp.is_Integer for p in powers):  # a float, or a root
        return False
    denominators = {p.base for p in powers if p.exp.is_negative}
    if len(denominators) > MAX_DENOMINATORS:
        return False
    symbols = sorted(c.free_symbols, key=str)
    if not symbols:
        return False
    try:
        expansion_terms(c)
        return Fractions(symbols).numerator(c) == 0
    except (TooLarge, ValueError, ZeroDivisionError) as raised:
        reraise_callers(raised)
        return False


def _cancel_negated(c: Expr) -> Expr:
    """Each term's factor -B beside 1/B cancels to -1 (SymPy distributes -1 into a sum, so
    -Q(z4) * (Q(z3, z4) / Q(z4)) keeps both copies; `together` would multiply them out)."""
    terms = []
    for term in Add.make_args(c):
        factors = list(Mul.make_args(term))
        inverse = {f.base: i for i, f in enumerate(factors) if f.is_Pow and f.exp == -1 and f.base.is_Add}
        if inverse:
            for i, f in enumerate(factors):
                j = inverse.get(-f) if f.is_Add else None
                if j is not None and factors[j] is not None and factors[i] is not None:
                    factors[i], factors[j] = Integer(-1), None
        terms.append(Mul(*(f for f in factors if f is not None)))
    return Add(*terms)


def bounded_expand(e: Expr) -> Expr:
    """`expand`, after an estimate shows the result stays within MAX_EXPANSION_TERMS terms.

    Expansion is where a small expression asks for unbounded memory: (a + b + c) ** 12
    has 91 terms, p(x) ** 12 at K = 2000 has about 10**30.  The estimate is an upper bound
    computed before any expansion, so the refusal costs nothing.
    """
    expansion_terms(e)
    return _expanded(e)


@cacheit
def _expanded(e: Expr) -> Expr:
    """`bounded_expand`'s expansion, remembered in SymPy's own cache (cleared with it, by
    `clear_cache`, where a spent budget may have left it half-filled): the same coefficients and
    log arguments are expanded again from step to step and from file to file (on the tree 434 of
    783 expansions repeat one made before), and `expand` is not cached by SymPy.  A pure function
    of `e`: the hints are fixed here.  A polynomial in symbols (two thirds of the tree's expansions) is
    multiplied out in sparse integer arithmetic (`sparse.expanded_polynomial`: the same expression,
    without expand's intermediate ones)."""
    if is_polynomial(e):
        try:
            return expanded_polynomial(e)
        except TooLarge:  # within expansion_terms' bound it is not refused; expand decides if it were
            pass
    return expand(e, deep=True, log=False, power_exp=False, power_base=False)


def bounded_together(e: Expr) -> Expr:
    """`together`, unless it would multiply more than MAX_DENOMINATORS distinct denominators
    (the common denominator of K fractions has K factors in each of K numerator terms)."""
    denominators = {p.base for p in e.atoms(Pow) if p.exp.is_negative}
    if len(denominators) > MAX_DENOMINATORS:
        raise TooLarge(f"a common denominator of {len(denominators)} factors is too large")
    return _together(e)


@cacheit
def _cancelled(e: Expr) -> Expr:
    """`cancel(e)`, remembered in SymPy's cache as `_expanded` is: the exps' rational parts of one
    model's densities recur in the second spelling of every form that holds them, file after file."""
    return cancel(e)


@cacheit
def _together(e: Expr) -> Expr:
    """`together(e)`, remembered in SymPy's cache as `_expanded` is (on the tree 34 of 87 repeat)."""
    return together(e)


def expansion_terms(e: Expr) -> int:
    """An upper bound on the terms of `expand(e)`; TooLarge when it exceeds the limit."""
    n = _terms(e, MAX_EXPANSION_TERMS)
    if n > MAX_EXPANSION_TERMS:
        raise TooLarge(f"expanding it would give more than {MAX_EXPANSION_TERMS} terms")
    return n


@cacheit
def _terms(e: Expr, limit: int) -> int:
    """`expansion_terms(e)` when it is at most `limit`, else limit + 1 (some part of e would expand
    past the limit).  Remembered per subtree in SymPy's cache: the bound is asked before every
    expansion and every zero test of a fraction, and the same coefficients and their parts recur
    from form to form (on the tree 2,044 distinct subtrees are walked once, a checkpoint at each, and
    4,325 asks are answered from the cache).  The limit is part of the key (a test may lower it)."""
    checkpoint()
    over = limit + 1
    if e.is_Atom:
        return 1
    if e.is_Add:
        return min(sum(_terms(a, limit) for a in e.args), over)
    if e.is_Mul:
        n = 1
        for a in e.args:
            n *= _terms(a, limit)
            if n > limit:
                return over
        return n
    if e.is_Pow and e.exp.is_Integer and e.exp > 0:
        base, k = _terms(e.base, limit), int(e.exp)
        return over if base > limit else 1 if base == 1 else min(math.comb(base + k - 1, k), over)
    # functions and negative powers: their arguments are expanded on their own
    return over if any(_terms(a, limit) > limit for a in e.args) else 1


@lru_cache(maxsize=1 << 16)
def _atom_order(atom) -> tuple:
    # memoized: str() of a big atom such as log(pi_0 l_0 + ... + pi_{K-1} l_{K-1}) costs O(K)
    # and sorting monomials asks for it O(K) times (quadratic in K without the cache)
    kind, value = atom
    return (kind, str(value))


def _atom_expr(atom) -> Expr:
    kind, value = atom
    return log(value) if kind == "log" else value


__all__ = ["Canonical", "canonical", "TooLarge", "bounded_expand", "expansion_terms", "with_exps"]
