"""Every budget and size limit of elbo-sym, in one place.

Files are untrusted text: each limit here bounds work that a file (or a command-line
option) can ask for.  Change a limit here and nowhere else.
"""

from __future__ import annotations

import math
from fractions import Fraction

STEP_BUDGET_SECONDS = 10.0
"""Default time budget of one step: unfolding, definedness, the rule, the counterexample search."""
FILE_BUDGET_CAP_SECONDS = 120.0
"""A file's total budget -- reading and checking it -- is steps x step budget, but never more than
this (unless asked); reading, before the steps are counted, may take up to this (loading_budget)."""
MAX_BUDGET_SECONDS = 3600.0
"""Largest budget a command-line option may ask for."""
MAX_FILE_BYTES = 256_000
"""Largest derivation, deck or roster file read (enforced while reading)."""
MAX_FOLDER_DEPTH = 8
"""How deep below a folder the folders of derivations are looked for: a project's derivation folders
(publish.project.folders_below) and the subfolders `check FOLDER` says it did not read (files.folder_notes)."""
MAX_STEPS = 200
"""Steps in one derivation file."""
MAX_K = 2000
"""Latent states of an explicit discrete model."""
LARGE_K = 200
"""From this explicit K a step's budget error names ``--budget`` and ``K = "any"`` (engine.check.LARGE_K_HINT):
a step's exact check grows about linearly in K, and the gap identity takes about 9 s of the 10 s step
budget at K = 1000 (docs/05's K-scaling table; red team rt56 F2)."""
MAX_CHAIN_LAYERS = 5
"""Latent layers of a chain (``latents = ["z1", ..., "z5"]``)."""
MAX_K_TIMES_STEPS = 40_000
"""K x (steps + 1): bounds the unfolding work a file asks for before anything runs."""
MAX_IWAE_SAMPLES = 8
"""Most samples k of IWAE(q, k)."""
MAX_INTEGER_BOUND = 1000
"""Largest lower bound of a whole-number parameter (``k = "integer >= 1"``, IWAE's samples)."""
INTEGER_OFFSETS = (0, 1, 2, 4)
"""A whole-number parameter is instantiated at its lower bound and 1, 2, 4 above it (k = 1, 2, 3,
5) by the search (which also minimises over it): K**k terms stay countable."""
REFERENCE_INTEGER_OFFSETS = (0, 1, 2, 3, 4)
"""... and judged by the second opinion at its lower bound and 1 to 4 above it: five consecutive
values (red team rt7: a term (n-1)(n-2)(n-3)(n-5) is off at n = 4 only), at most 4 above the
bound so that IWAE's K**k draws stay countable."""
MAX_IWAE_TERMS = 4096
"""Most terms K**k an IWAE(q, k) unfolds into (one per k-tuple of latent states)."""
MAX_EXPONENT = 12
"""Largest |n| in ``a ** n`` and in ``exp(n * log(a))`` (which is ``a ** n``)."""
MAX_EXPANSION_TERMS = 200_000
"""Largest number of terms a polynomial expansion may produce (estimated before expanding)."""
MAX_MERGED_EXP_TERMS = 400
"""Most terms (an upper bound, expanded, denominators included) the exps' arguments of a difference
may have for the canonical form's second spelling of exps, over one common denominator (Bayes' rule
for Gaussian densities needs a few dozen; over one denominator the numerators multiply out)."""
MAX_EXPRESSION_CHARS = 2000
"""Characters in one expression (the parser); the lesson's longest is under 100."""
MAX_EXPRESSION_DEPTH = 40
"""Nesting depth of an expression's tree (the parser)."""
MAX_INTEGER_LITERAL = 10**6
"""Largest integer literal in an expression; probabilities are small fractions."""
MAX_DEGREE = 48
"""Largest polynomial degree an expression may reach (bounds expansion work)."""
MAX_NUMBER_BITS = 2048
"""Largest exact number nested powers may build: ((2**12)**12)**12... passes every per-node bound."""
MAX_EXAMPLES = 50
"""[[example]] tables in one derivation file."""
MAX_EXPECT = 50
"""Expected values in one example."""
MAX_PREMISES = 8
"""Premises (relations that restrict the domain) in one file's `assume` list, besides the q definitions."""
REFERENCE_WORK_OPERATIONS = 800_000
"""Most arithmetic operations the second opinion (elbo_sym.engine.reference) does for one proved
step: counted, not timed, so a step stops at the same instance on an idle and on a busy machine;
instances judged before it ran out count, the rest are not judged (with none judged the opinion is
undecided).  A value the evaluators find remembered is charged what it cost when made, so the count
is that of an evaluation without memos: the dearest step of derivations/ is the DDPM Gaussian
terms' first, 611,000 (all 87 instances; 306,000 before an enclosure too wide to decide was
evaluated again at 700 bits, red team rt7: 57 of its instances, whose parameters lie 1e-30 from a
bound, need that; 400,000 then stopped it after 56), and no step of the lesson's four files counts
more than 846."""
REFERENCE_BUDGET_SECONDS = 8.0
"""The backstop: most time the second opinion spends on one proved step (within the step's
budget), for work the operation count does not see; running out leaves the step's second opinion
undecided, never agreeing."""
REFERENCE_KEPT_VALUES = 150_000
"""Values the second opinion's memos may hold when a file's check starts (its instances' remembered
values, its memos by value); past it they are dropped.  Kept below it, the files of one model reuse
them (the work counted is the same either way: a remembered value is charged what it cost).  The
whole derivations/ tree leaves about 70,000 (17 MB) in one process."""
CACHED_PASS_BUDGET_SHARE = 0.5
"""The result cache stores a pass only when checking the file (reading included) took at most
this share of the smallest CPU budget that bounded any of its work -- the step budget, the
file budget, the second opinion's REFERENCE_BUDGET_SECONDS --, so no step, claim or second opinion
came near its end: a pass a fresh run on this machine also gives, whatever memos a neighbouring
file had warmed (red team rt17 F2, F3).  A pass nearer a budget is re-checked every time."""
REFERENCE_INSTANCES = 8
"""Valid instances the second opinion evaluates a proved step at (random and boundary)."""
REFERENCE_GAUSSIAN_INSTANCES = 6
"""Instances for a Gaussian step (each expectation is a quadrature: dearer than a sum over K)."""
REFERENCE_MAX_STATES = 20_000
"""Latent states x instances the second opinion evaluates at most (fewer instances for a large K)."""
REFERENCE_ANY_K = (2, 3, 7)
"""A ``K = "any"`` step's second opinion evaluates it at these explicit K."""
REFERENCE_EXTREME_EPSILON_DIGITS = 30
"""The second opinion's extreme instances put mass 10**-30 (split evenly) off a distribution's vertex:
a KL between opposite vertices is then about 69, and no state has probability exactly 0 (red team rt16:
a step false only near a vertex, KL(q, p) <= 30 at K = 2, agreed on every moderate instance)."""
REFERENCE_EXTREME_ANY_K = 9
"""A ``K = "any"`` step's second opinion also tries this larger K, at one instance: q uniform, the prior near a
vertex (rt16: H(q) <= log(7) is false from K = 8 on, past every K of REFERENCE_ANY_K)."""
REFERENCE_CHAIN_ANY_K = (2, 3, 5)
"""A two-layer chain's ``K = "any"`` step: these K per layer (K**2 points; nested binders cost K**3)."""
REFERENCE_CHAIN_ANY_MAX_POINTS = 32
"""... of those K, the ones with K**layers at most this (two layers: 2, 3, 5; three: 2, 3; five: 2)."""
REFERENCE_CHAIN_ANY_INSTANCES = 3
"""Instances per K for a chain's ``K = "any"`` step (random, the tight case, q = the prior chain)."""
GAUSSIAN_ANY_D = (1, 2, 3, 4, 5, 6, 7, 8, 12)
"""A Gaussian ``D = "any"`` step is searched for counterexamples at these numbers of dimensions:
every D up to 8, so that a wrong term vanishing at a few D (red team rt7: (D-1)(D-2)(D-3)(D-5),
off at D = 4 only) must vanish at eight consecutive ones, and one larger D.  A residual that is a
polynomial in D alone is decided exactly instead (engine.dimensions)."""
GAUSSIAN_TIGHT_TRIPLES = ((40, 9, 41), (9999, 200, 10001), (9, 40, 41))
"""Pythagorean triples (a, b, c) that put q at the Gaussian family's posterior with a rational scale:
w = a/c, s = b/c give p(z | x) = N(a (x - b_offset) / c, (b/c)**2).  The first two are narrow (sd 9/41
and 200/10001, below 1/sqrt(2 pi e): the posterior's entropy is negative), the last is wide (sd 40/41).
Red team rt37: `log(p(x)) >= E(q, log(p(x, z)))` (the ELBO without its entropy) held on every instance
of the plan, whose only tight case had sd 4/5; it fails at the tight case with sd 9/41.  Each triple is
tried at the posterior and near it (GAUSSIAN_NEAR_TIGHT), once per step in the quick pass."""
GAUSSIAN_NEAR_TIGHT = Fraction(1, 10)
"""Near the tight case: q's mean moved by this many posterior sds, its sd scaled by 1 + this."""
MAX_SEARCH_D = 64
"""Most dimensions of an explicit model the search builds for ``D = "any"`` (a file's D is at most 8): the
usual ones stop at 12 (GAUSSIAN_ANY_D); a D the exact decision names (engine.dimensions: where the
step fails, or where a part of it in D alone changes sign) is searched up to this many (its quick pass
only: the examples, special cases and random instances; 0.06 s of CPU at D = 64 for a small step)."""
MAX_PINNED_VALUES = 16
"""Most values of a whole-number parameter beyond those the search tries (INTEGER_OFFSETS), or D's
beyond GAUSSIAN_ANY_D, that it also tries because a part of the step in that symbol alone vanishes or
changes sign there (each the quick pass: examples, special cases, random instances; a D also the point
where every variable is 0; a fixed number, so the verdict does not depend on the clock); more left over
is an error.  A D beyond GAUSSIAN_ANY_D searched so does not count as searched (the whole search costs
about 2.4 s of CPU per D at 40 dimensions): if nothing fails, the step is an error naming it."""
MAX_ANCHORED_VARIABLES = 3
"""Most variables besides D of a residual that engine.exact's anchored plan reads (each left free in
turn, the others held at one or two anchors: at most 3 x 2**2 exact decisions in D and one variable)."""
MAX_CONFIGURED_VARIABLES = 6
"""Most variables besides D of a residual that engine.exact's configured plan reads (a parameter, or the
sums over one per-dimension symbol as one variable: red team shapes of session 14, four and more)."""
MAX_CONFIGURED_DECISIONS = 64
"""Most exact decisions in D and one variable that engine.exact's configured plan makes for one step
(each configuration of the dimensions' values, each variable free in turn, the others at anchors; the
fewest choices off the first ones first): 5 to 60 ms of CPU each (up to 5 s in all for a dense residual
in four variables, paid only by a step no other plan decided).  A fixed count, so the verdict does not
depend on the clock; past it the parts rule follows, and the step may end `checked`."""
MAX_EXACT_FREE_DEGREE = 8
"""Highest degree in D and in the one other variable of a residual that engine.dimensions decides
exactly for every D (its discriminant has degree up to 2 x 8 x 8 in D: 0.7 s of CPU for a dense
one, 3.6 s at 12); above it, the search decides."""
REFERENCE_ANY_D = (1, 2, 3, 4, 5, 6)
"""The second opinion judges a ``D = "any"`` step at these numbers of dimensions: six consecutive
ones, so a wrong step whose error is a polynomial in D of degree <= 5 is caught at one of them (the old
set 1, 2, 3, 5 missed (D-1)(D-2)(D-3)(D-5): red team rt7).  Not 7: a diagonal instance's quadrature
doubles with each dimension (the tree's three any-D files: 0.52 s of CPU at D = 1..6, 0.94 s at
1, 2, 3, 4, 6, 7), and a residual in D alone is decided exactly by the engine (engine/dimensions.py)."""
MAX_DIMENSION_SUM_TERMS = 2_000
"""Most terms of one sum over the dimensions ``Sum(f, (d, 1, D))`` after expansion (bounds the work)."""
GENERAL_SEARCH_LARGER_K = (13, 34, 89, 233)
"""After K = 2, 3, 5, 8 and the densities, a ``K = "any"`` claim's counterexample search gives each
of these K the quick pass: the file's examples, the family's special cases (the tight case,
q = p(z)) and the seeded random instances -- about 0.9 s CPU for the four together."""
GENERAL_SEARCH_FULL_LARGER_K = (13,)
"""... then the rest of the search (boundary points, numeric minimisation) at these: 0.5 s CPU at
K = 13, 1.9 s at 34, 10 s at 89.  The plan is fixed and run in full every time, its work counted
(GENERAL_SEARCH_WORK_OPERATIONS), so its verdict does not depend on the machine's load (it used to
climb the K while half the step budget lasted); the step budget is only a backstop, whose `error`
says the search ran out."""
GENERAL_SEARCH_WORK_OPERATIONS = 8_000_000
"""Most work a ``K = "any"`` claim's counterexample search (its whole fixed plan) may do, counted, not
timed: each point screened in floats counts its values and the distinct operations of the step's sides
(and open obligations), each instance decided exactly SEARCH_EXACT_WEIGHT times that.  Counted, so a
step ends at the same place on an idle and on a busy machine; a plan that needs more ends in `error`
saying where it stopped, never `checked` on less evidence.  Red team rt9's sums over a data space of
three, four and five points count 4.5, 5.9 and 7.3 million (the whole check of the first two: 2.4 and
3.0-3.5 s of CPU on a loaded 2-core machine, 7.0 and 9.7-10.7 s before the search was compiled),
log(p(x)) >= ELBO(q) 2.3 million; the step's time budget stays the backstop."""
SEARCH_WORK_OPERATIONS = 4_000_000
"""Most work the counterexample search of a step in explicit models (a fixed K or D, the D's of a
``D = "any"`` plan, the values an exact decision names) may do, counted as GENERAL_SEARCH_WORK_OPERATIONS
is: where the search stops, and so the step's verdict, is the same on every machine; past it the step is
an `error` saying where the fixed plan stopped, never `checked` on less evidence.  No step of derivations/
comes near it (the most: 270, a teaching file's slip), nor of the red-team files in tests/data (the
most: 0.67 million, rt10's ``D = "any"`` plans, about 1 s of CPU): six times that, so the step's budget
stays the backstop (session 16, bench/outcome_diff.py: derivations/ outcomes identical)."""
DEFINEDNESS_SEARCH_WORK_OPERATIONS = 2_000_000
"""Most work the definedness search of a ``K = "any"`` step (`engine.check._definedness_search`) may do:
past it, its refusal ("could not show that every expression is defined ...") on every machine; half of
the step's budget stays the backstop.  Its whole fixed list for ``log(KL(q(z), p(z)) + 1)`` counts 1.0
million (1.9 s of CPU on session 16's loaded machine), a narrow density found at 54,000."""
PREMISE_CHECK_WORK_OPERATIONS = 1_000_000
"""Most work the check that some instance satisfies every premise (`engine.check._premise_problem`) may
do: each instance judged counts SEARCH_EXACT_WEIGHT times its values and the premises' operations (the
most in derivations/ and tests/data: 6,660).  Past it the premises are not shown satisfiable and the file
fails, on every machine."""
SEARCH_EXACT_WEIGHT = 10
"""An instance decided exactly (fractions, logs of primes) counts as this many float screenings of it."""
POLISH_WEIGHT = 20
"""An evaluation at 60 to 180 digits while a float minimum is polished (engine.polishing) counts as this
many float screenings of the point."""
POLISH_WORK_OPERATIONS = 1_000_000
"""Most work the polishing of a step's float minima (engine.polishing) may do in one explicit model,
counted as the search's work is (POLISH_WEIGHT per evaluation): past it the polishing stops where it is
-- no verdict, the step is searched no further there -- so that a step with many coordinates and a
large difference (log(p(x)) >= ELBO(q) for a Gaussian: six coordinates, 73 evaluations a Newton step)
keeps within the search's SEARCH_WORK_OPERATIONS."""
REFERENCE_PRODUCT_POINTS = 4096
"""Most points of the second opinion's product Hermite rule over z's coordinates (beyond: undecided)."""


