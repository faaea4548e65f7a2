"""Every condition a statement was checked under is printed with it, in every output.

The red team's /tmp/rt4/F1 and F2: ``[params] beta = "in [0, 1]"`` was checked, but
``beta * KL(q, p) <= KL(q, p)`` was printed as an unconditional fact ("Proved for every latent
space") by `check`, the PDF, the web page, the checker page and every card output; only the JSON
`domain` had it.  /tmp/rt4/cond/tight2.toml: the checker page left out the ``assume`` line.
Here each output is read back: the terminal text, the JSON, the checker page's view, the web
Markdown, the PDF (pdftotext), the cards' text, LaTeX and Anki fields (and Anki's own importer).
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import pytest

from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.lesson.practice import check_deck, load_deck
from elbo_sym.publish import anki, moodle, web
from elbo_sym.publish.browser import view_of
from elbo_sym.publish.handouts import derivations_handout, flashcards_handouts, mistakes_handout, write_handouts
from elbo_sym.report.build import check_file, deck_report_of
from elbo_sym.report.model import DerivationReport
from elbo_sym.report.text import deck_text, derivation_text, format_deck

SHRINK = '''title = "Shrinking the KL term"
K = 2
claim = "beta * KL(q(z), p(z)) <= KL(q(z), p(z))"
start = "beta * KL(q(z), p(z))"

[params]
beta = "in [0, 1]"

[[step]]
rel = "<="
expr = "KL(q(z), p(z))"
rule = "kl-nonneg"
why = "the difference is a non-negative multiple of a KL divergence"
'''
BETA_LATEX = r"\beta \in \left[0,\ 1\right]"

TIGHT = '''title = "ELBO equals the evidence"
K = 2
assume = "q(z) = p(z | x)"
claim = "ELBO(q) = log(p(x))"
start = "ELBO(q)"

[[step]]
rel = "="
expr = "log(p(x))"
rule = "assumption"
'''

DECK = '''title = "Deck with a parameter"
K = 2
params = { beta = "in [0, 1]" }

[[card]]
formula = "beta * KL(q(z), p(z)) <= KL(q(z), p(z))"
front = "How does $beta * KL(q(z), p(z))$ compare with the KL term?"
back = "It is never larger."

[[card]]
front = "And stated in the answer?"
back = "Never larger: $beta * KL(q(z), p(z)) <= KL(q(z), p(z))$."

[[card]]
front = "What is the ELBO at the posterior?"
back = "The log-evidence."
formula = "ELBO(q) = log(p(x))"
assume = "q(z) = p(z | x)"
'''


@pytest.fixture(scope="module")
def shrink() -> DerivationReport:
    report = check_file(loads(SHRINK, "shrink.toml"))
    assert report.fully_proved
    return report


@pytest.fixture(scope="module")
def deck_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("deck") / "cards.toml"
    path.write_text(DECK)
    return path


def test_the_scope_names_the_parameters_domain(shrink):
    assert [(c.text, c.latex) for c in shrink.params] == [("beta in [0, 1]", BETA_LATEX)]
    assert shrink.scope.text == f"Proved for beta in [0, 1] and {shrink.model}."
    assert DerivationReport.from_dict(shrink.to_dict()).params == shrink.params  # the JSON keeps them


def test_a_derivation_without_parameters_keeps_its_scope(checked_report):
    report = checked_report(Path(__file__).resolve().parent.parent / "derivations" / "jensen.toml")
    assert report.params == () and report.scope.text == f"Proved for {report.model}."


def test_the_terminal_header_names_the_parameters_domain(shrink):
    header = derivation_text(shrink).splitlines()[:3]
    assert header[1] == f"  model: {shrink.model}" and header[2] == "  conditions: beta in [0, 1]"


def test_the_checker_page_shows_the_scope_the_claim_and_every_condition(shrink):
    view = view_of(shrink)
    assert view["scope"] == shrink.scope.text and "beta in [0, 1]" in view["scope"]
    assert view["assume_latex"] == [BETA_LATEX] and view["claim_latex"] == shrink.claim.latex
    tight = check_file(loads(TIGHT, "tight.toml"))
    assert tight.ok
    view = view_of(tight)
    assert view["assume_latex"] == [a.latex for a in tight.assume] and r"p(z \mid x)" in view["assume_latex"][0]
    assert view["claim_latex"] == tight.claim.latex


def test_the_notebook_display_shows_every_condition(shrink):
    from elbo_sym.report.display import to_html

    tight = loads(TIGHT, "tight.toml")
    for shown, wanted in ((shrink, BETA_LATEX), (loads(SHRINK, "shrink.toml"), BETA_LATEX),
                          (tight, r"q(z) = p(z \mid x)")):
        assumed = [line for line in to_html(shown).splitlines() if line.startswith("<p>assume: ")]
        assert assumed == [f"<p>assume: {html.escape(chr(92) + '(' + wanted + chr(92) + ')')}</p>"]


def test_the_web_page_prints_the_domain_as_math(shrink, checked_report):
    body = web.derivations_page([shrink]).body
    assert f"Proved for ${BETA_LATEX}$ and every binary model." in body
    assert f"**Assume.** ${BETA_LATEX}$" in body  # beside the claim, as the handout prints it
    assert "so, under the conditions above, the chain establishes" in body  # the result refers to them
    jensen = checked_report(Path(__file__).resolve().parent.parent / "derivations" / "jensen.toml")
    assert "under the conditions above" not in web.derivations_page([jensen]).body  # no conditions, none named


DOMAINS = ("in [0, 1]", "in (0, 1/2)", ">= 1", "> 0", "<= -3/2", "< 0", "real", "integer >= 1")


def test_every_kind_of_domain_is_printed_as_math(tmp_path):
    """Each way a domain is written reads back as the same statement, in text and LaTeX."""
    text = SHRINK.replace('beta = "in [0, 1]"', "\n".join(f'b{n} = "{d}"' for n, d in enumerate(DOMAINS)))
    derivation = loads(text.replace('[params]', '[params]\nbeta = "in [0, 1]"'), "domains.toml")
    shown = {p.name: (p.describe(), p.latex()) for p in derivation.params}
    assert shown["b0"] == ("b0 in [0, 1]", r"b_{0} \in \left[0,\ 1\right]")
    assert shown["b1"] == ("b1 in (0, 1/2)", r"b_{1} \in \left(0,\ \frac{1}{2}\right)")
    assert shown["b2"] == ("b2 >= 1", r"b_{2} \geq 1") and shown["b3"] == ("b3 > 0", "b_{3} > 0")
    assert shown["b4"] == ("b4 <= -3/2", r"b_{4} \leq - \frac{3}{2}") and shown["b5"] == ("b5 < 0", "b_{5} < 0")
    assert shown["b6"] == ("b6 real", r"b_{6} \in \mathbb{R}")
    assert shown["b7"] == ("b7 >= 1 (a whole number)", r"b_{7} \in \{1, 2, \dots\}")


@pytest.fixture
def web_tools() -> None:
    """node and web/node_modules, as test_web's `requires_node` asks for them (a failure in CI)."""
    from test_web import _missing_or_fail, _node_missing

    _missing_or_fail(_node_missing())


