"""The one check facade: a file (or a loaded derivation) in, a `DerivationReport` out.

`check`, `build`, `explain`, `cards`, the pytest plugin and `assert_derivation` all check
through :func:`check_file`: load (bad input raises ``DerivationError``), check every step
under the step and file budgets, attach repair suggestions to refuted steps, and turn the
engine's result into report data -- formulas printed once by the one printer, example
values computed exactly.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from math import ceil, isinf, lcm, log10
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sympy import Add, Expr, Integer, Mul, Rational, Symbol, log

from elbo_sym import budget as budgets
from elbo_sym.engine.check import Counterexample, DerivationResult, StepResult, Verdict
from elbo_sym.engine.derivation import (
    Derivation,
    DerivationError,
    Example,
    Relation,
    loads,
    prose_claim,
    prose_formula,
    read_user_file,
    split_relation,
)
from elbo_sym.engine.exact import memo_at
from elbo_sym.engine.models.base import Parameter, likelihood_column_block
from elbo_sym.engine.notation import (
    ELBO,
    IWAE,
    KL,
    Density,
    Entropy,
    Index,
    Normal,
    p,
    product_breaks,
    q,
    relation_latex,
    to_latex,
    to_text,
    x,
    z,
)
from elbo_sym.engine.parse import ParseError, Vocabulary, parse_expression
from elbo_sym.engine.repair import check_with_suggestions
from elbo_sym.engine.samples import at_example
from elbo_sym.failures import reraise_callers
from elbo_sym.files import InputError, discover
from elbo_sym.limits import (
    LONG_NUMBER_DIGITS,
    SIDE_FIGURES,
    SIDE_FIGURES_MOST,
    STEP_BUDGET_SECONDS,
    loading_budget,
    own_budget,
    validate_budget,
)
from elbo_sym.numbers.evaluate import Inexact, Undefined, approx_text
from elbo_sym.numbers.evaluate import exact as exact_value
from elbo_sym.numbers.exact import LogNumber, distinguishing_digits, significant
from elbo_sym.prose import PARAGRAPH, split_math
from elbo_sym.report.model import (
    NUMBERED_LABEL,
    CardReport,
    ConditionReport,
    CounterexampleReport,
    DeckReport,
    DeckScope,
    DerivationReport,
    ExampleReport,
    FactorBreak,
    FormulaBreaks,
    GivenRow,
    Math,
    ProductBreak,
    Prose,
    ProsePart,
    RelationReport,
    StepReport,
    SuggestionReport,
    UnevaluatedRow,
    ValueRow,
    WarningReport,
    WhereItem,
)

if TYPE_CHECKING:  # decks are checked by lesson.practice; `check` need not import it
    from elbo_sym.lesson.practice import Deck, DeckResult

DECIMALS = 4
"""Decimals of nats and bits printed for example values."""
MAX_COMPACT = 10**8
"""Largest numerator/denominator written as one log(N/D); larger values stay a sum of log primes."""


@dataclass(frozen=True)
class Loaded:
    """A derivation read from its file, and the seconds reading it took: they count against the
    file's budget, so checking it gets only what reading left (:func:`check_file`)."""

    derivation: Derivation
    seconds: float

    @property
    def path(self) -> str:
        return self.derivation.path


def load_in_time(path: str | Path, budget: float = STEP_BUDGET_SECONDS, total: float | None = None,
                 raw: bytes | str | None = None) -> Loaded:
    """Read one derivation (`raw`: its bytes or text, read already) within its file budget -- `total`, else
    limits.loading_budget's default: the bytes within it in wall time, parsing them in CPU time --; a file
    not read in time is a DerivationError naming it, a budget that is not finite and positive a BudgetError."""
    budget = validate_budget(budget)
    total = validate_budget(total, "file budget") if total is not None else None
    started = budgets.clock()  # CPU time, as the budget it is deducted from
    reading = loading_budget(budget, total)
    data = raw if raw is not None else read_user_file(path, reading)  # the bytes too: a slow disk's wait
    derivation = loads(data, str(path), reading)
    return Loaded(derivation, budgets.clock() - started)


