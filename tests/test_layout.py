"""Layout of the printed handouts (issue 16): long lines break before a top-level + or -,
claims too wide for a line are displayed, tables fit the text width, every overfull box is
named (section, chain or table, width), and the typography list -- each item read back from
the real PDF (pdftotext) or the LaTeX source and log.

The LaTeX builds are few and shared (one module fixture): the variants gallery with a long
author file in the teacher's layout, compiled here with pdflatex so the test reads the log
itself, and a K = 3 exercise sheet in the students' and the teacher's version.
"""

from __future__ import annotations

import os
import re
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from latex_tools import require_latex

from elbo_sym.cli import main
from elbo_sym.engine.derivation import load
from elbo_sym.engine.models.base import Instance
from elbo_sym.engine.notation import latex_terms, to_latex
from elbo_sym.publish import render
from elbo_sym.publish.handouts import (
    breakable,
    breakable_relation,
    derivations_handout,
    drill_handouts,
    exercise_handouts,
    worked_example_handout,
    write_handouts,
)
from elbo_sym.publish.render import overfull_boxes, typeset_domain, typeset_prose
from elbo_sym.report.build import check_file, is_log_quantity, vector_latex

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ROOT / "derivations" / "variants"
LONG = ROOT / "tests" / "data" / "long-two-layer.toml"
WIDE = ROOT / "tests" / "data" / "wide-term.toml"


# ----------------------------------------------------------------- splitting the printer's lines


@pytest.mark.parametrize("path", sorted(VARIANTS.glob("*.toml")) + [LONG], ids=lambda p: p.name)
def test_terms_split_only_at_the_top_level_and_join_back(path: Path) -> None:
    d = load(path)
    for expr in [d.start.expr, *(s.expr for s in d.steps)]:
        latex = to_latex(expr)
        terms = latex_terms(latex)
        assert " ".join(terms) == latex
        for term in terms[1:]:
            assert term[:2] in ("+ ", "- "), term
        for term in terms:  # every piece closes what it opens: no split inside a bracket
            body = re.sub(r"\\[{}|,;!]", "", term)
            assert body.count("(") == body.count(")") and body.count("[") == body.count("]")
            assert body.count("{") == body.count("}")


def test_a_sum_inside_brackets_is_one_term() -> None:
    assert latex_terms(r"a - \left(b + c\right) + \mathbb{E}_{q}\left[d - e\right]") == [
        "a", r"- \left(b + c\right)", r"+ \mathbb{E}_{q}\left[d - e\right]"]
    assert latex_terms(r"- \frac{1}{2} \log a - b") == [r"- \frac{1}{2} \log a", "- b"]
    assert latex_terms(r"\log p(x)") == [r"\log p(x)"]


def test_breakable_wraps_each_term_and_claims_choose_their_layout() -> None:
    report = check_file(VARIANTS / "hierarchical-gap.toml")
    last = report.steps[-1].expr.latex
    calls = breakable(last)
    assert calls.count(r"\chainterm") == len(latex_terms(last)) == 4
    assert calls.startswith(r"\chainterm{}{\log p(x)}") and r"\chainterm{-}{\mathbb{E}" in calls
    assert breakable_relation(report.claim).startswith(r"\fitclaim{")
    with_fractions = check_file(VARIANTS / "gaussian-elbo.toml")
    assert breakable_relation(with_fractions.claim).startswith(r"\showclaim{")  # displayed, not cramped


# ----------------------------------------------------------------- overfull boxes, named


SOURCE = "\n".join([
    r"\documentclass{article}",                          # 1
    r"\begin{document}",                                 # 2
    r"\section*{3.\enspace The gap of \(\log p(x)\)\hfill{\texttt{gap.toml}}}",  # 3
    "%@ the chain of gap.toml",                          # 4
    r"\begin{align*}",                                   # 5
    r"a &= b",                                           # 6
    r"\end{align*}",                                     # 7
    "%@ the table of example 1",                         # 8
    r"\begin{tabular}{l}x\end{tabular}",                 # 9
    r"\end{document}",                                   # 10
])
LOG = """This is pdfTeX
Overfull \\hbox (117.31386pt too wide) detected at line 7
[]
Overfull \\hbox (11.358pt too wide) in paragraph at lines 9--9
[]
Overfull \\hbox (2.5pt too wide) in paragraph at lines 2--2
"""


