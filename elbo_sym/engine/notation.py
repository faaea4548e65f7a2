"""The lesson's notation as SymPy objects, and the one printer that typesets it.

Every object here keeps its *shape*: an expectation stays an expectation, a KL stays a
KL, until :mod:`elbo_sym.engine.models.discrete` unfolds it into model parameters.  That is what lets a
handout print exactly the expression that was checked.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sympy import Basic, Expr, Mul, Pow, S, Symbol, Tuple, exp, log
from sympy.core.symbol import Str
from sympy.printing.latex import LatexPrinter, greek_letters_set, tex_greek_dictionary
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from elbo_sym.limits import LONG_NUMBER_DIGITS, PRINTED_PARTS

x = Symbol("x")
"""The observed variable."""
z = Symbol("z")
"""The latent variable."""
z1 = Symbol("z1")
"""The latent layer next to x in a two-layer chain (``latents = ["z1", "z2"]``); prints as z_1."""
z2 = Symbol("z2")
"""The top latent layer of a two-layer chain; prints as z_2."""
z3, z4, z5 = Symbol("z3"), Symbol("z4"), Symbol("z5")
"""Deeper layers of a chain (``latents = ["z1", "z2", "z3"]``: z3 is the top); print as z_3, ..."""
LAYER_SYMBOLS = (z1, z2, z3, z4, z5)
"""The layers of a chain, from x upwards (a chain of T layers uses the first T)."""
LATENTS = frozenset({z, *LAYER_SYMBOLS})
"""Every latent variable symbol of the vocabulary (bound by Sum, E, KL, H, ELBO)."""
VARIATIONAL_NAMES = ("q", "r", "q_star")
"""Names of variational distributions over z: q, a second one r, and q_star (a third, free
like the others: "the best member of a family" is a premise the file states, never implied)."""


class Index(Symbol):
    """A parameter from ``[params]`` that names a member of a family of models, as the theta of
    ``p(x | z; theta)``: the model's tables for each value are arbitrary (drawn independently),
    so it stands for *which* model, never for a number in an expression."""


class Draw(Symbol):
    """Another draw of the latent variable, bound by ``Sum(f, w)`` (issue 17, item 4): IWAE's k
    draws written out, ``Sum(Sum(q(z) * q(w) * log((p(x, z) / q(z) + p(x, w) / q(w)) / 2), z), w)``.
    ``q(w)``, ``p(x, w)`` are the same distributions as ``q(z)``, ``p(x, z)`` at the point w; a
    sum over w is a sum over the same latent space, independent of the sum over z."""


class Notation(Expr):
    """Base of the lesson's symbols: commutative, unevaluated, compared structurally."""

    is_commutative = True
    precedence = PRECEDENCE["Atom"]


DATA_DENSITY = "p_data"
"""The data distribution's name: ``p_data(x1)`` is the weight of the data point x1 (issue 17.8)."""
DATA_DENSITY_LATEX = r"p_{\mathrm{data}}"
"""How :data:`DATA_DENSITY` is typeset, alone (an example's givens) or applied (``p_data(x1)``): p with an
upright "data" index, the same on every page (rt44 F8: the givens had an italic one), never p_d ata."""


class Density(Notation):
    """``p(x | z)``, ``p(x, z)``, ``q(z)``: a named density over ``variables`` given ``given``."""

    def __new__(cls, name: str | Str, variables: tuple[Symbol, ...] | Tuple, given: tuple[Symbol, ...] | Tuple = ()):
        # `func(*args)` rebuilds a density from its own args (Str, Tuple): xreplace and subs need it
        return Basic.__new__(cls, name if isinstance(name, Str) else Str(name), Tuple(*variables), Tuple(*given))

    @property
    def name(self) -> str:
        return self.args[0].name

    @property
    def variables(self) -> tuple[Symbol, ...]:
        return self.args[1].args  # the Tuple's own tuple (asked very often: no copy through its iterator)

    @property
    def given(self) -> tuple[Symbol, ...]:
        return self.args[2].args

    @property
    def is_over_z(self) -> bool:
        """A distribution over the latent variable: usable in E, KL, H, ELBO and as Jensen weights."""
        return self.variables == (z,)


class LatentSum(Notation):
    """``Sum(f, z)``: the sum of ``f`` over the support of z (z is bound inside)."""

    precedence = PRECEDENCE["Mul"]

    def __new__(cls, body: Expr, variable: Symbol = z):
        return Basic.__new__(cls, body, variable)

    @property
    def body(self) -> Expr:
        return self.args[0]


class DimensionSum(Notation):
    """``Sum(f, (d, 1, D))``: the sum of ``f`` over the dimensions d = 1, ..., D of the Gaussian
    family's real vector z (``D = "any"``); d is bound inside, and ``mu_d``, ``sigma_d``, ``w_d``
    are dimension d's parameters."""

    precedence = PRECEDENCE["Mul"]

    def __new__(cls, body: Expr):
        return Basic.__new__(cls, body)

    @property
    def body(self) -> Expr:
        return self.args[0]


class Expectation(Notation):
    """``E(q, f)``: the expectation of ``f`` (a function of z) under ``q(z)``."""

    def __new__(cls, distribution: Density, body: Expr):
        return Basic.__new__(cls, distribution, body)

    @property
    def distribution(self) -> Density:
        return self.args[0]

    @property
    def body(self) -> Expr:
        return self.args[1]


class KL(Notation):
    """``KL(a, b)``: the Kullback–Leibler divergence of two distributions over z."""

    def __new__(cls, first: Density, second: Density):
        return Basic.__new__(cls, first, second)


class Entropy(Notation):
    """``H(q)``: the entropy of a distribution over z."""

    def __new__(cls, distribution: Density):
        return Basic.__new__(cls, distribution)


class ELBO(Notation):
    """``ELBO(q)``: the evidence lower bound, sum_z q(z) log(p(x, z) / q(z)); with several
    observations ``ELBO(q(z | x1), x1)`` uses the joint p(x1, z); ``ELBO(q, theta)`` the joint
    p(x, z | theta) of a parameterised model (PRML's L(q, theta))."""

    def __new__(cls, distribution: Density, observation: Symbol = None, parameter: Index | None = None):
        if parameter is not None:
            return Basic.__new__(cls, distribution, observation if observation is not None else x, parameter)
        return Basic.__new__(cls, distribution, observation if observation is not None else x)

    @property
    def parameter(self) -> Index | None:
        """The model's parameter (theta), or None."""
        return self.args[2] if len(self.args) > 2 else None

    @property
    def distribution(self) -> Density:
        return self.args[0]

    @property
    def observation(self) -> Symbol:
        return self.args[1]

    @property
    def joint(self) -> Density:
        """p(x, z) -- or p(x, z1, z2) for a distribution over two latent layers."""
        variables = distribution_variables(self.distribution)
        given = (self.parameter,) if self.parameter is not None else ()
        return Density("p", (self.observation, *variables), given)


class Normal(Notation):
    """``Normal(m, v)``: the Gaussian distribution over z with mean m and variance v (the
    Gaussian family; usable where a distribution over z is: E, KL, H)."""

    def __new__(cls, mean: Expr, variance: Expr):
        return Basic.__new__(cls, S(mean), S(variance))

    @property
    def mean(self) -> Expr:
        return self.args[0]

    @property
    def variance(self) -> Expr:
        return self.args[1]


class IWAE(Notation):
    """``IWAE(q, k)``: the importance-weighted bound with k samples,
    E over z_1..z_k drawn independently from q of log((1/k) sum_i p(x, z_i) / q(z_i));
    ``IWAE(q(z | x1), k, x1)`` with several observations. IWAE(q, 1) is the ELBO."""

    def __new__(cls, distribution: Density, samples: Expr | int, observation: Symbol | None = None):
        return Basic.__new__(cls, distribution, S(samples), observation if observation is not None else x)

    @property
    def distribution(self) -> Density:
        return self.args[0]

    @property
    def samples(self) -> int:
        """The number of samples when it is a number (`count` when it may be a parameter k)."""
        return int(self.args[1])

    @property
    def count(self) -> Expr:
        """The number of samples as written: 3, or a whole-number parameter k (+ n)."""
        return self.args[1]

    @property
    def symbolic(self) -> bool:
        """The number of samples is a parameter (IWAE(q, k) for every k)."""
        return not self.args[1].is_Integer

    @property
    def observation(self) -> Symbol:
        return self.args[2]

    @property
    def joint(self) -> Density:
        return Density("p", (self.observation, z))


class Limit(Notation):
    """``limit(f, alpha, 1)``, ``limit(IWAE(q, k), k, oo)``: the limit of f as the parameter (bound
    inside) tends to the point within its declared domain.  No family evaluates a limit in general:
    `limit_value` names the few whose value a theorem gives (issue 17, item 4)."""

    def __new__(cls, body: Expr, variable: Symbol, point: Expr):
        return Basic.__new__(cls, body, variable, S(point))

    @property
    def body(self) -> Expr:
        return self.args[0]

    @property
    def variable(self) -> Symbol:
        return self.args[1]

    @property
    def point(self) -> Expr:
        return self.args[2]

    @property
    def free_symbols(self) -> set:
        """The parameter is bound inside: a limit does not depend on it."""
        return self.body.free_symbols - {self.variable}

    def _sympystr(self, printer) -> str:
        """The file syntax, for every str printer (the one printer's `to_text`, and str() and repr()):
        SymPy's own StrPrinter would take this node for its 4-argument Limit and fail."""
        return f"limit({printer._print(self.body)}, {printer._print(self.variable)}, {printer._print(self.point)})"


def renyi_parts(body: Expr, variable: Symbol) -> tuple[Expr, Expr, Expr] | None:
    """(q, p(x, z), s) when `body` is exactly Li and Turner's bound 1/s * log(E(q, (p(x, z) / q(z))**s))
    with s = 1 - variable, as written (the factor 1/(1 - alpha) and the exponent checked as
    polynomials in the variable); None otherwise."""
    from sympy import cancel, expand

    factors = Mul.make_args(body)
    logs = [f for f in factors if isinstance(f, log)]
    if len(logs) != 1 or not isinstance(logs[0].args[0], Expectation):
        return None
    mean = logs[0].args[0]
    q = mean.distribution
    if not (isinstance(q, Density) and q.is_over_z) or not is_real_power(mean.body) or mean.body.parts is None:
        return None
    base, power = mean.body.parts
    joint = [f for f in Mul.make_args(base) if isinstance(f, Density)]
    rest = [f for f in Mul.make_args(base) if not isinstance(f, Density)]
    if len(joint) != 1 or rest != [Pow(q, -1)] or joint[0].name != "p" or joint[0].given or \
            len(joint[0].variables) != 2 or z not in joint[0].variables:
        return None
    scale = Mul(*(f for f in factors if f is not logs[0]))
    if expand(power - (1 - variable)) != 0 or cancel(scale * power) != 1:
        return None
    return q, joint[0], power