def check_file(source: str | Path | Derivation | Loaded, budget: float = STEP_BUDGET_SECONDS,
               total: float | None = None) -> DerivationReport:
    """Load (unless given a Derivation, or one `Loaded` already) and check one derivation; the report
    of what was found.

    Reading and checking share the file budget (`total`; default steps x budget, capped): what
    reading took is deducted from what checking gets.  Raises ``DerivationError`` (file, line,
    column) for input that cannot be read or parsed, or is not read within the file budget, and
    ``BudgetError`` for a budget that is not finite and positive."""
    budget = validate_budget(budget)
    total = validate_budget(total, "file budget") if total is not None else None  # a bad one reads nothing
    if isinstance(source, Derivation):
        source = Loaded(source, 0.0)
    elif not isinstance(source, Loaded):
        source = load_in_time(Path(source), budget, total)
    total = own_budget(len(source.derivation.steps), budget, total)  # resolved once, here; passed down as is
    started = budgets.clock() - source.seconds
    report = report_of(check_with_suggestions(source.derivation, budget=budget, total=total, spent=source.seconds))
    left = total - (budgets.clock() - started)  # the warnings share the file's budget: what the check left
    return replace(report, warnings=warnings_of(source.derivation, left))


def warnings_of(derivation: Derivation, seconds: float = float("inf")) -> tuple[WarningReport, ...]:
    """The file's warnings (elbo_sym.engine.prose_check) as the report carries them, found within
    `seconds` of CPU (what the file's budget left; a relation not decided in time warns as not checked)."""
    from elbo_sym.engine.prose_check import prose_warnings

    return tuple(WarningReport(w.line, w.column, w.message) for w in prose_warnings(derivation, seconds))


def load_deck_in_time(kind: str | None, path: str | Path | None, budget: float = STEP_BUDGET_SECONDS,
                      total: float | None = None) -> Deck:
    """A deck -- `kind` "selfcheck" or "flashcards" (`path` None: the lesson's), None: either, as
    its tables say -- read within its deck budget (`total`, else limits.loading_budget's default for
    decks); a deck not read in time is a DerivationError naming it.  What reading took is deducted
    from what checking the deck gets (elbo_sym.lesson.practice.load_deck_within, check_deck)."""
    from elbo_sym.lesson.practice import load_deck_within

    return load_deck_within(kind, path, budget, total)


@lru_cache(maxsize=4096)
def math(expr: Expr) -> Math:
    """An expression through the one printer; remembered (a pure function of the expression, and
    a report prints most expressions several times: a step's side, an example's, the chain's)."""
    return Math(to_text(expr), to_latex(expr))


@lru_cache(maxsize=4096)
def formula_breaks(expr: Expr) -> FormulaBreaks:
    """Where the printer's LaTeX of `expr` may break beyond what its text shows: each top-level term that
    is a product, by its factors printed whole (engine.notation.product_breaks) -- the one place a
    renderer learns them, from the checked expression (a report carries them: :func:`file_breaks`)."""
    products = tuple(ProductBreak(term, tuple(FactorBreak(gap, latex, terms) for gap, latex, terms in factors))
                     for term, factors in product_breaks(expr).items())
    return FormulaBreaks(to_latex(expr), products)


def file_breaks(d: Derivation) -> tuple[FormulaBreaks, ...]:
    """The breaks of a file's formulas that hold a product (:func:`formula_breaks`), one per LaTeX: its
    start, steps and their repairs, its claim's and assumptions' sides -- what its handouts break."""
    formulas = [d.start, *(s.formula for s in d.steps), *(s.repair for s in d.steps if s.repair is not None)]
    for r in (*((d.claim,) if d.claim is not None else ()), *d.assumptions):
        formulas += [r.lhs, r.rhs]
    exprs = {to_latex(f.expr): f.expr for f in formulas}  # a later formula printed alike stands for it
    return tuple(b for b in map(formula_breaks, exprs.values()) if b.products)


def relation(r: Relation) -> RelationReport:
    return RelationReport(math(r.lhs.expr), r.rel, math(r.rhs.expr))