def test_overfull_boxes_are_mapped_to_their_section_and_part() -> None:
    boxes = overfull_boxes(LOG, SOURCE)
    assert [(b.points, b.line) for b in boxes] == [(117.31386, 7), (11.358, 9), (2.5, 2)]
    assert boxes[0].section == "3. The gap of log p(x)" and boxes[0].part == "the chain of gap.toml"
    assert boxes[1].part == "the table of example 1"
    assert "a line is 117.3pt too wide at line 7 (section '3. The gap of log p(x)', the chain of gap.toml)" == \
        boxes[0].describe()
    assert boxes[2].describe().endswith("(before the first section)")


@pytest.mark.full
def test_content_cut_at_the_edge_fails_the_build_and_strict_layout_fails_any_box(tmp_path: Path, monkeypatch,
                                                                                  capsys) -> None:
    """A box more than LAYOUT_TOLERANCE_POINTS past the margin or the page's foot is content cut at the
    paper's edge: the build fails and the previous PDF stays (red team rt25: two rows lost, exit 0);
    a smaller one is a warning, and fails the build, PDF kept, with ELBO_SYM_STRICT_LAYOUT=1."""
    from elbo_sym.limits import LAYOUT_TOLERANCE_POINTS
    from elbo_sym.publish import handouts

    boxes = [render.OverfullBox(12.5, 40, "2. Reconstruction minus KL", "the chain of decomposition.toml")]
    builds: list[Path] = []

    def fake_build(tex: str, out_pdf: Path, *, timeout: float = 120) -> render.BuildResult:
        out_pdf.parent.mkdir(parents=True, exist_ok=True)
        out_pdf.write_bytes(b"%PDF-1.4 build " + str(len(builds)).encode())
        builds.append(out_pdf)
        return render.BuildResult(True, out_pdf, "", f"wrote {out_pdf}", 1, 0, 0.1, tuple(boxes))

    monkeypatch.setattr(handouts, "build_pdf", fake_build)
    monkeypatch.setattr(render, "latex_available", lambda: True)
    args = ["build", str(ROOT / "derivations" / "decomposition.toml"), "--out", str(tmp_path), "--only", "derivations"]
    monkeypatch.delenv("ELBO_SYM_STRICT_LAYOUT", raising=False)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert ("warning: derivations.pdf: a line is 12.5pt too wide at line 40 (section '2. Reconstruction minus KL', "
            "the chain of decomposition.toml)") in err
    assert "FAILED derivations.pdf: content cut at the paper's edge: 1 box(es) more than 3pt" in err
    assert not (tmp_path / "derivations.pdf").exists()
    boxes[0] = render.OverfullBox(LAYOUT_TOLERANCE_POINTS, 40, "2. Reconstruction minus KL", "")
    assert main(args) == 0 and (tmp_path / "derivations.pdf").read_bytes() == b"%PDF-1.4 build 1"
    assert "warning: derivations.pdf: a line is 3.0pt too wide" in capsys.readouterr().err
    monkeypatch.setenv("ELBO_SYM_STRICT_LAYOUT", "1")
    assert main(args) == 1
    assert "1 overfull box(es) and ELBO_SYM_STRICT_LAYOUT=1: the layout fails" in capsys.readouterr().err
    assert (tmp_path / "derivations.pdf").read_bytes() == b"%PDF-1.4 build 1"  # a failed build replaces nothing


# ----------------------------------------------------------------- typography without TeX


@pytest.mark.parametrize("text, expected", [
    ("for beta >= 1", r"for \(\beta\) \(\geq\) 1"),
    ("any mu and sigma", r"any \(\mu\) and \(\sigma\)"),
    ("the prior N(0, I)", r"the prior \(\mathcal{N}(0, I)\)"),
    ("q(z1 | x) and z2", r"\(q(z_{1} \mid x)\) and \(z_{2}\)"),
    ("the log(2 pi) terms", r"the log(2 \(\pi\)) terms"),
])
def test_the_engines_domain_text_is_set_as_math_and_author_prose_stays_text(text: str, expected: str) -> None:
    """"Proved for ..." is the engine's own description: its names and relations print as math.
    An author's prose never does (issue 15: only checked math is typeset)."""
    assert typeset_domain(text) == expected
    assert r"\(" not in typeset_prose(text)


@pytest.mark.parametrize("text", ["a muon", "the alphabet", "multiply", "Sigma-algebra words", "z10 cases"])
def test_words_that_only_contain_a_greek_name_stay_text(text: str) -> None:
    assert r"\(" not in typeset_domain(text)


def test_scalars_are_numbers_and_iwae_is_information() -> None:
    from fractions import Fraction

    from elbo_sym.engine.parse import parse_expression

    assert vector_latex([Fraction(1, 2)]) == r"\frac{1}{2}"                      # beta = 1/2, not (1/2)
    assert vector_latex([Fraction(1, 2), Fraction(1, 2)]).startswith(r"\left(")
    assert is_log_quantity(parse_expression("IWAE(q, 2)"))