def limit_value(e: Limit, interval=None, explicit: bool = True) -> Expr | None:
    """The value a theorem gives `e`, as notation, or None (no certified route):

    * Li and Turner (2016): 1/(1 - alpha) log E_q[(p(x, z)/q(z))**(1 - alpha)] -> ELBO(q) as alpha -> 1
      (the derivative of s -> log E_q[w**s] at s = 0 is E_q[log w], every weight w > 0), and -> log p(x)
      as alpha -> 0 (continuity: at alpha = 0 it is log E_q[w] = log p(x)).  With densities
      (`explicit` False) only from below within [0, 1) (`interval`): E_q[w**s] <= p(x)**s there, and the
      monotone (dominated) convergence of (w**s - 1)/s to log w carries the limit under the integral.
    * Burda et al. (2016), Theorem 1(b): IWAE(q, k) -> log p(x) as k -> oo when the weights
      p(x, z)/q(z) are bounded: explicit K only (finite K, q > 0)."""
    body, v, point = e.body, e.variable, e.point
    if isinstance(body, IWAE) and body.count == v and point is S.Infinity:
        return log(Density("p", (body.observation,))) if explicit else None
    parts = renyi_parts(body, v)
    if parts is None or point not in (S.Zero, S.One) or not approached(interval, point):
        return None
    if not explicit and (interval is None or interval.lower is None or interval.lower < 0
                         or interval.upper is None or interval.upper > 1 or (interval.upper == 1 and
                                                                              not interval.upper_open)):
        return None
    q, joint, _ = parts
    observation = next(a for a in joint.variables if a != z)
    if point is S.One:
        return ELBO(q, observation)
    return log(Density("p", (observation,)))


def limit_distribution(e: Limit) -> Expr | None:
    """The distribution the theorem of `limit_value` averages over -- the q of the Renyi bound or of
    IWAE(q, k) -- or None when `e` is neither.  Each theorem holds for a q that stays fixed while the
    variable moves (models.base.limit_moves)."""
    if isinstance(e.body, IWAE):
        return e.body.distribution
    parts = renyi_parts(e.body, e.variable)
    return None if parts is None else parts[0]


def approached(interval, point: Expr) -> bool:
    """The point is a limit point of a real parameter's declared domain (a limit there means something)."""
    if interval is None or getattr(interval, "integer", False):
        return False
    lower, upper = interval.lower, interval.upper
    below = (lower is None or lower < point) and (upper is None or upper >= point)
    above = (lower is None or lower <= point) and (upper is None or upper > point)
    return bool(below or above)


def _count_text(count: Expr, show) -> str:
    """A number of samples as written: k + 1, not SymPy's 1 + k."""
    constant, rest = count.as_coeff_Add()
    if rest == 0:
        return show(constant)
    return show(rest) + (f" + {constant}" if constant > 0 else f" - {-constant}" if constant else "")


class Exp(exp):
    """``exp(a)`` as written: never rewritten into a power it could not afford.

    SymPy's own ``exp`` turns ``exp(c * log(f))`` into ``f ** c`` for any number c, so
    ``exp(1000000 * 1000000 * log(p(x)))`` would ask for a polynomial of degree 10**12.
    ``Exp`` only simplifies ``exp(0) = 1``, ``exp(log f) = f`` and ``exp(n log f) = f ** n``
    for |n| <= MAX_EXPONENT (f > 0 is a definedness obligation of the log), and stays one
    opaque positive atom otherwise (also under multiplication and powers).
    """

    @classmethod
    def eval(cls, arg):
        from elbo_sym.limits import MAX_EXPONENT

        if arg.is_zero:
            return S.One
        coefficient, rest = arg.as_coeff_Mul()
        if isinstance(rest, log) and coefficient.is_Integer and 0 < abs(coefficient) <= MAX_EXPONENT:
            return Pow(rest.args[0], coefficient)
        return None

    def as_base_exp(self):
        return self, S.One

    def _eval_power(self, other):
        return None

    def _eval_expand_power_exp(self, **hints):
        return self

    def _eval_is_positive(self):
        return True

    def _eval_is_extended_real(self):
        return True


def is_derived(d: Expr) -> bool:
    """A distribution argument built from densities (a mixture, a product, a softmax), not a
    density or a Normal: it carries the obligation to be a distribution (engine.wellformed)."""
    return not isinstance(d, (Density, Normal))


def distribution_variables(d: Expr) -> tuple[Symbol, ...]:
    """The latent variables a distribution argument is over (what E, KL, H and ELBO bind):
    a density's own variables, z for Normal(m, v), and for a derived distribution the latent
    variables free in it ((q(z | x1) + q(z | x2)) / 2 is over z, q(z1 | x) * q(z2 | x) over
    z1 and z2), in the order z, z1, ..., z5 (every layer).  A layer a derived distribution only
    conditions on is not one of them: q(z2 | z1) * q(z3 | z2) is over z2 and z3, with z1 free
    (bound outside, as in E(q(z1 | x), H(q(z2 | z1) * q(z3 | z2)))); a layer counts when a
    density in it is over it or a sum in it binds it (the normaliser of a softmax)."""
    if isinstance(d, Density):
        return d.variables
    if isinstance(d, Normal):
        return (z,)
    free = _free_latent_symbols(d)
    over = free & _layers_over(d)
    return tuple(v for v in (z, *LAYER_SYMBOLS) if v in (over or free))


def free_latent_symbols(e: Expr) -> frozenset:
    """The latent variables free in `e` (a derived distribution's own and its conditioning ones)."""
    return _free_latent_symbols(e)


def _layers_over(e: Expr) -> frozenset:
    """The latent variables some density in `e` is over, or some sum in it binds."""
    if isinstance(e, Density):
        return frozenset(v for v in e.variables if v in LATENTS)
    own = frozenset({e.args[1]}) if isinstance(e, LatentSum) else frozenset()
    return own.union(*(_layers_over(a) for a in e.args)) if e.args else own


def _free_latent_symbols(e: Expr) -> frozenset:
    if isinstance(e, Density):
        return frozenset(v for v in e.variables + e.given if v in LATENTS or isinstance(v, Draw))
    if isinstance(e, LatentSum):
        return _free_latent_symbols(e.body) - {e.args[1]}
    if isinstance(e, Expectation):  # E(q(z2 | x), log(p(x, z1, z2))) leaves z1 free (a mean-field update)
        return (_free_latent_symbols(e.distribution) | _free_latent_symbols(e.body)) - \
            set(distribution_variables(e.distribution))
    if isinstance(e, (KL, Entropy, ELBO, IWAE, Normal)):
        return frozenset()  # a derived distribution has no other binder (the parser says so)
    return frozenset().union(*(_free_latent_symbols(a) for a in e.args)) if e.args else frozenset()


def p(*variables: Symbol, given: tuple[Symbol, ...] = ()) -> Density:
    return Density("p", variables, given)


def q(*variables: Symbol) -> Density:
    return Density("q", variables or (z,))


# --------------------------------------------------------------------------- printing


def _density_args(d: Density, show, separator: str = "; ") -> str:
    head = ", ".join(show(v) for v in d.variables)
    given = [show(v) for v in d.given if not isinstance(v, Index)]
    indices = [show(v) for v in d.given if isinstance(v, Index)]
    if given:
        head += " | " + ", ".join(given)
        if indices:
            head += separator + ", ".join(indices)
    elif indices:
        head += " | " + ", ".join(indices)
    return head


class RealPower(Exp):
    """``b ** a`` with an exponent a written in parameters (Renyi's ``(p(x, z) / q(z))**(1 - alpha)``):
    by definition exp(a * log(b)) for b > 0 -- so it is an `Exp` to the engine (the log's
    argument b must be shown positive, as for every log), printed as the power it was written as."""

    def __new__(cls, *args, **kwargs):
        if len(args) == 2:  # (base, exponent), as the parser builds it
            base, exponent = args
            argument = Mul(exponent, log(base, evaluate=False), evaluate=False)
            return Exp.__new__(cls, argument, evaluate=False)  # type: ignore[call-arg]  # SymPy's Function.__new__
        return Exp.__new__(cls, *args, **kwargs)  # func(*args) of xreplace and subs: the one argument

    precedence = PRECEDENCE["Pow"] - 1
    """Below a power's, so that every str printer brackets it as the base of ``**`` (``(b**a)**2``:
    ``b**a**2`` is b**(a**2)), and above a product's (``2*b**a`` needs no brackets)."""

    def _sympystr(self, printer) -> str:
        """The file syntax ``b**a`` for every str printer (to_text, and str() in `explain`'s unfolded
        sides, which showed ``RealPower(alpha*log(p_x))``), bracketed as SymPy brackets a power's parts:
        ``2**D``, ``(a + b)**D``, ``2**(D + 1)`` (``(2)**(D)`` until session 22); exp(...) once the
        argument is no longer a*log(b)."""
        if self.parts is None:
            return f"exp({printer._print(self.args[0])})"
        base, exponent = self.parts
        return f"{_power_part(base, printer)}**{_power_part(exponent, printer)}"

    @property
    def parts(self) -> tuple[Expr, Expr] | None:
        """(base, exponent) when the argument still is exponent * log(base)."""
        factors = Mul.make_args(self.args[0])
        logs = [f for f in factors if isinstance(f, log)]
        if len(logs) != 1:
            return None
        return logs[0].args[0], Mul(*(f for f in factors if f is not logs[0]))


def _power_part(e: Expr, printer) -> str:
    """The base or the exponent of a real power's text: bare when it is one name, call or whole
    number (`_is_plain`), else bracketed -- ``**`` binds tighter than every other operator and
    groups from the right, so a sum, product, quotient, minus, fraction or power there needs them."""
    text = printer._print(e)
    return text if _is_plain(e) else f"({text})"


def is_real_power(e: Basic) -> bool:
    """`e` is a RealPower (SymPy's exp metaclass answers isinstance(.., any exp subclass) for every exp)."""
    return RealPower in type(e).__mro__
def density_name_latex(name: str) -> str:
    """q_star prints as q^*; every other density name as written (p, q, r)."""
    return "q^{*}" if name == "q_star" else name


_TEXT_PRINTED: dict[Basic, str] = {}
_LATEX_PRINTED: dict[tuple[Basic, str], str] = {}
"""The text and the LaTeX of each sub-expression printed so far by a printer with the default
settings, kept from formula to formula: a step repeats most of the step before it (and the report
prints what the check printed), and a sub-expression's print is a pure function of it (and, in
LaTeX, of the product sign in force: the key), whatever formula holds it.  A Float's text is not
kept: SymPy's str printer writes it in full at the top and shortened inside a formula."""