def report_of(result: DerivationResult) -> DerivationReport:
    """The engine's result as report data."""
    d = result.derivation
    parsed = dict(d.prose_math)  # the prose formulas the loader parsed
    model = d.model()
    steps = []
    lhs = d.start.expr
    refuted = sum(r.verdict is Verdict.refuted and not r.carried for r in result.steps)
    for r in result.steps:
        steps.append(_step_report(r, lhs, d, refuted))
        lhs = r.step.expr
    chain = None
    if result.relation is not None:
        chain = RelationReport(math(d.start.expr), result.relation, math(d.steps[-1].expr))
    from elbo_sym.engine.check import domain_text

    return DerivationReport(
        file=d.path, name=d.name, title=d.title, summary=d.summary, model=model.describe(), domain=domain_text(model),
        K=str(d.K), start=math(d.start.expr), start_line=d.start.line, title_line=d.title_line, steps=tuple(steps),
        claim=relation(d.claim) if d.claim is not None else None,
        assume=tuple(relation(a) for a in d.assumptions + d.premises), chain=chain, established=result.established,
        claim_reason=result.claim_reason,
        examples=tuple(_example_report(result, e) for e in result.examples),
        problems=tuple(result.problems), expect=d.expect,
        title_parts=prose_parts(d.title, d.vocabulary, parsed=parsed),
        summary_parts=prose_parts(d.summary, d.vocabulary, parsed=parsed),
        convention=model.convention_text(), params=conditions_of(d), breaks=file_breaks(d))


def conditions_of(d: Derivation) -> tuple[Math, ...]:
    """What every step was checked under besides the model, printed with it: each parameter's
    domain and, over a data space, that the decoder sums to 1 over the observations
    (``p(x1 | z) + p(x2 | z) = 1``, one for each parameter of a parameterised model)."""
    return parameter_domains(d.params, d.indices) + (data_space_conditions(d) if d.data_space else ())


def data_space_conditions(d: Derivation) -> tuple[Math, ...]:
    out = []
    for index in [f"; {t}" for t in d.indices] or [""]:
        decoder = parse_expression(" + ".join(f"p({o} | z{index})" for o in d.data), d.vocabulary)
        out.append(Math(f"{to_text(decoder)} = 1", relation_latex(decoder, "=", Integer(1))))
    return tuple(out)


def parameter_domains(params: Sequence[Parameter], indices: Sequence[str] = ()) -> tuple[Math, ...]:
    """Each parameter's domain ("beta in [0, 1]") as text and through the printer: a condition
    everything about them was checked under.  An index of the model (p(x | z; theta)) has no
    domain: it names a model per value."""
    return tuple(Math(p.describe(), p.latex()) for p in params if p.name not in indices)


def prose_parts(text: str, vocabulary: Vocabulary, *, claims: bool = False,
                parsed: Mapping[str, Any] | None = None) -> Prose:
    """An author's prose with its ``$...$`` formulas parsed and printed: taken from `parsed`
    (what the loader parsed, e.g. :attr:`Derivation.prose_math`), parsed here only when absent.
    `claims`: a card's text, whose ``$a <= b$`` claims the deck's check proved
    (elbo_sym.lesson.practice.check_card); nowhere else is a relation printed in prose."""
    if "$" not in text and PARAGRAPH not in text:
        return (ProsePart("text", text),) if text else ()
    parts = []
    for span in split_math(text, claims):
        known = parsed.get(span.text) if parsed is not None and span.kind == "math" else None
        if span.kind == "math" and claims and split_relation(span.text) is not None:
            lhs, rel, rhs = known if isinstance(known, tuple) else prose_claim(span.text, vocabulary)
            parts.append(ProsePart("math", f"{to_text(lhs)} {rel} {to_text(rhs)}",
                                   relation_latex(lhs, rel, rhs)))
        elif span.kind == "math":
            expr = known if isinstance(known, Expr) else prose_formula(span.text, vocabulary)
            parts.append(ProsePart("math", to_text(expr), to_latex(expr)))
        else:
            parts.append(ProsePart(span.kind, span.text))
    return tuple(parts)


def _step_report(r: StepResult, lhs: Expr, d: Derivation, refuted: int) -> StepReport:
    s = r.step
    conditions = [ConditionReport(c, held) for c, held in r.conditions]
    if r.outcome is not None:
        conditions += [ConditionReport(c, held) for c, held in r.outcome.conditions]
    suggestion = None
    if r.suggestion is not None:
        g = r.suggestion
        pieces = tuple(ProsePart("text", p) if isinstance(p, str) else ProsePart("math", to_text(p), to_latex(p))
                       for p in g.pieces)
        suggestion = SuggestionReport(g.description, g.rel, g.expr, g.rule, tuple(g.changes), g.expr_latex,
                                      g.describe(), g.authored, pieces, to_latex(g.lhs) if g.lhs is not None else "")
    if d.expect_refuted:
        expected = s.index in d.expect_refuted
    else:  # expect = "refuted" without a list: the one refuted step is the mistake (two: none is)
        expected = d.expect == "refuted" and r.verdict.value == "refuted" and not r.carried and refuted == 1
    return StepReport(index=s.index, line=s.line, lhs=math(lhs), rel=s.rel, expr=math(s.expr), rule=s.rule,
                      why=s.why, verdict=r.verdict.value, reason=r.reason, instances=r.instances, accept=s.accept,
                      conditions=tuple(dict.fromkeys(conditions)),
                      counterexample=_counterexample(r.counterexample, d.vocabulary), suggestion=suggestion,
                      expected_refuted=expected, carried=r.carried,
                      why_parts=prose_parts(s.why, d.vocabulary, parsed=dict(d.prose_math)),
                      second_opinion=r.second_opinion,
                      searched=r.searched.describe() if r.searched is not None else "",
                      proved_by=r.outcome.proved_by if r.outcome is not None and r.verdict.value == "proved" else "",
                      hint=r.hint)


