"""The printable handouts: contexts from checked objects, the build pipeline, the PDFs.

Every real handout is built once per session (into a temp dir) and read back with
pdftotext; the expected numbers are recomputed here independently (math.log on
Fractions), not taken from the code under test.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from latex_tools import require_latex

from elbo_sym.cli import main
from elbo_sym.engine.check import check_derivation  # noqa: F401
from elbo_sym.engine.derivation import discover, load, loads
from elbo_sym.engine.notation import to_latex
from elbo_sym.limits import MAX_TITLE_CHARS
from elbo_sym.publish import handouts, render
from elbo_sym.publish.handouts import (
    DEFAULT_SEED,
    LESSON_EXAMPLE,
    Handout,
    HandoutError,
    derivations_handout,
    elbo_curve,
    exact_form,
    lesson_handouts,
    require_checked,
    write_handouts,
)
from elbo_sym.publish.render import LatexMarkup
from elbo_sym.report.build import check_file

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "derivations"
HANDOUTS = ("derivations", "worked-example", "exercises", "answers", "tight-drill", "selfcheck", "flashcards")
SPECIALS = "\\{}$&#^_%~<>|[]"


# ----------------------------------------------------------------- helpers


def pdf_text(pdf: Path, *args: str) -> str:
    out = subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True, check=True,
                         timeout=CHILD_TIMEOUT_SECONDS).stdout
    return out.replace("\u2212", "-").replace("\u2019", "'")  # math minus, curly quote -> ASCII


def squash(text: str) -> str:
    return "".join(text.split())


def loose(text: str) -> str:
    """``squash`` without brackets, bars and the control characters pdftotext leaves for them."""
    return re.sub(r"[()|\u2225\x01]", "", squash(text))


def nats(value: float, digits: int = 6) -> str:
    return f"{value:.{digits}f}"


def lesson_results():
    return [check_file(load(f)) for f in discover([DERIVATIONS])]


@pytest.fixture(scope="session")
def results(checked_report):
    return [checked_report(f) for f in discover([DERIVATIONS])]


@pytest.fixture(scope="session")
def built(tmp_path_factory, results):
    """Every lesson handout, built once: {name: BuildReport}."""
    require_latex()
    out = tmp_path_factory.mktemp("handouts")
    reports = write_handouts(lesson_handouts(results), out)
    return {r.name: r for r in reports}


def text_of(built, name: str, *args: str) -> str:
    report = built[name]
    assert report.ok, f"{name}: {report.message}\n{report.log_excerpt}"
    return pdf_text(report.pdf, *args)


# ----------------------------------------------------------------- contexts (no TeX)


def test_every_formula_comes_from_the_printer(results) -> None:
    src = derivations_handout(results).render()
    for result in results:
        d = load(result.file)
        assert to_latex(d.start.expr) in src
        for step in d.steps:
            assert to_latex(step.expr) in src
        assert render.typeset_prose(d.title) in src  # prose set like a textbook, as text (never math)


def test_contexts_mark_only_printer_output_as_latex(results) -> None:
    ctx = handouts.derivation_context(results[0])
    assert all(isinstance(s["expr"], LatexMarkup) and isinstance(s["rel"], LatexMarkup) for s in ctx["steps"])
    # prose is escaped text set like a textbook (formulas only from $...$ spans through the
    # printer): render.typeset_prose, tests/test_typography.py
    for shown, step in zip(ctx["steps"], results[0].steps, strict=True):
        if "$" not in step.why:
            assert shown["why"] == render.typeset_prose(step.why)
        else:  # jensen.toml, step 2: "multiply and divide by $q(z)$, which is positive"
            formulas = [part.latex for part in step.why_parts if part.kind == "math"]
            assert formulas and shown["why"] == handouts.prose(step.why_parts, step.why)
            assert all(rf"\({latex}\)" in shown["why"] for latex in formulas)
    assert ctx["title"] == render.typeset_prose(results[0].title)


@pytest.mark.full
def test_unchecked_derivation_is_refused_naming_file_step_and_verdict() -> None:
    text = (DERIVATIONS / "jensen.toml").read_text().replace(
        'expr = "Sum(q(z) * log(p(x, z) / q(z)), z)"', 'expr = "Sum(q(z) * log(p(x, z)), z)"')
    result = check_file(loads(text, "bad/jensen.toml"))
    with pytest.raises(HandoutError, match=r"bad/jensen\.toml:\d+: step \d is refuted"):
        require_checked([result])
    with pytest.raises(HandoutError):
        derivations_handout([result])


def test_exact_form_is_compact_and_exact() -> None:
    from elbo_sym.numbers.exact import from_sympy, log_of

    value = log_of(Fraction(3, 10))
    assert to_latex(exact_form(value)) == r"\log \frac{3}{10}"
    third = log_of(Fraction(729, 32000)) * Fraction(1, 3)
    assert to_latex(exact_form(third)) == r"\frac{1}{3} \log \frac{729}{32000}"
    assert from_sympy(exact_form(third)) == third


def test_figure_samples_are_exact_and_touch_at_the_posterior() -> None:
    fig = elbo_curve(LESSON_EXAMPLE)
    points = [tuple(map(float, p.strip("()").split(","))) for p in fig["coordinates"].split()]
    assert len(points) == fig["points"] >= 101
    log_px = math.log(0.3)
    for q1, y in points:  # ELBO(q) = sum_z q log(p(x,z)/q), with 0 log 0 = 0
        expected = sum(w * math.log(j / w) for w, j in ((1 - q1, 0.15), (q1, 0.15)) if w > 0)
        assert y == pytest.approx(expected, abs=1e-6)
        assert y <= log_px + 1e-9
    assert (0.5, round(log_px, 6)) in points  # touches exactly at the posterior q = (1/2, 1/2)
    assert float(fig["gap"]) == pytest.approx(math.log(0.3) - (1 / 3 * math.log(9 / 20) + 2 / 3 * math.log(9 / 40)),
                                              abs=1e-4)


@pytest.mark.full
def test_build_without_latex_writes_tex_and_explains(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(render, "latex_available", lambda: False)
    monkeypatch.delenv("ELBO_SYM_REQUIRE_LATEX", raising=False)
    assert main(["build", str(DERIVATIONS), "--out", str(tmp_path), "--only", "derivations"]) == 0
    captured = capsys.readouterr()
    assert (tmp_path / "derivations.tex").is_file() and not (tmp_path / "derivations.pdf").exists()
    assert "apt-get install" in captured.err and "latexmk" in captured.err
    monkeypatch.setenv("ELBO_SYM_REQUIRE_LATEX", "1")
    assert main(["build", str(DERIVATIONS), "--out", str(tmp_path), "--only", "derivations"]) == 1


def test_cli_refuses_an_unchecked_derivation(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "in" / "jensen.toml"
    bad.parent.mkdir()
    bad.write_text((DERIVATIONS / "jensen.toml").read_text().replace('rel = ">="', 'rel = "<="'))
    out = tmp_path / "out"
    assert main(["build", str(bad.parent), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "step 3 is refuted" in err
    assert not out.exists()  # nothing built, nothing written


def test_cli_lists_the_handouts(capsys) -> None:
    assert main(["handouts"]) == 0
    listed = capsys.readouterr().out
    assert all(f"{name}.pdf" in listed for name in HANDOUTS)


def test_template_error_names_template_and_keeps_previous_pdf(tmp_path: Path) -> None:
    (tmp_path / "derivations.pdf").write_bytes(b"%PDF previous")
    broken = Handout("derivations", "derivations.tex.j2", {})  # missing context: a template error
    with pytest.raises(HandoutError, match=r"derivations\.pdf: derivations\.tex\.j2:\d+: UndefinedError"):
        write_handouts([broken], tmp_path)
    assert (tmp_path / "derivations.pdf").read_bytes() == b"%PDF previous"


# ----------------------------------------------------------------- the real PDFs


@pytest.mark.usefixtures("requires_latex")
def test_every_handout_builds_without_overfull_boxes(built) -> None:
    assert sorted(built) == sorted(HANDOUTS)
    for name, report in built.items():
        assert report.ok, f"{name}: {report.message}\n{report.log_excerpt}"
        assert report.pdf.is_file() and report.pdf.read_bytes().startswith(b"%PDF")
        assert report.overfull == 0, f"{name}: {report.overfull} overfull boxes"


@pytest.mark.usefixtures("requires_latex")
def test_derivations_pdf(built, results) -> None:
    text = text_of(built, "derivations")
    flat = squash(text)
    for result in results:
        for parts in (result.title_parts, result.summary_parts, *(step.why_parts for step in result.steps)):
            # the text as written (bars as math, brackets dropped by pdftotext); $...$ formulas typeset
            texts = [loose(part.text) for part in parts if part.kind == "text" and part.text.strip()]
            assert texts and all(text in loose(flat) for text in texts), texts
    assert "Claim." in text and "which is the claim" in text
    assert flat.count("Claim.") == len(results)
    assert "logp(x)≥L(q)" in flat  # the Jensen claim, typeset
    assert nats(math.log(0.3), handouts.DECIMALS) in text  # example value: log p(x) = log(3/10)


def test_a_table_cells_later_terms_start_with_an_empty_atom() -> None:
    """Each term of a cell is its own math box: a later one's sign must be binary ({}-), not unary."""
    cell = handouts.fitted_terms(r"\log p(x) - \mathcal{L}(q) + a")
    assert cell == r"\fitcell{\log p(x)}\allowbreak\fitcell{{}- \mathcal{L}(q)}\allowbreak\fitcell{{}+ a}"
    assert handouts.fitted_terms(r"- a") == r"\fitcell{- a}"      # a leading minus is a sign