def _start_afresh_when_full(memo: dict) -> dict:
    if len(memo) > PRINTED_PARTS:
        memo.clear()
    return memo


class ElboStrPrinter(StrPrinter):
    """Prints notation back in the derivation-file vocabulary (round-trips through `parse`)."""

    def __init__(self, settings=None):
        shared = settings is None  # the default settings: the sub-expressions' texts are shared
        super().__init__({"order": "none"} if settings is None else settings)
        self._memo: dict[Basic, str] = _start_afresh_when_full(_TEXT_PRINTED) if shared else {}

    def _print(self, expr, **kwargs) -> str:
        # A sub-expression printed once (_print_Add and _negand print an operand, then bracket it).
        if kwargs or not isinstance(expr, Basic) or expr.is_Float:
            return super()._print(expr, **kwargs)
        known = self._memo.get(expr)
        if known is None:
            known = self._memo[expr] = super()._print(expr)
        return known

    def _distribution(self, d: Density) -> str:
        if isinstance(d, Density) and d.name in VARIATIONAL_NAMES and d.variables == (z,) and not d.given:
            return d.name  # q, r, q_star alone (one observation)
        return self._print(d)

    def _print_Density(self, d: Density) -> str:
        return f"{d.name}({_density_args(d, self._print)})"

    def _print_Pow(self, e, rational=False) -> str:
        # A whole-number power as written, its base bracketed unless it is one name, call or
        # whole number: SymPy's 1/x for x**(-1) parses back to 1 * x**-1 (red team rt8), its 1/2
        # for 2**(-1) to the number 1/2, and a real power's base unbracketed, b**a**2, to
        # b**(a**2) (red team rt30).  Inside a product _print_Mul writes a/x, which the parser
        # reads as a * x**-1.
        if not e.exp.is_Integer:
            return super()._print_Pow(e, rational)  # sqrt(x) and the like: the engine's, never parsed
        exponent = self._print(e.exp)
        return f"{self._bracketed(e.base, _is_plain(e.base))}**{f'({exponent})' if e.exp < 0 else exponent}"

    def _print_Add(self, e, order=None) -> str:
        # (a - b) - c prints as a - b - c, which parses back to the same left-nested sum; a
        # sum on the right keeps its brackets (a + (b + c) is another tree).
        # A later term -x (Mul(-1, x), as the parser builds a - x) prints as "- x": the minus of
        # a - x applies to all of x (a - b*c is a - (b*c)), and a - 3/10 reads the number -3/10,
        # as the parser builds it.  Any other term whose text starts with a minus is bracketed:
        # a + (-a*b), a + (-1*(3/10)) ("a - a*b" would parse as a - (a*b), another tree).
        # A later term c*x with a number c < 0 other than -1 is "+ (-2)*x" in a sum the parser could
        # have built (each + joins two terms): "- 2*x" would parse as - (2*x), another tree. A wider
        # sum is the engine's (no text parses to it) and reads "- 2*x".
        as_written = _written_sum(e)
        first, *rest = _left_terms(e)
        parts = [self._print(first)]
        for term in rest:
            if _scaled_down(term):
                coefficient, factor = term.args
                parts += (["+", f"({self._print(coefficient)})*{self._multiplier(factor)}"] if as_written
                          else ["-", self._print(Mul(-coefficient, factor, evaluate=False))])
            elif _negated(term) and term.is_Mul and not term.args[1].is_Number:
                operand = term.args[1]
                plain = not operand.is_Add and not self._print(operand).startswith("-")
                parts += ["-", self._bracketed(operand, plain)]
            elif term.is_Number and term.is_negative:
                parts += ["-", self._print(-term)]
            else:
                text = self._print(term)
                parts += ["+", f"({text})" if term.is_Add or text.startswith("-") else text]
        return " ".join(parts)

    def _print_Mul(self, e) -> str:
        # A product as the parser builds it (two factors) prints as written, so that the text
        # parses back to the tree it was printed from: -(a*b), -(-a), -1*(3/10), a*(-b), a*(b*c),
        # a/(-b), 3/(a*b), a*b*c for (a*b)*c, p(x)**(-1)/p(z) -- never -a*b, -(-1)*a, -(3/10)
        # (the number -3/10), a*(-1/b), 1/(p(x)*p(z)) or 3*1/(a*b) (other trees, red teams
        # rt18, rt27, rt30).  A product of more factors is the engine's: SymPy's own print.
        if len(e.args) != 2:
            return super()._print_Mul(e)
        left, right = e.args
        if left is S.NegativeOne:  # -x: the minus applies to all of x
            return "-" + self._negand(right)
        if right.is_Pow and right.exp is S.NegativeOne and not (left.is_Integer and right.base.is_Integer):
            # a/b (3/2, two whole numbers, would be the number 3/2: 3*2**(-1))
            return f"{self._multiplicand(left)}/{self._divisor(right.base)}"
        if _is_root_divisor(left) and not _is_root_divisor(right):
            left, right = right, left  # the engine's product, in SymPy's order: (1 + a)/sqrt(b)
        if _is_root_divisor(right):
            # the engine's a * b**(-1/2) as SymPy writes it, a/sqrt(b) (and a/b**(3/2)): no file has
            # sqrt, and SymPy reads this text back as that tree (a*(1/sqrt(b)) only after evaluating)
            return f"{self._multiplicand(left)}/{self._print(Pow(right.base, -right.exp, evaluate=False))}"
        return f"{self._multiplicand(left)}*{self._multiplier(right)}"

    def _negand(self, operand: Expr) -> str:
        """x in -x: a number as -1*(3/10) (-(3/10) is the number -3/10), 1/x as -1/x (but 2**(-1):
        -1/2 is the number -1/2)."""
        if operand.is_Number:
            return "1*" + self._multiplier(operand)
        if operand.is_Pow and operand.exp is S.NegativeOne and not operand.base.is_Integer:
            return "1/" + self._divisor(operand.base)
        return self._bracketed(operand, not (operand.is_Add or operand.is_Mul or self._print(operand).startswith("-")))

    def _multiplicand(self, factor: Expr) -> str:
        """The left operand of * or /: Python reads a*b*c and -a*b from the left, so only a sum is
        bracketed, and a fraction (-1/3/4 would be -1/12)."""
        if factor.is_Rational and not factor.is_Integer:
            return ("-" if factor < 0 else "") + f"({self._print(abs(factor))})"
        return self._bracketed(factor, not factor.is_Add)

    def _multiplier(self, factor: Expr) -> str:
        """The right operand of *: a product (a quotient is one), a sum, a fraction and anything
        negative are bracketed (a*b*c, a*-b, a*3/4 would be other trees)."""
        if factor.is_Number:
            return self._bracketed(factor, factor.is_Integer and not factor.is_negative)
        engines = factor.is_Pow and not factor.exp.is_Integer and factor.exp.is_negative  # SymPy's 1/sqrt(x)
        return self._bracketed(factor, not (factor.is_Mul or factor.is_Add or engines))

    def _divisor(self, base: Expr) -> str:
        """b in a/b: a name, call, whole number or power as it is (a/b**2 is a/(b**2), a/2**D is
        a/(2**D)), else bracketed."""
        return self._bracketed(base, _is_plain(base) or (base.is_Pow and base.exp.is_Integer) or is_real_power(base))

    def _bracketed(self, item: Expr, plain: bool) -> str:
        text = self._print(item)
        return text if plain else f"({text})"

    def parenthesize(self, item, level, strict=False):
        # A fraction inside a product is bracketed: -1/(3/4), not -1/3/4 (= -1/12).
        if getattr(item, "is_Rational", False) and not item.is_Integer and level >= PRECEDENCE["Add"]:
            return f"({self._print(item)})"
        return super().parenthesize(item, level, strict)

    def _print_LatentSum(self, s: LatentSum) -> str:
        return f"Sum({self._print(s.body)}, {self._print(s.args[1])})"

    def _print_DimensionSum(self, s: DimensionSum) -> str:
        return f"Sum({self._print(s.body)}, (d, 1, D))"

    def _print_Expectation(self, e: Expectation) -> str:
        return f"E({self._distribution(e.distribution)}, {self._print(e.body)})"

    def _print_KL(self, e: KL) -> str:
        return f"KL({self._print(e.args[0])}, {self._print(e.args[1])})"

    def _print_Entropy(self, e: Entropy) -> str:
        return f"H({self._distribution(e.args[0])})"

    def _print_ELBO(self, e: ELBO) -> str:
        parameter = f", {self._print(e.parameter)}" if e.parameter is not None else ""
        if e.observation == x:
            return f"ELBO({self._distribution(e.distribution)}{parameter})"
        return f"ELBO({self._print(e.distribution)}, {self._print(e.observation)}{parameter})"

    def _print_Exp(self, e: Exp) -> str:  # a RealPower prints itself (RealPower._sympystr)
        return f"exp({self._print(e.args[0])})"

    def _print_Normal(self, e: Normal) -> str:
        return f"Normal({self._print(e.mean)}, {self._print(e.variance)})"

    def _print_IWAE(self, e: IWAE) -> str:
        if e.symbolic:
            name = self._distribution(e.distribution) if e.observation == x else self._print(e.distribution)
            inside = f"{name}, {_count_text(e.count, self._print)}"
            return f"IWAE({inside})" if e.observation == x else f"IWAE({inside}, {self._print(e.observation)})"
        if e.observation == x:
            return f"IWAE({self._distribution(e.distribution)}, {self._print(e.count)})"
        return f"IWAE({self._print(e.distribution)}, {self._print(e.count)}, {self._print(e.observation)})"


_GREEK_NAMES: dict[str, str] = {
    **{name: "\\" + name for name in greek_letters_set - {"omicron"}},  # omicron would print as o
    **{name: tex for name, tex in tex_greek_dictionary.items() if not tex.startswith("\\mathrm") and tex != "o"},
}
"""Names printed as their Greek letter (``beta`` -> ``\\beta``, ``Gamma``, ``lamda``): the only names
the printer does not set as written.  ``Alpha`` stays ``Alpha`` (SymPy would print an A)."""
_NAME_WITH_INDEX = re.compile(r"([A-Za-z]+)([0-9]+)")
_NAME_SPECIALS = {"_": r"\_", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
                  "^": r"\^{}", "~": r"\~{}", "\\": r"\backslash{}"}


