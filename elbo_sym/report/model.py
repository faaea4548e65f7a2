"""One result data model: what a check found, as plain data with a JSON round trip.

Like pytest's ``TestReport``: the engine's results (SymPy objects, rule outcomes) are
turned into these small frozen dataclasses once, by :mod:`elbo_sym.report.build`, and
every output -- terminal text, JSON, the cache, LaTeX handouts, notebook HTML, pytest
failures -- is a renderer over them.  Every formula is stored as printed by the one
printer (``Math``: derivation-file text and LaTeX), so what is shown is what was checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any

from elbo_sym.files import location

VERDICT_MARK = {"proved": "✓", "checked": "~", "refuted": "✗", "error": "!"}
"""The one table of verdict marks (text renderers)."""

RELATION_SYMBOL = {"=": "=", "<=": "≤", ">=": "≥", "<": "<", ">": ">"}
WHERE_ITEM_SEPARATOR = r",\quad "
"""Between two ``label = value`` items when a counterexample is printed on one line (``where_latex``)."""
NUMBERED_LABEL = re.compile(r"([A-Za-z]+)([1-9][0-9]*)")
"""A coordinate's label, "mu14": a name and its index (a D = "any" model's mu_d at d = 14)."""
WHERE_VALUE_SEPARATOR = r",\ "
"""Between the values of one block inside ``\\left(...\\right)`` (:attr:`WhereItem.latex`)."""


@dataclass(frozen=True)
class Math:
    """An expression as the printer writes it: file syntax and LaTeX."""

    text: str
    latex: str


@dataclass(frozen=True)
class ProsePart:
    """A piece of an author's prose: "text" (printed escaped), "math" (a ``$...$`` formula
    through the printer) or "paragraph" (a blank line)."""

    kind: str
    text: str
    latex: str = ""


Prose = tuple[ProsePart, ...]


def plain_text(parts: Prose, fallback: str) -> str:
    """Prose as one line of plain text: formulas in the file syntax without ``$`` (``ELBO(q)``),
    ``\\$`` as ``$`` -- where nothing typesets math: a page's description, a deck's name, the site's
    title (red team rt48 F4: Starlight showed a title's ``$...$`` as typed, a ``\\$5`` alike)."""
    if not parts:
        return " ".join(fallback.replace("\\$", "$").split())
    return " ".join("".join(p.text if p.kind in ("text", "math") else " " for p in parts).split())


@dataclass(frozen=True)
class RelationReport:
    """``lhs rel rhs``: a claim, an assumption, what a chain shows -- a printer node, not a string."""

    lhs: Math
    rel: str
    rhs: Math

    @property
    def text(self) -> str:
        return f"{self.lhs.text} {self.rel} {self.rhs.text}"

    @property
    def latex(self) -> str:
        from elbo_sym.engine.notation import RELATION_LATEX

        return f"{self.lhs.latex} {RELATION_LATEX[self.rel]} {self.rhs.latex}"


@dataclass(frozen=True)
class FactorBreak:
    """One factor of a long product, where its line may break (engine.notation.product_factors): the
    printer's gap before it ("" for the first), the factor's LaTeX whole, and -- when it ends in a
    bracketed sum, ``\\left(a + b\\right)``, ``\\exp\\left(a + b\\right)`` -- that sum's terms, each after
    its sign, as the printer set them, so that a factor wider than a line breaks inside its bracket
    (red team rt44 F4: two long brackets side by side ran off the page)."""

    gap: str
    latex: str
    terms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.terms and not self.latex.endswith(self.bracket):
            raise ValueError("a factor's terms do not spell the bracket its LaTeX ends with")

    @property
    def bracket(self) -> str:
        """The bracketed sum the factor ends with (its terms joined), or "" when it ends in none."""
        return r"\left(" + " ".join(self.terms) + r"\right)" if self.terms else ""

    @property
    def prefix(self) -> str:
        """What stands before that bracket: a first factor's coefficient and gap, ``\\exp``; "" for a bracket alone."""
        return self.latex[:len(self.latex) - len(self.bracket)]


@dataclass(frozen=True)
class ProductBreak:
    """A top-level term of a formula that is a product (its LaTeX, as ``latex_terms`` gives it after its
    sign) and its factors, each printed whole."""

    term: str
    factors: tuple[FactorBreak, ...]


@dataclass(frozen=True)
class FormulaBreaks:
    """Where a formula may break that its printed text does not show: the factors of its products, made
    from the checked expression through the one printer where the report is built
    (report.build.formula_breaks), so that a renderer breaks a long product without the expression and
    never reads the derivation file again."""

    latex: str
    products: tuple[ProductBreak, ...] = ()

    def factors_of(self, term: str) -> tuple[FactorBreak, ...] | None:
        """The factors of the formula's term `term` (its LaTeX), None when it is not a product that breaks."""
        return next((p.factors for p in self.products if p.term == term), None)


@dataclass(frozen=True)
class WhereItem:
    """One block of a counterexample through the printer: its label's LaTeX and each of its
    values' LaTeX, kept apart so that a renderer can let a long list break between values
    without splitting a joined text (a value may itself contain the separators)."""

    label: str
    values: tuple[str, ...]

    @property
    def latex(self) -> str:
        """``label = value``, or ``label = \\left(a,\\ b\\right)`` for a block of several values."""
        if len(self.values) == 1:
            return f"{self.label} = {self.values[0]}"
        return rf"{self.label} = \left(" + WHERE_VALUE_SEPARATOR.join(self.values) + r"\right)"


@dataclass(frozen=True)
class CounterexampleReport:
    """Exact values where a step fails (or is undefined), both sides' values."""

    values: tuple[tuple[str, tuple[str, ...]], ...]
    lhs: str
    rhs: str
    lhs_value: str
    rhs_value: str
    z: int | None = None
    source: str = ""
    problem: str | None = None
    where_pieces: tuple[WhereItem, ...] = ()
    """`values` through the printer, one item per block in the same order (p(z)'s label and its
    values ``\\frac{3}{4}``, ``\\frac{1}{4}``), made once where the report is built."""
    lhs_latex: str = ""
    rhs_latex: str = ""
    at: str = ""
    """The latent values of point `z` ("z1 = 0, z2 = 1" in a chain); "" for the report of an older run."""
    alike: int = 0
    """The significant figures to which two different sides are alike when `lhs_value` and
    `rhs_value` (that many figures each) cannot tell them apart (limits.SIDE_FIGURES_MOST); else 0."""
    gap: str = ""
    """left - right ("1.19902e+12", certified) where `lhs_value` and `rhs_value` print alike and no exact
    values tell them apart (a far end's two sides beyond float range, red team rt57 F1); else ""."""

    def __post_init__(self) -> None:
        if self.where_pieces and [len(v) for _, v in self.values] != [len(i.values) for i in self.where_pieces]:
            raise ValueError("where_pieces do not match the counterexample's values block by block")

    def value_of(self, label: str) -> tuple[str, ...] | None:
        return dict(self.values).get(label)

    @property
    def where_latex(self) -> str:
        """The values on one line: ``p(z) = \\left(\\frac{3}{4},\\ \\frac{1}{4}\\right),\\quad ...``."""
        return WHERE_ITEM_SEPARATOR.join(item.latex for item in self.where_pieces)

    def where(self) -> str:
        return ", ".join(self.value_texts())

    def value_texts(self) -> list[str]:
        """Each block's ``label = value`` (a tuple of values in brackets), as `where` joins them."""
        return [f"{label} = ({', '.join(v)})" if len(v) > 1 or not label.isidentifier() else f"{label} = {v[0]}"
                for label, v in self.values]

    def describe(self) -> str:
        return self.where() + self.details()

    def details(self) -> str:
        """What `describe` says after the values: the point, the source and both sides (or the problem)."""
        if self.problem:
            return f" [{self.source}]: {self.problem}"
        at = f" at {self.at or f'z = {self.z}'}" if self.z is not None else ""
        return (f"{at} [{self.source}]: left = {self.lhs}{_about(self.lhs_value)}, "
                f"right = {self.rhs}{_about(self.rhs_value)}" + self.apart())

    def apart(self) -> str:
        """What the ≈ column cannot show: " (the two sides differ beyond 30 significant figures)", or
        " (left - right ≈ 1.19902e+12)" for sides printed alike with no exact values."""
        if self.gap:
            return f" (left - right ≈ {self.gap})"
        return f" (the two sides differ beyond {self.alike} significant figures)" if self.alike else ""

    def lines(self, width: int | None = None) -> list[str]:
        """The counterexample, then both sides; with a `width`, a head longer than it ends after
        the source and the values follow, as many to a line as fit (`explain`: D = 14's 45 values)."""
        at = f" at {self.at or f'z = {self.z}'}" if self.z is not None else ""
        head = f"counterexample ({self.source}){at}: {self.where()}"
        if width is not None and len(head) > width:
            return [f"counterexample ({self.source}){at}:", *packed(self.value_texts(), width, "    "),
                    *self.lines()[1:]]
        if self.problem:
            return [head, f"    {self.problem}"]
        return [head, f"    left  = {self.lhs}{_about(self.lhs_value)}",
                f"    right = {self.rhs}{_about(self.rhs_value)}{self.apart()}"]


def _about(value: str) -> str:
    """" ≈ 1.97007e+434" after a side; nothing when its value is not known (an overflow with no certified
    digits: never "≈ inf")."""
    return f" ≈ {value}" if value else ""


def packed(items: list[str], width: int, indent: str) -> list[str]:
    """`items` joined by ", " into lines of at most `width` characters (an item longer than a
    line alone on its line), each line starting with `indent`: a line breaks only between items."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + len(item) + 2 <= width:
            lines[-1] += f", {item}"
        else:
            if lines:
                lines[-1] += ","
            lines.append(indent + item)
    return lines


@dataclass(frozen=True)
class SuggestionReport:
    """A repair that makes a refuted step proved (never changes a verdict)."""

    description: str
    rel: str
    expr: str
    rule: str
    changes: tuple[str, ...] = ()
    expr_latex: str = ""
    """The suggested expression through the printer (handouts)."""
    text: str = ""
    """The one-line repair (engine.check.Suggestion.describe)."""
    authored: bool = False
    """The file's own ``repair = "..."`` (checked: the step and the chain hold with it)."""
    description_pieces: Prose = ()
    """`description` as words ("text") and the formulas the repair names ("math": the checked
    expression's text and LaTeX, both from the printer), made once where the report is built, so
    that a renderer typesets them and never re-parses the sentence; () in an older run's report."""
    lhs_latex: str = ""
    """The left side the edited step was proved from, through the printer, when it is not the step's
    own (the previous step as repaired: engine.check.Suggestion.lhs); "" otherwise."""

    def __post_init__(self) -> None:
        if self.description_pieces and (
                any(p.kind not in ("text", "math") for p in self.description_pieces)
                or "".join(p.text for p in self.description_pieces) != self.description):
            raise ValueError("description_pieces do not spell the suggestion's description")

    def describe(self) -> str:
        return self.text or self.description

    @property
    def pieces(self) -> Prose:
        """The description's pieces (one text piece for an older run's report, which has none)."""
        return self.description_pieces or (ProsePart("text", self.description),)

    @property
    def edits(self) -> str:
        """What the one line says after the description: ': expr = "..."' (or "")."""
        return self.text[len(self.description):] if self.text.startswith(self.description) else ""

    @property
    def label(self) -> str:
        """What the renderers call it: the file's checked repair, or a generated suggestion."""
        return "repair (the file's, checked)" if self.authored else "suggestion"


@dataclass(frozen=True)
class ConditionReport:
    """A definedness or rule condition and whether it was shown on the whole domain."""

    text: str
    shown: bool


@dataclass(frozen=True)
class StepReport:
    """One step as a check found it: verdict and reason, the formulas printed, what was searched."""

    index: int
    line: int
    lhs: Math
    """The previous expression of the chain (the step is ``lhs rel expr``)."""
    rel: str
    expr: Math
    rule: str
    why: str
    verdict: str
    reason: str
    instances: int = 0
    accept: str | None = None
    conditions: tuple[ConditionReport, ...] = ()
    counterexample: CounterexampleReport | None = None
    suggestion: SuggestionReport | None = None
    expected_refuted: bool = False
    """A teaching file says this step is wrong on purpose (``expect_refuted``)."""
    carried: bool = False
    """Refuted only because the deliberate mistake just before it carries into its left side: proved
    once that step is corrected, so not a mistake of its own (a teaching file's; red team rt32)."""
    why_parts: Prose = ()
    second_opinion: str = ""
    """For a proved step: what the independent reference evaluator found (elbo_sym.engine.reference)."""
    searched: str = ""
    """Where a step no rule proves was searched: "K = 2, 3, 5, 8, 13; 40 Gaussian densities"."""
    proved_by: str = ""
    """For a proved step: what proved it when not its rule's own reasoning ("exact": the exact rule)."""
    hint: str = ""
    """For a `checked` step that does not pass: what lets it pass, as check worded it (StepResult.hint:
    add ``accept = "checked"``, or, when that cannot pass it, write an explicit K)."""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICT_MARK:
            raise ValueError(f"unknown verdict {self.verdict!r}")
        if self.hint and (self.verdict != "checked" or self.accepted):
            raise ValueError("only a checked step that is not accepted has a hint")
        if self.carried and (self.expected_refuted or self.verdict != "refuted"):
            raise ValueError("only a refuted step that is not a deliberate mistake carries one")
        if self.rel not in RELATION_SYMBOL:
            raise ValueError(f"unknown relation {self.rel!r}")

    @property
    def accepted(self) -> bool:
        return self.verdict == "checked" and self.accept == "checked"

    @property
    def passes(self) -> bool:
        """What a run asks of this step: proved (or checked and accepted); refuted when the file
        expects it to be refuted."""
        if self.expected_refuted:
            return self.verdict == "refuted"
        return self.verdict == "proved" or self.accepted or (self.carried and self.verdict == "refuted")

    @property
    def mark(self) -> str:
        return VERDICT_MARK[self.verdict]

    @property
    def rule_shown(self) -> str:
        """The rule as the reports show it: "algebra", or "algebra, exact" when the exact rule proved
        the step (its own reasoning did not)."""
        return f"{self.rule}, {self.proved_by}" if self.proved_by else self.rule

    @property
    def held_text(self) -> str:
        """"held on 212 exact instances (K = 2, 3, 5, 8, 13; 40 Gaussian densities)"."""
        return f"held on {self.instances} exact instances" + (f" ({self.searched})" if self.searched else "")


@dataclass(frozen=True)
class ValueRow:
    """One quantity of an example: exact value, and nats/bits (bits None for a probability)."""

    symbol: Math
    exact: Math
    nats: str
    bits: str | None
    role: str


@dataclass(frozen=True)
class UnevaluatedRow:
    """A quantity of an example with no exact value here, and why (e.g. numbers too large for exact
    logs): the check prints it and the example's tables name it, so no row vanishes (red team rt25)."""

    symbol: Math
    why: str


@dataclass(frozen=True)
class GivenRow:
    """One block of an example's instance: p(z) = (3/4, 1/4), beta = 2."""

    symbol: Math
    values: tuple[str, ...]
    latex: str


@dataclass(frozen=True)
class ExampleReport:
    """One exact example as checked: whether it holds, the instance given and the values found."""

    index: int
    line: int
    holds: bool
    failures: tuple[str, ...] = ()
    given: tuple[GivenRow, ...] = ()
    rows: tuple[ValueRow, ...] = ()
    stated: int = 0  # how many values the file's [example.expect] states (a row may show several)
    unevaluated: tuple[UnevaluatedRow, ...] = ()
    failure_lines: tuple[int, ...] = ()
    """The file's line of each failure (an expected value's own line), in the order of `failures`."""

    def failures_at(self) -> tuple[tuple[int, str], ...]:
        """Each failure with its line (the example's header when the line is not known)."""
        lines = self.failure_lines if len(self.failure_lines) == len(self.failures) else ()
        return tuple(zip(lines or (self.line,) * len(self.failures), self.failures))


@dataclass(frozen=True)
class Scope:
    """What a printed derivation establishes, the line under its title: ``lead``, the domains of
    its parameters (``conditions``, through the printer), the model (typeset by each printer) and
    ``tail`` -- "Proved for beta in [0, 1] and every latent space ...".  "Proved for ..." only
    when every step is proved; a step accepted as checked makes it "Not proved for ...", naming
    the steps that only held on exact instances (docs/02: an accepted step is never shown as a
    proof).  A statement is never printed without a condition it was checked under."""

    lead: str
    model: str
    tail: str = ""
    conditions: tuple[Math, ...] = ()

    def joined(self, condition: Callable[[Math], str], model: Callable[[str], str],
               words: Callable[[str], str] = str) -> str:
        """The line as a printer writes it: `condition` typesets each parameter's domain, `model`
        the model's description, `words` the scope's own words (escaped for the format)."""
        listed = ", ".join(condition(c) for c in self.conditions)
        return (words(f"{self.lead} ") + (listed + words(" and ") if listed else "") + model(self.model)
                + words(f"{self.tail}."))

    @property
    def text(self) -> str:
        return self.joined(lambda c: c.text, str)


@dataclass(frozen=True)
class DeckScope:
    """What every output of a deck states when its model is narrower than every latent space (a deck's
    ``K = 2``, its two latents, the Gaussian family) or its parameters have domains (``beta >= 1``): once on
    a page, on every card of Anki and Moodle (a card is studied alone, rt46 F5).  A card proved only there
    must not read as general (rt44 F12: "Σ_z 1 = 2" was published with its K = 2 printed nowhere), and the
    title, topics and fronts, whose words are decided under the parameters' domains, are printed with no
    card's conditions near them (rt46 F10).  A deck's premises are no part of it: they are its cards'
    conditions, printed beside each card's formula (:attr:`CardReport.conditions`).

    ``model`` describes the deck's model ("K = 2 latent states"; "" for every latent space), ``domains``
    are its parameters' domains through the printer; report.build.deck_scope makes it, None for a deck
    with neither."""

    model: str = ""
    domains: tuple[Math, ...] = ()

    def __post_init__(self) -> None:
        if not self.model and not self.domains:
            raise ValueError("a deck's scope states its model or its parameters' domains")

    def joined(self, domain: Callable[[Math], str], words: Callable[[str], str] = str) -> str:
        """The scope as a format prints it: `domain` typesets each parameter's domain, `words` the scope's
        own words (escaped for the format)."""
        model = f"for {self.model} only (the deck's model)" if self.model else ""
        if not self.domains:
            return words(f"Every formula of this deck is proved {model}, not in general.")
        these = "this" if len(self.domains) == 1 else "these"
        under = f"{model} and under {these}" if model else f"under {these} only"
        return (words("Throughout this deck ") + words(", ").join(domain(d) for d in self.domains)
                + words(f": every formula of it is proved {under}, not in general."))

    @property
    def text(self) -> str:
        """As text in the file syntax ("beta >= 1"): `cards`, `cards --json`, the terminal."""
        return self.joined(lambda d: d.text)


@dataclass(frozen=True)
class WarningReport:
    """A warning about a file that loads and checks (elbo_sym.engine.prose_check.FileWarning)."""

    line: int
    column: int | None
    """1-based, as file:line:column prints it (None: only the line is known)."""
    message: str

    def text(self, file: str) -> str:
        """``FILE:LINE:COLUMN: message``, as an input error names its place."""
        return f"{file}:{self.line}" + (f":{self.column}" if self.column is not None else "") + f": {self.message}"


@dataclass(frozen=True)
class DerivationReport:
    """Everything a check of one derivation file found."""

    file: str
    name: str
    title: str
    summary: str
    model: str
    """What `proved` covers: "every latent space (any finite K, or densities)"."""
    domain: str
    K: str
    start: Math
    start_line: int
    steps: tuple[StepReport, ...]
    claim: RelationReport | None
    assume: tuple[RelationReport, ...]
    chain: RelationReport | None
    """What the chain shows (start rel end), or None when it mixes directions."""
    established: bool
    claim_reason: str
    examples: tuple[ExampleReport, ...] = ()
    problems: tuple[str, ...] = ()
    expect: str = "proved"
    """"proved" (the default), or "refuted" for a teaching file with deliberate mistakes."""
    title_parts: Prose = ()
    summary_parts: Prose = ()
    convention: str = ""
    """The convention `proved` holds under beyond `domain` (K = "any": integrals finite), or ""."""
    params: tuple[Math, ...] = ()
    """The domain of each [params] parameter ("beta in [0, 1]") and, over a data space, the decoder's
    sum "p(x1 | z) + p(x2 | z) = 1": every step was checked under them."""
    title_line: int = 0
    """The line of the file's ``title`` (0: unknown), named when a handout cannot set the title."""
    warnings: tuple[WarningReport, ...] = ()
    """What the file says that nothing checked (elbo_sym.engine.prose_check): `check` prints them on
    stderr; they change no verdict and no exit status, and no handout or page prints them."""
    breaks: tuple[FormulaBreaks, ...] = ()
    """Where the file's formulas (its start, steps, repairs, claim and assumptions) that hold a product
    may break between factors, one entry per formula by its LaTeX (:meth:`breaks_of`); () in an older run's
    report, whose products then stay whole."""

    def __post_init__(self) -> None:
        if [s.index for s in self.steps] != list(range(1, len(self.steps) + 1)):
            raise ValueError("steps are not numbered 1, 2, ...")
        if self.expect not in ("proved", "refuted"):
            raise ValueError(f"unknown expectation {self.expect!r}")

    def breaks_of(self, latex: str) -> FormulaBreaks | None:
        """Where the file's formula printed as `latex` may break between factors (None: nowhere beyond its text)."""
        return next((b for b in self.breaks if b.latex == latex), None)

    @property
    def ok(self) -> bool:
        """Exit 0: every step passes, the claim is established (unless the file teaches a
        mistake), examples hold, no problems."""
        if self.expect == "refuted":  # established or not: the chain has a mistake on purpose
            return (all(s.passes for s in self.steps) and any(s.expected_refuted for s in self.steps)
                    and not self.problems and all(e.holds for e in self.examples))
        return (self.established and not self.problems and all(s.passes for s in self.steps)
                and all(e.holds for e in self.examples))

    @property
    def fully_proved(self) -> bool:
        return self.ok and all(s.verdict == "proved" for s in self.steps)

    @property
    def scope(self) -> Scope:
        """The one wording of what the chain establishes, for every printer (:class:`Scope`)."""
        held = [s for s in self.steps if s.verdict != "proved"]
        if not held:
            return Scope("Proved for", self.model, conditions=self.params)
        steps = "; ".join(f"step {s.index} " + (f"held on {s.instances} exact instances, not proved"
                                                 if s.verdict == "checked" else s.verdict) for s in held)
        if all(s.verdict == "checked" for s in held):
            return Scope("Not proved for", self.model, f": {steps}, so the result holds on the checked instances only",
                         self.params)
        # a refuted step fails at a counterexample, an error decided nothing: the result does not hold anywhere
        # it was shown to (never "holds on the checked instances", red team rt4's checker-page screenshot)
        return Scope("Not proved for", self.model, f": {steps}, so the chain does not establish the result",
                     self.params)

    @property
    def conditions_latex(self) -> tuple[str, ...]:
        """What the claim and every step were checked under, through the printer: each parameter's
        domain, then the assumptions and premises (printed as "Assume." beside the claim)."""
        return tuple(c.latex for c in self.params) + tuple(a.latex for a in self.assume)

    @property
    def unaccepted_checked(self) -> tuple[StepReport, ...]:
        return tuple(s for s in self.steps if s.verdict == "checked" and not s.accepted and not s.expected_refuted)

    @property
    def failing_steps(self) -> tuple[StepReport, ...]:
        return tuple(s for s in self.steps if not s.passes)

    @property
    def failure_reasons(self) -> tuple[str, ...]:
        """Why the file does not pass (empty when it does), in the words `check`, `explain` and the
        notebook all print: each failing step ("step 2 is refuted (not one of the expected
        mistakes)", "step 1 is proved (expected refuted)"), each failing example, each problem,
        and the claim of an ordinary file.  Never empty for a file that is not ok (rt26: explain
        printed "does not pass (exit 1): " with nothing after it)."""
        teaching = self.expect == "refuted"
        reasons = []
        for s in self.failing_steps:
            if s.expected_refuted:
                reasons.append(f"step {s.index} is {s.verdict} (expected refuted)")
            elif teaching and s.verdict == "refuted":
                reasons.append(f"step {s.index} is refuted (not one of the expected mistakes)")
            else:
                reasons.append(f"step {s.index} is {s.verdict}")
        if teaching and not any(s.expected_refuted for s in self.steps):
            reasons.append("exactly one step must be refuted, the others proved")
        reasons += [f"example {e.index} fails" for e in self.examples if not e.holds]
        reasons += list(self.problems)
        if not teaching and not self.established:
            reasons.append(f"claim: {self.claim_reason}")
        if not reasons and not self.ok:  # a rule of `ok` this list does not know yet: say so, never nothing
            reasons.append("see the steps above")
        return tuple(dict.fromkeys(reasons))

    # -- JSON ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = _to_data(self)
        data["ok"] = self.ok
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DerivationReport:
        """The report back from `to_dict` (ValueError/TypeError/KeyError on malformed data)."""
        return _from_data(cls, {k: v for k, v in data.items() if k != "ok"})


CARD_MARK = {**VERDICT_MARK, "well-formed": "·", "none": " "}
"""Card verdicts: a step's, or "well-formed" (an expression, nothing to prove), "none" (no formula)."""


@dataclass(frozen=True)
class CardReport:
    """One card's formula and what the checker found (``K``: the latent spaces tried)."""

    index: int
    line: int
    front: str
    formula: str | None
    verdict: str
    reason: str
    K: tuple[str, ...] = ()
    """The latent spaces it was checked on: "any", or numbers of states ("2", "3")."""
    counterexample: CounterexampleReport | None = None
    conditions: tuple[str, ...] = ()
    """What the formula is checked and printed under: the card's q definitions and premises."""

    def __post_init__(self) -> None:
        if self.verdict not in CARD_MARK:
            raise ValueError(f"unknown card verdict {self.verdict!r}")

    @property
    def ok(self) -> bool:
        """Proved (a relation) or well-formed (an expression); `checked` is not enough to print."""
        return self.verdict not in ("refuted", "error", "checked")


@dataclass(frozen=True)
class DeckReport:
    """A checked deck (self-check or flashcards)."""

    file: str
    kind: str
    title: str
    cards: tuple[CardReport, ...]
    warnings: tuple[WarningReport, ...] = ()
    """Relations its cards' texts state in words that nothing checks (elbo_sym.lesson.practice.deck_warnings):
    printed on stderr, as a derivation's; they change no verdict (`ok`) and no exit status."""
    scope: DeckScope | None = None
    """What every card was checked in beyond every latent space (:class:`DeckScope`), None for nothing more."""

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.cards)

    def to_dict(self) -> dict[str, Any]:
        return {**_to_data(self), "ok": self.ok}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeckReport:
        return _from_data(cls, {k: v for k, v in data.items() if k != "ok"})


