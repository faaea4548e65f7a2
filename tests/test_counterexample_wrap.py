"""A long counterexample fits the page: find-the-mistake's values break between values.

A Gaussian D = "any" step that first fails at D = 14 has a counterexample of 45 values (mu_1..mu_14,
sigma_1..sigma_14, w_1..w_14, b, s, x), one at D = 64 of 195. They were one display line, 2,300 pt
wider than the page (and a display the site's reader scrolled through). Now each value is its own
formula the line may break after, a numbered block is summarised ("mu_d = 0 for d = 1, ..., 14"),
the wrong step and the repair break like a chain's lines, and `explain` puts the values on lines of
their own; the report (JSON, `check`) keeps every value.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from sympy import Rational

from elbo_sym.authoring.explain import explain, format_explanation
from elbo_sym.engine.derivation import load
from elbo_sym.engine.notation import to_latex
from elbo_sym.limits import EXPLAIN_LINE_WIDTH
from elbo_sym.publish import web
from elbo_sym.publish.handouts import mistake_context, mistakes_handout, value_pieces, write_handouts
from elbo_sym.report.model import CounterexampleReport, DerivationReport, Math, StepReport, WhereItem

ROOT = Path(__file__).resolve().parent.parent
AT_14 = ROOT / "tests" / "data" / "redteam" / "d_any_teaching_fails_at_14.toml"
AT_64 = ROOT / "tests" / "data" / "wrap" / "d_any_teaching_fails_at_64.toml"
WEB = ROOT / "web"


def _counterexample(report) -> CounterexampleReport:
    (step,) = [s for s in report.steps if s.expected_refuted]
    assert step.verdict == "refuted" and step.counterexample is not None
    return step.counterexample


@pytest.mark.full
@pytest.mark.parametrize(("path", "D"), [(AT_14, 14), (AT_64, 64)])
def test_the_report_keeps_every_value(checked_report, path, D):
    """Every coordinate's exact value is in the report (JSON, `check`), each carried through the
    printer as its own piece, the label printed with its index (mu_{14}, not the text mu14)."""
    c = _counterexample(checked_report(path))
    labels = [label for label, _ in c.values]
    assert labels[:2 * D] == [f"{name}{d}" for d in range(1, D + 1) for name in ("mu", "sigma")]
    assert labels[2 * D:] == [f"w{d}" for d in range(1, D + 1)] + ["b", "s", "x"]
    items = c.where_pieces
    assert len(items) == len(c.values) == 3 * D + 3
    assert items[2 * D - 1].label == rf"\sigma_{{{D}}}" and r"\text{mu" not in c.where_latex
    assert all(len(item.values) == 1 for item in items)


def test_a_numbered_block_is_summarised_and_nothing_is_lost(checked_report):
    """D = 14: each numbered block (means, scales, weights) is the values that differ from its
    most common one, then that one "for every other d" (or "for d = 1, ..., 14" when all agree);
    b, s, x as they are. Every value the summary leaves out is that common value."""
    c = _counterexample(checked_report(AT_14))
    pieces = value_pieces(c)
    own = {label: Rational(v[0]) for label, v in c.values if label in ("b", "s", "x")}  # where the search went
    assert pieces[-3:] == tuple(f"{name} = {to_latex(own[name])}" for name in ("b", "s", "x"))
    assert len(pieces) < 45  # one piece per value was the line that ran off the page
    for name, symbol in (("mu", r"\mu"), ("sigma", r"\sigma"), ("w", "w")):
        values = [Fraction(v[0]) for label, v in c.values if re.fullmatch(rf"{name}[0-9]+", label)]
        common = max(values, key=values.count)
        odd = [p for p in pieces if p.startswith(symbol + "_{") and not p.startswith(symbol + "_{d}")]
        (summary,) = [p for p in pieces if p.startswith(symbol + "_{d} = ")]
        assert len(odd) == sum(1 for v in values if v != common)
        for piece in odd:  # each listed value is that coordinate's own
            index = int(re.match(r".*?_\{([0-9]+)\}", piece)[1])
            assert values[index - 1] != common
        ending = r"\text{for every other } d \le 14" if odd else r"\text{for } d = 1, \dots, 14"
        assert summary.endswith(ending)
    assert pieces[0] == r"\mu_{d} = 0\ \text{for } d = 1, \dots, 14"  # q = p(z): every mean 0


def test_a_long_tuple_breaks_between_its_values():
    """A block of many values (a K = 8 prior) is one formula per value, the brackets on the first
    and last; a short one stays one tuple."""
    values = tuple(f"{i}/36" for i in range(1, 9))
    latex = tuple(rf"\frac{{{i}}}{{36}}" for i in range(1, 9))
    long = CounterexampleReport((("p(z)", values), ("b", ("1/2",))), "0", "1", "0", "1",
                                where_pieces=(WhereItem("p(z)", latex), WhereItem("b", (r"\frac{1}{2}",))))
    assert value_pieces(long) == (r"p(z) = (\frac{1}{36}", *latex[1:-1], r"\frac{8}{36})", r"b = \frac{1}{2}")
    assert long.where_latex == r"p(z) = \left(" + r",\ ".join(latex) + r"\right),\quad b = \frac{1}{2}"
    short = CounterexampleReport((("q(z)", ("1/3", "2/3")),), "0", "1", "0", "1",
                                 where_pieces=(WhereItem("q(z)", (r"\frac{1}{3}", r"\frac{2}{3}")),))
    assert value_pieces(short) == (r"q(z) = \left(\frac{1}{3},\ \frac{2}{3}\right)",)


SEPARATORS = (r",\quad ", r",\ ")
"""The texts that join the items and the values of ``where_latex``."""


@pytest.mark.parametrize("separator", SEPARATORS)
def test_a_label_or_value_holding_a_separator_is_printed_whole(separator):
    """The pieces are carried from where the counterexample is made, never split out of the joined
    text: a label or a value whose LaTeX holds a separator is still one piece, the list keeps one
    formula per value, and the pieces survive the JSON round trip unchanged."""
    label = rf"p_{{a{separator}b}}"
    latex = ("1", rf"\text{{2{separator}3}}", "4", rf"5{separator}6")
    c = CounterexampleReport(((label, ("1", "2", "3", "4")), ("b", ("7",))), "0", "1", "0", "1",
                             where_pieces=(WhereItem(label, latex), WhereItem(rf"b{separator}c", ("7",))))
    assert value_pieces(c) == (f"{label} = (1", latex[1], "4", f"{latex[3]})", rf"b{separator}c = 7")
    a, b = Math("a", "a"), Math("b", "b")
    step = StepReport(1, 9, a, "=", b, "algebra", "", "refuted", "differs", counterexample=c)
    report = DerivationReport("f.toml", "f", "t", "", "m", "d", "2", a, 3, (step,), None, (), None, False, "")
    data = json.loads(json.dumps(report.to_dict()))
    stored = data["steps"][0]["counterexample"]  # the pieces are stored; the joined text is only ever made from them
    assert "where_latex" not in stored and stored["where_pieces"][0] == {"label": label, "values": list(latex)}
    back = DerivationReport.from_dict(data).steps[0].counterexample
    assert back == c and back is not None and value_pieces(back) == value_pieces(c)


def test_pieces_that_do_not_match_the_values_are_refused():
    """A stored report whose pieces do not follow its values block by block is malformed (a
    renderer would pair a label with another block's values): ValueError, as from_dict promises."""
    with pytest.raises(ValueError, match="block by block"):
        CounterexampleReport((("q(z)", ("1/3", "2/3")),), "0", "1", "0", "1", where_pieces=(WhereItem("q", ("1",)),))
    with pytest.raises(ValueError, match="block by block"):
        CounterexampleReport((("a", ("1",)), ("b", ("2",))), "0", "1", "0", "1", where_pieces=(WhereItem("a", ("1",)),))


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
@pytest.mark.parametrize("path", [AT_14, AT_64])
def test_the_solution_page_has_no_overfull_line(checked_report, tmp_path, path):
    """find-the-mistake.pdf of the D = 14 and the D = 64 file: no line past the margin (TeX's log),
    no word past the page's edge (pdftotext's boxes), every value on the page (page 3: the solution)."""
    report = checked_report(path)
    (built,) = write_handouts([mistakes_handout([report])], tmp_path)
    assert built.ok, built.message + built.log_excerpt
    assert built.overfull == 0, [b.describe() for b in built.overfull_boxes]
    boxes = subprocess.run(["pdftotext", "-bbox", str(built.pdf), "-"], capture_output=True, text=True,
                           check=True, timeout=CHILD_TIMEOUT_SECONDS).stdout
    (width,) = set(re.findall(r'<page width="([0-9.]+)"', boxes))
    assert max(float(x) for x in re.findall(r'xMax="([0-9.]+)"', boxes)) < float(width) - 36  # inside the margin
    text = subprocess.run(["pdftotext", str(built.pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    solution = " ".join(text.split("Solutions", 1)[1].split())
    D = 14 if path == AT_14 else 64
    assert f"for d = 1, . . . , {D}" in solution and "b =" in solution and "x =" in solution


def test_explain_puts_a_long_counterexample_on_lines_of_its_own():
    """`explain`'s counterexample: the head names the source, then every value, lines of at most
    EXPLAIN_LINE_WIDTH characters that break only between values."""
    text = format_explanation(explain(load(AT_14), 2))
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("counterexample ("))
    assert lines[head].endswith(":")
    values = []
    for line in lines[head + 1:]:
        if not line.startswith("    ") or line.lstrip().startswith(("left", "right")):
            break
        assert len(line) <= EXPLAIN_LINE_WIDTH
        values += [item.strip() for item in line.rstrip(",").split(", ")]
    assert len(values) == 45 and values[0] == "mu1 = 0" and values[-1].startswith("x = ")
    assert all(re.fullmatch(r"[a-z]+[0-9]* = -?[0-9/]+", v) for v in values)


def _chromium_or_skip() -> str:
    browser = shutil.which("chromium")
    missing = ([] if browser else ["chromium"]) + ([] if shutil.which("node") else ["node"])
    missing += [f"web/node_modules/{p}" for p in ("katex", "rehype-katex", "remark-math")
                if not (WEB / "node_modules" / p / "package.json").is_file()]
    if missing:
        message = f"web tools missing: {', '.join(missing)} (run `make web-deps`)"
        if os.environ.get("ELBO_SYM_REQUIRE_WEB") == "1":
            pytest.fail(message + "; ELBO_SYM_REQUIRE_WEB=1 forbids skipping")
        pytest.skip(message)
    assert browser is not None
    return browser


@pytest.mark.full
def test_the_site_page_lists_the_values_within_the_column(checked_report, tmp_path):
    """The site's find-the-mistake page of the D = 14 file (rehype-katex, as Starlight renders it)
    in headless Chromium at 390 px, its answer opened: the box of the values is no wider than the
    column (it was a display 4,939 px wide, scrolled sideways) and the page does not scroll."""
    browser = _chromium_or_skip()
    page = web.mistakes_page([checked_report(AT_14)])
    assert page is not None
    web.write_pages([page], tmp_path)
    html = tmp_path / "page.html"
    subprocess.run(["node", str(WEB / "render_page.mjs"), str(tmp_path / page.path), str(html)], check=True,
                   capture_output=True, timeout=CHILD_TIMEOUT_SECONDS)
    profile = tmp_path / "profile"
    profile.mkdir()
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={profile}", "--window-size=390,900", "--virtual-time-budget=10000",
                          "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body is not None
    data = {k: int(v) for k, v in re.findall(r'data-(value-list-[a-z]+|value-lists|page-[a-z-]+)="([0-9]+)"',
                                             body.group(1))}
    assert data["value-lists"] == 1 and data["value-list-room"] > 0
    assert data["value-list-widest"] <= data["value-list-room"], data
    assert data["page-scroll-width"] <= data["page-client-width"], data
    pieces = mistake_context(checked_report(AT_14))["mistakes"][0]["value_list"]
    assert all(f"${web.katex_tex(p)}$" in page.body for p in pieces)  # each an inline formula


@pytest.mark.parametrize("separator", SEPARATORS)
def test_the_notebook_typesets_each_block_from_the_pieces(separator):
    """A notebook's HTML (report.display) sets each block of the counterexample as its own formula,
    from the report's pieces: a value holding a separator stays inside its block's formula."""
    import html as html_module

    from elbo_sym.report.display import to_html

    latex = ("1", rf"2{separator}3")
    c = CounterexampleReport((("p(z)", ("1/4", "3/4")), ("b", ("7",))), "0", "1", "0", "1", source="example 1",
                             where_pieces=(WhereItem("p(z)", latex), WhereItem("b", ("7",))))
    a, b = Math("a", "a"), Math("b", "b")
    step = StepReport(1, 9, a, "=", b, "algebra", "", "refuted", "differs", counterexample=c)
    shown = to_html(DerivationReport("f.toml", "f", "t", "", "m", "d", "2", a, 3, (step,), None, (), None, False, ""))
    formulas = [html_module.unescape(f) for f in re.findall(r"\\\((.*?)\\\)", shown)]
    assert [f for f in formulas if f.startswith(("p(z) =", "b ="))] == [item.latex for item in c.where_pieces]
    assert "[example 1]: left = 0 ≈ 0, right = 1 ≈ 1" in html_module.unescape(shown)
