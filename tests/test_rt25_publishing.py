"""Red team rt25's publishing findings (F2, F3, F5 to F8; F1 and F4 are in test_layout_fit.py,
test_layout.py and test_project.py).

F2: a quantity of a derivation file's example with no exact value here is named by the check and in
the example's tables, with why, instead of vanishing from them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from latex_tools import require_latex

from elbo_sym.publish.handouts import derivations_handout, write_handouts
from elbo_sym.publish.web import derivations_page
from elbo_sym.report.build import check_file
from elbo_sym.report.text import closing_lines

ROOT = Path(__file__).resolve().parent.parent
TOO_LARGE = ROOT / "tests" / "data" / "rt25-too-large-example.toml"


@pytest.fixture(scope="module")
def too_large(tmp_path_factory):
    """jensen.toml with rt25's K = 20 example, whose p(x) has a part too large for exact logs: its report."""
    path = tmp_path_factory.mktemp("f2") / "jex.toml"
    path.write_text((ROOT / "derivations" / "jensen.toml").read_text("utf-8").split("[[example]]")[0]
                    + TOO_LARGE.read_text("utf-8"), "utf-8")
    return check_file(str(path))


def test_a_quantity_without_an_exact_value_is_named_by_the_check(too_large) -> None:
    (example,) = too_large.examples
    assert [u.symbol.text for u in example.unevaluated] == ["log(p(x))"]
    assert [r.symbol.text for r in example.rows] == ["ELBO(q)"]
    line = next(line for line in closing_lines(too_large) if "log(p(x))" in line)
    assert line.startswith(f"{too_large.file}:{example.line}  example 1: log(p(x)) has no exact value here: "
                           "numbers too large for exact arithmetic (a 126-digit part")


def test_the_site_names_the_quantity_without_an_exact_value(too_large) -> None:
    page = derivations_page([too_large])
    assert r"| $\log p(x)$ | no exact value here\: numbers too large for exact arithmetic |" in page.body


@pytest.mark.full
def test_the_derivation_sheet_names_the_quantity_without_an_exact_value(too_large, tmp_path) -> None:
    require_latex()
    (report,) = write_handouts([derivations_handout([too_large])], tmp_path)
    assert report.ok and report.overfull_boxes == (), report.message
    text = " ".join(subprocess.run(["pdftotext", str(report.pdf), "-"], capture_output=True, text=True, check=True,
                                   timeout=CHILD_TIMEOUT_SECONDS).stdout.split())
    assert "log p(x) no exact value here: numbers too large for exact arithmetic" in text


ACCEPTED = '''title = "The ELBO is at most zero"
K = 2
claim = "ELBO(q) <= 0"
start = "ELBO(q)"

[[step]]
rel = "<="
expr = "0"
rule = "algebra"
why = "seen on examples"
accept = "checked"
'''


@pytest.mark.full
def test_the_gallery_prints_only_proved_derivations(tmp_path, capsys) -> None:
    """F6: docs/03 says of beyond-the-lesson.pdf "every step proved, or nothing is built"; a step only
    checked, even accepted, built it under the subtitle "every step machine-checked"."""
    from elbo_sym.cli import main
    from elbo_sym.publish.handouts import HandoutError, gallery_handout

    path = tmp_path / "t.toml"
    path.write_text(ACCEPTED, "utf-8")
    report = check_file(str(path))
    assert report.ok and [s.verdict for s in report.steps] == ["checked"]  # the check passes it: accepted
    with pytest.raises(HandoutError, match=r"t\.toml:8: step 1 is checked \(accepted\), not proved"):
        gallery_handout([report])
    out = tmp_path / "out"
    args = ["build", str(ROOT / "derivations" / "jensen.toml"), "--gallery", str(path), "--only", "beyond-the-lesson",
            "--out", str(out)]
    assert main(args) == 1
    assert "the gallery (beyond-the-lesson.pdf) prints only proved derivations" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.full
@pytest.mark.parametrize(("name", "why"), [
    ("find-the-mistake", "no teaching file (expect = \"refuted\") among the derivations checked"),
    ("beyond-the-lesson", "it is built from the files given with --gallery PATHS"),
    ("from-the-literature", "it is built from the files given with --literature PATHS")])
