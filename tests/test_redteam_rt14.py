"""Red team rt14's findings: what they broke stays fixed."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main
from elbo_sym.publish.outputs import FILES_MANIFEST
from elbo_sym.report.build import check_file

# ------------------------------------------------------------------ 1. --moodle / --anki own their file

POM = b'<?xml version="1.0"?>\n<project><modelVersion>4.0.0</modelVersion></project>\n'
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>\n'


def _zip(path: Path, member: str) -> bytes:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, "the user's own work")
    return path.read_bytes()


@pytest.mark.parametrize("command, name", [(["cards", "--moodle"], "pom.xml"),
                                           (["exercises", "--moodle"], "logo.svg"),
                                           (["flashcards", "--anki"], "thesis.docx"),
                                           (["flashcards", "--anki"], "mydeck.apkg")])
def test_a_quiz_or_deck_never_replaces_the_users_xml_or_zip(tmp_path, monkeypatch, capsys, command, name):
    """rt14: any file beginning ``<?xml`` or as a zip was replaced (a Maven pom, an SVG, a .docx, the
    user's own Anki deck); now only a file the folder's manifest lists as written by elbo-sym is."""
    monkeypatch.chdir(tmp_path)
    target = tmp_path / name
    if name.endswith((".xml", ".svg")):
        target.write_bytes(POM if name == "pom.xml" else SVG)
        before = target.read_bytes()
    else:
        before = _zip(target, "word/document.xml" if name.endswith(".docx") else "collection.anki2")
    assert main([*command, name]) == 2
    err = capsys.readouterr().err
    assert f"{name}: elbo-sym did not write it" in err and err.count("\n") == 1
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing written, no manifest either


def test_a_rerun_replaces_its_own_file_and_an_edited_one_is_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("empty.xml").touch()  # an empty file may be replaced
    for _ in range(2):
        assert main(["exercises", "--moodle", "quiz.xml", "--count", "1"]) == 0
        assert main(["exercises", "--moodle", "empty.xml", "--count", "2", "--seed", "3"]) == 0
        assert main(["flashcards", "--anki", "deck.apkg"]) == 0
    assert Path("quiz.xml").read_bytes().startswith(b"<?xml") and zipfile.is_zipfile("deck.apkg")
    assert Path("empty.xml").read_bytes().startswith(b"<?xml")
    assert FILES_MANIFEST in {p.name for p in tmp_path.iterdir()}
    capsys.readouterr()
    edited = Path("quiz.xml").read_bytes().replace(b"</quiz>", b"<!-- my note --></quiz>")
    Path("quiz.xml").write_bytes(edited)
    assert main(["exercises", "--moodle", "quiz.xml", "--count", "1"]) == 2
    assert "quiz.xml: changed since elbo-sym wrote it" in capsys.readouterr().err
    assert Path("quiz.xml").read_bytes() == edited
    assert main(["exercises", "--moodle", "empty.xml", "--count", "2", "--seed", "3"]) == 0  # the other is still ours


def test_a_quiz_never_replaces_a_file_another_command_lists(tmp_path, monkeypatch, capsys):
    """A page `web` wrote (its manifest lists it) is not the quiz's to replace, nor the quiz `web`'s."""
    monkeypatch.chdir(tmp_path)
    Path("page.md").write_text("# a page\n", encoding="utf-8")
    Path(".elbo-sym-pages.json").write_text('{"files": ["page.md"]}\n', encoding="utf-8")
    assert main(["exercises", "--moodle", "page.md", "--count", "1"]) == 2
    assert "written by another command" in capsys.readouterr().err
    assert Path("page.md").read_text(encoding="utf-8") == "# a page\n"


# ------------------------------------------------------------------ 2. an exact decision names the span it used

OPEN = """title = "open"
model = "gaussian"
start = "(1 - beta) * n"
{assume}
[params]
n = "integer >= 1"
beta = "{beta}"
[[step]]
rel = ">"
expr = "0"
rule = "algebra"
accept = "checked"
"""


@pytest.mark.parametrize("beta, assume, said", [
    ("in (0, 1)", "", "every beta in (0, 1) (the exact rule"),
    ("in (0, 1]", 'assume = ["beta < 1"]', "every beta in (0, 1) (as the premises narrow it) (the exact rule"),
    ("in (0, 1)", 'assume = ["beta < 1/2"]', "every beta in (0, 1/2) (as the premises narrow it) (the exact rule"),
    ("< 1", "", "every beta < 1 (the exact rule")])
def test_an_exact_decision_says_which_values_of_the_parameter_it_covered(tmp_path, beta, assume, said):
    """rt14: "... for every whole number n >= 1 and every value of beta" -- false at beta = 2; the
    decision covered beta's interval (as the premises narrow it), and the reason says so."""
    path = tmp_path / "open.toml"
    path.write_text(OPEN.format(beta=beta, assume=assume), encoding="utf-8")
    step = check_file(path).steps[0]
    assert step.verdict == "proved", step.reason  # the exact rule (session 13; checked before)
    assert f"> 0 for every whole number n >= 1 and {said}" in step.reason
    assert "every value of beta" not in step.reason


# -------------------------------------------------------- 3. an outcome is shown in the backend it was judged in

ONE_STEP = 'title = "t"\nK = 2\nstart = "log(p(x))"\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n'


def _held_outcome():
    from elbo_sym.engine.derivation import loads
    from elbo_sym.engine.reference import cases, discrete

    d = loads(ONE_STEP)
    model = d.model()
    _, found, _ = cases(model.spec, model.K)
    outcome = discrete.judge(d.start.expr, "=", d.steps[0].expr, found[:1]).outcomes[0]
    assert outcome.holds and not isinstance(outcome.shown[0], str)  # still a value: shown lazily
    return outcome


@pytest.mark.parametrize("judged_in, described_in", [("mpmath", "arb"), ("arb", "mpmath")])
def test_an_outcome_judged_under_one_backend_is_described_under_another(judged_in, described_in):
    """rt14: judged inside ``use_backend("mpmath")``, described after the block: AttributeError (an
    mpmath interval handed to arb).  Either way round, the text is the one the judging backend shows."""
    from elbo_sym.engine.reference import intervals, use_backend

    if not {judged_in, described_in} <= set(intervals.available()):
        pytest.fail(f"both backends are needed here; available: {sorted(intervals.available())}")
    with use_backend(judged_in):
        outcome = _held_outcome()
        inside = _held_outcome().describe()
    with use_backend(described_in):
        outside = outcome.describe()
    assert outside == inside
    assert "lhs = -1.20397280432593599262274" in outside and outside.endswith(": holds")


# ------------------------------------------------------------------ 4. an approximation in a handout is typeset


@pytest.mark.parametrize("text, latex", [("6.22702e+09", r"6.22702 \times 10^{9}"),
                                         ("-1.5e-07", r"-1.5 \times 10^{-7}"), ("1e+100", r"1 \times 10^{100}"),
                                         ("-0.798508", "-0.798508"), ("inf", r"\infty"), ("-inf", r"-\infty")])
def test_an_approximation_in_math_mode_has_no_e_notation(text, latex):
    from elbo_sym.report.build import approx_latex

    assert approx_latex(text) == latex


BIG_SLIP = """title = "A slip by a large constant"
summary = "A step adds a large number."
K = 2
expect_refuted = [1]
start = "log(p(x))"

[[step]]
rel = "="
expr = "log(p(x)) + 1000000 * 6227"
rule = "algebra"
why = "the slip"
"""


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_a_large_approximation_reads_as_a_power_of_ten_in_the_pdf(tmp_path):
    """rt14: find-the-mistake.pdf read "6227020800 ≈ 6.22702e + 09" (the text ``6.22702e+09`` set in math)."""
    from elbo_sym.publish.handouts import mistakes_handout, write_handouts

    path = tmp_path / "big.toml"
    path.write_text(BIG_SLIP, encoding="utf-8")
    report = check_file(path)
    assert report.steps[0].counterexample.rhs_value == "6.227e+09"  # the text report keeps its form
    (built,) = write_handouts([mistakes_handout([report])], tmp_path / "out")
    assert built.ok, built.message + built.log_excerpt
    tex = (tmp_path / "out" / "find-the-mistake.tex").read_text(encoding="utf-8")
    assert r"6227000000 \approx 6.227 \times 10^{9}$" in tex and "e+09" not in tex
    text = " ".join(subprocess.run(["pdftotext", str(built.pdf), "-"], capture_output=True, text=True, check=True,
                                   timeout=CHILD_TIMEOUT_SECONDS).stdout.split())
    assert "6227000000 ≈ 6.227 × 10" in text and "e + 09" not in text and "e+09" not in text


@pytest.mark.full
def test_a_large_approximation_reads_as_a_power_of_ten_on_the_site(tmp_path):
    """The site's find-the-mistake page sets both sides as the PDF does: ``6.227 \\times 10^{9}``
    inside the formula, rendered by KaTeX (rehype-katex, web/render_page.mjs), never the text
    ``6.227e+09`` (it was Markdown text beside the formula)."""
    from test_web import _missing_or_fail, _node_missing

    from elbo_sym.publish import web

    _missing_or_fail(_node_missing())
    path = tmp_path / "big.toml"
    path.write_text(BIG_SLIP, encoding="utf-8")
    page = web.mistakes_page([check_file(path)])
    assert page is not None
    assert r"6227000000 \approx 6.227 \times 10^{9}$" in page.body and "e+09" not in page.body
    web.write_pages([page], tmp_path / "site")
    html = tmp_path / "page.html"
    run = subprocess.run(["node", str(Path(__file__).resolve().parents[1] / "web" / "render_page.mjs"),
                          str(tmp_path / "site" / page.path), str(html)], capture_output=True, text=True,
                         timeout=CHILD_TIMEOUT_SECONDS)
    assert run.returncode == 0, run.stderr
    rendered = html.read_text(encoding="utf-8")
    assert not re.search(r'class="[^"]*\bkatex-error\b', rendered) and "e+09" not in rendered
    # KaTeX keeps each formula's source as its annotation and typesets the power as a superscript
    assert re.search(r'<annotation encoding="application/x-tex">[^<]* \+ 6227000000 \\approx 6\.227 \\times 10\^\{9\}'
                     r'</annotation>', rendered)
    assert re.search(r'<span class="mord">1</span><span class="mord"><span class="mord">0</span><span class="msupsub">',
                     rendered)