def deck_scope(deck: Deck) -> DeckScope | None:
    """What every output of `deck` states beyond its cards (:class:`DeckScope`): its model when narrower than
    every latent space, described as a card's verdict names it (lesson.practice.proved_for_text), and its
    parameters' domains through the printer (lesson.practice.deck_domains); None when it has neither."""
    from elbo_sym.lesson.practice import deck_domains, proved_for_text

    model = proved_for_text(deck) if deck.check_K != "any" else ""
    domains = parameter_domains(deck_domains(deck))
    return DeckScope(model, domains) if model or domains else None


def deck_report_of(result: DeckResult) -> DeckReport:
    """A checked deck as report data."""
    deck = result.deck
    cards = tuple(CardReport(v.card.index, v.card.formula.line if v.card.formula else v.card.line, v.card.front,
                             v.card.formula.one_line if v.card.formula else None, v.verdict, v.reason,
                             tuple(map(str, v.K)), counterexample_report(v.counterexample), v.card.conditions_text)
                  for v in result.verdicts)
    return DeckReport(deck.path, deck.kind, deck.title, cards,
                      tuple(WarningReport(w.line, w.column, w.message) for w in result.warnings), deck_scope(deck))


def counterexample_report(c: Counterexample | None,
                          vocabulary: Vocabulary | None = None) -> CounterexampleReport | None:
    """An engine counterexample as report data (values and both sides also through the printer)."""
    return _counterexample(c, vocabulary if vocabulary is not None else Vocabulary())


def _counterexample(c: Counterexample | None, vocabulary: Vocabulary) -> CounterexampleReport | None:
    if c is None:
        return None
    engine_latex = dict(c.values_latex)  # the printer's, from the numbers (an algebraic point's sqrt(5) too)
    where = tuple(WhereItem(_label_latex(label, vocabulary),
                            tuple(printed or _latex_of(v, vocabulary) or _as_text(v)
                                  for v, printed in zip(values, engine_latex.get(label, ("",) * len(values)))))
                  for label, values in c.values)
    left, right, alike = _sides_shown(c)
    gap = magnitude(c.gap) if c.gap and left == right and c.problem is None else ""
    return CounterexampleReport(c.values, c.lhs, c.rhs, left, right, c.z,
                                c.source, c.problem, where, c.lhs_latex, c.rhs_latex, c.at, alike, gap)


def _sides_shown(c: Counterexample) -> tuple[str, str, int]:
    """Both sides' values for the ≈ column, with the fewest significant figures from SIDE_FIGURES
    that tell two different values apart (rt33 F5), and the figures they are alike to when they
    differ beyond SIDE_FIGURES_MOST (else 0).  The digits come from the exact values where there
    are exact values: two floats can be one float for two values (log(8/9) and log(8/9) + 10**-24);
    else from the floats, 17 figures telling any two floats apart -- and where those print alike (one
    float, or two sides beyond float range), the engine's certified left - right says what differs
    (`CounterexampleReport.gap`, red team rt57 F1)."""
    if c.lhs_exact is not None and c.rhs_exact is not None:
        a, b = c.lhs_exact, c.rhs_exact
        digits = distinguishing_digits(a, b, significant, SIDE_FIGURES, SIDE_FIGURES_MOST)
        alike = digits if a != b and significant(a, digits) == significant(b, digits) else 0
        return significant(a, digits), significant(b, digits), alike
    digits = distinguishing_digits(c.lhs_value, c.rhs_value, _approx, SIDE_FIGURES, FLOAT_FIGURES)
    return _float_side(c.lhs_value, c.lhs_beyond, digits), _float_side(c.rhs_value, c.rhs_beyond, digits), 0


