"""A long product breaks between its factors, each printed whole (red team rt42 F8).

A proved file whose side is a long product with a plain factor -- ``(1/2) * (a + ...) * (c + ...)``,
``(...) * (...) * p(x)``, ``exp(...) * exp(...)`` -- failed its PDF build ("a term scaled below 70 percent
of its size"). Session 18's fix split the printed LaTeX between brackets and cut a ``\\frac{...}{2}``
apart (from-the-literature.pdf, `make handouts` failed); it was reverted. The split is now made on the
SymPy product: each factor printed by the one printer, never cut from printed text.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from latex_tools import require_latex
from sympy import Mul, Rational

from elbo_sym.engine.notation import latex_terms, product_breaks, product_factors, to_latex
from elbo_sym.engine.parse import Vocabulary, parse_expression
from elbo_sym.publish.handouts import breakable, derivations_handout, write_handouts
from elbo_sym.report.build import check_file, formula_breaks
from elbo_sym.report.model import DerivationReport

WORDS = Vocabulary(params=("a", "b", "c", "d"))
LONG = "log(p(x, z)) - log(q(z)) + log(p(x)) - log(p(z)) + log(p(x | z)) - log(p(z | x))"
"""A sum of six logs: two of them side by side are wider than a line of the derivation sheet."""


def _expr(text: str):
    return parse_expression(text, WORDS)


def _balanced(tex: str) -> bool:
    """Every brace and \\left/\\right of `tex` closes inside it: a whole piece of LaTeX, never a cut one."""
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0 and tex.count(r"\left") == tex.count(r"\right")


@pytest.mark.parametrize("text, coefficient, factors, pieces", [
    # the reverted fix cut this one's \frac apart: the half leads its product, each factor whole
    ("(1/2) * (a + b) * (c + d)", Rational(1, 2), ["a + b", "c + d"],
     [r"\frac{1}{2} \left(a + b\right)", r"\left(c + d\right)"]),
    ("(a + b) * (c + d) / 2", Rational(1, 2), ["a + b", "c + d"],
     [r"\frac{1}{2} \left(a + b\right)", r"\left(c + d\right)"]),
    ("-(1/2) * (a + b) * (c + d)", Rational(-1, 2), ["a + b", "c + d"],
     [r"- \frac{1}{2} \left(a + b\right)", r"\left(c + d\right)"]),
    ("(a + b) * (c + d) * p(x)", None, ["a + b", "c + d", "p(x)"],
     [r"\left(a + b\right)", r"\left(c + d\right)", "p(x)"]),
    ("exp(a + b) * exp(c + d)", None, ["exp(a + b)", "exp(c + d)"],
     [r"\exp\left(a + b\right)", r"\exp\left(c + d\right)"]),
    ("q(z) * p(x) * p(z)", None, ["q(z)", "p(x)", "p(z)"], ["q(z)", "p(x)", "p(z)"]),
])
def test_a_product_is_its_factors_each_printed_whole(text: str, coefficient, factors: list[str],
                                                     pieces: list[str]) -> None:
    found = product_factors(_expr(text))
    assert found is not None
    assert [f for _, f, _ in found] == pieces
    assert all(_balanced(f) for _, f, _ in found)
    # joined with their gaps they are the printer's LaTeX of the same factors, the number leading
    led = Mul(*([coefficient] if coefficient is not None else []), *map(_expr, factors), evaluate=False)
    assert "".join(gap + f for gap, f, _ in found) == to_latex(led)


def test_the_gaps_are_the_printers() -> None:
    factors = product_factors(_expr("(a + b) * (c + d) * p(x)"))
    assert factors is not None and [gap for gap, _, _ in factors] == ["", " ", r"\, "]  # a thin space before p(x)


@pytest.mark.parametrize("text", [
    "2 * (a + b) * (c + d) / 2",   # numbers as written (rt31: a step that multiplies and divides by 2)
    "(a + b) * 1 * (c + d)",       # a written 1
    "(a + b) * (c + d) / (2/3)",   # a division by a fraction
    "(a + b) * (c + d) / p(x)",    # a quotient stays one fraction
    "2 * (a + b)",                 # one factor besides the number: nothing to break between
    "log(p(x))",
])
def test_what_is_not_split(text: str) -> None:
    assert product_factors(_expr(text)) is None


def test_a_sums_terms_are_found_by_their_latex() -> None:
    expr = _expr("c - (1/2) * (a + b) * (c + d) + a * b")
    breaks = product_breaks(expr)
    bodies = [piece[2:] if i else piece for i, piece in enumerate(latex_terms(to_latex(expr)))]
    assert set(breaks) == {bodies[1], bodies[2]}  # the printer's \frac{...}{2}, and a b
    assert bodies[1].startswith(r"\frac{\left(a + b\right)")


def test_breakable_keeps_the_printers_whole_and_breaks_it_only_from_the_expression() -> None:
    expr = _expr("c - (1/2) * (a + b) * (c + d)")
    latex = to_latex(expr)
    with_expr = breakable(latex, formula_breaks(expr))
    assert with_expr == (
        r"\chainterm{}{c}\chainproduct{-}{\frac{\left(a + b\right) \left(c + d\right)}{2}}"
        r"{\chainbracketed{-}{\frac{1}{2} \left(a + b\right)}{\frac{1}{2} }{\left(}{\right)}"
        r"{\chainterm{}{a}\chainterm{+}{b}}"
        r"\chainfactorbracketed{ }{\left(c + d\right)}{}{\right)}{\chainterm{}{c}\chainterm{+}{d}}}")
    assert r"\chainproduct" not in breakable(latex)  # no expression: the \frac stays one term
    assert breakable(latex, formula_breaks(_expr("c - (a + b)"))) == breakable(latex)  # another formula's breaks


def test_the_report_carries_the_breaks_so_no_renderer_reads_the_file_again(tmp_path: Path) -> None:
    """The breaks are made from the checked expression when the report is built and travel with it
    (JSON, the cache): a file deleted since its check still breaks, and an older run's report without
    them leaves the product whole (the printer's \\frac, never a cut of it)."""
    path = tmp_path / "gone.toml"
    path.write_text(_file("(1/2) * (a + b) * (c + d)"), "utf-8")
    report = check_file(str(path))
    assert report.fully_proved, [s.reason for s in report.steps]
    breaks = report.breaks_of(report.start.latex)
    assert breaks is not None and breaks == formula_breaks(_expr("(1/2) * (a + b) * (c + d)"))
    assert [f.latex for f in breaks.factors_of(report.start.latex) or ()] == [
        r"\frac{1}{2} \left(a + b\right)", r"\left(c + d\right)"]
    path.unlink()
    assert DerivationReport.from_dict(report.to_dict()) == report  # the JSON round trip keeps them
    source = derivations_handout([report]).render().split(r"\begin{document}")[1]
    assert r"\chainfactorbracketed{ }{\left(c + d\right)}" in source
    older = DerivationReport.from_dict({k: v for k, v in report.to_dict().items() if k != "breaks"})
    assert older.breaks == ()
    source = derivations_handout([older]).render().split(r"\begin{document}")[1]
    assert r"\chainproduct" not in source and r"\frac{\left(a + b\right) \left(c + d\right)}{2}" in source


def _file(side: str, title: str = "A long product", params: bool = True) -> str:
    table = '\n[params]\na = "real"\nb = "real"\nc = "real"\nd = "real"\n' if params else ""
    return (f'title = "{title}"\nmodel = "discrete"\nK = "any"\nstart = "{side}"\n{table}\n'
            f'[[step]]\nrel = "="\nexpr = "{side}"\nrule = "algebra"\nwhy = "nothing changes"\n')


@pytest.mark.full
def test_long_products_with_a_plain_factor_build_and_read_back(tmp_path: Path) -> None:
    """rt42 F8's three shapes, each a proved file whose sides failed the build on main: they build with
    nothing past an edge, broken before a × between whole factors, the half a fraction over its 2."""
    require_latex()
    sides = {"half": f"(1/2) * ({LONG}) * ({LONG})", "density": f"log(p(x)) + ({LONG}) * ({LONG}) * p(x)",
             "exps": f"exp({LONG}) * exp({LONG}) * exp({LONG})"}
    reports = []
    for name, side in sides.items():
        path = tmp_path / f"{name}.toml"
        path.write_text(_file(side, f"Product {name}", params=False), "utf-8")
        reports.append(check_file(str(path)))
        assert reports[-1].fully_proved, [s.reason for s in reports[-1].steps]
    (report,) = write_handouts([derivations_handout(reports)], tmp_path / "out")
    assert report.ok and report.overfull_boxes == (), (report.message, [b.describe() for b in report.overfull_boxes])
    text = subprocess.run(["pdftotext", "-layout", str(report.pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=CHILD_TIMEOUT_SECONDS).stdout
    lines = [line.strip() for line in text.splitlines()]
    # each section: its chain and its result, the side broken before each × (2, 2 + the p(x) line, 3 factors)
    continued = [line for line in lines if line.startswith("×")]
    assert len(continued) == 2 * (2 * 1 + 2 * 1 + 2 * 2), continued
    assert sum(line.endswith("p(x)") and line.startswith("×") for line in lines) == 4  # p(x) glued to its bracket
    assert sum(line == "2" for line in lines) >= 4  # the half's denominator, under its 1: a \frac whole
    assert sum(line.startswith("× exp") for line in lines) == 8