class BudgetError(ValueError):
    """A budget that is not a finite, positive number of seconds (bad input: exit 2)."""


def validate_budget(value: object, name: str = "budget") -> float:
    """A budget as a float, or BudgetError: 0, negative, inf, nan and huge values are refused."""
    if isinstance(value, str) and not value.isascii():  # float() also reads "١٠" (Arabic-Indic ten)
        raise BudgetError(f"{name} must be a number of seconds in ASCII digits, not {value[:40]!r}")
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BudgetError(f"{name} must be a number of seconds, not {str(value)[:40]!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise BudgetError(f"{name} must be a finite number of seconds > 0, not {str(value)[:40]!r}")
    if seconds > MAX_BUDGET_SECONDS:
        raise BudgetError(f"{name} must be at most {MAX_BUDGET_SECONDS:g} seconds, not {seconds:g}")
    return seconds


def file_budget(steps: int, step_budget: float = STEP_BUDGET_SECONDS) -> float:
    """The default total budget of a file with `steps` steps."""
    return min(max(steps, 1) * step_budget, max(FILE_BUDGET_CAP_SECONDS, step_budget))


def own_budget(steps: int, step_budget: float, total: float | None = None) -> float:
    """A file's budget, the one rule: `total` when given (finite and > 0, else BudgetError), else the
    default for its `steps` (:func:`file_budget`).  Resolved once where the file is read
    (report.build.check_file) and passed down; the engine's entry points (check_derivation,
    check_with_suggestions) apply it only for a caller that gives no `total`."""
    return validate_budget(total, "file budget") if total is not None else file_budget(steps, step_budget)


def loading_budget(step_budget: float = STEP_BUDGET_SECONDS, total: float | None = None,
                   cap: float = FILE_BUDGET_CAP_SECONDS) -> float:
    """How long reading one file (parsing its formulas, building its model) may take: its file (or
    deck) budget `total` when given, else the largest default budget, `cap` (or the step budget
    when larger) -- how many steps a file has is known only once it is read, and reading is not a
    step: a small step budget must not starve it.  What reading took is deducted from what checking
    the file gets (elbo_sym.report.build.check_file), so a file's reading and checking together stay
    within `total`, and within the cap without one."""
    return total if total is not None else max(cap, step_budget)


DECK_BUDGET_CAP_SECONDS = 120.0
"""A deck's total budget is cards x step budget, but never more than this (unless asked)."""


def deck_budget(cards: int, step_budget: float = STEP_BUDGET_SECONDS) -> float:
    """The default total budget of checking a deck of `cards` cards (every K, every rule tried)."""
    return min(max(cards, 1) * step_budget, max(DECK_BUDGET_CAP_SECONDS, step_budget))


# Author prose (titles, summaries, step notes, card texts): printed by pdflatex and on terminals.
MAX_TITLE_CHARS = 200
"""A derivation's or deck's title, a card's topic."""
MAX_SUMMARY_CHARS = 2_000
"""A derivation's or deck's summary."""
MAX_SITE_URL_CHARS = 300
"""A course site's address (elbo-sym.toml's ``site_url``, Astro's ``site``)."""
MAX_WHY_CHARS = 1_000
"""A step's `why` note (printed beside the step)."""
MAX_CARD_TEXT_CHARS = 600
"""A flashcard's front or back: what one side of a printed card (flashcards.pdf) holds, its text
shrunk down to scriptsize. Measured: a side holds 786 characters of prose, 702 with a $...$ formula
in every sentence, 666 with a fraction in every sentence; the back beside the card's formula 663,
648 and 519 (tests/test_layout_fit.py builds a card at the limit). The limit leaves room for where
other words break; a back crowded with formulas beside the card's formula may still not fit, and the
layout check reports it."""
MAX_SELFCHECK_TEXT_CHARS = 2_000
"""A self-check question or answer (printed on a sheet, not on a card)."""
MOODLE_NAME_CHARS = 255
"""Moodle's limit on a question's or a category's name (its stored HTML): a longer name is cut by
Moodle's import (question names) or refused by its database (category names)."""
MAX_WORD_CHARS = 80
"""Longest word (run of non-space characters) in prose: TeX cannot break a longer one."""
POINTER_CONTEXT_CHARS = 100
"""Characters of a source line shown around the column of an input error."""


# Generated sheets (exercises, drill, roster, Moodle) and the command line's defaults: one place for
# the library and for `elbo-sym`, whose option parsing must not import SymPy.
DEFAULT_SEED = 2026
"""Seed of every generated sheet, text or PDF: `exercises`, `drill` and `build`."""
DEFAULT_COUNT = 6
"""Exercise cases of `exercises` and of `build`'s exercises.pdf / answers.pdf."""
DRILL_COUNT = 4
"""Tight cases of `drill` and of `build`'s tight-drill.pdf."""
MAX_SEED = 2**63 - 1
MAX_COUNT = 100
"""Largest sheet or drill."""
MAX_EXERCISE_K = 6
"""Largest K of a generated case."""
MAX_STUDENTS = 1000
"""Most students of a roster (`exercises --roster`): one PDF each, typeset in batches."""
MAX_ROSTER_BYTES = 1_000_000
"""The largest roster file read (a CSV of ids and names)."""
PRINTED_COMMAND_LINE_CHARS = 76
"""Characters of one line of a command printed in a PDF (the teacher key's, in small typewriter type:
a line holds about 86); longer commands continue on the next line after a shell's backslash."""
LAYOUT_TOLERANCE_POINTS = 3.0
"""How far (in TeX points) a line may stick into the margin, or a page's content past its foot, before
the handout counts as cut at the paper's edge and its build fails (a smaller overfull box is a
warning, and fails only with ELBO_SYM_STRICT_LAYOUT=1): red team rt25 lost two table rows, exit 0."""
MAX_EXAMPLE_K = 20
"""Largest number of latent states a worked example (`elbo-sym example`) accepts."""
MAX_EXAMPLE_TERM = 10**6
"""Largest numerator or denominator of one probability given to a worked example."""
MAX_EXAMPLE_NUMBER_CHARS = 40
"""Characters of one number given to a worked example."""
SHOWN_DIGITS = 6
"""Decimals a worked example and a sheet's key show for nats, bits and probabilities."""
LONG_NUMBER_DIGITS = 20
"""An integer with more digits than this is typeset as the power it is (``2^{480}``, ``10^{144}``) or in
groups of three digits that a line may break between (red team rt45 F1: a far-end counterexample's
145-digit beta ran 348pt off the page); the text and JSON report keep every digit."""
BREAKABLE_WORD_CHARS = 20
"""A word of author prose longer than this may break after any of its characters, without a hyphen,
in a PDF (red team rt18: a 60-character word in a step's `why` ran 110pt off the page); shorter
words (every English one) keep TeX's hyphenation."""
MAX_INLINE_REPAIR_CHARS = 60
"""Longest formula (as written) a solution's repair sentence typesets as math in its line; a longer
one (D = 14's 13 factors) has nowhere to break there and stays text (its repaired step is displayed
below it, broken like a chain's lines)."""
SCIENTIFIC_FIGURES = 3
"""Significant figures of a non-zero value too small for its decimals (LogNumber.shown): 4.52e-08,
never 0.000000 (red team rt18: a near-posterior gap of 4.5e-08 nats was printed "= 0.0000")."""
SIDE_FIGURES = 6
"""Significant figures of a counterexample's two sides in the ≈ column (``left = ... ≈ -0.117783``)."""
SIDE_FIGURES_MOST = 30
"""The most significant figures the ≈ column shows to tell two different sides apart (rt33 F5: two
sides equal to 12 digits printed alike); sides alike to this many are said to differ beyond it."""
SOLUTIONS = ("none", "separate", "inline")
"""Where a sheet's answers go: nowhere (a student sheet), after all the questions, or after each one."""
MAX_NEW_K = 20
"""The largest integer K of a starter `new` writes (its example lists K probabilities per distribution)."""
MAX_JOBS = 256
"""Most worker processes `check --jobs` starts (its default: one per core, see FILES_PER_WORKER)."""
WORKER_MARGIN_SECONDS = 300.0
"""How much longer than its file's budget a worker process (report.parallel) may hold a file before
it counts as hung -- killed, the file's error, never a pass: room for the work no budget counts
(reading and parsing the file, building and sending its report), also on a busy machine."""
WORKER_WALL_PER_CPU_SECOND = 8.0
"""Wall seconds a worker process may take per CPU second of its file's budget before it counts as
hung: budgets run on CPU time (elbo_sym.budget), and on a loaded machine a worker gets a fraction
of a core (rt13 saw wall time 2-4x the CPU time on 2 cores), so the wall-clock watchdog waits for
8x the budget (plus WORKER_MARGIN_SECONDS) -- it only ends a worker that no longer computes."""
WATCHDOG_POLL_SECONDS = 1.0
"""How often the parallel watchdog (report.parallel) reads each busy worker's patience again: a
worker shortens it once its file is read (report.build.FilePatience), without waking the watchdog."""
MANIFEST_LOCK_WAIT_SECONDS = 10.0
"""How long a single-file command waits for another one writing the same folder's manifest
(publish.outputs.record_file) before it gives up with an error instead of losing an entry."""
FILES_PER_WORKER = 3
"""Without --jobs, a check starts at most one worker per this many files: each worker pays SymPy's
first-use costs (lazy imports, caches) once, which only pays off over several files (the four
lesson files are quicker in one process)."""
SYMPY_CACHE_ENTRIES = 20_000
"""Entries each of SymPy's cached functions keeps in a check's process (SymPy's default, 1,000, is
evicted and rebuilt within one file: a bigger cache made the tree's check about 0.24 s of CPU cheaper (6 %),
for about 3 MB).  Bounded, as every memo must be; set when `check` imports SymPy
(elbo_sym.authoring.cache.import_quietly), unless SYMPY_CACHE_SIZE is set already."""
PRINTED_PARTS = 20_000
"""Sub-expressions each printer with the default settings remembers from formula to formula
(elbo_sym.engine.notation's text and LaTeX; emptied when full): a report's formulas share most of
their parts, and a long check stays bounded."""
EXACT_MEMOS_KEPT = 64
"""Points whose exact values of expressions are kept for the next caller at the same point
(elbo_sym.numbers.evaluate.memo_at: a file's examples, step after step; all emptied when full)."""
GC_YOUNG_OBJECTS = 50_000
"""New containers between two collections of the garbage collector's youngest generation in a check's
process (Python's default is 700; set with SymPy's import, elbo_sym.authoring.cache.import_quietly):
fewer collections walk the engine's memos, only the collector's timing changes (about 1 MB more)."""
LATEX_TIMEOUT_SECONDS = 120.0
"""Default time limit of one LaTeX build (`build --timeout`)."""
PARTS = ("evidence", "posterior", "elbo", "reconstruction", "kl_prior", "kl_posterior", "gap")
"""The quantities a sheet may ask for, in the lesson's order (the keys of elbo_sym.lesson.exercises.TASKS;
here so that parsing `--parts` does not import SymPy)."""


def integer_range(low: int, high: int | None) -> str:
    """A range as messages and `--help` show it: "1 to 100", "0 to 2**63-1", "at least 1"."""
    if high is None:
        return f"at least {low}"
    return f"{low} to {'2**63-1' if high == MAX_SEED else high}"


def parse_integer(text: str, low: int, high: int | None) -> int:
    """An option's integer in ASCII digits within [low, high] (None: no upper bound), or ValueError.

    Python's int() also reads "١٢" (Arabic-Indic digits), "1_000" and 4,000-digit numbers;
    a seed, count, K or step number is none of these.
    """
    number = text.strip()
    digits = number[1:] if number.startswith("-") else number
    if not (number.isascii() and digits.isdigit()):
        raise ValueError(f"{text[:40]!r} is not an integer")
    if len(digits) > 20:
        raise ValueError(f"{number[:12]}... ({len(digits)} digits) {_outside(low, high)}")
    value = int(number)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{value} {_outside(low, high)}.")
    return value


def _outside(low: int, high: int | None) -> str:
    """The end of "N ...": "is not in the range 1 to 100", or with no upper bound "is below the smallest
    allowed, 1" (red team rt38: "0 is not in the range at least 1")."""
    return f"is not in the range {integer_range(low, high)}" if high is not None else \
        f"is below the smallest allowed, {low}"


def parse_parts(text: str) -> tuple[str, ...]:
    """`--parts evidence,posterior,gap`: the names, or ValueError naming an unknown part or none given."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in PARTS]
    if unknown or not names:
        shown = f"unknown part {unknown[0][:40]!r}" if unknown else "no parts given"
        raise ValueError(f"{shown} (parts: {','.join(PARTS)})")
    return names


MAX_SOURCE_DATE_EPOCH = 253_402_300_799
"""The latest ``SOURCE_DATE_EPOCH`` accepted: 9999-12-31T23:59:59Z, the last second a PDF date
(four-digit year) can state; the Anki package's millisecond times are far inside 2**63."""

VALUES_LISTED_INLINE = 3
"""A counterexample's block with at most this many values is printed as one tuple, (a, b, c); a
longer one as values the line may break between (a K = 233 prior, mu_1..mu_64 of D = 64)."""

EXPLAIN_LINE_WIDTH = 100
"""`explain` prints a counterexample whose line would be longer than this many characters with its
values on lines of their own, at most this long (D = 14's 45 values on five lines, not one)."""

MAX_SHOWN_VALUE_CHARS = 80
"""A TOML value quoted in a loader's message is cut after this many characters."""

PARAMETER_NAME_RULE = ("a name is a letter (a-z, A-Z) and up to 19 more letters or digits (beta, alpha2), "
                       "or 2 to 12 letters (and up to 3 digits), one `_` and a letter with up to 9 more letters or "
                       "digits (theta_old)")
"""What engine.derivation's _NAME and _INDEXED_NAME accept, in words (the error a refused parameter
name shows); a change to either pattern changes this sentence too."""