def _float_side(value: float, beyond: str, digits: int) -> str:
    """A side with no exact value for the ≈ column: its float, or -- where no float holds it (a far end's
    exp(2**41) overflowed to inf) -- the engine's certified digits, as an order of magnitude when the power
    of 10 is too long to print (:func:`magnitude`); "" (nothing shown) for an overflow with no digits known.
    Never "inf", and never 0 for a value that is not 0."""
    if beyond:
        return magnitude(beyond)
    if isinf(value):
        return ""
    return _approx(value, digits)


def magnitude(approx: str) -> str:
    """``1.97007e+434`` as it is; a value whose power of 10 has more than LONG_NUMBER_DIGITS digits
    (exp(2**480) is 2.46714e+1355...497, 145 digits) by that power alone, ``10**(1.35576e+144)``."""
    mantissa, e, exponent = approx.partition("e")
    if not e or len(exponent.lstrip("+-")) <= LONG_NUMBER_DIGITS:
        return approx
    sign = "-" if mantissa.startswith("-") else ""
    return f"{sign}10**({int(exponent) + log10(abs(float(mantissa))):.{SIDE_FIGURES}g})"


def _label_latex(label: str, vocabulary: Vocabulary) -> str:
    """A counterexample's label through the printer; a coordinate the file's names do not hold
    ("mu14" of a D = "any" model's mu_d at D = 14) as that name with its index, mu_{14}."""
    numbered = NUMBERED_LABEL.fullmatch(label)
    return (_latex_of(label, vocabulary) or (numbered and to_latex(Symbol(f"{numbered[1]}_{numbered[2]}")))
            or _as_text(label))


def _as_text(text: str) -> str:
    """Text the printer did not make, for inside math (LaTeX and KaTeX): upright, never typeset
    as math, and only characters that mean nothing to either (the rest shown as '?')."""
    return r"\text{" + _UNSAFE_IN_TEXT.sub("?", text) + "}"


_UNSAFE_IN_TEXT = re.compile(r"[^0-9A-Za-z()+\-*/.,=: ]")


def _latex_of(text: str, vocabulary: Vocabulary) -> str:
    """An expression the engine wrote as text (a value, a label, a suggestion), through the
    printer; "" if it does not parse (the renderers then fall back to the text)."""
    try:
        return to_latex(parse_expression(text, vocabulary))
    except ParseError:
        return ""


FLOAT_FIGURES = 17
"""Significant figures that tell any two different floats apart (a side with no exact value)."""


def _approx(value: float, digits: int = SIDE_FIGURES) -> str:
    """A side's value to `digits` significant digits (the float is the exact value correctly rounded:
    :func:`elbo_sym.numbers.evaluate.as_float`), for a side with no exact value."""
    return f"{value:.{digits}g}"


_APPROX_WORDS = {"inf": r"\infty", "-inf": r"-\infty", "nan": r"\text{nan}"}


_MAGNITUDE = re.compile(r"(-?)10\*\*\((.*)\)")


def approx_latex(text: str) -> str:
    """An approximation :func:`_approx` wrote, for math mode: ``6.22702e+09`` as ``6.22702 \\times 10^{9}``
    (red team rt14: set as written it read "6.22702e + 09"), ``-1.5e-07`` as ``-1.5 \\times 10^{-7}``."""
    if text in _APPROX_WORDS:
        return _APPROX_WORDS[text]
    power = _MAGNITUDE.fullmatch(text)
    if power is not None:  # magnitude's 10**(1.35576e+144)
        return rf"{power[1]}10^{{{approx_latex(power[2])}}}"
    mantissa, e, exponent = text.partition("e")
    if not e:
        return text
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


# --------------------------------------------------------------------------- example values