def integer_power(n: int) -> tuple[int, int] | None:
    """(2, k) when n = 2**k, else (10, k) when n = 10**k (k >= 2), else None: how a long integer is written
    short and exact (a far end's point is a power of 2; an author's bound a power of 10)."""
    if n > 2 and n & (n - 1) == 0:
        return 2, n.bit_length() - 1
    digits = str(n)
    if len(digits) > 2 and digits.rstrip("0") == "1":
        return 10, len(digits) - 1
    return None


def integer_latex(n: int) -> str:
    """An integer's LaTeX: its digits, or past LONG_NUMBER_DIGITS the power of 2 or 10 it is
    (``2^{480}``), else its digits in groups of three with a thin space and a possible line break
    between groups (a number cannot run off the page or the phone; no digit is left out)."""
    digits = str(abs(n))
    sign = "-" if n < 0 else ""
    if len(digits) <= LONG_NUMBER_DIGITS:
        return sign + digits
    power = integer_power(abs(n))
    if power is not None:
        return f"{sign}{power[0]}^{{{power[1]}}}"
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)]
    return sign + r"\,\allowbreak ".join(groups)


def _is_long_integer(n: Basic) -> bool:
    """An integer `integer_latex` sets as a power or in groups (``2^{480}``): bracketed as a power's base."""
    return bool(getattr(n, "is_Integer", False)) and len(str(abs(int(n)))) > LONG_NUMBER_DIGITS


def name_latex(name: str) -> str:
    """A symbol's name as LaTeX, as the author wrote it: a Greek letter's name as the letter,
    one letter as itself, a longer word upright-italic as one word (``tscr`` as ``mathit{tscr}``),
    trailing digits as an index (``beta1``: beta with index 1); ``_`` separates an index
    (internal names such as ``t_0_1``).  SymPy's own printer reads name suffixes as font and
    accent commands (``tscr`` as a script t, ``xhat`` as x with a hat, ``x__2`` as x squared):
    a user's name must never turn into a macro or look like another name or formula.  The data
    distribution's name prints as its density does (:data:`DATA_DENSITY_LATEX`)."""
    if name == DATA_DENSITY:
        return DATA_DENSITY_LATEX
    head, *indices = name.split("_")
    if not indices:
        match = _NAME_WITH_INDEX.fullmatch(name)
        if match and (match.group(1) in _GREEK_NAMES or len(match.group(1)) == 1):
            head, indices = match.group(1), [match.group(2)]
    out = _word_latex(head)
    if indices:
        out += "_{" + " ".join(name_latex(index) for index in indices) + "}"
    return out


def _word_latex(word: str) -> str:
    if word in _GREEK_NAMES:
        return _GREEK_NAMES[word]
    if len(word) <= 1 or word.isdigit():
        return _NAME_SPECIALS.get(word, word) or "{}"
    return r"\mathit{" + "".join(_NAME_SPECIALS.get(ch, ch) for ch in word) + "}"


