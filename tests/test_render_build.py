"""render.py: escaping, the Jinja environment, and safe atomic PDF builds."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from cpu_work import HANG_GUARD_SECONDS
from hypothesis import given
from hypothesis import strategies as st

from elbo_sym.publish import render
from elbo_sym.publish.render import (
    LatexMarkup,
    RenderError,
    build_pdf,
    latex_escape,
    make_environment,
    render_template,
    render_with,
    write_tex_only,
)

SPECIALS = "\\{}$&#^_%~<>|[]"
INJECTIONS = [r"\input{/etc/passwd}", r"\write18{ls}", r"\immediate\write18{touch pwned}"]
BAD_TEX = "\\documentclass{article}\n\\begin{document}\n\\undefinedcommand\n\\end{document}\n"


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout


def squash(text: str) -> str:
    return "".join(text.split())


# ----------------------------------------------------------------- escaping (no TeX)


def _unescape(escaped: str) -> str:
    """Inverse of latex_escape on ASCII text: decode by the replacement table."""
    table = {v: k for k, v in render._SPECIALS.items() if k != "\t"}
    table["{}"] = ""  # what keeps two characters from joining into a ligature
    out, i = [], 0
    while i < len(escaped):
        for rep, ch in table.items():
            if escaped.startswith(rep, i):
                out.append(ch)
                i += len(rep)
                break
        else:
            assert escaped[i] not in SPECIALS, f"unescaped {escaped[i]!r} in {escaped!r}"
            out.append(escaped[i])
            i += 1
    return "".join(out)


@pytest.mark.parametrize("ch", list(SPECIALS))
def test_every_special_char_is_escaped(ch: str) -> None:
    escaped = latex_escape(f"a{ch}b")
    assert escaped != f"a{ch}b"
    assert _unescape(escaped) == f"a{ch}b"


@pytest.mark.full
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_escape_round_trips_printable_ascii(text: str) -> None:
    assert _unescape(latex_escape(text)) == text


def test_injection_strings_become_literal() -> None:
    assert latex_escape(r"\input{/etc/passwd}") == r"\textbackslash{}input\{/etc/passwd\}"
    assert latex_escape(r"\write18{ls}") == r"\textbackslash{}write18\{ls\}"


def test_newlines_and_control_chars() -> None:
    assert latex_escape("a\r\nb") == "a\nb"  # single newline: a space in TeX
    assert latex_escape("a\n \n\n\nb") == "a\n\nb"  # blank lines: one paragraph break
    assert latex_escape("a\x00b\x07c\td") == "abc d"  # invalid chars for TeX dropped


def test_unicode_math_in_prose() -> None:
    assert latex_escape("KL ≥ 0") == r"KL \ensuremath{\geq} 0"
    assert latex_escape("θ") == r"\ensuremath{\theta}"
    assert latex_escape("é") == "é"


# ----------------------------------------------------------------- jinja (no TeX)


@pytest.fixture
def tpl_dir(tmp_path: Path) -> Path:
    (tmp_path / "t.tex.j2").write_text(
        "\\VAR{plain} \\VAR{trusted} \\VAR{raw|latex} \\VAR{plain|e} \\VAR{n}\n"
        "%% for x in xs\n\\VAR{x}\n%% endfor\n"
    )
    (tmp_path / "broken.tex.j2").write_text("line 1\nline 2\n\\BLOCK{if x}\n\\VAR{x\n")
    return tmp_path


def test_finalize_escapes_plain_strings_only(tpl_dir: Path) -> None:
    env = make_environment([tpl_dir])
    out = render_with(
        env,
        "t.tex.j2",
        {
            "plain": "50%",
            "trusted": LatexMarkup(r"\frac{1}{2}"),
            "raw": r"\alpha",
            "n": 3,
            "xs": ["a_b", LatexMarkup("$x$")],
        },
    )
    assert out == "50\\% \\frac{1}{2} \\alpha 50\\% 3\na\\_b\n$x$\n"


def test_markup_concatenation_fails_closed() -> None:
    joined = LatexMarkup(r"\alpha") + "$"
    assert type(joined) is str  # no longer trusted: it would be escaped
    assert render._finalize(joined) == r"\textbackslash{}alpha\$"


def test_syntax_error_names_template_and_line(tpl_dir: Path) -> None:
    with pytest.raises(RenderError, match=r"broken\.tex\.j2:4: template syntax error"):
        render_with(make_environment([tpl_dir]), "broken.tex.j2", {})


def test_undefined_variable_names_template_and_line() -> None:
    with pytest.raises(RenderError, match=r"_smoke\.tex\.j2:\d+: UndefinedError: 'title' is undefined"):
        render_template("_smoke.tex.j2")


def test_missing_template() -> None:
    with pytest.raises(RenderError, match="template not found: nope.tex.j2"):
        render_template("nope.tex.j2")


def test_shipped_templates_are_found() -> None:
    assert any((d / "base.tex.j2").is_file() for d in render.template_dirs())
    src = render_template("_smoke.tex.j2", title="A & B")
    assert src.startswith("\\documentclass") and r"A \& B" in src and "\\frac" in src


def test_write_tex_only_is_atomic(tmp_path: Path) -> None:
    out = write_tex_only("hello\n", tmp_path / "sub" / "x.tex")
    assert out.read_text() == "hello\n"
    assert [p.name for p in out.parent.iterdir()] == ["x.tex"]  # no temp files left


def test_build_without_latexmk_explains(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(render, "find_latexmk", lambda: None)
    result = build_pdf(BAD_TEX, tmp_path / "x.pdf")
    assert not result.ok and "apt-get install" in result.message
    assert not (tmp_path / "x.pdf").exists()


# ----------------------------------------------------------------- building (TeX)


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_escaped_text_prints_literally_and_reads_no_files(tmp_path: Path) -> None:
    text = " ".join(INJECTIONS) + " specials: " + " ".join(SPECIALS)
    src = render_template("_smoke.tex.j2", title="Escaping test", text=text)
    result = build_pdf(src, tmp_path / "smoke.pdf")
    assert result.ok, result.message + "\n" + result.log_excerpt
    printed = squash(pdf_text(tmp_path / "smoke.pdf"))
    assert squash(text) in printed
    assert "root:x:" not in printed
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    assert (tmp_path / "smoke.tex").read_text() == src
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smoke.pdf", "smoke.tex"]


LIGATURES = ["a--b", "a---b", "Why?`x", "Wow!`y", "<<in>>", "``quoted''", ",,low", "--count 3"]
"""What the T1 fonts would join into one glyph: an en or em dash, ¿, ¡, guillemets, curly and low quotes."""


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_text_prints_as_typed_without_ligatures(tmp_path: Path) -> None:
    """rt4: an author's `--` printed as an en dash and `?`` as ¿. Escaped text (a title) and
    author prose (typeset_prose: curly quotes, minus signs) both print every character typed."""
    text = " ".join(LIGATURES)
    src = render_template("_smoke.tex.j2", title=text, text=LatexMarkup(render.typeset_prose(text)))
    result = build_pdf(src, tmp_path / "ligatures.pdf")
    assert result.ok, result.message + "\n" + result.log_excerpt
    printed = squash(pdf_text(tmp_path / "ligatures.pdf"))
    typed = squash(text.replace("'", "\u2019"))  # an apostrophe is a curly one, each printed
    assert printed.count(typed) == 2, printed  # the title and the prose
    assert not set("\u2013\u2014\u00bf\u00a1\u00ab\u00bb\u201c\u201d\u201e") & set(printed)


@pytest.mark.usefixtures("requires_latex")
def test_raw_tex_cannot_read_etc_passwd_or_run_shell(tmp_path: Path) -> None:
    """Even a trusted-but-wrong template cannot read absolute paths or shell out."""
    src = (
        "\\documentclass{article}\\begin{document}\n"
        f"\\immediate\\write18{{touch {tmp_path}/pwned}}\n"
        "\\input{/etc/passwd}\n\\end{document}\n"
    )
    result = build_pdf(src, tmp_path / "x.pdf")
    assert not result.ok and "/etc/passwd" in result.message
    assert "root:x:" not in result.log_excerpt
    assert not (tmp_path / "pwned").exists()


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_latex_error_keeps_previous_pdf(tmp_path: Path) -> None:
    out = tmp_path / "handout.pdf"
    good = build_pdf(render_template("_smoke.tex.j2", title="Good"), out)
    assert good.ok, good.message
    before_pdf, before_tex = out.read_bytes(), out.with_suffix(".tex").read_bytes()

    bad = build_pdf(BAD_TEX, out)
    assert not bad.ok and bad.pdf is None
    assert "Undefined control sequence" in bad.log_excerpt
    assert "line 3" in bad.message and "Undefined control sequence" in bad.message
    assert "\\undefinedcommand" in bad.log_excerpt
    assert len(bad.log_excerpt.splitlines()) <= 20
    assert out.read_bytes() == before_pdf
    assert out.with_suffix(".tex").read_bytes() == before_tex
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handout.pdf", "handout.tex"]


@pytest.mark.usefixtures("requires_latex")
def test_overfull_boxes_are_counted(tmp_path: Path) -> None:
    src = "\\documentclass{article}\\begin{document}\n\\hbox to 1cm{wide wide wide wide}\n\\end{document}\n"
    result = build_pdf(src, tmp_path / "o.pdf")
    assert result.ok and result.overfull == 1


def _processes_in(directory: str) -> list[int]:
    """PIDs whose working directory is (or was) ``directory``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd").startswith(directory):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.full
@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs /proc")
@pytest.mark.usefixtures("requires_latex")
def test_timeout_kills_the_whole_process_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workdirs: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args, **kwargs):  # type: ignore[no-untyped-def]
        workdirs.append(real_mkdtemp(*args, **kwargs))
        return workdirs[-1]

    monkeypatch.setattr(render.tempfile, "mkdtemp", recording_mkdtemp)
    loop = "\\documentclass{article}\\begin{document}\n\\def\\a{\\a}\\a\n\\end{document}\n"
    start = time.monotonic()
    result = build_pdf(loop, tmp_path / "loop.pdf", timeout=2)
    assert time.monotonic() - start < HANG_GUARD_SECONDS  # the timeout (wall time, by design) stopped it
    assert not result.ok and "timed out" in result.message
    assert not (tmp_path / "loop.pdf").exists()
    assert workdirs and not Path(workdirs[0]).exists()
    time.sleep(0.2)
    assert _processes_in(workdirs[0]) == []  # no orphaned pdflatex left spinning