def test_example_rows_never_print_a_constant_and_a_gaussian_q_is_a_density() -> None:
    dataset = check_file(VARIANTS / "dataset.toml")
    symbols = [row.symbol.latex for e in dataset.examples for row in e.rows]
    assert symbols and all(not re.fullmatch(r"-?\d+", s) for s in symbols)   # no "0 | 0 = 0" row
    tight = check_file(VARIANTS / "gaussian-tight.toml")
    q_rows = [g.latex for e in tight.examples for g in e.given if g.symbol.latex == "q(z)"]
    assert q_rows and all(latex.startswith((r"\mathcal{N}(", r"\mathcal{N}\left(")) for latex in q_rows)
    iwae = check_file(VARIANTS / "iwae-bound.toml")
    rows = [row for e in iwae.examples for row in e.rows if "IWAE" in row.symbol.latex]
    assert rows and all(row.bits is not None for row in rows)              # nats and bits, like the ELBO


# ----------------------------------------------------------------- --out creates its parents


def test_out_creates_missing_parent_folders(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(render, "latex_available", lambda: False)   # the .tex only: no TeX run needed
    monkeypatch.delenv("ELBO_SYM_REQUIRE_LATEX", raising=False)
    out = tmp_path / "a" / "b" / "handouts"
    code = main(["build", str(ROOT / "derivations" / "jensen.toml"), "--out", str(out), "--only", "derivations"])
    assert code == 0, capsys.readouterr().err
    assert (out / "derivations.tex").is_file()
    (tmp_path / "file").write_text("x")
    assert main(["build", str(ROOT / "derivations" / "jensen.toml"), "--out", str(tmp_path / "file" / "b")]) == 2
    assert "is not a folder" in capsys.readouterr().err


# ----------------------------------------------------------------- the real PDFs


def _pdflatex(tex: str, folder: Path) -> tuple[Path, str]:
    """Compile ``tex`` once with pdflatex (as render.build_pdf runs it) and return the PDF and the log."""
    (folder / "doc.tex").write_text(tex, "utf-8")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"],
                   cwd=folder, capture_output=True, timeout=CHILD_TIMEOUT_SECONDS,
                   env={**os.environ, "max_print_line": "10000", "openin_any": "p"})
    log = (folder / "doc.log").read_text("utf-8", errors="replace")
    assert (folder / "doc.pdf").is_file(), log[-3000:]
    return folder / "doc.pdf", log