class ElboLatexPrinter(LatexPrinter):
    """The one LaTeX printer: the lesson's notation as a textbook writes it."""

    def __init__(self, settings=None):
        shared = settings is None  # the default settings: the sub-expressions' LaTeX is shared
        settings = dict(settings or {})
        settings.setdefault("order", "none")
        settings.setdefault("mul_symbol", None)
        super().__init__(settings)
        self._memo: dict[tuple[Basic, str], str] = _start_afresh_when_full(_LATEX_PRINTED) if shared else {}

    def _print(self, expr, **kwargs) -> str:
        # Each sub-expression printed once (from formula to formula: _LATEX_PRINTED): deciding a factor's
        # brackets prints it (_runs_right), so without this a product nested n deep would be printed 2**n times.
        if kwargs or not isinstance(expr, Basic):
            return super()._print(expr, **kwargs)
        key = (expr, self._settings["mul_symbol_latex"])
        if key not in self._memo:
            self._memo[key] = super()._print(expr)
        return self._memo[key]

    def _print_Symbol(self, s: Symbol, style: str = "plain") -> str:
        if s.name.startswith(("pi_", "l_", "q_")) and "_" in s.name:
            head, index = s.name.split("_", 1)
            head = {"pi": r"\pi", "l": r"\ell", "q": "q"}[head]
            return f"{head}_{{{' '.join(name_latex(part) for part in index.split('_'))}}}"
        return name_latex(s.name)

    def _print_Str(self, s: Str) -> str:
        return s.name

    def _print_Density(self, d: Density) -> str:
        head = _density_args(d, self._print, "; ").replace(" | ", r" \mid ")
        if d.name == DATA_DENSITY:
            return f"{DATA_DENSITY_LATEX}({head})"
        return f"{density_name_latex(d.name)}({head})"

    def _print_ComplexRootOf(self, r) -> str:
        """A root with no radical form (an algebraic counterexample point: engine.search), as the root
        of its polynomial in t: ``\\mathrm{CRootOf}\\left(t^{3} - t - 1, 0\\right)``."""
        from elbo_sym.numbers.algebraic import root_shown

        shown = root_shown(r)
        return rf"\mathrm{{CRootOf}}\left({self._print(shown.polynomial)}, {shown.index}\right)"

    def _print_Integer(self, e) -> str:
        return integer_latex(int(e))

    def _print_Rational(self, e) -> str:
        if e.q == 1:
            return integer_latex(int(e.p))
        sign = "- " if e.p < 0 else ""
        numerator, denominator = integer_latex(abs(int(e.p))), integer_latex(int(e.q))
        if self._settings["fold_short_frac"]:
            return f"{sign}{numerator} / {denominator}"
        return rf"{sign}\frac{{{numerator}}}{{{denominator}}}"

    def _print_Infinity(self, e) -> str:  # limit(IWAE(q, k), k, oo)
        return r"\infty"

    def _scope(self, body: Expr) -> str:
        """The body of an operator whose scope runs to the right (a sum, a limit): a sum of
        terms, or a body that starts with a minus (``\\sum_{z} - q(z)`` reads as "sum minus"),
        is bracketed."""
        inner = self._print(body)
        return rf"\left({inner}\right)" if _shown_as_sum(body) or inner.startswith("-") else inner

    def _print_Limit(self, e: Limit) -> str:
        return rf"\lim_{{{self._print(e.variable)} \to {self._print(e.point)}}} {self._scope(e.body)}"

    def _print_LatentSum(self, s: LatentSum) -> str:
        return rf"\sum_{{{self._print(s.args[1])}}} {self._scope(s.body)}"

    def _print_DimensionSum(self, s: DimensionSum) -> str:
        return rf"\sum_{{d=1}}^{{D}} {self._scope(s.body)}"

    def _print_Expectation(self, e: Expectation) -> str:
        return rf"\mathbb{{E}}_{{{self._print(e.distribution)}}}\left[{self._print(e.body)}\right]"

    def _print_KL(self, e: KL) -> str:
        a, b = (self._print(arg) for arg in e.args)
        opening, closing = _brackets_around(a + b, "(", ")")
        return rf"\mathrm{{KL}}{opening}{a} \,\|\, {b}{closing}"

    def _print_Entropy(self, e: Entropy) -> str:
        inner = self._print(e.args[0])
        opening, closing = _brackets_around(inner, "[", "]")
        return rf"\mathrm{{H}}{opening}{inner}{closing}"

    def _print_ELBO(self, e: ELBO) -> str:
        if e.parameter is not None:  # PRML's L(q, theta)
            first = "q" if e.distribution == Density("q", (z,)) else self._print(e.distribution)
            if e.observation != x:
                first += rf";\, {self._print(e.observation)}"
            return rf"\mathcal{{L}}\big({first},\, {self._print(e.parameter)}\big)"
        if e.observation == x:
            if e.distribution == Density("q", (z,)):
                return r"\mathcal{L}(q)"
            return rf"\mathcal{{L}}\big({self._print(e.distribution)}\big)"
        return rf"\mathcal{{L}}\big({self._print(e.distribution)};\, {self._print(e.observation)}\big)"

    def _print_Normal(self, e: Normal) -> str:
        inner = rf"{self._print(e.mean)},\, {self._print(e.variance)}"
        opening, closing = _brackets_around(inner, "(", ")", size="")
        return rf"\mathcal{{N}}{opening}{inner}{closing}"

    def _print_IWAE(self, e: IWAE) -> str:
        name = "q" if e.distribution == Density("q", (z,)) else self._print(e.distribution)
        if e.observation != x:
            name += rf";\, {self._print(e.observation)}"
        return rf"\mathcal{{L}}^{{\mathrm{{IWAE}}}}_{{{_count_text(e.count, self._print)}}}({name})"

    def _print_log(self, e: Expr, exp: str | None = None) -> str:
        (arg,) = e.args
        printed = self._print(arg)
        if isinstance(arg, Notation) or arg.is_Symbol or arg.is_Integer or arg.is_NumberSymbol:  # \log \pi
            body = rf"\log {printed}"
        elif _is_fraction(arg) and _one_fraction(printed):
            # Tested on what is set, unlike a sum's brackets (`_shown_as_sum`): whether a quotient is set
            # as one \frac or as a factor beside one (2 \frac{a}{b}, \frac{1}{b} x, q(z) \frac{p}{q}) is
            # _print_Mul's choice among its layouts (numbers written apart, a leading coefficient or
            # normaliser, a chain of divisions, the multiply-and-divide move, SymPy's own), and a
            # predicate on the tree would be a second copy of that choice, free to drift from it.
            # The printed group is exact (balanced braces, the whole text): one \frac or not.
            body = rf"\log {printed}"
        else:
            # a product set as a factor and a fraction, \log\left(q(z) \frac{p(x, z)}{q(z)}\right):
            # without brackets it reads (\log q(z)) times the fraction (red team rt36 F4)
            body = rf"\log\left({printed}\right)"
        if exp is not None:
            return rf"\left({body}\right)^{{{exp}}}"
        return body

    def _print_Add(self, e: Expr, order: str | None = None) -> str:
        return " ".join(self.add_terms(e))

    def add_terms(self, e: Expr) -> list[str]:
        """A sum's terms as it is printed, each after its sign, ``["a", "+ b", "- c"]``: joined with
        spaces they are the sum's LaTeX (the one place a sum is set; :func:`sum_terms` splits a long
        bracket at them)."""
        # (a - b) - c prints as a - b - c: an unevaluated sum inside a sum needs no brackets.
        # A term that still starts with a minus after its sign is bracketed: a - (- b), never a - - b.
        pieces = []
        for i, term in enumerate(_terms(e)):
            sign = ""
            if i and term.could_extract_minus_sign():
                sign, term = "- ", -term
            elif i:
                sign = "+ "
            term_tex = self._print(term)
            # a product set as its one remaining sum (see _shown) is bracketed after a sign (rt33 F2b)
            if self._needs_add_brackets(term) or (i and (term_tex.startswith("-") or _shown_as_sum(term))):
                term_tex = rf"\left({term_tex}\right)"
            pieces.append(sign + term_tex)
        return pieces

    def _needs_mul_brackets(self, expr: Expr, first: bool = False, last: bool = False) -> bool:
        # A factor whose printed scope runs to the right is bracketed unless it is the last:
        # (\sum_{z} q(z)) \log p(z), (\log p(x)) q(z) -- never \sum_{z} q(z) \log p(z) for a product.
        printed = self._print(expr)
        if not last and _runs_right(printed):
            return True
        # A factor after the first that is typeset with a minus, b (c (-2)) as "- 2 c": 3 - 2 c reads
        # as a difference (red team rt33 F2); SymPy looks only at a leading -1 in the tree's args.
        if not first and printed.startswith("-"):
            return True
        if _shown_as_sum(expr):  # a product set as its one remaining sum (see _shown)
            return True
        return super()._needs_mul_brackets(expr, first=first, last=last)

    def _print_Pow(self, e: Expr) -> str:
        # SymPy hands a negative power to _print_Mul, which reads (base, exp) as two factors;
        # 1 over the positive power is what it means (and no recursion on (b**0)**-n).
        base, exponent = e.args
        if _is_inverted_quotient(e):
            return self._over_quotient([e])
        if exponent.is_Rational and exponent.is_negative and base.is_commutative:
            denominator = base if exponent == -1 else Pow(base, -exponent, evaluate=False)
            return rf"\frac{{1}}{{{self._print(denominator)}}}"
        base_tex = self._print(base)  # (\lim_{k \to \infty} f)^{2}; (0 + 1)^{2} for ((0 + 1)*(2*(1/2)))**2
        if not base.is_Function and (_runs_right(base_tex) or _shown_as_sum(base) or _is_long_integer(base)):
            return rf"\left({self._print(base)}\right)^{{{self._print(exponent)}}}"
        return super()._print_Pow(e)

    def _print_Mul(self, e: Expr) -> str:
        if not e.is_Mul:  # pragma: no cover - SymPy only passes products here now
            return super()._print_Mul(e)
        led = _reciprocal_first(e)
        if led is not None:  # (1/(1 - alpha)) * log(...): \frac{1}{1 - \alpha} \log ..., as written
            return self._led_by(self._print(led[0]), led[1])
        shown = _shown(e)
        if shown is not e:  # q(z) * (1/p(x)) is \frac{q(z)}{p(x)}
            return self._print(shown)
        factors = _factors(e)
        if factors[0] is S.NegativeOne and len(factors) > 1:  # -(x - b)**2 / (2 s**2): a minus, not (-1)
            # -x as the parser builds it keeps x's own tree (-(2*a)/2 is - \frac{2 a}{2}, never - a),
            # and so does (-a / b) / 2: - \frac{a}{b \cdot 2}, its divisions as written
            rest = _unsigned(e) or (factors[1] if len(factors) == 2 else Mul(*factors[1:], evaluate=False))
            body = self._print(rest)
            bracket = _shown_as_sum(rest) or body.startswith("-")  # - (- a), - (0 + 1)
            return rf"- \left({body}\right)" if bracket else f"- {body}"
        if _numbers_written_apart(e):
            # 2 * ELBO(q) / 2, a * 3 / 3, 1 * a: numbers the author wrote apart print apart (red team rt31);
            # a / (2/3) is \frac{a}{2/3}, not a fraction set small under a bar
            return self._written_product(e)
        lead = _coefficient_first(e)
        if lead is not None:
            return self._print(lead)
        # A rational coefficient leads as a fraction: \frac{1}{3} \log 5, not \frac{\log 5}{3}.
        coeff, rest = e.as_coeff_Mul()
        if coeff.is_Rational and not coeff.is_Integer and rest is not S.One and not _is_fraction(rest):
            sign = "- " if coeff < 0 else ""
            return sign + self._led_by(rf"\frac{{{integer_latex(abs(coeff.p))}}}{{{integer_latex(coeff.q)}}}", rest)
        # A ratio of two numbers stays a ratio: \frac{3}{20} \big/ \frac{3}{10}.
        args = _factors(e)
        if (len(args) == 2 and args[0].is_Number and args[1].is_Pow and args[1].exp == -1
                and args[1].base.is_Number):
            divisor = self._print(args[1].base)  # 3 \big/ \left(-2\right), never 3 \big/ -2
            if divisor.startswith("-"):
                divisor = rf"\left({divisor}\right)"
            return rf"{self._print(args[0])} \big/ {divisor}"
        chain = _division_chain(e)
        if chain is not None:
            return self._divided(*chain)
        args = _factors(e)
        if any(_is_inverted_quotient(f) for f in args):
            return self._over_quotient(args)
        # Multiply-and-divide stays visible: q(z) \frac{p(x, z)}{q(z)}, not \frac{q(z) p(x, z)}{q(z)}.
        for a in args:
            if isinstance(a, Notation) and Pow(a, -1) in args and len(args) > 2:
                others = list(args)
                others.remove(a)
                first, second = self._print(a), self._print(Mul(*others, evaluate=False))
                if _runs_right(first):
                    first = rf"\left({first}\right)"
                if second.startswith("-"):  # p(x) * ((-1) / p(x)): p(x) \left(- \frac{1}{p(x)}\right), never a minus
                    second = rf"\left({second}\right)"
                return rf"{first} {second}"
        # A thin space between adjacent densities, q(z)\, p(x, z), and before an operator such as
        # KL or E after a factor: \beta\, \mathrm{KL}(...), never "βKL"; between all factors beside a
        # word-long name (\mathit{tscr} \, \mathit{xhat}: a product of two names never reads as one).
        if any(a.is_Pow and a.exp.is_negative for a in e.args) and any(a.is_Mul and _is_fraction(a) for a in e.args):
            # (p(x) / q(z)) / p(z): one fraction \frac{p(x)}{q(z)\, p(z)}, never \frac{1}{q(z)} inside a numerator
            if any(_is_numeric(a) for a in args):  # (1/a) * (2/a): \frac{2}{a a}, its number above the bar
                above = [a for a in args if not _is_divisor(a)]
                return self._divided(_product(above) if above else S.One, [_divisor(a) for a in args if _is_divisor(a)])
            e = Mul(*args, evaluate=False)
        below = [_divisor(a) for a in _factors(e) if _is_divisor(a)]
        if any(self._print(d)[:1].isdigit() for d in below[1:]):
            # (1/a) * (1/(b*2)): \frac{1}{a \cdot 2 b}, never SymPy's a 2 b (a number beside a name reads as one)
            above = [a for a in _factors(e) if not _is_divisor(a)]
            return self._divided(_product(above) if above else S.One, below)
        if any(_plain_product(a) for a in e.args[:-1]):
            # (log p(x) log p(z)) q(z) as one product: each factor bracketed on its own if need be
            e = Mul(*(f for a in e.args for f in _plain_factors(a)), evaluate=False)
        if any(f.is_Symbol and name_latex(f.name).startswith(r"\mathit") for f in args):
            saved = self._settings["mul_symbol_latex"]
            self._settings["mul_symbol_latex"] = r" \, "
            try:
                printed = super()._print_Mul(e)
            finally:
                self._settings["mul_symbol_latex"] = saved
        else:
            printed = super()._print_Mul(e)
        return _OPERATOR_GAP.sub(r"\\, ", _DENSITY_GAP.sub(r")\\, ", printed))

    def _led_by(self, lead: str, rest: Expr) -> str:
        """`rest` after a printed fraction that leads it as a coefficient (\\frac{1}{2} \\log p(x),
        \\frac{1}{k} \\sum_{z} ...): a sum or a leading minus bracketed (\\frac{1}{2} -3 reads 1/2 - 3),
        a number after a \\cdot (\\frac{1}{2} 3 reads as a mixed number)."""
        body = self._print(rest)
        if _shown_as_sum(rest) or body.startswith("-"):
            body = rf"\left({body}\right)"
        number_next = rest.is_Number or body[:1].isdigit()
        gap = r" \cdot " if number_next or body.startswith(r"\left(-") and _is_numeric(rest) else " "
        return f"{lead}{gap}{body}"

    def _divided(self, dividend: Expr, divisors: list[Expr]) -> str:
        """``N / D1 / D2 ...`` as one fraction, the divisors side by side below the bar in the order
        written (``a / a / a`` is ``\\frac{a}{a a}``, ``p(x) / p(x) / p(x)`` is
        ``\\frac{p(x)}{p(x)\\, p(x)}``) and each part printed as written (``0 / (a * 1)`` is
        ``\\frac{0}{a \\cdot 1}``): SymPy's own fraction reorders the factors, prints a number
        beside a name (``a 1``) and sets the first dividend in front, ``p(x) \\frac{1}{p(x)\\, p(x)}``."""
        pieces = []
        for i, d in enumerate(divisors):
            tex = self._print(d)
            if len(divisors) > 1 and self._needs_mul_brackets(d, first=i == 0, last=i == len(divisors) - 1):
                tex = rf"\left({tex}\right)"  # a / b / (c + d), a / b / (-c): b \left(c + d\right)
            pieces.append(tex)
        below = _OPERATOR_GAP.sub(r"\\, ", _side_by_side(pieces))
        return _DENSITY_GAP.sub(r")\\, ", rf"\frac{{{self._print(dividend)}}}{{{below}}}")

    def _written_product(self, e: Expr) -> str:
        """A product that holds several numbers (or a factor 1) as the author wrote it, one * or /
        at a time from the left as Python reads it: ``2 * ELBO(q) / 2`` is
        ``\\frac{2 \\mathcal{L}(q)}{2}``, ``(1/2) * a * 2`` is ``\\frac{1}{2} a \\cdot 2``.  Multiplying
        the numbers into one coefficient would print ``\\mathcal{L}(q)``: a step that multiplies
        and divides by 2 would show as no step at all, and not as the report writes it."""
        *before, last = e.args
        left = before[0] if len(before) == 1 else Mul(*before, evaluate=False)
        if _is_divisor(last):
            below = _divisor(last)
            above = self._slash(left) if _is_quotient(left) else self._print(left)
            if below.is_Rational and not below.is_Integer:  # a / (2/3): \frac{a}{2/3}, no fraction under a bar
                under = f"{'-' if below < 0 else ''}{integer_latex(abs(below.p))}/{integer_latex(below.q)}"
            else:
                under = self._slash(below) if _is_quotient(below) else self._print(below)
            return _DENSITY_GAP.sub(r")\\, ", rf"\frac{{{above}}}{{{under}}}")
        first, second = self._print(left), self._print(last)
        if left.is_Add or _runs_right(first):  # (\frac{1}{2} \log p(x)) \cdot 2: the 2 is no part of the log
            first = rf"\left({first}\right)"
        if last.is_Add or second.startswith("-"):
            second = rf"\left({second}\right)"
        # a dot where side by side would read as one number or one word: 2 \cdot 3, a \cdot \frac{2}{3}, 1 \cdot a
        apart = (_is_numeric(last) or first[-1:].isdigit() or second[:1].isdigit()
                 or second.startswith((r"\frac", r"\mathit")) or _ENDS_IN_WORD.search(first) is not None)
        joined = f"{first} \\cdot {second}" if apart else f"{first} {second}"
        return _OPERATOR_GAP.sub(r"\\, ", _DENSITY_GAP.sub(r")\\, ", joined))

    def _over_quotient(self, factors: list[Expr]) -> str:
        """A product of `factors` (as written) with a quotient in its denominator, as one fraction
        whose denominator writes that quotient with a slash: ``p(x) / (q(z) / p(z))`` is
        ``\\frac{p(x)}{q(z) / p(z)}``.  SymPy would print the denominator's factors side by side
        (``q(z) \\frac{1}{p(z)}``), and a ``\\frac`` under a bar is set two sizes smaller; the
        tree is printed as it is, never multiplied out into ``\\frac{p(x)\\, p(z)}{q(z)}``."""
        if any(_is_divisor(f) and not _is_inverted_quotient(f) for f in factors):
            # (p(x) / q(z)) / (p(z) / q(z)): a quotient over a quotient, \frac{p(x) / q(z)}{p(z) / q(z)}
            numerator = self._slash(_product([f for f in factors if not _is_inverted_quotient(f)]))
            below = [f.base for f in factors if _is_inverted_quotient(f)]
        else:
            above = [f for f in factors if not _is_divisor(f)]
            below = [_divisor(f) for f in factors if _is_divisor(f)]
            numerator = self._print(_product(above)) if above else "1"
        pieces = []
        for d in below:
            tex = self._slash(d) if _is_quotient(d) else self._print(d)
            if len(below) > 1 and (d.is_Add or _is_quotient(d) or self._needs_mul_brackets(d)):
                tex = rf"\left({tex}\right)"
            pieces.append(tex)
        return _DENSITY_GAP.sub(r")\\, ", rf"\frac{{{numerator}}}{{{_side_by_side(pieces)}}}")

    def _slash(self, quotient: Expr) -> str:
        """A quotient written ``a / b`` (inside a fraction's denominator): the numerator bracketed
        when it is a sum or its scope runs right (``\\log p(x) / p(z)`` would read as the log of
        the quotient), the denominator unless it is a single factor that ends where it ends."""
        factors = _factors(quotient) if quotient.is_Mul else [quotient]
        above = [f for f in factors if not _is_divisor(f)]
        below = [_divisor(f) for f in factors if _is_divisor(f)]
        top = _product(above) if above else S.One
        numerator = self._print(top)
        if _shown_as_sum(top) or _runs_right(numerator):
            numerator = rf"\left({numerator}\right)"
        bottom = _product(below)
        denominator = self._slash(bottom) if _is_quotient(bottom) else self._print(bottom)
        if bottom.is_Add or bottom.is_Mul or _is_quotient(bottom) or _negated(bottom) or _runs_right(denominator):
            denominator = rf"\left({denominator}\right)"
        return _DENSITY_GAP.sub(r")\\, ", f"{numerator} / {denominator}")

    def _print_RealPower(self, e: Expr, exp: str | None = None) -> str:
        return self._print_Exp(e, exp)

    def _print_Exp(self, e: Expr, exp: str | None = None) -> str:
        """A real power as it was written (docs/vocabulary.md §9), also under another power:
        ``(p(x)**alpha)**2`` is ``\\left(p(x)^{\\alpha}\\right)^{2}``, never the exp(alpha log p(x))
        the engine reads it as."""
        if is_real_power(e) and e.parts is not None:
            base, exponent = e.parts
            inner = self._print(base)
            if not _is_power_base(base):
                inner = rf"\left({inner}\right)"
            power = rf"{inner}^{{{self._print(exponent)}}}"
            return power if exp is None else rf"\left({power}\right)^{{{exp}}}"
        return self._print_exp(e, exp)

    def _print_exp(self, e: Expr, exp: str | None = None) -> str:
        body = rf"\exp\left({self._print(e.args[0])}\right)"
        return rf"{body}^{{{exp}}}" if exp is not None else body