def exact_form(value: LogNumber) -> Expr:
    """A SymPy expression equal to ``value``, as compact as one log allows.

    ``r + (1/D) log(N)`` with a rational N (``log(3/10)``, ``\\frac{1}{3}\\log\\frac{729}{32000}``);
    the prime-by-prime sum when N would be unwieldy or the value has a log(pi) term (a Gaussian's).

    Not numbers.evaluate.short_form (value_text, value_expr, a counterexample's values), on purpose:
    that is the form an author pastes back into a file (its text parses to its tree), with the common
    numerator taken out of the log (4*log(2/3)/3, 2*log(3)) and N up to 10**12; this one is typeset
    in the handouts, a unit fraction before one log of a rational (\\frac{1}{3}\\log\\frac{16}{81},
    \\log 9) within MAX_COMPACT.  Folded into one, 69 of the 119 values the lesson's worked example,
    exercise and drill sheets print (K = 2 and 3) would change (session 13).
    """
    if value.is_rational:
        return Rational(value.rational.numerator, value.rational.denominator)
    if value.has_pi:  # log(pi) is no prime's log: the term-by-term sum, as the check prints it
        return value.to_sympy()
    D = lcm(*(c.denominator for _, c in value.logs))
    exponents = [(prime, int(c * D)) for prime, c in value.logs]
    if not _compact_may_fit(exponents):
        return value.to_sympy()
    N = Fraction(1)
    for prime, exponent in exponents:
        N *= Fraction(prime) ** exponent
    if max(N.numerator, N.denominator) > MAX_COMPACT:
        return value.to_sympy()
    body: Expr = log(Rational(N.numerator, N.denominator), evaluate=False)
    if D != 1:
        body = Mul(Rational(1, D), body, evaluate=False)
    if value.rational:
        return Add(body, Rational(value.rational.numerator, value.rational.denominator), evaluate=False)
    return body


def _compact_may_fit(exponents: list[tuple[int, int]]) -> bool:
    """Whether prod prime**exponent may still be at most MAX_COMPACT above and below, judged from
    the exponents alone: a prime p contributes at least (bits(p) - 1) * |exponent| bits, so a
    six-digit example (exponents near 10**6) is refused before any power is built, and what
    passes has at most twice MAX_COMPACT's bits on each side (every exponent is then small)."""
    limit = MAX_COMPACT.bit_length()
    above = sum((prime.bit_length() - 1) * e for prime, e in exponents if e > 0)
    below = sum((prime.bit_length() - 1) * -e for prime, e in exponents if e < 0)
    return max(above, below) < limit


def block_symbol(name: str, indices: tuple[str, ...] = ()) -> Expr:
    """The notation a block of an instance gives values for: p(z), p(x1 | z), q(z | x1), beta;
    with a parameterised model (`indices`: theta_old, ...) p(z | theta) and p(x1 | z; theta)."""
    if name == "prior":
        return p(z)
    if indices and name.startswith(("prior[", "likelihood[")):
        inside = name.partition("[")[2].rstrip("]")
        observation, _, index = inside.rpartition("; ")
        if index in indices:
            if name.startswith("prior["):
                return Density("p", (z,), (Index(index),))
            return Density("p", (x if not observation else Symbol(observation),), (z, Index(index)))
    observation = name.partition("[")[2].rstrip("]") or "x"
    o = x if observation == "x" else Symbol(observation)
    head = name.partition("[")[0]
    if head in ("r", "q_star"):  # a distribution beside q: r(z), q_star(z | x1)
        return Density(head, (z,), () if observation == "x" else (o,))
    if name.startswith("likelihood"):
        return p(o, given=(z,))
    if name.startswith("q"):
        return q(z) if observation == "x" else Density("q", (z,), (o,))
    return Symbol(name)


def vector_latex(values) -> str:
    r"""``\left(\frac{3}{4},\ \frac{1}{4}\right)``: values through the printer (brackets sized to fit);
    a single value (a scalar parameter such as mu or beta) is just the number."""
    numbers = [to_latex(Rational(v.numerator, v.denominator)) for v in values]
    if len(numbers) == 1:
        return numbers[0]
    return r"\left(" + ",\\ ".join(numbers) + r"\right)"


def is_log_quantity(expr: Expr) -> bool:
    """Logs, KL, entropy, ELBO and IWAE are information (nats, bits); p(x) is a probability."""
    return bool(expr.has(log, KL, Entropy, ELBO, IWAE))