def test_a_requested_handout_the_build_cannot_make_is_named_with_why(tmp_path, capsys, name, why) -> None:
    """F7: `build --only find-the-mistake` without teaching files printed "0 handout(s)", exit 0."""
    from elbo_sym.cli import main

    args = ["build", str(ROOT / "derivations" / "jensen.toml"), "--only", name, "--out", str(tmp_path / "o")]
    assert main(args) == 2  # nothing requested can be built
    assert f"elbo-sym build: no {name}.pdf: {why}" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["a\n\nb.toml", "jensen\n\\renewcommand{\\geq}{\\leq}%.toml", "tab\t.toml",
                                  "mark\u200e.toml"])
def test_a_file_name_with_a_control_character_is_refused_where_it_is_read(tmp_path, capsys, name) -> None:
    """F3: a newline in a file name left the TeX comment `%@ the chain of FILE` and was typeset (or
    broke the LaTeX build); such a name is refused when the folder is read, shown escaped on one line."""
    from elbo_sym.cli import main

    folder = tmp_path / "d"
    folder.mkdir()
    (folder / name).write_text((ROOT / "derivations" / "jensen.toml").read_text("utf-8"), "utf-8")
    shown = name.replace("\n", "\\u000a").replace("\t", "\\u0009").replace("\u200e", "\\u200e")  # one line
    for args in (["check", str(folder)], ["build", str(folder), "--only", "derivations", "--out", str(tmp_path / "o")],
                 ["web", str(folder), "--out", str(tmp_path / "w")]):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert f"{folder}/{shown}: cannot read file: file name contains a control character (U+" in err
    assert not (tmp_path / "o").exists() and not (tmp_path / "w").exists()


@pytest.mark.full
def test_the_gap_bracket_of_a_wrapped_answer_key_breaks_inside_the_column(tmp_path) -> None:
    """F5: 100 cases at K = 6 and the largest seed: in cases 43, 65 and 87 the gap's working,
    log p(x) - (six terms), was one bracket 1.3 to 4.9pt wider than its column."""
    from elbo_sym.publish.handouts import exercise_handouts

    (answers,) = [h for h in exercise_handouts(seed=2**63 - 1, count=100, K=6) if h.name == "answers"]
    assert r"\bigl(" in answers.render() and r"\left(\frac" not in answers.render().split("(g)")[-1]
    (report,) = write_handouts([answers], tmp_path)
    assert report.ok and report.overfull_boxes == (), [b.describe() for b in report.overfull_boxes]


def test_small_things_rt25_found(tmp_path, capsys, monkeypatch) -> None:
    """F8: a string never closed has a column; an empty --moodle is no folder; a file name prints as
    typed (T1's closing quote for ', a backtick as '); --out x/../../o/y left an empty x/."""
    from elbo_sym.cli import main
    from elbo_sym.publish.handouts import derivation_context
    from elbo_sym.publish.web import _code

    monkeypatch.chdir(tmp_path)
    Path("open.toml").write_text('start = """\n', "utf-8")
    assert main(["check", "open.toml"]) == 2
    assert "open.toml:1:12: malformed TOML: Unterminated string" in capsys.readouterr().err
    assert main(["exercises", "--moodle", ""]) == 2
    assert "--moodle: the file name is empty; give one, e.g. quiz.xml" in capsys.readouterr().err
    name = "e\"q'b`.toml"
    Path(name).write_text((ROOT / "derivations" / "jensen.toml").read_text("utf-8"), "utf-8")
    context = derivation_context(check_file(name))
    assert context["file"] == name and "\\textquotesingle{}" in context["file_tex"] and "'" not in context["file_tex"]
    assert _code(name) == "``e\"q'b`.toml``" and _code("`a") == "`` `a ``"
    args = ["build", str(ROOT / "derivations" / "jensen.toml"), "--only", "worked-example", "--out", "x/../../o/y"]
    assert main(args) == 2
    assert "'..' after a folder that does not exist yet" in capsys.readouterr().err
    assert not Path("x").exists()