_ENDS_IN_WORD = re.compile(r"\\mathit\{[^{}]*\}$")
_DENSITY_GAP = re.compile(r"\) (?=(?:[pqr]|q\^\{\*\})\()")
_OPERATOR_GAP = re.compile(
    r"(?<=[^\s+\-=(\[{,])(?<!\\log)(?<!\\exp) (?=\\(?:mathrm\{KL\}|mathrm\{H\}|mathbb\{E\}|mathcal\{L\}))")
"""The space before KL, H, E or L after a factor, widened to a thin space (\\beta\\, \\mathrm{KL}), but
not after \\log or \\exp, whose argument it is: \\log \\mathbb{E}_{q(z)}[...] (was \\log\\, \\mathbb{E})."""


def _brackets_around(inner: str, opening: str, closing: str, size: str = r"\big") -> tuple[str, str]:
    """The brackets of KL(..), H[..] and N(..): of a fixed size around densities and names (\\big
    for KL and H, a steady size from formula to formula; N's own size, so that the \\big brackets
    of KL(N(..) || N(0, 1)) stay the taller, which \\left( around a square did not), or as tall as a
    fraction inside them (the mixture (q1 + q2)/2 of \\mathrm{H}\\left[\\frac{q_1 + q_2}{2}\\right],
    which \\big[ left sticking out).  A size, so the printed text is what is measured: nothing is
    read differently either way."""
    if r"\frac" in inner:
        return rf"\left{opening}", rf"\right{closing}"
    return f"{size}{opening}", f"{size}{closing}"


def _side_by_side(pieces: list[str]) -> str:
    """Printed factors joined as a product below a fraction's bar: ``b \\cdot 2`` and ``2 \\cdot 3``,
    never ``b 2`` or ``2 3`` (one number), ``2 \\cdot \\frac{1}{2}`` (never a mixed number), but
    ``2 c`` as a textbook sets it, and a thin space after a density, ``q(z)\\, p(z)``."""
    out = ""
    for tex in pieces:
        apart = tex[:1].isdigit() or (out[-1:].isdigit() and tex.startswith(r"\frac"))
        out = tex if not out else out + (r" \cdot " if apart else " ") + tex
    return _DENSITY_GAP.sub(r")\\, ", out)


def _runs_right(tex: str) -> bool:
    """The printed formula ends inside the scope of an operator with no closing bracket: a
    ``\\sum``, ``\\lim`` or bracket-free ``\\log`` outside every bracket and brace
    (``\\sum_{z} q(z)``, ``2 \\log p(x)``): a factor printed after it would be read into it."""
    depth, i, n = 0, 0, len(tex)
    while i < n:
        ch = tex[i]
        if ch == "\\":
            word = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            name = word.group(1) if word else ""
            if depth == 0 and (name in ("sum", "lim") or (name == "log" and not tex.startswith(r"\left", i + 4))):
                return True
            i += 1 + len(name)  # \left( and \right): their delimiter is counted next; \{ is no bracket
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        i += 1
    return False


def _factors_but_numerator_ones(e: Expr) -> list[Expr]:
    """The factors of a product (as `_factors`) without the 1 of each ``1/b`` in it, which the parser
    builds as 1 * b**-1: a numerator, not a factor (``a * 1 / b`` keeps its 1)."""
    out: list[Expr] = []
    for a in e.args:
        out.extend(_factors_but_numerator_ones(a) if a.is_Mul else [a])
    numerator_one = len(e.args) == 2 and e.args[0] is S.One and _is_divisor(e.args[1])
    return out[1:] if numerator_one else out


def _by_fraction(e: Expr) -> bool:
    """A division by a fraction as written, (2/3)**-1 of a / (2/3)."""
    return bool(_is_divisor(e) and e.base.is_Rational and not e.base.is_Integer)


def _is_root_divisor(e: Expr) -> bool:
    """b**(-1/2), b**(-3/2): a power only the engine builds (a file's exponents are whole numbers
    or parameters), printed after a slash as SymPy does, a/sqrt(b)."""
    return bool(e.is_Pow and e.exp.is_Rational and not e.exp.is_Integer and e.exp.is_negative)


def _is_power_base(e: Expr) -> bool:
    """A base that takes an exponent without brackets in LaTeX: a name, a whole number, a density
    or an operator that ends in its own bracket (p(x)^{\\alpha}, \\mathcal{L}(q)^{\\alpha}); never a log
    or a sum, whose scope would take the exponent in (\\log p(x)^{\\alpha})."""
    return bool(e.is_Symbol or (e.is_Integer and not e.is_negative)
                or isinstance(e, (Density, KL, Entropy, ELBO, Expectation, IWAE, Normal)))


def _numbers_written_apart(e: Expr) -> bool:
    """A product with notation in it whose numbers print where they were written (ElboLatexPrinter.
    _written_product): several numbers (``a * 3 / 3``), two signs, a factor 1 (``a * 1``; not the 1
    of ``1 / b``) or a division by a fraction (``a / (2/3)``)."""
    factors = _factors(e)
    numbers = [f for f in factors if _is_numeric(f)]
    signs = numbers.count(S.NegativeOne)
    return bool(len(numbers) < len(factors) and (len(numbers) - signs > 1 or signs > 1
                                                 or S.One in _factors_but_numerator_ones(e)
                                                 or any(map(_by_fraction, factors))))


def _multiplied_numbers(e: Expr) -> list[Expr]:
    """The numbers that multiply the product `e` itself: its number factors, and those of its
    factors that are products, but none inside a division ``N / D`` (the parser's N * D**-1),
    whose numbers belong to its numerator or its denominator."""
    if not e.is_Mul or _is_division(e):
        return []
    return [n for a in e.args for n in ([a] if _is_numeric(a) else _multiplied_numbers(a))]


def _is_division(e: Expr) -> bool:
    """``N / D`` as the parser builds it: N times D**-1, two factors."""
    return bool(e.is_Mul and len(e.args) == 2 and _is_divisor(e.args[1]))


