"""Red teams rt46 (F6, F10) and rt43 (F4, F5), and the premises' one "is a bound" predicate.

* rt46 F6: a Gaussian deck's verdict line said "K = 2, rule algebra: ..." -- the family has no K.
* rt46 F10: a deck's title, topics and fronts are decided under its ``[params]`` domains, which were printed
  nowhere near them; the domains are now part of the deck's scope, printed wherever the scope is.
* rt43 F4: ``[params] pi_z = ...`` was refused with a rule the name satisfies; the message says the prefix is
  reserved.
* rt43 F5: ``((mu - 1)**2)**a`` at mu = 1 was "log of a non-positive value" in a file with no log.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.engine.premises import BOUND_RELATIONS, PREMISE_RELATIONS, is_bound
from elbo_sym.lesson.practice import check_deck, checked_in_text, load_deck
from elbo_sym.publish import anki, moodle, web
from elbo_sym.publish.handouts import flashcards_handouts, write_handouts
from elbo_sym.report.build import check_file, deck_scope
from elbo_sym.report.text import deck_as_dict, format_deck

CARD = '\n[[card]]\nfront = "F"\nback = "B."\nformula = "{formula}"\n'


def _deck(tmp_path: Path, head: str, formula: str, name: str = "deck.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'title = "t"\n{head}\n' + CARD.format(formula=formula), "utf-8")
    return path


# --------------------------------------------------------------------------- rt46 F6


@pytest.mark.parametrize(("head", "named"), [
    ('model = "gaussian"', "the Gaussian family"),
    ('model = "gaussian"\nD = 3', "the Gaussian family, D = 3"),
    ('latents = ["z1", "z2"]', "the chain z1, z2, K = 2"),
    ("K = 3", "K = 3"),
    ("", "K = any"),
])
def test_the_verdict_line_names_what_the_deck_was_checked_in(tmp_path: Path, head: str, named: str) -> None:
    """F6: the line before the reason names the family; "K = 2" only where the family has a K of 2."""
    deck = load_deck(_deck(tmp_path, head, "1 = 1"))
    assert checked_in_text(deck) == named


def test_a_gaussian_decks_refuted_card_does_not_say_K(tmp_path: Path) -> None:
    """F6, as `cards --check` prints it: a false Gaussian card is refuted "in the Gaussian family"."""
    deck = load_deck(_deck(tmp_path, 'model = "gaussian"', "KL(q(z), p(z)) = mu**2 / 2"))
    (verdict,) = check_deck(deck).verdicts
    assert verdict.verdict == "refuted", verdict.reason
    assert verdict.reason.startswith("the Gaussian family: ") and "K = " not in verdict.reason, verdict.reason


# --------------------------------------------------------------------------- rt46 F10

PDOM = '''title = "Here $beta * KL(q(z), p(z))$ is at least $KL(q(z), p(z))$"
{K}
[params]
beta = "{domain}"

[[card]]
front = "How does it compare?"
back = "Yes."
formula = "beta * KL(q(z), p(z)) >= KL(q(z), p(z))"
'''
ANY_SCOPE = ("Throughout this deck beta >= 1: every formula of it is proved under this only, not in "
             "general.")


@pytest.fixture(scope="module")
def pdom(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pdom") / "pdom.toml"
    path.write_text(PDOM.format(K="", domain=">= 1"), "utf-8")
    return path


def test_the_title_is_decided_under_a_domain_that_the_scope_prints(pdom: Path) -> None:
    """F10: the title's words hold under beta >= 1 (no warning), and the deck says beta >= 1 with its title;
    the same title under beta real is refuted (a warning), so the domain is what decides it."""
    deck = load_deck(pdom)
    result = check_deck(deck)
    assert result.ok and result.warnings == ()
    assert deck_scope(deck).text == ANY_SCOPE
    real = load_deck(_write(pdom.parent / "real.toml", PDOM.format(K="", domain="real")))
    assert deck_scope(real) is None  # a real parameter restricts nothing: no scope line
    assert [w.message for w in check_deck(real).warnings if "title" in w.message], check_deck(real).warnings


def _write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def test_a_narrow_model_and_a_domain_are_stated_together(tmp_path: Path) -> None:
    deck = load_deck(_write(tmp_path / "k3.toml", PDOM.format(K="K = 3", domain="in (1, 2)")))
    assert deck_scope(deck).text == ("Throughout this deck beta in (1, 2): every formula of it is "
                                     "proved for K = 3 latent states only (the deck's model) and under this, not in "
                                     "general.")


def test_the_listing_and_the_json_state_the_scope(pdom: Path) -> None:
    deck = load_deck(pdom)
    assert format_deck(deck).splitlines()[1] == f"  {ANY_SCOPE}"
    assert json.loads(json.dumps(deck_as_dict(deck)))["scope"] == ANY_SCOPE


def test_anki_moodle_and_the_web_print_the_domain_as_math_in_the_scope(pdom: Path, tmp_path: Path) -> None:
    """Every card carries the scope (a card is studied alone), its domain through the printer as the card's
    own condition ("if β ≥ 1"), never as the file syntax "beta >= 1"."""
    import anki.collection as collection_module  # the test extras' `anki`: Anki's own importer
    from anki.import_export_pb2 import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    math = anki.mathjax(r"\beta \geq 1")
    assert main(["flashcards", str(pdom), "--anki", str(tmp_path / "pdom.apkg")]) == 0
    col = collection_module.Collection(str(tmp_path / "collection.anki2"))
    try:
        col.import_anki_package(ImportAnkiPackageRequest(
            package_path=str(tmp_path / "pdom.apkg"), options=ImportAnkiPackageOptions(with_scheduling=False)))
        (note,) = [col.get_note(n) for n in col.find_notes("")]
        formula = note.fields[2]
    finally:
        col.close()
    assert formula.count(math) == 2 and "Throughout this deck" in formula and "beta &gt;=" not in formula, formula
    assert main(["cards", str(pdom), "--moodle", str(tmp_path / "pdom.xml")]) == 0
    feedback = (tmp_path / "pdom.xml").read_text("utf-8").split("<generalfeedback")[1].split("</generalfeedback>")[0]
    assert f"Throughout this deck </span>{math}" in feedback, feedback
    page = web.flashcards_page(pdom).body
    assert page.startswith(r"Throughout this deck $\beta \geq 1$"), page[:200]


def test_a_card_without_a_formula_carries_the_domain_in_anki_too(tmp_path: Path) -> None:
    """The domain holds for its words as well: the scope is on a formula-less card too (as rt46 F5's K = 3)."""
    path = _write(tmp_path / "words.toml", 'title = "t"\n[params]\nbeta = ">= 1"\n\n[[card]]\nfront = "F"\n'
                                           'back = "The term $beta * KL(q(z), p(z))$ is at least $KL(q(z), p(z))$."\n')
    assert main(["flashcards", str(path), "--anki", str(tmp_path / "w.apkg")]) == 0
    with zipfile.ZipFile(tmp_path / "w.apkg") as package:
        package.extract("collection.anki2", tmp_path)
    db = sqlite3.connect(tmp_path / "collection.anki2")
    try:
        ((fields,),) = db.execute("select flds from notes").fetchall()
    finally:
        db.close()
    assert "Throughout this deck" in fields.split("\x1f")[2]
    assert "Throughout this deck" in moodle.cards_quiz([check_deck(load_deck(path))])


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_the_flashcards_pdf_prints_the_domain_in_its_footer(pdom: Path, tmp_path: Path) -> None:
    (built,) = write_handouts(flashcards_handouts(flashcards=pdom), tmp_path)
    assert built.ok, built.message
    text = subprocess.run(["pdftotext", str(built.pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    flat = " ".join(text.split())
    assert flat.count("Throughout this deck β ≥ 1") == 2, flat  # the fronts' and the backs' page


# --------------------------------------------------------------------------- rt43 F4

PARAM = 'title = "t"\nK = 2\nstart = "E(q, p(z))"\n\n[params]\n{name} = "in (0, 1)"\n\n' \
        '[[step]]\nrel = "="\nexpr = "E(q, p(z))"\nrule = "algebra"\n'


@pytest.mark.parametrize("name", ["pi_z", "pi_old", "qstar_z", "qstar_old"])
def test_a_reserved_prefix_is_named_as_the_reason(name: str) -> None:
    with pytest.raises(DerivationError) as info:
        loads(PARAM.format(name=name), "m1.toml")
    error = info.value
    assert str(error).startswith("m1.toml:6:1: "), str(error)  # file:line:column, as every input error
    assert error.message.startswith(f'"{name}" cannot name a parameter: names starting with pi_ or qstar_ are '
                                    f"reserved"), error.message


def test_a_name_like_them_but_not_reserved_is_accepted() -> None:
    assert [p.name for p in loads(PARAM.format(name="prior_z"), "m.toml").params] == ["prior_z"]
    assert [p.name for p in loads(PARAM.format(name="pie_z"), "m.toml").params] == ["pie_z"]


def test_a_deck_says_the_same(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.toml", 'title = "t"\n[params]\npi_a = ">= 1"\n' + CARD.format(formula="1 = 1"))
    with pytest.raises(DerivationError) as info:
        load_deck(path)
    assert str(info.value).startswith(f"{path}:3:1: ") and "are reserved" in info.value.message, str(info.value)


# --------------------------------------------------------------------------- rt43 F5

POWER = '''title = "t"
model = "gaussian"
start = "((mu - 1)**2)**a"

[params]
a = "in (0, 1)"

[[step]]
rel = "="
expr = "((1 - mu)**2)**a"
rule = "algebra"
'''
SAID = "the base of a power with a parameter exponent must be > 0 (b**a means exp(a*log(b))), and (mu - 1)**2 is not"


@pytest.mark.full  # over the fast tier's 0.5 s of CPU
def test_a_power_undefined_at_base_0_is_named_as_a_power(tmp_path: Path, capsys) -> None:
    """F5: text, JSON and the report the handouts and pages print from name the power, not a log."""
    report = check_file(loads(POWER, "b6.toml"))
    (step,) = report.steps
    assert step.verdict == "refuted" and step.reason == SAID, step.reason
    assert step.counterexample is not None and ("mu", ("1",)) in step.counterexample.values
    assert any(c.text == "power base (mu - 1)**2 > 0 (the exponent is in parameters)" for c in step.conditions)
    path = _write(tmp_path / "b6.toml", POWER)
    assert main(["check", str(path), "--no-cache", "--json"]) == 1
    out = capsys.readouterr().out
    assert json.loads(out)[0]["steps"][0]["reason"] == SAID and "log of" not in out
    assert main(["check", str(path), "--no-cache"]) == 1
    assert SAID in capsys.readouterr().out


def test_a_log_the_author_wrote_is_still_named_as_a_log() -> None:
    """The power's wording only for a power: exp(a * log(b)) written out names the log it has."""
    text = POWER.replace('start = "((mu - 1)**2)**a"', 'start = "exp(a * log((mu - 1)**2))"')
    (step,) = check_file(loads(text, "log.toml")).steps
    assert step.verdict == "refuted" and step.reason == "log of a non-positive value: (mu - 1)**2", step.reason


# --------------------------------------------------------------------------- premises: one predicate


def test_only_a_bound_narrows_a_range() -> None:
    assert [rel for rel in PREMISE_RELATIONS if is_bound(type("P", (), {"rel": rel})())] == list(BOUND_RELATIONS)
    assert BOUND_RELATIONS == ("<=", ">=", "<", ">") and PREMISE_RELATIONS == (*BOUND_RELATIONS, "!=")


@pytest.mark.parametrize(("assume", "pinned"), [
    ('["beta > 3"]', True),
    ('["beta != 3"]', False),  # a != alone narrows nothing: no pins
    ('["beta > 3", "beta != 4"]', False),  # a != on beta keeps the bound from narrowing it (read with the bounds)
])
def test_premise_pins_follow_the_predicate(assume: str, pinned: bool) -> None:
    from elbo_sym.engine.exact import _premise_pins, empty_ranges

    text = (f'title = "t"\nK = 2\nassume = {assume}\nstart = "beta * KL(q(z), p(z))"\n\n[params]\nbeta = "real"\n\n'
            '[[step]]\nrel = ">="\nexpr = "KL(q(z), p(z))"\nrule = "kl-nonneg"\n')
    model = loads(text, "p.toml").model()
    assert bool(_premise_pins(model)) is pinned
    assert empty_ranges(model) == ()


def test_the_second_opinion_names_a_powers_base_as_such() -> None:
    """The reference evaluator's sign-change search words a parameter power's base as the power's, not a log's."""
    from elbo_sym.engine.reference import discrete as reference

    text = ('title = "t"\nK = 2\nstart = "(beta - 1)**a * E(q, q(z))"\n\n[params]\nbeta = "in (0, 2)"\n'
            'a = "in (0, 1)"\n\n[[step]]\nrel = "="\nexpr = "E(q, q(z))"\nrule = "algebra"\n')
    start = loads(text, "r.toml").start.expr
    found = reference._parameter_conditions(start, {"beta", "a"}, [])
    assert [(what, str(term)) for what, term in found] == [("base of the power", "beta - 1")], found
