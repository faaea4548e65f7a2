"""A factor that is itself a long sum breaks inside its bracket (red team rt44 F4), and one splitter.

rt44's prod2.toml -- a proved product of two brackets, each a sum of seven terms wider than the line --
failed derivations.pdf ("content cut at the paper's edge"): a bracketed-sum term broke between its terms
and a product between its factors, but not the two together. A factor that is, or ends in, a bracketed
sum now carries that sum's terms, split where the one printer set them (never cut from printed text),
and the template breaks it inside its bracket when it is wider than a line. The breaks travel in the
report (tests/test_product_breaks.py); a self-check's conditions go through the same splitter.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from latex_tools import require_latex

from elbo_sym.engine.notation import latex_terms, product_factors, sum_terms, to_latex
from elbo_sym.engine.parse import Vocabulary, parse_expression
from elbo_sym.publish.handouts import breakable, condition_terms, derivations_handout, write_handouts
from elbo_sym.report.build import check_file, formula_breaks
from elbo_sym.report.model import FactorBreak

PROD2 = Path(__file__).resolve().parent / "data" / "redteam" / "rt44_f4_two_long_brackets.toml"
WORDS = Vocabulary(params=("a", "b", "c", "d"))


def _expr(text: str):
    return parse_expression(text, WORDS)


@pytest.mark.parametrize("text", [
    "a + b - c",
    "log(p(x)) - (1/2) * (a + b) - KL(q(z), p(z)) + E(q, log(p(x | z)))",
    "a - (b + c) + (-a) * b - 3/10",
    "a - b * (c - d) + exp(a - b) - a / (b + c)",
    "Sum(q(z) * (log(p(x, z)) - log(q(z))), z) - H(q) + ELBO(q)",
])
def test_a_sums_terms_from_the_printer_are_the_terms_its_text_splits_into(text: str) -> None:
    """The printer's own split of a sum (each term printed with its sign, where _print_Add joins them) is
    the split latex_terms finds in its text: a factor's bracket breaks where a bracketed-sum term would."""
    e = _expr(text)
    assert e.is_Add
    assert sum_terms(e) == tuple(latex_terms(to_latex(e)))
    assert " ".join(sum_terms(e)) == to_latex(e)


def test_a_factor_carries_the_terms_of_the_bracketed_sum_it_ends_with() -> None:
    found = product_factors(_expr("-(1/2) * (a + b - c) * exp(c - d) * p(x) * (a - b*(c + d))"))
    assert found is not None
    assert [terms for _, _, terms in found] == [
        ("a", "+ b", "- c"), ("c", "- d"), (), ("a", r"- b \left(c + d\right)")]
    first = FactorBreak(*found[0])
    assert first.prefix == r"- \frac{1}{2} " and first.latex == first.prefix + r"\left(a + b - c\right)"
    assert FactorBreak(*found[1]).prefix == r"\exp"
    assert product_factors(_expr("q(z) * p(x)")) == (("", "q(z)", ()), (r"\, ", "p(x)", ()))


def test_a_factors_terms_must_spell_its_bracket() -> None:
    """A report read back from JSON cannot carry terms that are not the factor's own (they would print
    another formula than the checked one)."""
    with pytest.raises(ValueError, match="do not spell"):
        FactorBreak(" ", r"\left(a + b\right)", ("a", "- b"))
    with pytest.raises(ValueError, match="do not spell"):
        FactorBreak(" ", r"\left(a + b\right) c", ("a", "+ b"))


def test_a_later_factor_wider_than_a_line_may_break_inside_its_bracket() -> None:
    expr = _expr("c - (a + b) * (c - d) * p(x)")
    shown = breakable(to_latex(expr), formula_breaks(expr))
    assert shown == (
        r"\chainterm{}{c}\chainproduct{-}{\left(a + b\right) \left(c - d\right)\, p(x)}"
        r"{\chainbracket{-}{\left(a + b\right)}{\chainterm{}{a}\chainterm{+}{b}}"
        r"\chainfactorbracketed{ }{\left(c - d\right)}{}{\right)}{\chainterm{}{c}\chainterm{-}{d}}"
        r"\chainfactor{\, }{p(x)}}")
    half = _expr("(1/2) * (a + b) * exp(c - d)")
    assert breakable(to_latex(half), formula_breaks(half)) == (
        r"\chainproduct{}{\frac{\left(a + b\right) \exp\left(c - d\right)}{2}}"
        r"{\chainbracketed{}{\frac{1}{2} \left(a + b\right)}{\frac{1}{2} }{\left(}{\right)}"
        r"{\chainterm{}{a}\chainterm{+}{b}}\chainfactorbracketed{ }{\exp\left(c - d\right)}{\exp}{\right)}"
        r"{\chainterm{}{c}\chainterm{-}{d}}}")