def _coefficient_first(e: Expr) -> Expr | None:
    """The product `e` with its numbers led as one coefficient, as a textbook writes a product
    (``a * 2`` is ``2 a``, ``a / b * 2`` is ``2 \\frac{a}{b}``, ``(1/2) * (-p(x))`` is
    ``- \\frac{1}{2} p(x)``), or None when `e` is printed with its numbers where they stand: no
    number, a number already first, or a number written inside a division, which stays on its side
    of the bar in the order written (``a * 2 / b`` is ``\\frac{2 a}{b}``, ``a / a / 2`` is
    ``\\frac{a}{a \\cdot 2}``, ``a / 2 / a`` is ``\\frac{a}{2 a}``: leading the 2 would set all
    three alike).  The one rule for where a lone number of a product goes (several numbers, or a
    written 1, print as written: `_numbers_written_apart`)."""
    factors = _factors(e)
    numbers = [f for f in factors if _is_numeric(f)]
    others = [f for f in factors if not _is_numeric(f)]
    if not others or not numbers or (len(numbers) == 1 and numbers[0] is factors[0]):
        return None
    if len(_multiplied_numbers(e)) != len(numbers):
        return None
    rest = others[0] if len(others) == 1 else Mul(*others, evaluate=False)
    return Mul(Mul(*numbers), rest, evaluate=False)  # Mul(...) evaluates the sign in


def _unsigned(e: Expr) -> Expr | None:
    """`e` without the -1 that leads it, every other node as written (``-a / b / 2`` is
    ``(a / b) / 2``), or None when that -1 is not the first factor of a two-factor product
    down the left (the engine's wider products)."""
    if _negated(e) and e.is_Mul:
        return e.args[1]
    if e.is_Mul and len(e.args) == 2 and e.args[0].is_Mul:
        inner = _unsigned(e.args[0])
        return None if inner is None else Mul(inner, e.args[1], evaluate=False)
    return None


def _division_chain(e: Expr) -> tuple[Expr, list[Expr]] | None:
    """(N, [D1, D2, ...]) for ``N / D1 / D2 ...`` as the parser builds it, each ``/`` a product of
    what is left of it and 1 over what is right of it, when it is set as one fraction by
    ElboLatexPrinter._divided: two divisions or more, or one with a number in it (``a * 2 / b``,
    ``a / (b * 2)``, ``0 / (a * 1)``), whose numbers print where they were written.
    None for anything else: a single ``a / b`` of names (SymPy sets it), a quotient divided or
    dividing (``_over_quotient``).  Several numbers (``(q(z) / 2) / 3``) never reach it:
    ElboLatexPrinter._written_product sets them one operation at a time."""
    divisors: list[Expr] = []
    while e.is_Mul and len(e.args) == 2 and e.args[1].is_Pow and e.args[1].exp == -1 and not _is_divisor(e.args[0]):
        divisors.append(e.args[1].base)
        e = e.args[0]
    divisors.reverse()
    if not divisors or (len(divisors) == 1 and not _holds_number(e) and not _holds_number(divisors[0])):
        return None
    if _is_quotient(e) or _is_fraction(e) or any(_is_quotient(d) for d in divisors):
        return None
    return e, divisors


def _holds_number(e: Expr) -> bool:
    """`e` is a number or a product with a number factor (SymPy's own fraction would print the
    numbers of ``a * 2 / b`` or ``a / (b * 2)`` where they stand, ``\\frac{a 2}{b}``)."""
    return any(_is_numeric(f) for f in (_factors(e) if e.is_Mul else [e]))


def _shown(e: Expr) -> Expr:
    """The tree the printer sets for `e`: `e` itself, or for a product with the parser's 1 of a
    ``1/b`` (1 * b**-1) in it, that product without the 1, which is a numerator and no factor
    (``q(z) * (1/p(x))`` is set as ``q(z) / p(x)``, ``\\frac{q(z)}{p(x)}``; ``a * 1 / b`` keeps its 1),
    its other products as written (``(1/a) * (2/a)``: the 2 stays in its division).
    The one place that choice is made, so that the brackets follow what is set (`_shown_as_sum`)."""
    if not e.is_Mul:
        return e
    kept = _factors_but_numerator_ones(e)
    if len(kept) < len(_factors(e)) and kept and S.One not in kept:
        return _without_numerator_ones(e)
    return e


def _reciprocal_first(e: Expr) -> tuple[Expr, Expr] | None:
    """(1/b, x) for ``1 / b * x`` as the parser builds it (x the rest of the product, as written, no
    quotient and no number): set as a textbook writes a normaliser, \\frac{1}{b} x
    (\\frac{1}{1 - \\alpha} \\log \\mathbb{E}[...], \\frac{1}{Z} \\exp(...)), like a number's \\frac{1}{2} x,
    never \\frac{x}{b}.  None for anything else (``x * (1 / b)`` is \\frac{x}{b}: `_shown`)."""
    if not (e.is_Mul and len(e.args) == 2):
        return None
    first, second = e.args
    if first.is_Mul and len(first.args) == 2 and first.args[0] is S.One and _is_divisor(first.args[1]) \
            and first.args[1].exp == -1:
        led: tuple[Expr, Expr] | None = (first.args[1], second)
    else:
        inner = _reciprocal_first(first)
        led = None if inner is None else (inner[0], Mul(inner[1], second, evaluate=False))
    if led is None or _is_quotient(led[1]) or _is_numeric(led[1]) or _is_divisor(second):
        return None
    return led


def _without_numerator_ones(e: Expr) -> Expr:
    """`e` with each ``1 / b`` of the parser (1 * b**-1) set as b**-1, every other product as written."""
    if not e.is_Mul:
        return e
    if len(e.args) == 2 and e.args[0] is S.One and _is_divisor(e.args[1]):
        return e.args[1]
    return Mul(*(_without_numerator_ones(a) for a in e.args), evaluate=False)


def _shown_as_sum(e: Expr) -> bool:
    """`e` is set as a sum or difference of terms: a sum, or a product set as its one remaining
    factor, a sum.  Wherever a sum takes brackets such a product takes them too (red team rt33
    F2b: ``a - 1*(b + c)`` must never read as ``a - b + c``).  Decided on the tree the printer
    sets, never by scanning the LaTeX it printed."""
    return bool(_shown(e).is_Add)


def _plain_product(e: Expr) -> bool:
    """A product with no quotient and no sign in front: printed as its factors side by side."""
    return bool(e.is_Mul and not _is_fraction(e) and not e.could_extract_minus_sign())


def _plain_factors(e: Expr) -> list[Expr]:
    """The factors of nested plain products, in order (a quotient or a signed product stays whole)."""
    return [f for a in e.args for f in _plain_factors(a)] if _plain_product(e) else [e]


def _negated(e: Expr) -> bool:
    """A negative number, or -x as the parser builds it (Mul(-1, x)): printed with a leading minus."""
    return bool((e.is_Number and e.is_negative) or (e.is_Mul and len(e.args) == 2 and e.args[0] is S.NegativeOne))


def _is_plain(e: Expr) -> bool:
    """One name, call or whole number: written before ** or after / without brackets (never a real
    power, b**a: as a base, b**a**2 would be b**(a**2))."""
    return bool(e.is_Symbol or (e.is_Integer and not e.is_negative)
                or (isinstance(e, (Notation, log, exp)) and not is_real_power(e)))


def _scaled_down(e: Expr) -> bool:
    """c*x with a number c < 0 other than -1, as two factors (not how the parser writes a - 2*x)."""
    return bool(e.is_Mul and len(e.args) == 2 and e.args[0].is_Number and e.args[0].is_negative
                and e.args[0] is not S.NegativeOne and not e.args[1].is_Number)


def _written_sum(e: Expr) -> bool:
    """Every sum down the left of `e` joins two terms, as the parser builds a + b - c."""
    return len(e.args) == 2 and (not e.args[0].is_Add or _written_sum(e.args[0]))


def _terms(e: Expr) -> list[Expr]:
    """The terms of a (possibly nested, unevaluated) sum, in order."""
    out: list[Expr] = []
    for a in e.args:
        out.extend(_terms(a) if a.is_Add else [a])
    return out


def _left_terms(e: Expr) -> list[Expr]:
    """The terms of a sum whose first term is a sum, and so on down the left (how the parser
    nests a - b - c)."""
    first, *rest = e.args
    return (_left_terms(first) if first.is_Add else [first]) + rest


def _factors(e: Expr) -> list[Expr]:
    """The factors of a (possibly nested, unevaluated) product, in order."""
    out: list[Expr] = []
    for a in e.args:
        out.extend(_factors(a) if a.is_Mul else [a])
    return out


def _is_numeric(e: Expr) -> bool:
    """A number, or a number to an integer power as written (the 1/2 of `... / 2`)."""
    return bool(e.is_Number or (e.is_Pow and e.base.is_Number and e.exp.is_Integer))


def _is_divisor(e: Expr) -> bool:
    """A factor that divides: b**-n as written (the 1/2 of ``(a + b) / 2`` too)."""
    return bool(e.is_Pow and e.exp.is_Rational and e.exp.is_negative)


def _divisor(e: Expr) -> Expr:
    """What a dividing factor b**-n divides by: b, or b**n."""
    return e.base if e.exp == -1 else Pow(e.base, -e.exp, evaluate=False)


def _is_quotient(e: Expr) -> bool:
    """A quotient of expressions as written, a / b or a * (b / c) (not a number such as 3/10)."""
    return bool(not e.is_Number and (_is_divisor(e) or (e.is_Mul and any(_is_divisor(f) for f in _factors(e)))))


def _is_inverted_quotient(e: Expr) -> bool:
    """1 / (a / b) as written: a quotient to the power -1."""
    return bool(e.is_Pow and e.exp == -1 and _is_quotient(e.base))


def _product(factors: list[Expr]) -> Expr:
    """The factors as one product, as written (one factor is itself)."""
    return factors[0] if len(factors) == 1 else Mul(*factors, evaluate=False)


def _one_fraction(tex: str) -> bool:
    """`tex` is one ``\\frac{...}{...}`` and nothing else: what a log may take without brackets.
    A product printed as a factor beside a fraction (``2 \\frac{p(x)}{q(z)}``, the multiply-and-divide
    move, a number divisor left to SymPy) is no such group, whatever its tree holds, so the test
    is made on the one group that is set (red team rt36 F4), not on the tree's factors."""
    if not tex.startswith(r"\frac{"):
        return False
    at = len(r"\frac")
    for _ in range(2):  # the numerator's and the denominator's brace groups, balanced
        if tex[at:at + 1] != "{":
            return False
        depth = 0
        while at < len(tex):
            depth += {"{": 1, "}": -1}.get(tex[at], 0)
            at += 1
            if depth == 0:
                break
    return at == len(tex)


def _is_fraction(e: Expr) -> bool:
    if e.is_Rational and not e.is_Integer:
        return True
    if e.is_Mul:
        return any(f.is_Pow and f.exp.is_negative for f in e.args)
    return e.is_Pow and e.exp.is_negative