@pytest.mark.full
def test_the_domains_compile_with_katex(shrink, deck_path, web_tools):
    from test_web import node_check

    derivation = loads(SHRINK.replace('beta = "in [0, 1]"', "\n".join(
        f'b{n} = "{d}"' for n, d in enumerate(DOMAINS)) + '\nbeta = "in [0, 1]"'), "domains.toml")
    pages = [web.derivations_page([shrink]), web.flashcards_page(deck_path)]
    formulas = [(f.tex, f.display) for page in pages for f in page.formulas]
    formulas += [(web.katex_tex(p.latex()), False) for p in derivation.params]
    result = node_check({"macros": {}, "formulas": [{"tex": t, "display": d} for t, d in formulas], "pages": {}})
    failed = [(t, r["error"]) for (t, _), r in zip(formulas, result["formulas"]) if not r["ok"]]
    assert not failed and len(formulas) > len(DOMAINS) + 4, failed


def test_the_sheet_source_prints_the_domain_beside_the_claim(shrink):
    source = derivations_handout([shrink]).render()
    assert rf"Proved for \({BETA_LATEX}\) and every binary model." in source
    assert rf"\assumption{{{BETA_LATEX}}}" in source  # "Assume." and the condition, one unit (base.tex.j2)
    assert "so, under the conditions above, the chain establishes" in source


TEACHING = '''title = "A slip in the tight case"
K = 2
expect_refuted = [2]
assume = "q(z) = p(z | x)"
claim = "ELBO(q) = log(p(x))"
start = "ELBO(q)"

[[step]]
rel = "="
expr = "log(p(x)) - KL(p(z | x), p(z | x))"
rule = "assumption"

[[step]]
rel = "="
expr = "log(p(x)) + 1"
rule = "algebra"
'''