@dataclass(frozen=True)
class InputErrorReport:
    """A file that could not be read, parsed or validated (exit 2)."""

    file: str
    line: int
    message: str
    column: int | None = None
    step: int | None = None
    pointer: str = ""

    @property
    def text(self) -> str:
        step = f" step {self.step}:" if self.step is not None else ""
        return f"{location(self.file, self.line, self.column)}:{step} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON of `check --json`: `column` 1-based, as the text's file:line:column says it (the
        dataclass keeps DerivationError's 0-based column, an index into the line)."""
        column = self.column + 1 if self.column is not None else None
        return {**_to_data(self), "column": column, "error": self.text}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputErrorReport:
        """Back from `to_dict` (its 1-based column to the 0-based one)."""
        column = data.get("column")
        return cls(data["file"], data["line"], data["message"], column - 1 if column is not None else None,
                   data.get("step"), data.get("pointer", ""))

    @classmethod
    def from_error(cls, error) -> InputErrorReport:
        """From an elbo_sym.engine.derivation.DerivationError."""
        return cls(error.path, error.line, error.message, error.column, error.step, error.pointer())


# --------------------------------------------------------------------------- (de)serialising

_CLASSES: dict[str, type] = {}


def _to_data(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _to_data(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_to_data(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a report")


_HINTS: dict[type, dict[str, Any]] = {}
"""Each report class's resolved field types: resolving them compiles every annotation string,
which made reading a cached report cost more than the rest of a warm check."""
_FIELDS: dict[type, tuple[Any, ...]] = {}
"""Each report class's dataclass fields (dataclasses.fields rebuilds the tuple on every call)."""


def _hints(cls: type) -> dict[str, Any]:
    """typing.get_type_hints(cls), once per class (a class's annotations never change)."""
    hints = _HINTS.get(cls)
    if hints is None:
        import typing

        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _fields(cls: type) -> tuple[Any, ...]:
    """dataclasses.fields(cls), once per class."""
    known = _FIELDS.get(cls)
    if known is None:
        known = _FIELDS[cls] = fields(cls)
    return known


def _from_data(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: expected an object")
    hints = _hints(cls)
    kwargs = {}
    for f in _fields(cls):
        if f.name not in data:
            if f.default is not MISSING or f.default_factory is not MISSING:
                continue
            raise KeyError(f"{cls.__name__}: missing {f.name}")
        kwargs[f.name] = _convert(hints[f.name], data[f.name])
    unknown = set(data) - {f.name for f in _fields(cls)}
    if unknown:
        raise KeyError(f"{cls.__name__}: unknown field {sorted(unknown)[0]}")
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    import types
    import typing

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value)
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError("expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        if len(args) != len(value):
            raise TypeError("wrong length")
        return tuple(_convert(a, v) for a, v in zip(args, value))
    if hasattr(hint, "__dataclass_fields__"):
        return _from_data(hint, value)
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError("expected a boolean")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("expected an integer")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise TypeError("expected a string")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("expected a number")
        return float(value)
    raise TypeError(f"unsupported field type {hint!r}")


__all__ = ["CARD_MARK", "CardReport", "DeckReport", "Math", "ProsePart", "Prose", "plain_text",
           "RelationReport", "Scope", "DeckScope", "CounterexampleReport", "WhereItem", "FactorBreak", "ProductBreak",
           "FormulaBreaks", "SuggestionReport", "ConditionReport", "StepReport", "ValueRow", "UnevaluatedRow",
           "GivenRow", "ExampleReport", "DerivationReport", "InputErrorReport", "VERDICT_MARK", "RELATION_SYMBOL"]