def to_latex(expr: Basic) -> str:
    """LaTeX for an expression of the lesson (the only way math reaches a handout)."""
    if isinstance(expr, Basic):
        return _printed(expr, latex=True)
    return ElboLatexPrinter().doprint(expr)


def to_text(expr: Basic) -> str:
    """The expression in derivation-file syntax (what an author would type)."""
    if isinstance(expr, Basic):
        return _printed(expr, latex=False)
    return ElboStrPrinter().doprint(expr)


@lru_cache(maxsize=8192, typed=True)
def _printed(expr: Basic, latex: bool) -> str:
    """An expression printed once: printing is a pure function of the expression (SymPy's ==
    is structural and keeps the order of unevaluated sums), and the same expressions are printed
    again and again (a step's sides, its definedness conditions, the report, the claim).
    A printer error is raised each time, never remembered."""
    return ElboLatexPrinter().doprint(expr) if latex else ElboStrPrinter().doprint(expr)


RELATION_LATEX = {"=": "=", "<=": r"\leq", ">=": r"\geq", "<": "<", ">": ">", "!=": r"\neq"}


def relation_latex(lhs: Basic, rel: str, rhs: Basic) -> str:
    """`lhs rel rhs` through the one printer: a formula, a claim or a condition."""
    return f"{to_latex(lhs)} {RELATION_LATEX[rel]} {to_latex(rhs)}"


_OPENERS_TEX = "([{"
_CLOSERS_TEX = ")]}"


def latex_terms(latex: str) -> list[str]:
    """The top-level terms of the printer's LaTeX for a sum, where a long line may break:
    ``a + b - c`` gives ``["a", "+ b", "- c"]`` (a leading minus stays with the first term).

    Only a `` + `` or `` - `` outside every bracket and brace splits (the printer writes a
    sum's signs with one space each side, and every bracket it opens it closes: ``\\left(``
    counts as ``(``); joining the pieces with spaces gives ``latex`` back.
    """
    pieces: list[str] = []
    depth, start, i, n = 0, 0, 0, len(latex)
    while i < n:
        ch = latex[i]
        if ch == "\\" and i + 1 < n and latex[i + 1] in _OPENERS_TEX + _CLOSERS_TEX + "|,;!":
            i += 2  # an escaped brace \{ or a spacing command: not a bracket of the formula
            continue
        if ch in _OPENERS_TEX:
            depth += 1
        elif ch in _CLOSERS_TEX:
            depth -= 1
        elif depth == 0 and ch in "+-" and i > start and latex[i - 1] == " " and latex[i + 1:i + 2] == " ":
            pieces.append(latex[start:i - 1])
            start = i
        i += 1
    pieces.append(latex[start:])
    return pieces if depth == 0 else [latex]


def bracketed_terms(latex: str) -> list[str] | None:
    """The terms inside a term that is one bracketed sum, ``\\left(a + b - c\\right)`` (as
    :func:`latex_terms` splits them), so that a long bracket may break between them too; None
    when the term is anything else (a bracket followed by more, a bracket around one term)."""
    if not (latex.startswith(r"\left(") and latex.endswith(r"\right)")):
        return None
    if _first_bracket_closes(latex) != len(latex) - 1:
        return None  # \left(a\right) b \left(c\right): the first bracket closes before the end
    terms = latex_terms(latex[len(r"\left("):-len(r"\right)")])
    return terms if len(terms) > 1 else None


_FACTOR_GAP = re.compile(r" ?(?:\\,|\\cdot)? ?")
"""What the printer sets between two factors of a product: a space, a thin space or a dot."""


FactorPrint = tuple[str, str, tuple[str, ...]]
"""One factor of a product as :func:`product_factors` gives it: (the printer's gap before it, the factor's
LaTeX whole, the terms of the bracketed sum it ends with -- ``\\left(a + b\\right)``, ``\\exp\\left(a + b\\right)``
-- each after its sign, or () when it ends in none)."""


def product_breaks(expr: Expr) -> dict[str, tuple[FactorPrint, ...]]:
    """Where a product too wide for a line may break: for each top-level term of `expr` (a sum's terms
    after their signs, as ``_print_Add`` sets them, else `expr` itself) that :func:`product_factors`
    splits, the term's LaTeX (a piece of :func:`latex_terms` after its sign) -> its factors."""
    out: dict[str, tuple[FactorPrint, ...]] = {}
    for i, term in enumerate(_terms(expr) if expr.is_Add else [expr]):
        if i and term.could_extract_minus_sign():
            term = -term
        factors = product_factors(term)
        if factors is not None:
            out.setdefault(to_latex(term), factors)
    return out


def product_factors(term: Expr) -> tuple[FactorPrint, ...] | None:
    """The factors of a product as the printer sets each inside it, for a line break between two of
    them: (gap before it, the factor's LaTeX, bracketed if the product brackets it, the terms of the
    bracketed sum it ends with: :func:`sum_terms`), its numbers led as one coefficient glued to the first
    (``\\frac{1}{2} \\left(a + b\\right)``, as the printer leads a rational coefficient), the gaps the
    printer's (``\\,`` after a density).  Joined, they are the printer's LaTeX of that product, which is
    `term` (the same factors, its numbers multiplied) -- though not always its layout: ``(1/2) * (a + b) *
    (c + d)`` is set as one fraction, ``\\frac{\\left(a + b\\right) \\left(c + d\\right)}{2}``, which no line
    may break inside (red team rt42 F8: a cut of that LaTeX text split the fraction).  Each factor is
    printed whole, never cut from printed text.  None when `term` is not a product of two or more factors
    other than numbers, when one divides (a quotient stays one fraction), or when the product's LaTeX is
    not its factors side by side (a sum operator's scope: ``\\left(\\sum_{z} q(z)\\right) a`` is bracketed
    only before another factor)."""
    if not term.is_Mul:
        return None
    factors = _factors(term)
    others = [f for f in factors if not _is_numeric(f)]
    if len(others) < 2 or any(_is_divisor(f) for f in others):
        return None
    coefficient = _one_coefficient([f for f in factors if _is_numeric(f)])
    if coefficient is None:
        return None
    lead = [] if coefficient == 1 else [coefficient]
    printer = ElboLatexPrinter()
    out: list[FactorPrint] = []
    before = ""  # the product of the factors so far, as printed
    for k, factor in enumerate(others, 1):
        so_far = to_latex(Mul(*lead, *others[:k], evaluate=False)) if lead or k > 1 else ""
        tex = printer._print(factor)
        if printer._needs_mul_brackets(factor, first=not lead and k == 1, last=k == len(others)):
            tex = rf"\left({tex}\right)"
        if k == 1 and not lead:
            so_far = tex
        gap = so_far[len(before):len(so_far) - len(tex)]  # the first's: the coefficient before it
        if not (so_far.startswith(before) and so_far.endswith(tex) and (k == 1 or _FACTOR_GAP.fullmatch(gap))):
            return None
        whole = tex if k > 1 else so_far
        out.append((gap if k > 1 else "", whole, _ending_sum_terms(factor, whole, printer)))
        before = so_far
    return tuple(out)


def sum_terms(e: Expr) -> tuple[str, ...]:
    """The terms of a sum as the one printer sets them, each after its sign (``("a", "+ b", "- c")``,
    :meth:`ElboLatexPrinter.add_terms`), where a bracket too long for a line may break; () for
    anything but a sum."""
    return tuple(ElboLatexPrinter().add_terms(e)) if e.is_Add else ()


def _ending_sum_terms(factor: Expr, tex: str, printer: ElboLatexPrinter) -> tuple[str, ...]:
    """The terms of the bracketed sum a factor's LaTeX `tex` ends with -- the factor itself, a sum the
    product brackets, or the one argument of ``exp``/``log`` -- split where the printer set them
    (:func:`sum_terms`), never cut from printed text: () unless `tex` ends with exactly
    ``\\left(`` + the terms joined + ``\\right)`` (a sum printed some other way stays whole)."""
    one_argument = isinstance(factor, (exp, log)) and len(factor.args) == 1
    inner = factor if factor.is_Add else factor.args[0] if one_argument else None
    if inner is None or not inner.is_Add:
        return ()
    terms = tuple(printer.add_terms(inner))
    if len(terms) < 2 or not tex.endswith(r"\left(" + " ".join(terms) + r"\right)"):
        return ()
    return terms


def _one_coefficient(numbers: list[Expr]) -> Expr | None:
    """The numbers of a product as the one coefficient that may lead it without hiding what was
    written: a sign and one number (``2``, ``1/2``, the ``1/2`` of ``... / 2``), or None for several
    numbers, a written 1, a division by a fraction or by a negative number, which the printer sets where
    they stand (``2 * ELBO(q) / 2`` led by 1 would show no step at all: red team rt31; ``a - P/(-2)``
    led by -1/2 read "a − −½ P", the written division gone: red team rt45 F2)."""
    signs = [n for n in numbers if n is S.NegativeOne]
    rest = [n for n in numbers if n is not S.NegativeOne]
    if len(signs) > 1 or len(rest) > 1:
        return None
    value = S.One
    if rest:
        (number,) = rest
        if number.is_Rational and number is not S.One:
            value = number
        elif _is_divisor(number) and number.exp == -1 and number.base.is_Integer and number.base > 0:
            value = S.One / number.base
        else:
            return None
    return -value if signs else value


def _first_bracket_closes(latex: str) -> int:
    """Where the bracket that opens `latex` closes (as :func:`latex_terms` counts brackets), or -1."""
    depth, i = 0, 0
    while i < len(latex):
        ch = latex[i]
        if ch == "\\" and i + 1 < len(latex) and latex[i + 1] in _OPENERS_TEX + _CLOSERS_TEX + "|,;!":
            i += 2
            continue
        depth += (ch in _OPENERS_TEX) - (ch in _CLOSERS_TEX)
        if depth == 0 and ch in _CLOSERS_TEX:
            return i
        i += 1
    return -1


__all__ = [
    "x", "z", "z1", "z2", "z3", "z4", "z5", "LAYER_SYMBOLS", "LATENTS", "VARIATIONAL_NAMES", "Index", "Draw",
    "Limit", "limit_value", "limit_distribution", "renyi_parts", "approached",
    "density_name_latex", "Exp", "RealPower", "is_real_power",
    "IWAE", "Normal", "Density", "LatentSum", "Expectation", "KL",
    "DimensionSum", "Entropy", "ELBO", "Notation",
    "is_derived", "distribution_variables",
    "p", "q", "to_latex", "to_text", "latex_terms", "bracketed_terms", "ElboLatexPrinter", "ElboStrPrinter",
    "product_breaks", "product_factors", "sum_terms", "FactorPrint",
    "RELATION_LATEX", "relation_latex",
]