def _example_report(result: DerivationResult, example_result) -> ExampleReport:
    d = result.derivation
    example = example_result.example
    model = d.model().explicit(example.K)
    values = model.values(example.instance)
    rows, unevaluated, used = _example_values(d, example, model, values)
    given = [GivenRow(math(block_symbol(b.name, d.indices)), tuple(str(v) for v in example.instance[b.name]),
                      vector_latex(example.instance[b.name])) for b in model.blocks
             if not b.name.startswith("likelihood[z=")
             and (b.name not in example.filled or used & set(b.symbols))]  # the author's, and what a value uses
    if d.data_space:  # the model reads p(. | z) per z; the file (and the report) p(x1 | z) per observation
        for i, o in enumerate(d.data):
            row = tuple(example.instance[likelihood_column_block(k)][i] for k in range(example.K))
            given.insert(1 + i, GivenRow(math(block_symbol(f"likelihood[{o}]")), tuple(map(str, row)),
                                         vector_latex(row)))
    for o, fixed in model.assumed.items():  # q fixed by the assumption: its value on the example
        q_values = tuple(exact_value(v, values).rational for v in fixed)
        value_latex = vector_latex(q_values)
        if d.family == "gaussian":  # q is a density: its mean and variance, as N(m, v)
            value_latex = to_latex(Normal(*(Rational(v.numerator, v.denominator) for v in q_values)))
        given.append(GivenRow(math(block_symbol("q" if o == "x" else f"q[{o}]")), tuple(map(str, q_values)),
                              value_latex))
    return ExampleReport(example.index, example.line, example_result.holds, tuple(example_result.failures),
                         tuple(given), tuple(rows), stated=len(example.expect), unevaluated=tuple(unevaluated),
                         failure_lines=tuple(example_result.lines))


def _example_values(d: Derivation, example: Example, model, values) -> tuple[list, list, set]:
    """The example's start, end and expected quantities: (value rows, rows with no exact value and why,
    the model's symbols the quantities use)."""
    quantities: list[tuple[Expr, str]] = [(d.start.expr, "start")]
    if d.steps[-1].expr != d.start.expr:
        quantities.append((d.steps[-1].expr, "end"))
    quantities += [(e.lhs.expr, "expected") for e in example.expect]
    rows: list[ValueRow] = []
    unevaluated: list[UnevaluatedRow] = []
    seen: set[Expr] = set()
    used: set = set()
    for expr, role in quantities:
        if expr in seen or expr.is_Number:  # a constant (the 0 of "gap >= 0") has nothing to compute
            continue
        seen.add(expr)
        parts: list[Expr] = []
        try:  # a quantity the model cannot evaluate exactly here has no value row: the check and the tables say why
            (fixed,) = at_example((expr,), example.instance)  # as the expect check: IWAE(q, k) at the example's k
            parts = model.unfold_pointwise(fixed)
            if len(parts) != 1:
                continue
            used |= parts[0].free_symbols
            # a Gaussian's log(pi) is exact too (docs/02); memo_at: the examples re-decided may have met it
            value = exact_value(parts[0], values, memo_at(values), pi=True)
        except (Undefined, ArithmeticError, ValueError, TypeError, KeyError) as raised:
            reraise_callers(raised)
            unevaluated.append(UnevaluatedRow(math(expr), _why_unevaluated(raised, parts, values)))
            continue
        information = is_log_quantity(expr)
        rows.append(ValueRow(math(expr), math(exact_form(value)), value.shown(DECIMALS),
                             value.shown(DECIMALS, bits=True) if information else None, role))
    return rows, unevaluated, used


INEXACT_WHY = "outside the exact class of rationals and logs of rationals"
"""Why a value an example fixes every parameter of has no exact row (red team rt55 F2: "exp of a non-zero
number" alone read as a failure); its certified decimals follow, as the expect check prints them."""


