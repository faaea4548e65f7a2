"""The lesson's self-check and flashcards: data files whose formulas the engine checks.

``lesson/selfcheck.toml`` holds ``[[question]]`` tables (question, answer; a self-check has
1 to :data:`MAX_SELFCHECK_QUESTIONS` of them, the lesson's six), ``lesson/flashcards.toml`` a
deck of ``[[card]]`` tables (front, back). Either may carry a ``formula``: an expression or
a relation in the derivation vocabulary. A relation is checked exactly like a one-step
derivation (start = left side, one step to the right side, justified by ``rule``) with
:func:`elbo_sym.engine.check.check_derivation`, with K = "any" (every latent space at once). So a
wrong formula on a card is refuted (with a counterexample) or at least not proved, and the
handout prints the parsed formula that was checked. A bare expression is checked to be
well-formed (defined on the whole domain).

A card's ``assume`` (and its deck's) reads exactly as a derivation's: q definitions
(``"q(z) = p(z | x)"``) and premises (``"q(z) != p(z | x)"``, ``"beta >= 1"``; see
elbo_sym.engine.premises). They are the card's *conditions* (:attr:`Card.conditions`): its
formula and claims are checked under them, as a derivation's steps are under its ``assume``, and
every output prints them beside the formula, through the same printer -- a formula that holds
only under a condition is never printed without it. A front (question) is printed alone, so a
card with conditions states no relation there.

A deck file may also carry the file-level keys of a derivation (:data:`DECK_MODEL_KEYS`):
``model``, ``K``, ``data``, ``latents``, ``D``, ``[params]`` and ``assume``. They set the
model every card of the deck is checked in and the names its formulas and prose may use
(``[params] beta = ">= 1"``: a card about the beta-ELBO), exactly as in a derivation file.  A model
narrower than every latent space, and the parameters' domains, hold for the whole deck -- its title, topics
and fronts are decided under them too -- so every output prints them once a page and on every Anki and
Moodle card (elbo_sym.report.build.deck_scope).

A card's texts state no relation nobody checked (elbo_sym.prose.split_math with
``claims``): a relation in a question, an answer, a front or a back is a formula
``$a <= b$`` (=, <=, >=, <, >), a *claim* of the card, checked like the formula (under the
card's assumption) -- a back that contradicts the proved formula is refuted and fails
``cards --check`` -- or it is refused when the deck is loaded.  A relation spelled ``&gt;``
or ``\\leq`` counts as one (elbo_sym.prose.spelled_relation).  A card's topic and the deck's
title and summary are checked by nothing, so they hold no relation sign or formula, ``$...$``
included (``_DeckReader.label``): the topic is printed on every card's front.  A relation a card's
text (or the title, summary or a topic) states only in words between two formulas (``$A$ is $B$``) is
not checked: :func:`check_deck` warns of it, as `check` warns of a derivation's (:func:`deck_warnings`;
never a refusal: a reading of word order is good enough for a warning, not for refusing a deck),
decided under only the conditions printed with the words (:func:`_printed_with`).

Errors name the file and the line (:class:`elbo_sym.engine.derivation.DerivationError`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sympy import Expr, Symbol

from elbo_sym import budget as budgets
from elbo_sym.budget import BudgetExceeded
from elbo_sym.engine.derivation import (
    Derivation,
    DerivationError,
    Formula,
    ProseRelation,
    Relation,
    Step,
    _Reader,
    misspelt_relation,
    prose_claim,
    read_toml,
    read_user_file,
    read_within,
    split_relation,
)
from elbo_sym.engine.models.base import Interval
from elbo_sym.engine.rules import RULES
from elbo_sym.limits import (
    DECK_BUDGET_CAP_SECONDS,
    MAX_CARD_TEXT_CHARS,
    MAX_SELFCHECK_TEXT_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    STEP_BUDGET_SECONDS,
    deck_budget,
    loading_budget,
    validate_budget,
)
from elbo_sym.prose import ProseSpan, first_relation, split_math

if TYPE_CHECKING:
    from elbo_sym.engine.check import StepResult

__all__ = [
    "CardFormula",
    "Card",
    "Deck",
    "CardVerdict",
    "DeckResult",
    "lesson_dir",
    "load_deck",
    "load_deck_within",
    "load_selfcheck",
    "load_flashcards",
    "check_card",
    "check_deck",
    "deck_warnings",
    "check_lesson_cards",
    "relation_latex",
    "relation_text",
    "MAX_SELFCHECK_QUESTIONS",
    "DECK_MODEL_KEYS",
    "CHECK_K",
    "proved_for_text",
    "checked_in_text",
    "deck_domains",
]

MAX_SELFCHECK_QUESTIONS = 20
"""A self-check has 1 to this many questions (the lesson's has six)."""
CHECK_K: tuple[int | str, ...] = ("any",)
"""Every card formula is proved once for every latent space (K = "any"), unless its deck sets K or a model."""
DECK_MODEL_KEYS = ("model", "K", "data", "latents", "D", "params", "assume")
"""The file-level keys of a derivation that a deck may carry: the model its cards are checked in."""


def proved_for_text(deck: Deck | None = None) -> str:
    """What a card's proof covers, in words (printed beside the verdict mark)."""
    if deck is None or deck.check_K == "any":
        return "every latent space (any finite K, or densities)"
    if deck.family == "gaussian":
        return "the Gaussian family (every value of its parameters)"
    if deck.family == "chain":
        return f"K = {deck.check_K} states per layer of the chain {', '.join(deck.latents)}"
    return f"K = {deck.check_K} latent states"


def checked_in_text(deck: Deck | None = None) -> str:
    """The model a card's verdict line names before its reason ("K = 3, rule algebra: ..."): K for the discrete
    families, which have one; the family for the Gaussian ones, which have none (rt46 F6: a Gaussian deck's line
    said "K = 2", the K its one-step derivation carries and nothing reads)."""
    K = _check_ks(deck)[0]
    if deck is None or deck.family == "discrete":
        return f"K = {K}"
    if deck.family == "chain":
        return f"the chain {', '.join(deck.latents)}, K = {K}"
    if deck.latents != ("z",):
        return f"the Gaussian chain {', '.join(deck.latents)}"
    return "the Gaussian family" + (f", D = {deck.D}" if deck.D != 1 else "")


def deck_domains(deck: Deck) -> tuple[Any, ...]:
    """The deck's [params] (elbo_sym.engine.models.Parameter) whose domain is narrower than every real
    (``beta >= 1``, ``k`` a whole number): everything of the deck is checked under them, its title, topics and
    fronts included, so its scope prints them (elbo_sym.report.build.deck_scope).  An index names a model, no value."""
    return tuple(p for p in deck.params if p.name not in deck.indices and p.interval != Interval())


MAX_CARDS = 200
_KINDS = {"question": "selfcheck", "card": "flashcards"}
_TEXT_KEYS = {"selfcheck": ("question", "answer"), "flashcards": ("front", "back")}
_OPTIONAL = ("formula", "rule", "assume", "topic")


# --------------------------------------------------------------------------- data


def relation_latex(relation: Relation) -> str:
    """A condition (or any derivation Relation) through the one printer."""
    from elbo_sym.engine import notation

    return notation.relation_latex(relation.lhs.expr, relation.rel, relation.rhs.expr)


def parameters_used(params: tuple[Any, ...], *stated: tuple[CardFormula | Relation, ...]) -> tuple[Any, ...]:
    """The parameters (elbo_sym.engine.models.Parameter) that the `stated` formulas and conditions
    name: the domains a card's statement was checked under."""
    names = {str(s) for group in stated for f in group for side in (f.lhs, f.rhs) if side is not None
             for s in _expr_of(side).atoms(Symbol)}
    return tuple(p for p in params if p.name in names)


def _expr_of(side: Any) -> Expr:
    """A formula's side: an expression (CardFormula) or a parsed formula with its ``expr`` (Relation)."""
    return side if isinstance(side, Expr) else side.expr


def relation_text(relation: Relation) -> str:
    """A condition as its author wrote it (the derivation-file syntax)."""
    return f"{relation.lhs.text} {relation.rel} {relation.rhs.text}"


CONDITIONS_LATEX_SEPARATOR = r",\quad "
"""Between two conditions of a card in LaTeX (``if a = b,\\quad c > d``)."""


def _merged(deck: tuple[Relation, ...], own: tuple[Relation, ...]) -> tuple[Relation, ...]:
    """A card's conditions: its deck's and its own, where the card's q definition replaces the
    deck's for the same q; a premise stated twice is kept once."""
    fixed = {c.lhs.expr for c in own if c.rel == "="}
    kept = [c for c in deck if not (c.rel == "=" and c.lhs.expr in fixed)]
    seen = {(c.lhs.expr, c.rel, c.rhs.expr) for c in kept}
    return tuple(kept) + tuple(c for c in own if (c.lhs.expr, c.rel, c.rhs.expr) not in seen)


@dataclass(frozen=True)
class CardFormula:
    """A card's formula, parsed: ``lhs`` alone (``rel`` None) or ``lhs rel rhs``.

    ``lhs``/``rhs`` are notation objects, so ``to_latex`` typesets them; ``latex`` joins
    them with the relation. ``rule`` is the justification named on the card (None: the
    default), ``conditions`` the card's (see :attr:`Card.conditions`): what it is checked under.
    """

    text: str
    line: int
    lhs: Expr
    rel: str | None = None
    rhs: Expr | None = None
    rule: str | None = None
    conditions: tuple[Relation, ...] = ()
    column: int | None = None
    """1-based, of a claim in a card's text: where it stands, also inside a multi-line string (rt48 F3)."""

    @property
    def one_line(self) -> str:
        """The formula as written, its line breaks (a ``\"\"\"`` string's) as spaces: for the listings of
        `cards` and `cards --check` (rt48: "1. ELBO(q)" then "<= log(p(x))" on a line of its own)."""
        return " ".join(self.text.split())

    @property
    def assumptions(self) -> tuple[Relation, ...]:
        """The conditions that fix q (``q(z) = ...``): a derivation's assumptions."""
        return tuple(c for c in self.conditions if c.rel == "=")

    @property
    def premises(self) -> tuple[Relation, ...]:
        """The conditions that restrict the domain (<=, >=, <, >, !=): a derivation's premises."""
        return tuple(c for c in self.conditions if c.rel != "=")

    @property
    def is_relation(self) -> bool:
        return self.rel is not None

    @property
    def expr(self) -> Expr:
        """The expression itself when the formula is not a relation (else the left side)."""
        return self.lhs

    @property
    def latex(self) -> str:
        from elbo_sym.engine.notation import relation_latex, to_latex

        if self.rel is None:
            return to_latex(self.lhs)
        return relation_latex(self.lhs, self.rel, self.rhs)


@dataclass(frozen=True)
class Card:
    """One flashcard or self-check question. ``front``/``back`` are the question/answer."""

    index: int
    line: int
    front: str
    back: str
    formula: CardFormula | None = None
    topic: str = ""
    claims: tuple[CardFormula, ...] = ()
    """The relations its texts state as ``$a <= b$`` formulas: checked with the card."""
    conditions: tuple[Relation, ...] = ()
    """What its formula and claims are checked under, printed beside its formula: the q
    definitions and premises of its deck's ``assume`` and of its own (the card's q definition
    replaces the deck's for that q). Empty for a card that states nothing checked."""
    parameters: tuple[Any, ...] = ()  # elbo_sym.engine.models.Parameter
    """The deck's [params] its formula, claims or conditions use: each one's domain ("beta in
    [0, 1]") is a condition too, printed first (:func:`parameters_used`)."""
    text_lines: tuple[int, int] = (0, 0)
    """The lines of its front's and its back's keys (``front =``, ``back =``; 0: not known, its header's
    `line` instead): what a layout warning about either side names (a text too tall for its card)."""

    @property
    def conditions_sides(self) -> tuple[tuple[str, str | None, str | None], ...]:
        """The parameters' domains (whole, no relation) and the conditions (each side and the relation)
        through the printer: where a page that is too narrow for them breaks them (rt44 F10)."""
        from elbo_sym.engine.notation import RELATION_LATEX, to_latex

        return (tuple((p.latex(), None, None) for p in self.parameters)
                + tuple((to_latex(c.lhs.expr), RELATION_LATEX[c.rel], to_latex(c.rhs.expr)) for c in self.conditions))

    @property
    def conditions_latex(self) -> str | None:
        """The parameters' domains and the conditions through the printer, joined (None: there are none)."""
        shown = [p.latex() for p in self.parameters] + [relation_latex(c) for c in self.conditions]
        return CONDITIONS_LATEX_SEPARATOR.join(shown) if shown else None

    @property
    def conditions_text(self) -> tuple[str, ...]:
        """The parameters' domains and the conditions in the file syntax, one string each."""
        return tuple(p.describe() for p in self.parameters) + tuple(relation_text(c) for c in self.conditions)

    @property
    def topic_label(self) -> str:
        """The topic as printed (see :func:`topic_label`)."""
        return topic_label(self.topic)

    @property
    def question(self) -> str:
        return self.front

    @property
    def answer(self) -> str:
        return self.back


_TAG = re.compile(r"(?=[a-z0-9-]*[a-z]{4})[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*){2,}")
"""A tag-like topic: three or more lower-case words joined by hyphens, no space, each beginning with a letter
and one of four letters or more ("vae-vs-autoregressive").  A hyphenated term or a range is not one and keeps
its hyphens: "k-means", "e-step", "t-sne" (two parts), "log-sum-exp" (no long word), "12-15", "x-1", "elbo-2"
(a part of digits) (rt46 F9: every one of these was printed with spaces)."""


def topic_label(topic: str) -> str:
    """A card's topic as every output prints it: a tag-like topic (:data:`_TAG`) reads as words
    ("vae-vs-autoregressive" as "vae vs autoregressive"); any other prints as typed, so prose keeps its
    hyphens ("Kullback-Leibler", "pages 12-15", "β-VAE", a formula's minus sign: rt44 F3)."""
    return topic.replace("-", " ") if _TAG.fullmatch(topic) else topic


@dataclass(frozen=True)
class Deck:
    """A loaded self-check (``kind`` "selfcheck") or flashcard deck ("flashcards").

    ``family`` ... ``assumptions`` are the deck's model (:data:`DECK_MODEL_KEYS`; the
    defaults: the discrete family with K = "any", one observation x, no parameters).
    """

    path: str
    kind: str
    title: str
    summary: str
    cards: tuple[Card, ...]
    family: str = "discrete"
    K: int | str | None = None
    data: tuple[str, ...] = ("x",)
    params: tuple[Any, ...] = ()  # elbo_sym.engine.models.Parameter
    latents: tuple[str, ...] = ("z",)
    D: int = 1
    assumptions: tuple[Relation, ...] = ()
    premises: tuple[Relation, ...] = ()
    """The premises of the deck's ``assume`` (<=, >=, <, >, !=): every card is checked under them."""
    variationals: tuple[str, ...] = ()
    """Variational distributions beside q its formulas and conditions use ("q_star", "r"), as in a derivation."""
    indices: tuple[str, ...] = ()
    """[params] that index the model (p(x | z; theta)), as in a derivation."""
    prose_math: tuple[tuple[str, Any], ...] = ()
    """The ``$...$`` formulas and claims of its texts, parsed once at load (as Derivation.prose_math)."""
    prose_relations: tuple[ProseRelation, ...] = ()
    """Relations its cards' texts state in words (``$A$ is $B$``), each with its card's number as ``step``:
    for the deck's warnings (:func:`deck_warnings`), as Derivation.prose_relations for `check`'s."""
    read_seconds: float = field(default=0.0, compare=False)
    """Seconds reading it took when read within its deck budget (`load_deck_within`): they count
    against that budget, so `check_deck` gets only what reading left (as a file's Loaded.seconds)."""

    @property
    def vocabulary(self):
        """The names its prose and formulas use (elbo_sym.engine.parse.Vocabulary), as the loader read them."""
        from elbo_sym.engine.derivation import vocabulary_of

        return vocabulary_of(self.family, self.data, self.params, self.latents, self.D)

    @property
    def check_K(self) -> int | str:
        """The K its cards are checked with: the deck's, else "any" (discrete) or the family's default."""
        if self.K is not None:
            return self.K
        return CHECK_K[0] if self.family == "discrete" else 2

    @property
    def questions(self) -> tuple[Card, ...]:
        return self.cards

    def __iter__(self):
        return iter(self.cards)

    def __len__(self) -> int:
        return len(self.cards)


@dataclass(frozen=True)
class CardVerdict:
    """The engine's verdict on one card's formula.

    ``verdict``: "proved" / "checked" / "refuted" / "error" (as for derivation steps),
    "well-formed" for a bare expression, "none" for a card without formula. ``ok`` is False
    for "refuted", "error" and "checked" (as report.model.CardReport.ok).
    """

    card: Card
    verdict: str
    reason: str
    counterexample: Any = None  # elbo_sym.engine.check.Counterexample | None
    K: tuple[int | str, ...] = ()

    @property
    def ok(self) -> bool:
        """Proved (a relation) or well-formed (an expression); `checked` is not enough to print."""
        return self.verdict not in ("refuted", "error", "checked")


@dataclass(frozen=True)
class DeckResult:
    """A deck checked: the verdict of every card's claims."""

    deck: Deck
    verdicts: tuple[CardVerdict, ...]
    warnings: tuple[Any, ...] = ()  # elbo_sym.engine.prose_check.FileWarning
    """Relations its cards' texts state in words that nothing checks (:func:`deck_warnings`): printed on
    stderr by every command that checks the deck; they change no verdict and no exit status."""

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    def verdict_for(self, card: Card) -> CardVerdict:
        return self.verdicts[card.index - 1]


# --------------------------------------------------------------------------- loading


def lesson_dir() -> Path:
    """Where the lesson's data files live (package data, next to this module)."""
    return Path(__file__).resolve().parent / "data"


def _default(name: str) -> Path:
    """A lesson file, shown relative to the working directory when it is below it."""
    path = lesson_dir() / name
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def load_selfcheck(path: str | Path | None = None) -> Deck:
    """Load (not check) the self-check; it has 1 to MAX_SELFCHECK_QUESTIONS questions."""
    deck = load_deck(path if path is not None else _default("selfcheck.toml"), expect="selfcheck")
    return deck


def load_flashcards(path: str | Path | None = None) -> Deck:
    """Load (not check) the flashcard deck."""
    return load_deck(path if path is not None else _default("flashcards.toml"), expect="flashcards")


def load_deck_within(kind: str | None, path: str | Path | None, budget: float = STEP_BUDGET_SECONDS,
                     total: float | None = None) -> Deck:
    """A deck -- `kind` "selfcheck" or "flashcards" (`path` None: the lesson's), None: either, as
    its tables say -- read within its deck budget (`total`, else limits.loading_budget's default for
    decks), with the seconds reading took (`Deck.read_seconds`: `check_deck` deducts them from the
    same budget).  A deck not read in time is a DerivationError naming it."""
    if kind is None:
        if path is None:
            raise ValueError("a deck of either kind is named by its path")
        shown, read = str(path), lambda: load_deck(path)
    else:
        load = load_selfcheck if kind == "selfcheck" else load_flashcards
        shown = str(path if path is not None else lesson_dir() / f"{kind}.toml")
        read = lambda: load(path)  # noqa: E731
    started = budgets.clock()  # CPU time, as the deck budget it is deducted from
    deck = read_within(shown, loading_budget(budget, total, DECK_BUDGET_CAP_SECONDS), read)
    return replace(deck, read_seconds=budgets.clock() - started)


def load_deck(path: str | Path, expect: str | None = None) -> Deck:
    """Load a self-check ([[question]]) or flashcard ([[card]]) file; errors name file:line."""
    path = Path(path)
    name = str(path)
    text, data = read_toml(read_user_file(path), name)
    return _DeckReader(name, text).deck(data, expect)


class _DeckReader(_Reader):
    """The derivation reader's line finding and formula parsing, for card tables."""

    def at_key(self, key: str, table: str | None, i: int, message: str, value: bool = True) -> DerivationError:
        """An error at `key` of the i-th [[table]] (None: the top level): at its value (`value`) or the key."""
        return self._key_at(self.line_of(key, table, i), key, message, value=value)

    def _first_line(self, key: str) -> int:
        """The line of the first ``[[key]]`` header, else of the line that sets `key`."""
        headers = self.tables.get(key)
        return headers[0] if headers else self._top_line(key)

    def deck(self, data: dict, expect: str | None) -> Deck:
        tables = [key for key in _KINDS if key in data]
        if len(tables) > 1:  # rt41 F6: both kinds were told "expected ... or ...", at 1:1
            second = max(tables, key=self._first_line)
            raise self.error(self._first_line(second), "a deck holds [[card]] tables (flashcards) or [[question]] "
                                                       "tables (self-check), not both: put them in two decks")
        if not tables and ("start" in data or "step" in data):  # a derivation given to `cards` (rt41 F6)
            at = self._first_line("start" if "start" in data else "step")
            raise self.error(at, f"{Path(self.path).name} is a derivation (start and [[step]] tables), not a deck: "
                                 f"check it with elbo-sym check {self.path}")
        if not tables:
            raise self.error(1, "expected [[question]] tables (self-check) or [[card]] tables (flashcards)")
        table = tables[0]
        kind = _KINDS[table]
        if expect is not None and kind != expect:
            wanted = "[[question]]" if expect == "selfcheck" else "[[card]]"
            raise self.error(1, f"expected {wanted} tables for the {expect}")
        allowed = {"title", "summary", table, *DECK_MODEL_KEYS}
        for key in data:
            if key not in allowed:
                raise self.at_key(key, None, 0, f"unknown key '{key}' (allowed: {', '.join(sorted(allowed))})",
                                  value=False)
        model = self.model_keys(data)
        title = self.label(data.get("title", ""), MAX_TITLE_CHARS, "title", self.line_of("title"), "a deck's title")
        summary = self.label(data.get("summary", ""), MAX_SUMMARY_CHARS, "summary", self.line_of("summary"),
                             "a deck's summary")
        items = data[table]
        if isinstance(items, dict):
            raise self.single_table(table)
        if not isinstance(items, list) or not items:
            raise self.error(self._top_line(table), f"{table} must be an array of tables: [[{table}]]")  # rt42 F13
        if len(items) > MAX_CARDS:
            raise self.error(1, f"too many cards ({len(items)}; the limit is {MAX_CARDS})")
        if kind == "selfcheck" and len(items) > MAX_SELFCHECK_QUESTIONS:
            raise self.error(self._table_span(table, MAX_SELFCHECK_QUESTIONS)[0],
                             f"a self-check has 1 to {MAX_SELFCHECK_QUESTIONS} [[question]] tables, "
                             f"found {len(items)}")
        cards = tuple(self.card(item, i, table, kind, model) for i, item in enumerate(items))
        variationals, indices = self.model_names(_formulas_of(cards, model["assumptions"] + model["premises"]),
                                                 model["params"])
        domains = tuple(p for p in model["params"] if p.name not in indices)  # an index names a model, no domain
        cards = tuple(self.with_parameters(card, domains, table, kind) for card in cards)
        return Deck(self.path, kind, title, summary, cards, **model, variationals=variationals, indices=indices,
                    prose_math=tuple(self.prose_math.items()), prose_relations=tuple(self.prose_relations))

    def model_keys(self, data: dict) -> dict[str, Any]:
        """The deck's model (DECK_MODEL_KEYS), read by the derivation reader's own methods,
        and the vocabulary its prose and formulas are parsed with."""
        from elbo_sym.engine.derivation import ANY_K, MAX_CHAIN_K, vocabulary_of
        from elbo_sym.limits import MAX_K

        family, latents, observations, params, D = self.model_keys_of(data)
        K = data.get("K")
        if K is not None:
            high = MAX_CHAIN_K if family == "chain" else MAX_K
            if (K != ANY_K or family == "chain") and (isinstance(K, bool) or not isinstance(K, int)
                                                     or not 2 <= K <= high):
                shown = "" if family == "chain" else f", or \"{ANY_K}\""
                raise self.at_key("K", None, 0, f"K must be an integer from 2 to {high}{shown}, got {K!r}")
        self.vocabulary = vocabulary_of(family, observations, params, latents, D)
        assumptions, premises = self.conditions(data.get("assume", []), family, D, self.line_of("assume"))
        return {"family": family, "K": K, "data": observations, "params": params, "latents": latents, "D": D,
                "assumptions": assumptions, "premises": premises}

    def conditions(self, value: Any, family: str, D: Any, line: int) -> tuple[tuple[Relation, ...],
                                                                               tuple[Relation, ...]]:
        """An `assume` (a deck's or a card's, written on `line`) read by the derivation reader's
        own methods: (its q definitions, its premises), with the same syntax, meaning and errors."""
        definitions, premises = self.premises(value, family, D, line)
        return self.assumptions(definitions, line), premises

    def card(self, item: Any, i: int, table: str, kind: str, model: dict[str, Any]) -> Card:
        """One card table; `model`: its deck's (:meth:`model_keys`), whose conditions it inherits."""
        number = i + 1
        header = self._table_span(table, i)[0]
        if not isinstance(item, dict):  # `card = ["a"]` has no [[card]] header: at the key (rt42 F13)
            raise self.error(header if table in self.tables else self._top_line(table),
                             f"{table} {number} must be a table")
        front_key, back_key = _TEXT_KEYS[kind]
        allowed = (front_key, back_key) + _OPTIONAL
        for key in item:
            if key not in allowed:
                raise self.at_key(key, table, i, f"{table} {number}: unknown key '{key}' "
                                                 f"(allowed: {', '.join(allowed)})", value=False)
        texts = {}
        for key in (front_key, back_key):
            if key not in item:
                raise self.error(header, f"{table} {number} is missing '{key}'")
            if not isinstance(item[key], str) or not item[key].strip():
                raise self.at_key(key, table, i, f"{table} {number}: '{key}' must be non-empty text")
            limit = MAX_CARD_TEXT_CHARS if kind == "flashcards" else MAX_SELFCHECK_TEXT_CHARS  # a card's side
            what = _text_what(kind, number, key)
            texts[key] = self.prose(item[key], limit, what, self.line_of(key, table, i), claims=True)
            # its relations in words, for the deck's warnings (the reader records them only in a file's prose)
            self.worded(item[key], split_math(item[key], claims=True), what, self.line_of(key, table, i), number)
        for key in ("rule", "topic"):
            if key in item and not isinstance(item[key], str):
                raise self.at_key(key, table, i, f"{table} {number}: '{key}' must be a string")
        if ("rule" in item or "assume" in item) and "formula" not in item:
            key = "rule" if "rule" in item else "assume"
            raise self.at_key(key, table, i, f"{table} {number}: '{key}' needs a formula", value=False)
        topic = self.label(item.get("topic", ""), MAX_TITLE_CHARS, f"{table} {number}: 'topic'",
                           self.line_of("topic", table, i), "a card's topic")
        try:
            definitions, premises = self.conditions(item.get("assume", []), model["family"], model["D"],
                                                    self.line_of("assume", table, i))
        except DerivationError as error:  # the derivation reader's own words, with the card, as every card error
            if error.message.startswith(f"{table} {number}:"):
                raise
            raise DerivationError(error.path, error.line, f"{table} {number}: {error.message}", error.step,
                                  error.column, error.source) from None
        conditions = _merged(model["assumptions"] + model["premises"], definitions + premises)
        formula = self.card_formula(item, table, i, conditions) if "formula" in item else None
        stated_in = {key: [span for span in split_math(item[key], claims=True)
                           if span.kind == "math" and split_relation(span.text) is not None]
                     for key in (front_key, back_key)}
        if conditions and stated_in[front_key]:
            raise self.front_states(table, kind, i, stated_in[front_key][0].text,
                                    tuple(relation_text(c) for c in conditions))
        claims = tuple(self.text_claim(item[key], span, self.line_of(key, table, i), conditions)
                       for key, spans in stated_in.items() for span in spans)
        stated = formula is not None or bool(claims)
        return Card(number, header, texts[front_key], texts[back_key], formula, topic, claims,
                    conditions if stated else (),
                    text_lines=(self.line_of(front_key, table, i), self.line_of(back_key, table, i)))

    def with_parameters(self, card: Card, params: tuple[Any, ...], table: str, kind: str) -> Card:
        """`card` with the parameters whose domains it is checked under; a front (question) that
        states a relation about one is refused, as for the card's other conditions."""
        stated_in_front = [span.text for span in split_math(card.front, claims=True)
                           if span.kind == "math" and split_relation(span.text) is not None]
        front_claims = card.claims[:len(stated_in_front)]  # the front's claims come first
        about = parameters_used(params, front_claims)
        if about:
            raise self.front_states(table, kind, card.index - 1, front_claims[0].text, (about[0].describe(),))
        used = parameters_used(params, (card.formula,) if card.formula is not None else (), card.claims,
                               card.conditions)
        return replace(card, parameters=used)

    def front_states(self, table: str, kind: str, i: int, relation: str,
                     conditions: tuple[str, ...]) -> DerivationError:
        """The error for a relation in card `i`'s front (question), checked under `conditions` (assumptions,
        premises, parameters' domains) that the front is printed without: they go with the answer."""
        front_key, back_key = _TEXT_KEYS[kind]
        return self.at_key(front_key, table, i,
                           f"{table} {i + 1}: '{front_key}' states ${relation}$, checked under the card's conditions "
                           f"({', '.join(conditions)}), but a {front_key} is printed without them (they go with the "
                           f"answer): state the relation in '{back_key}' or as the formula")

    def label(self, value: Any, limit: int, what: str, line: int, where: str) -> str:
        """A deck's title or summary, a card's topic: prose that no check reads, printed where a
        reader takes it for a fact (the topic on every card's front), so it states no relation sign --
        not as text, not in ``$...$``, not spelled ``&gt;`` or ``\\leq`` (elbo_sym.prose.first_relation);
        its ``$...$`` formulas are expressions.  One in words (``$A$ is $B$``) warns (:func:`deck_warnings`)."""
        found = first_relation(value) if isinstance(value, str) else None
        if found is not None:
            position, sign = found
            at, column, source = self._value_at(line, value, position)  # at the sign, not the key (rt38 F4)
            spelled = (f" (`{sign}` is a spelling of one: a page that decodes HTML entities or a renderer "
                       f"that reads TeX prints it as the sign)") if len(sign) > 1 else ""
            raise DerivationError(self.path, at, f"{what}: a relation ({sign}) in {where} would be printed "
                                                 f"unchecked{spelled}: name the subject in words (\"jensen\", "
                                                 f"\"the gap\") and state the relation as a card's formula",
                                  None, column, source)
        return self.prose(value, limit, what, line)

    def text_claim(self, value: str, span: ProseSpan, line: int, conditions: tuple[Relation, ...]) -> CardFormula:
        """The ``$a <= b$`` `span` of a card's text `value`, whose key is on `line` (already parsed once by
        :meth:`prose`), as a formula to check, at the claim's own line and column (rt48 F3: a claim on a
        multi-line back's fourth line was reported at the key's)."""
        parsed = self.prose_math.get(span.text)
        lhs, rel, rhs = parsed if isinstance(parsed, tuple) else prose_claim(span.text, self.vocabulary)
        at, column, _ = self._value_at(line, value, span.position)
        return CardFormula(span.text, at, lhs, rel, rhs, None, conditions,
                           column=column + 1 if column is not None else None)

    def card_formula(self, item: dict, table: str, i: int, conditions: tuple[Relation, ...]) -> CardFormula:
        number = i + 1
        line = self.line_of("formula", table, i)
        value = item["formula"]
        if not isinstance(value, str):
            raise self.at_key("formula", table, i, f"{table} {number}: formula must be a string")
        rule = item.get("rule")
        if rule is not None and rule not in RULES:
            raise self.at_key("rule", table, i,
                              f"{table} {number}: unknown rule {rule!r} (known: {', '.join(sorted(RULES))})")
        parts = split_relation(value)
        if parts is None:
            misspelt = misspelt_relation(value)
            if misspelt is not None:
                raise self._at(line, value, misspelt[0], f"{table} {number}: formula: {misspelt[1]}")
            if any(c in value for c in "<>="):
                raise self.at_key("formula", table, i, f"{table} {number}: formula needs exactly one relation "
                                                       f"(=, <=, >=, <, >) or none: {value!r}")
            if rule is not None:
                raise self.at_key("rule", table, i, f"{table} {number}: a rule needs a relation")
            expr = self.formula(value, line, f"{table} {number}: formula").expr  # which card (rt44's note)
            return CardFormula(value, line, expr, None, None, rule, conditions)
        left, rel, right = parts
        lhs = self.formula(left, line, f"{table} {number}: formula").expr
        rhs = self.formula(right, line, f"{table} {number}: formula").expr
        return CardFormula(value, line, lhs, rel, rhs, rule, conditions)


def _formulas_of(cards: tuple[Card, ...], conditions: tuple[Relation, ...]) -> list[Formula]:
    """Every formula of a deck -- the cards' formulas, claims and conditions, the deck's conditions --
    as the derivation reader's `model_names` takes them (which distributions and indices the model needs)."""
    out = [side for c in conditions for side in (c.lhs, c.rhs)]
    for card in cards:
        for f in ((card.formula,) if card.formula is not None else ()) + card.claims:
            out += [Formula(e, f.text, f.line) for e in (f.lhs, f.rhs) if e is not None]
        out += [side for c in card.conditions for side in (c.lhs, c.rhs)]
    return out


# --------------------------------------------------------------------------- checking


def _rules_for(formula: CardFormula) -> tuple[str, ...]:
    """The rules a formula without its own is tried with: a strict bound may be a KL divergence
    shown positive by a premise (``q(z) != p(z | x)``), so `<`/`>` try kl-nonneg after algebra."""
    if formula.rule is not None:
        return (formula.rule,)
    if formula.rel in (">=", "<="):
        return ("jensen", "kl-nonneg")
    if formula.rel in (">", "<"):
        return ("algebra", "kl-nonneg")
    return ("algebra",)


def _one_step(deck_path: str, card: Card | None, formula: CardFormula, K: int | str, rule: str,
              deck: Deck | None = None) -> Derivation:
    """The card's formula as a one-step derivation in the deck's model, under the formula's
    conditions (its q definitions are the derivation's assumptions, the rest its premises); with no
    card, a relation of the deck's own title, summary or a topic, titled as the deck."""
    if formula.rel is None:
        raise ValueError("a one-step derivation needs a relation")
    title, summary = (card.front, card.back) if card is not None else (deck.title if deck else "", "")
    start = Formula(formula.lhs, _text(formula.lhs), formula.line)
    step = Step(1, formula.line, formula.rel, Formula(formula.rhs, _text(formula.rhs), formula.line), rule,
                title)
    if deck is None:
        return Derivation(deck_path, title, summary, K, start, (step,), None, formula.assumptions, (),
                          premises=formula.premises)
    return Derivation(deck_path, title, summary, K, start, (step,), None, formula.assumptions, (),
                      deck.family, deck.data, deck.params, latents=deck.latents, D=deck.D, premises=formula.premises,
                      variationals=deck.variationals, indices=deck.indices)


def _check_ks(deck: Deck | None) -> tuple[int | str, ...]:
    return CHECK_K if deck is None else (deck.check_K,)


def _text(e: Expr) -> str:
    from elbo_sym.engine.notation import to_text

    return to_text(e)


def check_card(card: Card, deck_path: str = "<cards>", budget: float = STEP_BUDGET_SECONDS,
               deck: Deck | None = None) -> CardVerdict:
    """The engine's verdict on a card's formula and on the claims of its texts (see CardVerdict),
    in ``deck``'s model (None: the lesson's discrete model with K = "any"): the first claim that
    is not proved decides (refuted, error or only checked).

    `budget`: seconds per check, finite and > 0 (else BudgetError, a ValueError).
    """
    budget = validate_budget(budget)
    formula = card.formula
    if formula is None:
        verdict = CardVerdict(card, "none", "no formula on this card")
    elif not formula.is_relation:
        verdict = _check_expression(card, formula, deck_path, budget, deck)
    else:
        verdict = _check_relation(card, formula, deck_path, budget, deck)
    if not verdict.ok:
        return verdict
    for claim in card.claims:
        if formula is not None and (claim.lhs, claim.rel, claim.rhs) == (formula.lhs, formula.rel, formula.rhs):
            continue  # the card's own formula, proved above
        said = _check_relation(card, claim, deck_path, budget, deck, formula.rule if formula is not None else None)
        if said.verdict != "proved":
            where = f"line {claim.line}" + (f", column {claim.column}" if claim.column is not None else "")
            return CardVerdict(card, said.verdict, f"the card's text claims ${claim.text}$ ({where}): {said.reason}",
                               said.counterexample, said.K)
    if card.claims and verdict.verdict == "none":
        return CardVerdict(card, "proved", f"the claims of its text are proved for {proved_for_text(deck)}", None,
                           _check_ks(deck))
    return verdict


def _refutation(formula: CardFormula, step: StepResult, named: str | None) -> str:
    """Why a card's relation is refuted: it is false (or undefined) at the counterexample.

    A card is no step: the rule it was tried with is most often only inferred from its relation,
    and why that rule did not match ("rule jensen: no log of a sum matched", for a false ``>=``)
    sent the author looking for a pattern the card never used (red team rt35's F2). What a rule
    the card names says stays, after the verdict: it may be the fix ("a strict > needs the premise
    that the arguments differ")."""
    from elbo_sym.engine.check import CARD_SIDES, free_latent_note

    assert formula.lhs is not None and formula.rhs is not None and step.counterexample is not None
    # a free latent in the card's own words, never the step's "previous expression" (rt36 F3)
    note = free_latent_note(formula.lhs, formula.rhs, CARD_SIDES)
    if step.counterexample.problem:  # undefined there: the step's reason says where (and any free latent)
        return step.reason.removesuffix(free_latent_note(formula.lhs, formula.rhs)) + note
    why = "false, it fails at the counterexample"
    if named is not None:
        return f"{why}; rule {named}: {step.reason.removesuffix(free_latent_note(formula.lhs, formula.rhs))}{note}"
    return why + note


def _check_relation(card: Card, formula: CardFormula, deck_path: str, budget: float, deck: Deck | None = None,
                    first_rule: str | None = None) -> CardVerdict:
    """A relation (the card's formula or a claim of its text) proved as a one-step derivation in
    ``deck``'s model; `first_rule`: tried before the default rules (a claim: the rule of the
    card's formula)."""
    from elbo_sym.engine.check import check_derivation

    tried = tuple(dict.fromkeys(((first_rule,) if first_rule is not None else ()) + _rules_for(formula)))
    per_k: list[tuple[int | str, str, StepResult, str, str]] = []
    ks = _check_ks(deck)
    for K in ks:

        def attempt(rule: str, search: bool, K: int | str = K) -> tuple[str, StepResult, str, str]:
            result = check_derivation(_one_step(deck_path, card, formula, K, rule, deck), budget=budget,
                                      search=search)
            problems = "; ".join(result.problems)
            return (result.steps[0].verdict.value if not problems else "error", result.steps[0], rule, problems)

        # Every rule without the counterexample search first: a proof never depends on it, and a
        # search on a true relation runs until its budget.  Only when no rule proves the relation
        # does the search run, rule by rule until one decides it (a counterexample, or none found).
        best = next((c for c in map(lambda rule: attempt(rule, False), tried) if c[0] == "proved"), None)
        if best is None:
            for rule in tried:
                candidate = attempt(rule, True)
                if best is None or _rank(candidate[0]) < _rank(best[0]):
                    best = candidate
                if candidate[0] in ("refuted", "checked"):
                    break
        assert best is not None  # _rules_for always gives at least one rule
        per_k.append((K,) + best)
    where = checked_in_text(deck)  # a deck is checked in one model: K = 3, the Gaussian family (one K in `ks`)
    for wanted in ("refuted", "error", "checked"):
        for _K, verdict, step, rule, problems in per_k:
            if verdict != wanted:
                continue
            if verdict == "refuted" and step.counterexample is not None:
                named = rule if rule in (formula.rule, first_rule) else None  # the card's own, not inferred
                return CardVerdict(card, verdict, f"{where}: {_refutation(formula, step, named)}",
                                   step.counterexample, ks)
            return CardVerdict(card, verdict, f"{where}, rule {rule}: {problems or step.reason}",
                               step.counterexample, ks)
    rules = sorted({rule for _, _, _, rule, _ in per_k})
    return CardVerdict(card, "proved", f"proved for {proved_for_text(deck)} by {', '.join(rules)}: "
                       f"{per_k[0][2].reason}", None, ks)


def _rank(verdict: str) -> int:
    return {"proved": 0, "checked": 1, "refuted": 2, "error": 3}[verdict]


def _check_expression(card: Card, formula: CardFormula, deck_path: str = "<cards>",
                      budget: float = STEP_BUDGET_SECONDS, deck: Deck | None = None) -> CardVerdict:
    """A bare expression must be defined on the whole domain (and its assumption a distribution):
    checked as the one-step identity `expr = expr`, whose proof needs exactly that."""
    from elbo_sym.engine.check import Verdict, check_derivation

    identity = CardFormula(formula.text, formula.line, formula.lhs, "=", formula.lhs, None, formula.conditions)
    ks = _check_ks(deck)
    for K in ks:
        result = check_derivation(_one_step(deck_path, card, identity, K, "algebra", deck), budget=budget)
        step = result.steps[0]
        if result.problems:
            return CardVerdict(card, "error", f"{checked_in_text(deck)}: {'; '.join(result.problems)}", None, ks)
        if step.verdict is not Verdict.proved:
            verdict = "refuted" if step.verdict is Verdict.refuted else "error"
            return CardVerdict(card, verdict, f"{checked_in_text(deck)}: the expression is not shown to be defined: "
                               f"{step.reason}", step.counterexample, ks)
    return CardVerdict(card, "well-formed", f"an expression (not a claim), defined for {proved_for_text(deck)}",
                       None, ks)


def check_deck(deck: Deck, budget: float = STEP_BUDGET_SECONDS, total: float | None = None) -> DeckResult:
    """Check every card of `deck`.

    `budget` bounds each check (a card is checked for every K in CHECK_K, with up to two
    rules); `total` the whole deck, reading it included (default: cards x budget, capped by
    elbo_sym.limits.deck_budget): what reading took (`Deck.read_seconds`, when it was read by
    `load_deck_within`) is deducted, and the check gets the rest.  Cards left when the deck
    budget is spent are `error` ("deck budget of N CPU seconds exhausted").  Both must be finite and > 0
    (else BudgetError).
    """
    budget = validate_budget(budget)
    checks = sum(1 + len(card.claims) for card in deck.cards)  # a card's formula and its texts' claims
    total = validate_budget(total, "deck budget") if total is not None else deck_budget(checks, budget)
    message = budgets.exhausted_text("deck", total)
    started = budgets.clock()
    verdicts: list[CardVerdict] = []
    try:
        with budgets.limit(total - deck.read_seconds, message):
            for card in deck.cards:
                verdicts.append(_check_in_deck(card, deck, budget, message))
    except BudgetExceeded:  # the alarm fired between two cards (or reading took the whole budget)
        _clear_sympy_cache()
    verdicts += [CardVerdict(card, "error", message) for card in deck.cards[len(verdicts):]]
    left = total - deck.read_seconds - (budgets.clock() - started)
    return DeckResult(deck, tuple(verdicts), deck_warnings(deck, max(left, 0.0)))


def deck_warnings(deck: Deck, seconds: float = float("inf")) -> tuple[Any, ...]:
    """A warning (elbo_sym.engine.prose_check.FileWarning) for each relation a card's text states in words
    that neither the card's formula, its claims and conditions, nor the checker on its own checks -- decided
    in the card's model and under only the conditions printed with the words (:func:`_printed_with`), within
    `seconds` of CPU in all (what the deck budget left: the warnings never take a deck past it), as `check`
    decides a derivation's (docs/01)."""
    from elbo_sym.engine.prose_check import CARD_WORDING, LABEL_WORDING, relation_warnings

    cards: list[tuple[ProseRelation, Derivation, frozenset]] = []
    labels: list[tuple[ProseRelation, Derivation, frozenset]] = []
    for found in deck.prose_relations:
        # a card's text names its card (`step`); the deck's title, summary or a card's topic none (rt42 F11:
        # an assert crashed every deck command)
        card = deck.cards[found.step - 1] if found.step is not None else None
        conditions, checked = _printed_with(found, card, deck.kind)
        stated = CardFormula(found.text, found.line, found.lhs, found.rel, found.rhs, None, conditions)
        (cards if card is not None else labels).append(
            (found, _one_step(deck.path, card, stated, deck.check_K, "algebra", deck), checked))
    started = budgets.clock()
    warned = relation_warnings(cards, seconds, CARD_WORDING)
    return warned + relation_warnings(labels, max(seconds - (budgets.clock() - started), 0.0), LABEL_WORDING)


def _printed_with(found: ProseRelation, card: Card | None, kind: str) -> tuple[tuple[Relation, ...],
                                                                             frozenset[tuple[Expr, str, Expr]]]:
    """The conditions a relation in words is decided under, and the relations that check it: only what is
    printed with the words (rt44 F6, F11).  A back (answer) is printed with its card's conditions, so it is
    decided under them and its card's formula and claims check it; a front (question) is printed alone, and
    the deck's title, summary and a card's topic with no condition near them, so those are decided under
    none, and a card's formula checks a front only when it holds without conditions too.  A card with no
    formula and no claim prints no condition (:attr:`Card.conditions` is empty): its back is decided under
    none either, not under its deck's ``assume``.  Every text is decided in the deck's model and under its
    parameters' domains (``beta >= 1``), which are no condition of a card: the deck's scope states them on
    every page and card, beside the title (elbo_sym.report.model.DeckScope, rt46 F10)."""
    if card is None:
        return (), frozenset()
    if found.what == _text_what(kind, card.index, _TEXT_KEYS[kind][0]):
        return (), card_relations(card) if not card.conditions else frozenset()
    return card.conditions, card_relations(card)


def _text_what(kind: str, number: int, key: str) -> str:
    """How a card's text is named in its messages (and its relations in words, ProseRelation.what)."""
    table = next(t for t, k in _KINDS.items() if k == kind)
    return f"{table} {number}: '{key}'"


def card_relations(card: Card) -> frozenset[tuple[Expr, str, Expr]]:
    """The relations ``(A, rel, B)`` a card checks: its formula's, its texts' claims, its conditions
    (a relation in words between the same two expressions is checked by them: no warning)."""
    stated = [(f.lhs, f.rel, f.rhs) for f in ((card.formula,) if card.formula is not None else ()) + card.claims
              if f.rel is not None and f.lhs is not None and f.rhs is not None]
    return frozenset(stated + [(c.lhs.expr, c.rel, c.rhs.expr) for c in card.conditions])


def _check_in_deck(card: Card, deck: Deck, budget: float, message: str) -> CardVerdict:
    """One card under the deck's budget: `error` with the deck's message once it is spent."""
    if budgets.remaining() <= 0:
        return CardVerdict(card, "error", message)
    try:
        verdict = check_card(card, deck.path, budget, deck)
    except BudgetExceeded:
        _clear_sympy_cache()
        return CardVerdict(card, "error", message)
    if verdict.verdict == "error" and budgets.remaining() <= 0:
        return CardVerdict(card, "error", message, None, verdict.K)
    return verdict


def _clear_sympy_cache() -> None:
    from sympy.core.cache import clear_cache  # an interrupted SymPy call can leave it half-filled

    clear_cache()


def check_lesson_cards(selfcheck: str | Path | None = None, flashcards: str | Path | None = None,
                       budget: float = STEP_BUDGET_SECONDS,
                       total: float | None = None) -> tuple[DeckResult, DeckResult]:
    """Load and check the lesson's self-check and flashcards (for `elbo-sym check` / `cards`).

    `total` bounds each deck, reading it and checking it together (see load_deck_within and
    check_deck).  Raises DerivationError (file:line) when a file cannot be loaded, or is not read
    within its deck budget.
    """
    budget = validate_budget(budget)
    total = validate_budget(total, "deck budget") if total is not None else None
    return (check_deck(load_deck_within("selfcheck", selfcheck, budget, total), budget, total),
            check_deck(load_deck_within("flashcards", flashcards, budget, total), budget, total))