def test_a_find_the_mistake_claim_keeps_its_assumption():
    """A teaching file's claim holds only under its assumption: the sheet and the page print it too."""
    report = check_file(loads(TEACHING, "slip.toml"))
    assert report.ok and [s.verdict for s in report.steps] == ["proved", "refuted"]
    (assumed,) = report.assume
    assert rf"\assumption{{{assumed.latex}}}" in mistakes_handout([report]).render()
    page = web.mistakes_page([report])
    assert page is not None and f"**Assume.** ${assumed.latex}$" in page.body


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_the_pdf_shows_the_domain_next_to_the_statement(shrink, tmp_path):
    from test_handouts import pdf_text, squash

    (built,) = write_handouts([derivations_handout([shrink])], tmp_path)
    assert built.ok, built.message + "\n" + built.log_excerpt
    text = squash(pdf_text(built.pdf))
    assert squash("Proved for β ∈ [0, 1] and every binary model.") in text
    assert squash("Assume. β ∈ [0, 1]") in text
    assert squash("so, under the conditions above, the chain establishes") in text


def test_a_card_prints_the_domain_of_the_parameter_it_uses(deck_path):
    deck = load_deck(deck_path)
    formula, claim, tight = deck.cards
    assert formula.conditions_text == ("beta in [0, 1]",) and formula.conditions_latex == BETA_LATEX
    assert claim.formula is None and claim.conditions_text == ("beta in [0, 1]",)  # the back's checked claim
    assert tight.conditions_text == ("q(z) = p(z | x)",) and "beta" not in tight.conditions_latex  # no beta in it
    assert "   (assuming beta in [0, 1])" in format_deck(deck)
    report = deck_report_of(check_deck(deck))
    assert report.ok and report.cards[0].conditions == ("beta in [0, 1]",)
    assert "(assuming beta in [0, 1])" in deck_text(report)


def test_a_front_stating_a_relation_about_a_parameter_is_refused(tmp_path):
    path = tmp_path / "front.toml"
    path.write_text(DECK.replace("And stated in the answer?", "Is $beta * KL(q(z), p(z)) <= KL(q(z), p(z))$?")
                    .replace("Never larger: $beta * KL(q(z), p(z)) <= KL(q(z), p(z))$.", "Yes."))
    with pytest.raises(DerivationError) as info:
        load_deck(path)
    assert "beta in [0, 1]" in info.value.message and info.value.line == 11


def test_the_card_outputs_print_the_domain(deck_path):
    deck = load_deck(deck_path)
    assert anki.formula_html(deck.cards[0]).endswith(rf"if \({html.escape(BETA_LATEX, quote=False)}\)")
    assert anki.formula_html(deck.cards[1]) == rf"if \({html.escape(BETA_LATEX, quote=False)}\)"
    from xml.etree import ElementTree

    quiz = ElementTree.fromstring(moodle.cards_quiz([check_deck(deck)]))
    feedback = [q.findtext("generalfeedback/text") or "" for q in quiz.iter("question") if q.get("type") == "essay"]
    assert len(feedback) == 3 and sum(f"if \\({BETA_LATEX}\\)" in f for f in feedback) == 2
    page = web.flashcards_page(deck_path).body
    assert page.count(rf"\text{{if }} {BETA_LATEX}") == 2
    (handout,) = flashcards_handouts(flashcards=deck_path)
    # beside the two formulas that use it, and in the deck's scope in the footer of both pages (rt46 F10)
    assert handout.render().count(BETA_LATEX) == 4


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_the_flashcards_pdf_shows_the_domain_beside_the_formula(deck_path, tmp_path):
    from test_handouts import pdf_text, squash

    (built,) = write_handouts(flashcards_handouts(flashcards=deck_path), tmp_path)
    assert built.ok, built.message + "\n" + built.log_excerpt
    assert squash(pdf_text(built.pdf)).count(squash("if β ∈ [0, 1]")) == 2


def test_anki_imports_the_domain_beside_the_formula(deck_path, tmp_path):
    """Anki's own importer reads the package: the Formula field holds the domain."""
    if os.environ.get("CI"):  # the `anki` package is in the test extras: never skipped in CI
        import anki.collection as collection_module
    else:
        collection_module = pytest.importorskip("anki.collection")
    from anki.import_export_pb2 import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    deck = load_deck(deck_path)
    anki.write_apkg(deck.cards, tmp_path / "d.apkg", vocabulary=deck.vocabulary)
    col = collection_module.Collection(str(tmp_path / "collection.anki2"))
    try:
        col.import_anki_package(ImportAnkiPackageRequest(
            package_path=str(tmp_path / "d.apkg"), options=ImportAnkiPackageOptions(with_scheduling=False)))
        formulas = [col.get_note(n).fields[2] for n in col.find_notes(f'deck:"{anki.DECK_NAME}"')]
    finally:
        col.close()
    domain = rf"if \({html.escape(BETA_LATEX, quote=False)}\)"
    assert len(formulas) == 3 and sum(domain in f for f in formulas) == 2