def _why_unevaluated(error: Exception, parts: Sequence[Expr] = (), values: Mapping | None = None) -> str:
    """One line on why an example's quantity has no exact value (the error's first line); for a value
    outside the exact class (the Renyi bound at alpha = 1/2: square roots), also its decimals as the
    expect check prints them (approx_text of the one unfolded part at `values`)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, (ArithmeticError, ValueError)) and "too large" in text:
        return f"numbers too large for exact arithmetic ({text})"
    if isinstance(error, Inexact) and len(parts) == 1 and values is not None:
        return f"{INEXACT_WHY} ({text}); {approx_text(parts[0], values)}"
    return text


def load_all(paths: Sequence[str], budget: float = STEP_BUDGET_SECONDS,
             total: float | None = None) -> tuple[list[Loaded], list[DerivationError]]:
    """Load every derivation named (files, or folders of *.toml), each within its file budget
    (:func:`load_in_time`); return (loaded derivations, input errors)."""
    files = discover(paths)
    if not files:
        raise InputError(f"no derivation files found in {' '.join(paths)}")
    loaded, errors = [], []
    for path in files:
        try:
            loaded.append(load_in_time(path, budget, total))
        except DerivationError as error:
            errors.append(error)
    return loaded, errors


def check_all(paths: Sequence[str], budget: float, jobs: int | None = None,
              total: float | None = None) -> tuple[list[DerivationReport], list[DerivationError]]:
    """The reports of every derivation named; none when any does not load (then its errors):
    `build` and `web` check everything before they print anything.  Each file's reading and
    checking share its file budget (`total`, default steps x budget capped, as `check`).  Checked
    in `jobs` worker processes (None: as `check` chooses, report.parallel.default_jobs), as `check` does."""
    from elbo_sym.report.parallel import WorkerLost, default_jobs, map_in_workers

    loaded, errors = load_all(paths, budget, total)
    if errors:
        return [], errors
    results = map_in_workers(lambda n: check_file(loaded[n], budget=budget, total=total), len(loaded),
                             default_jobs(len(loaded)) if jobs is None else jobs,
                             weight=lambda n: _file_size(loaded[n].path),
                             patience=lambda n: check_patience(loaded[n], budget, total),
                             group=lambda n: loaded[n].derivation.spec)  # one model's files on one worker
    for one, result in zip(loaded, results):
        if isinstance(result, WorkerLost):
            raise InputError(f"{one.path}: {result.message}")
    return results, errors


def check_patience(one: Loaded, budget: float, total: float | None = None) -> float:
    """Wall seconds a worker may hold this loaded file (report.parallel.worker_patience): from the
    file's own budget -- `total`, else its steps x `budget` capped (limits.own_budget), the budget
    its check runs under -- so a small file's hung worker is stopped sooner than the largest's (rt15)."""
    from elbo_sym.report.parallel import worker_patience

    return worker_patience(budget, own_budget(len(one.derivation.steps), budget, total))


@dataclass(frozen=True)
class FilePatience:
    """Each file's watchdog patience in `check`'s workers (report.parallel), which read the files
    themselves: while a file is read, the reading's budget (limits.loading_budget) -- a file's steps
    are known only once it is read --; once read, the wall seconds the reading took plus the patience
    of the file's own budget (report.build.check_patience), so a small file's hung check is ended
    about its own budget's time after it started, not the largest file's.  The worker writes those
    two numbers in memory it shares with the parent (made before the fork), which the watchdog reads."""

    board: mmap.mmap
    reading: float

    @classmethod
    def for_files(cls, count: int, budget: float, total: float | None) -> FilePatience:
        from elbo_sym.report.parallel import worker_patience

        return cls(mmap.mmap(-1, max(1, count) * _SLOT.size), worker_patience(budget, loading_budget(budget, total)))

    def read(self, n: int, reading_seconds: float, check_patience: float) -> None:
        """File `n` is read, in `reading_seconds` (wall clock; counted in whole seconds, rounded up, so
        the watchdog's message reads "within 4 s"); its check may take `check_patience` more."""
        at = n * _SLOT.size  # the reading's seconds first: a patience read between the two is the reading's
        _SECONDS.pack_into(self.board, at, ceil(reading_seconds))
        _SECONDS.pack_into(self.board, at + _SECONDS.size, check_patience)

    def __call__(self, n: int) -> float:
        reading_seconds, check_patience = _SLOT.unpack_from(self.board, n * _SLOT.size)
        return self.reading if check_patience <= 0 else reading_seconds + check_patience


_SLOT = struct.Struct("dd")
"""One file's slot in FilePatience's shared memory: (wall seconds its reading took, its check's patience;
0 while it is read)."""
_SECONDS = struct.Struct("d")
"""One number of a slot, written alone."""


def _file_size(path: str) -> int:
    """How large the derivation's file is: the order in which files are given to the workers."""
    try:
        return os.path.getsize(path)
    except (OSError, ValueError):
        return 0


def input_error(error: DerivationError):
    from elbo_sym.report.model import InputErrorReport

    return InputErrorReport.from_error(error)


__all__ = ["FilePatience", "Loaded", "check_file", "check_patience", "load_in_time", "load_deck_in_time", "load_all",
           "check_all", "report_of", "parameter_domains", "conditions_of", "math", "relation", "exact_form",
           "block_symbol", "vector_latex", "is_log_quantity", "input_error", "DECIMALS", "approx_latex",
           "formula_breaks", "file_breaks", "deck_scope"]

_ = Verdict  # re-exported for renderers that compare verdicts by name