def _text(pdf: Path, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout


def _pages(pdf: Path) -> list[str]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    count = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    return [_text(pdf, "-layout", "-f", str(n), "-l", str(n)) for n in range(1, count + 1)]


@pytest.fixture(scope="module")
def built(tmp_path_factory, checked_report) -> dict[str, object]:
    """The gallery with the long author file (teacher's layout: verdict marks, notes under the
    lines), compiled here so the test reads TeX's own log; and a K = 3 exercise sheet, students'
    (a page per case, answers.pdf) and teacher's (answers inline)."""
    require_latex()
    reports = [checked_report(p) for p in sorted(VARIANTS.glob("*.toml"))] + [check_file(LONG), check_file(WIDE)]
    tex = derivations_handout(reports, "inline").render()
    folder = tmp_path_factory.mktemp("gallery")
    pdf, log = _pdflatex(tex, folder)
    sheets = {}
    for mode in ("separate", "inline"):
        out = tmp_path_factory.mktemp(f"k3-{mode}")
        for r in write_handouts(exercise_handouts(K=3, count=2, solutions=mode), out):
            assert r.ok, r.message
            sheets[f"{r.name}-{mode}"] = r
    out = tmp_path_factory.mktemp("k6")  # the most states a course may ask for: the longest lines
    six = Instance.of("six", prior=(Fraction(1, 6),) * 6, likelihood=tuple(Fraction(i, 7) for i in range(1, 7)),
                      q=(Fraction(1, 6),) * 6)
    for r in write_handouts([*exercise_handouts(K=6, count=2), *drill_handouts(drill_count=2, drill_K=6),
                             worked_example_handout(six)], out):
        assert r.ok, r.message
        sheets[f"{r.name}-k6"] = r
    return {"tex": tex, "pdf": pdf, "log": log, "sheets": sheets}


@pytest.mark.full
def test_long_two_layer_chains_build_without_overfull_boxes(built) -> None:
    log = built["log"]
    assert "Overfull \\hbox" not in log, [b.describe() for b in overfull_boxes(log, built["tex"])]
    assert {"answers-k6", "tight-drill-k6", "worked-example-k6"} <= set(built["sheets"])
    for name, report in built["sheets"].items():  # K = 3 and K = 6 sheets, keys and drill
        assert report.overfull == 0, (name, [b.describe() for b in report.overfull_boxes])


@pytest.mark.full
def test_long_lines_are_broken_with_a_continuation_indent(built) -> None:
    text = _text(built["pdf"], "-layout")
    lines = text.splitlines()
    # the long author file's widest step ends "... - E[log q(z2 | x)]": it is on a later line than
    # its first term, which starts a line with "= log p(x)"
    first_line = re.compile(r"=\s+log p\(x\) − Eq\(z1 ,z2 \|x\) \[log p\(x \| z1 \)\]")
    first = next(i for i, line in enumerate(lines) if first_line.search(line))
    indent = len(lines[first]) - len(lines[first].lstrip())
    continued = next(i for i in range(first + 1, len(lines)) if re.match(r"^\s*[−+] Eq\(z1 ,z2 \|x\)", lines[i]))
    assert continued - first <= 4
    assert len(lines[continued]) - len(lines[continued].lstrip()) > indent      # a continuation indent


@pytest.mark.full
def test_claims_too_wide_for_a_line_are_displayed(built) -> None:
    tex = built["tex"]
    long_claim = tex[tex.index("Two layers, written out"):]
    assert r"\fitclaim{" in long_claim[:4000]
    text = _text(built["pdf"])
    assert "The step is proved" in text and "Both steps are proved" in text
    assert not re.search(r"All [12] steps", text)
    assert "This is the claim." in text                     # the long file's result, displayed
    assert "six copies added and taken away" in text       # the one-term line: scaled, not cut


@pytest.mark.full
def test_gallery_typography(built) -> None:
    text = _text(built["pdf"], "-layout")
    flat = re.sub(r"\s+", " ", text)
    for ascii_ in ("beta >=", ">= 0", ">= 1", " mu,", "sigma,", "log(2 pi)", "All 1 steps", "0 = 0"):
        assert ascii_ not in flat, ascii_
    assert "µ = 0," in flat or "µ = 0 " in flat                 # a scalar, not "(0)"
    assert "µ = (0)" not in flat and "β = (" not in flat
    tex = built["tex"]
    assert r"\beta\, \mathrm{KL}" in tex                        # "β KL", never "βKL"
    assert r"q(z) = \mathcal{N}\left(\frac{12}{25},\, \frac{16}{25}\right)" in tex
    iwae = [line for line in tex.splitlines()  # a one-term formula is a \fitcell (scaled only if too wide)
            if line.startswith((r"$\mathcal{L}^{\mathrm{IWAE}}", r"\fitcell{\mathcal{L}^{\mathrm{IWAE}}"))
            and " & " in line]
    assert iwae and all(re.search(r"& \$-?\d+\.\d{4}\$ & \$-?\d+\.\d{4}\$ \\\\$", line) for line in iwae), iwae
    assert not any(r"\approx" in line for line in iwae)     # an information quantity: nats and bits


@pytest.mark.full
def test_no_heading_or_intro_at_a_page_foot_of_the_gallery(built) -> None:
    heading = re.compile(r"^\s*(\d+\.\s+\S.*|Proved for .*|Claim\..*)$")
    for n, page in enumerate(_pages(built["pdf"]), 1):
        body = [line for line in page.splitlines() if line.strip() and "Generated and machine-checked" not in line]
        assert body and not heading.match(body[-1]), f"page {n} ends with {body[-1]!r}"


@pytest.mark.full
def test_k3_sheets_share_one_answer_line_per_task(built) -> None:
    def answer_lines(report) -> list[str]:
        tex = report.tex.read_text("utf-8").splitlines()  # a task's line, then its blanks
        return [re.sub(r"\\vspace\{[^}]*\}", "", line) + tex[i + 1] for i, line in enumerate(tex)
                if line.startswith(r"\par\vspace{0.6em}\noindent(")]

    student, teacher = built["sheets"]["exercises-separate"], built["sheets"]["exercises-inline"]
    lines = answer_lines(student)
    assert lines and lines == answer_lines(teacher)          # one layout on both sheets
    posterior = [line for line in lines if r"$p(z \mid x)$" in line]
    assert posterior and all(line.count(r"\rule{") == 3 for line in posterior)   # a blank per state
    evidence = [line for line in lines if re.search(r"\$p\(x\)\$", line)]
    assert evidence and all("nats" in line and r"\phantom" in line for line in evidence)  # no "≈ nats" shown
    text = _text(student.pdf)
    assert text.count("nats") >= 5 * 2                     # the five information quantities of each case
    assert not re.search(r"p\(x\)\s*≈", text)