def sign_spacing(pdf: Path) -> tuple[list[tuple[str, float, float]], list[str]]:
    """The signs between terms on the PDF's lines, read back with pdftotext -bbox: (sign, gap before,
    gap after) for each lone + or -, and each sign set flush against the term after it right behind
    another term (a unary minus where a difference was meant: "log p(x)  -L(q)", red team rt35)."""
    xml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True,
                         timeout=CHILD_TIMEOUT_SECONDS).stdout
    words = [(float(x0), float(x1), float(y1), text) for x0, x1, y1, text in
             re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', xml)]
    lone, glued = [], []
    for (_, px1, py, prev), (x0, x1, y, w), (nx0, _, ny, _) in zip(words, words[1:], words[2:] + [(0, 0, -1, "")]):
        if abs(py - y) > 0.5 or x0 - px1 > 6:       # the first word of a line or of a table cell
            continue
        if w in ("\u2212", "+") and abs(ny - y) <= 0.5:
            lone.append((w, x0 - px1, nx0 - x1))
        elif re.match(r"[\u2212+][^\d\s]", w) and re.search(r"[\w)\]]$", prev):
            glued.append(f"{prev} {w}")
    return lone, glued


@pytest.mark.usefixtures("requires_latex")
def test_a_difference_in_an_example_table_is_spaced_as_one(built) -> None:
    lone, glued = sign_spacing(built["derivations"].pdf)
    assert not glued, glued
    assert len(lone) >= 2 and all(abs(before - after) < 0.5 for _, before, after in lone), lone


@pytest.mark.usefixtures("requires_latex")
def test_worked_example_pdf_numbers(built) -> None:
    text = text_of(built, "worked-example")
    q0, q1 = 1 / 3, 2 / 3
    log_px = math.log(3 / 10)
    elbo = q0 * math.log((3 / 20) / q0) + q1 * math.log((3 / 20) / q1)
    recon = q0 * math.log(1 / 5) + q1 * math.log(3 / 5)
    kl_prior = q0 * math.log(q0 / (3 / 4)) + q1 * math.log(q1 / (1 / 4))
    kl_post = q0 * math.log(q0 / 0.5) + q1 * math.log(q1 / 0.5)
    for value in (log_px, elbo, recon, kl_prior, kl_post, log_px - elbo):
        assert nats(value) in text, nats(value)
        assert nats(value / math.log(2)) in text, nats(value / math.log(2))
    assert "= 0.3" in text and "0.300000" not in text  # p(x) = 3/10, a probability: no nats
    assert "A worked binary example" in text and "The bound as a function of" in text
    assert "tight" in text  # the posterior point is marked on the figure


@pytest.mark.usefixtures("requires_latex")
def test_exercises_and_answers_match_by_seed(built) -> None:
    from elbo_sym.lesson.exercises import generate_exercises

    sheet_text, key_text = text_of(built, "exercises"), text_of(built, "answers")
    assert f"seed {DEFAULT_SEED}" in sheet_text.lower() and f"seed {DEFAULT_SEED}" in key_text.lower()
    sheet = generate_exercises(DEFAULT_SEED, handouts.DEFAULT_COUNT)
    for e in sheet:
        assert f"Case {e.index}" in sheet_text and f"Case {e.index}" in key_text
        joint = [a * b for a, b in zip(e.prior, e.likelihood)]
        evidence = sum(joint)
        posterior = [j / evidence for j in joint]
        elbo = sum(float(w) * math.log(j / w) for w, j in zip(e.q, joint))
        kl = sum(float(w) * math.log(w / p) for w, p in zip(e.q, posterior))
        for value in (float(evidence), math.log(evidence) - elbo, kl, elbo):
            assert nats(value) in key_text, (e.index, value)
        assert e.key.gap.nats in key_text  # and the generator's own key agrees
        assert nats(kl) not in sheet_text  # the sheet itself has no answers


@pytest.mark.usefixtures("requires_latex")
def test_tight_drill_pdf(built) -> None:
    from elbo_sym.lesson.exercises import tight_drill

    text = text_of(built, "tight-drill")
    assert "Tight-case drill" in text and f"seed {DEFAULT_SEED}" in text
    drill = tight_drill(DEFAULT_SEED, handouts.DRILL_COUNT)
    for case in drill.cases:
        assert f"Case {case.index}" in text
        joint = [a * b for a, b in zip(case.prior, case.likelihood)]
        assert nats(math.log(sum(joint))) in text
    assert "near miss" in text and "Answers" in text


@pytest.mark.usefixtures("requires_latex")
def test_selfcheck_answers_are_on_a_separate_page(built) -> None:
    from elbo_sym.lesson.practice import load_selfcheck

    report = built["selfcheck"]
    first, rest = text_of(built, "selfcheck", "-l", "1"), text_of(built, "selfcheck", "-f", "2")
    deck = load_selfcheck()
    assert len(deck.cards) == 6
    for card in deck.cards:
        assert squash(card.front) in squash(first)
        assert squash(card.back) in squash(rest)
        assert squash(card.back)[:40] not in squash(first)
    assert report.pdf.is_file()


@pytest.mark.usefixtures("requires_latex")
def test_flashcards_fronts_then_mirrored_backs(built) -> None:
    from elbo_sym.lesson.practice import load_flashcards

    deck = load_flashcards()
    pdf = built["flashcards"].pdf
    pages = int(next(line.split()[-1] for line in subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True,
        timeout=CHILD_TIMEOUT_SECONDS).stdout.splitlines() if line.startswith("Pages")))
    assert pages == 2 * math.ceil(len(deck.cards) / 8)
    front = pdf_text(pdf, "-layout", "-f", "1", "-l", "1")
    back = pdf_text(pdf, "-layout", "-f", "2", "-l", "2")
    first_front_row = next(line for line in front.splitlines() if "front 1" in line)
    first_back_row = next(line for line in back.splitlines() if "back 1" in line)
    assert first_front_row.index("front 1") < first_front_row.index("front 2")  # 1 on the left
    assert first_back_row.index("back 2") < first_back_row.index("back 1")  # mirrored
    front, back = pdf_text(pdf, "-f", "1", "-l", "1"), pdf_text(pdf, "-f", "2", "-l", "2")
    for card in deck.cards[:8]:
        assert squash(card.front) in squash(front) and squash(card.back) in squash(back)


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_hostile_title_and_why_print_literally(tmp_path: Path, short_tmp: Path) -> None:
    pwned = short_tmp / "pwned"  # a short path: the words of `why` may hold 80 characters
    hostile = (f"\\input{{/etc/passwd}} \\write18{{touch {pwned}}} \\immediate\\write18{{touch {pwned}2}} "
               f"specials: {' '.join(SPECIALS)}")

    def toml_str(s: str) -> str:  # a dollar sign is written \$ in prose ($...$ is a formula)
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\\\$") + '"'

    # a title may hold 200 characters (elbo_sym.limits): the second \write18 goes in `why` only
    title = "T " + hostile.replace(f" \\immediate\\write18{{touch {pwned}2}}", "")
    assert len(title) <= MAX_TITLE_CHARS and "write18" in title
    text = (DERIVATIONS / "jensen.toml").read_text()
    text = text.replace('title = "The ELBO in two lines"', f"title = {toml_str(title)}")
    text = text.replace('why = "this is the evidence lower bound"', f"why = {toml_str('W ' + hostile)}")
    result = check_file(loads(text, "hostile.toml"))
    assert result.ok and result.title == title.replace("$", "\\$")  # the source, as written
    (report,) = write_handouts([derivations_handout([result])], tmp_path / "out")
    assert report.ok, report.message + "\n" + report.log_excerpt
    printed = squash(pdf_text(report.pdf)).replace("-", "")  # pdftotext drops hyphens at line breaks
    for text in (title, "W " + hostile):
        assert squash(text).replace("-", "") in printed
    assert "root:x:" not in printed
    assert not pwned.exists() and not Path(f"{pwned}2").exists()


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_latex_error_keeps_previous_pdf_byte_identical(tmp_path: Path, built, monkeypatch, capsys) -> None:
    good = built["derivations"]  # the previous, good build
    assert good.ok
    shutil.copy(good.pdf, tmp_path / "derivations.pdf")
    shutil.copy(good.tex, tmp_path / "derivations.tex")
    from elbo_sym.publish.outputs import write_manifest  # as that build listed them (rt12: else not ours)

    write_manifest(tmp_path, handouts.HANDOUTS_MANIFEST, ["derivations.pdf", "derivations.tex"])
    before_pdf, before_tex = good.pdf.read_bytes(), good.tex.read_bytes()

    real_context = handouts.derivation_context

    def broken_context(result):  # as if the printer emitted bad LaTeX
        ctx = real_context(result)
        ctx["steps"][0]["expr"] = LatexMarkup(r"\notaknownmacro{x}")
        return ctx

    monkeypatch.setattr(handouts, "derivation_context", broken_context)
    assert main(["build", str(DERIVATIONS), "--out", str(tmp_path), "--only", "derivations"]) == 1
    err = capsys.readouterr().err
    assert "FAILED derivations.pdf: LaTeX build failed" in err and "Undefined control sequence" in err
    assert "notaknownmacro" in err  # the relevant log / source lines are shown
    assert "previous PDFs were left untouched" in err
    assert (tmp_path / "derivations.pdf").read_bytes() == before_pdf
    assert (tmp_path / "derivations.tex").read_bytes() == before_tex
    assert sorted(p.name for p in tmp_path.iterdir()) == [handouts.HANDOUTS_MANIFEST, "derivations.pdf",
                                                          "derivations.tex"]


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_cli_build_reports_where_the_pdfs_are(tmp_path: Path, capsys) -> None:
    assert main(["build", str(DERIVATIONS), "--out", str(tmp_path), "--only", "selfcheck"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'selfcheck.pdf'}" in out
    assert (tmp_path / "selfcheck.pdf").read_bytes().startswith(b"%PDF")


WIDE = '''title = "A wide chain"
summary = "Expressions too wide for notes beside them."
claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"
start = "log(p(x)) - ELBO(q)"

[[step]]
rel = "="
expr = "Sum(q(z) * log(p(x)), z) - Sum(q(z) * log(p(x | z)), z) - Sum(q(z) * log(p(z)), z) + Sum(q(z) * log(q(z)), z)"
rule = "linearity"
why = "q sums to one; unfold the ELBO and split every logarithm of a product into a sum of logarithms"

[[step]]
rel = "="
expr = "KL(q(z), p(z | x))"
rule = "definition"
why = "collect the terms: the KL divergence from q to the posterior"
'''


def test_printer_flattens_nested_sums_and_keeps_needed_brackets() -> None:
    from elbo_sym.engine.parse import parse_expression

    wide = to_latex(parse_expression("Sum(q(z) * log(p(x)), z) - Sum(q(z) * log(p(z)), z) + ELBO(q)"))
    assert r"\left(" not in wide
    assert r"- \left(" in to_latex(parse_expression("log(p(x)) - (ELBO(q) + KL(q(z), p(z)))"))
    assert to_latex(parse_expression("1/3 * log(1/5)")) == r"\frac{1}{3} \log \frac{1}{5}"
    assert to_latex(parse_expression("Sum(q(z) * p(x, z) / q(z), z)")) == r"\sum_{z} q(z) \frac{p(x, z)}{q(z)}"


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_wide_chain_puts_the_reasons_under_the_lines(tmp_path: Path) -> None:
    result = check_file(loads(WIDE, "wide.toml"))
    assert result.ok
    (report,) = write_handouts([derivations_handout([result])], tmp_path)
    assert report.ok and report.overfull == 0, report.message
    printed = squash(pdf_text(report.pdf))
    assert squash(result.steps[0].why) in printed


# ----------------------------------------------------------------- a card's conditions


def _condition_after_formula(page: str, formula: str, condition: str) -> bool:
    """pdftotext of a card: the typeset formula, then "if" and its condition (a ≠ comes out as
    U+0338 and =, or as ≠)."""
    flat = loose(page).replace("\u0338=", "≠")
    return loose(formula) + "if" + loose(condition) in flat


def _back_page(index: int) -> int:
    """The page holding the back of card `index` (sheets of CARDS_PER_SHEET: fronts, then backs)."""
    return 2 * ((index - 1) // handouts.CARDS_PER_SHEET) + 2


@pytest.mark.usefixtures("requires_latex")
def test_a_cards_premise_is_printed_beside_its_formula_on_the_flashcards(built) -> None:
    from elbo_sym.lesson.practice import load_flashcards

    deck = load_flashcards()
    (card,) = [c for c in deck.cards if any(r.rel != "=" for r in c.conditions)]
    page = text_of(built, "flashcards", "-f", str(_back_page(card.index)), "-l", str(_back_page(card.index)))
    assert f"back {card.index}" in page
    assert _condition_after_formula(page, "log p(x) > L(q)", "q(z) ≠ p(z | x)"), page
    tight = next(c for c in deck.cards if c.conditions_text == ("q(z) = p(z | x)",))
    page = text_of(built, "flashcards", "-f", str(_back_page(tight.index)), "-l", str(_back_page(tight.index)))
    assert _condition_after_formula(page, "L(q) = log p(x)", "q(z) = p(z | x)"), page
    assert "ifq(z)" not in loose(text_of(built, "flashcards", "-f", "2", "-l", "2"))  # cards 1-8: none


@pytest.mark.usefixtures("requires_latex")
def test_the_selfchecks_condition_is_printed_beside_its_formula(built) -> None:
    answers = text_of(built, "selfcheck", "-f", "2")
    assert _condition_after_formula(answers, "L(q) = log p(x)", "q(z) = p(z | x)"), answers


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_a_selfcheck_question_under_a_premise_prints_it(tmp_path: Path) -> None:
    deck = tmp_path / "quiz.toml"
    deck.write_text('title = "Premises"\nassume = "q(z) != p(z | x)"\n\n[[question]]\nquestion = "Strict?"\n'
                    'answer = "Yes, q is not the posterior."\nformula = "log(p(x)) > ELBO(q)"\n\n'
                    '[[question]]\nquestion = "And the gap?"\nanswer = "A KL divergence."\n'
                    'formula = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"\n', encoding="utf-8")
    (report,) = write_handouts(handouts.selfcheck_handouts(selfcheck=deck), tmp_path / "out")
    assert report.ok, report.message + "\n" + report.log_excerpt
    answers = pdf_text(report.pdf, "-f", "2")
    assert _condition_after_formula(answers, "log p(x) > L(q)", "q(z) ≠ p(z | x)"), answers
    # the deck's premise holds for every card, so the second prints it too
    assert _condition_after_formula(answers, "log p(x) - L(q) = KL q(z) ∥ p(z | x)", "q(z) ≠ p(z | x)"), answers


def test_a_build_inside_another_commands_folder_is_refused_before_any_tex(tmp_path: Path, monkeypatch) -> None:
    """A handouts folder inside a folder whose manifest lists one of its files (here a site that wrote
    ``public/exercises.pdf``): refused before any handout is rendered or typeset, nothing written."""
    from elbo_sym.publish.handouts import exercise_handouts, write_handout_set
    from elbo_sym.publish.outputs import OwnedElsewhereError

    site = tmp_path / "site"
    (site / "public").mkdir(parents=True)
    (site / "public" / "exercises.pdf").write_bytes(b"the site's copy")
    (site / ".elbo-sym-site.json").write_text(json.dumps({"files": ["public/exercises.pdf"]}), encoding="utf-8")
    monkeypatch.setattr(handouts, "build_pdf", lambda *a, **k: pytest.fail("LaTeX ran before the refusal"))
    with pytest.raises(OwnedElsewhereError, match=r"public/exercises.pdf: written by another command"):
        write_handout_set(exercise_handouts(seed=7, count=1), site / "public", latex=True)
    assert sorted(p.name for p in (site / "public").iterdir()) == ["exercises.pdf"]
    assert (site / "public" / "exercises.pdf").read_bytes() == b"the site's copy"


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_a_set_is_replaced_whole_and_stale_handouts_are_removed(tmp_path: Path, monkeypatch, built) -> None:
    """A sheet and its answers are replaced together or not at all (here the new answers fail, so the
    new sheet is not moved in either); a handout the set no longer has (answers.pdf once the
    solutions are `none`) is removed, one it has but did not build now (`--only`) stays, and so
    does a file no build wrote."""
    from elbo_sym.publish.handouts import HANDOUTS_MANIFEST, exercise_handouts, write_handout_set

    out = tmp_path / "h"
    # the lesson's own sheet and key, the texts `built` has built: replayed (conftest.LATEX_REPLAY)
    first = write_handout_set(exercise_handouts(), out, owned=["exercises", "answers"])
    assert all(r.ok for r in first.reports) and first.removed == ()
    (out / "notes.txt").write_text("the teacher's own file")

    def seeds() -> set[str]:
        return {m for name in ("exercises", "answers") for m in re.findall(r"seed \d+", pdf_text(out / f"{name}.pdf"))}

    lesson = f"seed {DEFAULT_SEED}"
    assert seeds() == {lesson}
    real_build = handouts.build_pdf

    def key_fails(source: str, pdf: Path, **options):  # as if the new answers ran out of time
        if pdf.stem == "answers":
            return render.BuildResult(False, None, "", "LaTeX build timed out after 2 s")
        return real_build(source, pdf, **options)

    monkeypatch.setattr(handouts, "build_pdf", key_fails)
    failed = write_handout_set(exercise_handouts(seed=8, count=1), out, owned=["exercises", "answers"])
    assert [r.ok for r in failed.reports] == [True, False]  # the sheet was built, and not moved in
    assert seeds() == {lesson}
    monkeypatch.setattr(handouts, "build_pdf", real_build)

    # (the sheet of seed 8 was built just now: its text is replayed, not built again)
    only_sheet = write_handout_set(exercise_handouts(seed=8, count=1)[:1], out, owned=["exercises", "answers"])
    assert only_sheet.removed == () and (out / "answers.pdf").is_file()  # `build --only exercises` keeps the key
    assert seeds() == {"seed 8", lesson}  # the new sheet, the key it kept

    students = write_handout_set(exercise_handouts(seed=7, count=1, solutions="none"), out, owned=["exercises"])
    assert students.removed == (out / "answers.pdf", out / "answers.tex")
    assert sorted(p.name for p in out.iterdir()) == [HANDOUTS_MANIFEST, "exercises.pdf", "exercises.tex", "notes.txt"]
    assert "Answers" not in pdf_text(out / "exercises.pdf")


def test_a_failed_set_leaves_no_folder_behind(tmp_path: Path, monkeypatch) -> None:
    """A build whose handouts all fail creates no output folder (its staging folder is removed with it)."""
    from elbo_sym.publish.handouts import exercise_handouts, write_handout_set

    monkeypatch.setattr(handouts, "build_pdf", lambda source, pdf, **_: render.BuildResult(False, None, "", "failed"))
    result = write_handout_set(exercise_handouts(count=1), tmp_path / "new" / "h", latex=True)
    assert not any(r.ok for r in result.reports)
    assert [p.name for p in tmp_path.iterdir()] == ["new"] and list((tmp_path / "new").iterdir()) == []