def test_what_follows_the_last_term_closes_its_bracket_first() -> None:
    """`tail` (a comma between conditions) goes after the closing bracket of whatever the last term
    is, and `lead` before the first term's sign: no line breaks at either."""
    assert breakable(r"\left(a + b\right) \left(c - d\right)", lead=r"\text{if } ", tail=",") == (
        r"\chainproduct{\text{if } }{\left(a + b\right) \left(c - d\right),}"
        r"{\chainbracket{\text{if } }{\left(a + b\right)}{\chainterm{}{a}\chainterm{+}{b}}"
        r"\chainfactorbracketed{ }{\left(c - d\right),}{}{\right),}{\chainterm{}{c}\chainterm{-}{d}}}")
    assert breakable(r"a - \left(b + c\right)", tail=",") == (
        r"\chainterm{}{a}\chainbracketed{-}{\left(b + c\right),}{}{\left(}{\right),}{\chainterm{}{b}\chainterm{+}{c}}")
    assert breakable("a + b", lead=r"\geq ", tail=",") == r"\chainterm{\geq }{a}\chainterm{+}{b,}"


def test_a_cards_conditions_break_with_the_one_splitter() -> None:
    """condition_terms is breakable applied to each side: a bracketed side breaks inside its bracket as
    a formula's does (it had its own loop over the terms, which never did)."""
    card = SimpleNamespace(conditions_sides=(
        (r"\beta \in \left[0, 1\right]", None, None),
        (r"\left(a + b\right) \left(c - d\right)", r"\geq", r"a - 1"),
        ("a", "=", "b")))
    shown = condition_terms(card, after_formula=True)
    assert shown == (
        breakable(r"\beta \in \left[0, 1\right]", lead=r"\qquad\text{if } ", tail=",")
        + breakable(r"\left(a + b\right) \left(c - d\right)", lead=r"\quad ")
        + breakable("a - 1", lead=r"\geq ", tail=",")
        + breakable("a", lead=r"\quad ") + breakable("b", lead="= "))
    assert r"\chainfactorbracketed" in shown and r"\chainterm{-}{1,}" in shown
    assert condition_terms(SimpleNamespace(conditions_sides=()), after_formula=False) is None


def _text(pdf: Path, first: int = 1) -> str:
    return subprocess.run(["pdftotext", "-f", str(first), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=CHILD_TIMEOUT_SECONDS).stdout


@pytest.mark.full
def test_rt44s_product_of_two_long_brackets_builds_with_every_term(tmp_path: Path) -> None:
    """prod2.toml failed derivations.pdf on main (two lines 74.7pt and 63.8pt too wide); it builds with
    nothing past an edge, each of its eight brackets (the chain's two sides and the result's) broken
    inside and every term printed."""
    require_latex()
    report = check_file(str(PROD2))
    assert report.fully_proved, [s.reason for s in report.steps]
    (built,) = write_handouts([derivations_handout([report])], tmp_path / "out")
    assert built.ok and built.overfull_boxes == (), (built.message, [b.describe() for b in built.overfull_boxes])
    text = _text(built.pdf)
    # per bracket: log p(x) twice, one expectation, KL(q || p(z | x)) once; 2 brackets x 2 sides x (chain, result)
    assert text.count("log p(x)") == 8 * 2 and text.count("log p(x | z)") == 8 and text.count("∥ p(z | x)") == 8
    assert len(re.findall(r"−\s+L\(q\)", text)) == 4 and len(re.findall(r"\+\s+L\(q\)", text)) == 4
    lines = [line for line in text.splitlines() if "KL" in line or "log p" in line]
    assert len(lines) >= 4 * 3, lines  # each side of the chain and of the result on three lines or more


SELFCHECK = '''title = "Long brackets"

[[question]]
question = "Two long brackets?"
answer = "Yes."
formula = "({b1}) * ({b2}) = ({b2}) * ({b1})"
assume = "({b1}) * ({b2}) >= ({b2}) - 1"
'''
B1 = "log(p(x)) + ELBO(q) + KL(q(z), p(z | x)) + KL(q(z), p(z)) + H(q) + E(q, log(p(x | z))) + log(p(x))"
B2 = "log(p(x)) - ELBO(q) - KL(q(z), p(z | x)) + KL(q(z), p(z)) + H(q) + E(q, log(p(x | z))) + log(p(x))"


@pytest.mark.full
def test_a_self_check_answer_with_long_brackets_and_a_bracketed_condition_builds(tmp_path: Path) -> None:
    """The self-check's answers share the path: its formula's factors (from the deck's checked expression)
    and its condition's (a product of brackets: from the text) break inside their brackets."""
    require_latex()
    from elbo_sym.publish.handouts import selfcheck_handouts

    deck = tmp_path / "q.toml"
    deck.write_text(SELFCHECK.format(b1=B1, b2=B2), "utf-8")
    (built,) = write_handouts(selfcheck_handouts(selfcheck=deck), tmp_path / "out")
    assert built.ok and built.overfull_boxes == (), [b.describe() for b in built.overfull_boxes]
    text = _text(built.pdf, first=3)
    assert "if" in text and text.count("log p(x | z)") == 4 + 3  # the formula's four brackets, the condition's three
    assert text.rstrip().endswith("− 1") or "log p(x) − 1" in text
