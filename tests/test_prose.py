"""Author prose (titles, summaries, step notes, card texts): refused at load time when LaTeX or a
terminal cannot print it, typeset when it can, and never raw control characters on a terminal.

Every character the loader allows is typeset in one real build (one latexmk run).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.lesson.practice import load_deck
from elbo_sym.limits import (
    MAX_CARD_TEXT_CHARS,
    MAX_SELFCHECK_TEXT_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    MAX_WHY_CHARS,
    MAX_WORD_CHARS,
)
from elbo_sym.prose import MATH_CHARACTERS, TEXT_CHARACTERS, ProseError, check_prose, inline, terminal_safe
from elbo_sym.publish.handouts import derivations_handout, write_handouts
from elbo_sym.publish.render import latex_escape
from elbo_sym.report.build import check_file as check_derivation

ROOT = Path(__file__).resolve().parent.parent


def derivation(title: str = "t", why: str = "w", summary: str = "s") -> str:
    """A one-step derivation that proves; the prose fields are TOML basic-string bodies."""
    return (f'title = "{title}"\nsummary = "{summary}"\nstart = "log(p(x))"\n\n'
            f'[[step]]\nrel = "="\nexpr = "log(Sum(p(x, z), z))"\nrule = "definition"\nwhy = "{why}"\n')


WHY_LINE = 9  # the line of `why = ...` in derivation()

# (name, TOML escape of the character, what the message must say)
REFUSED = [
    ("emoji", "\\U0001F600", "U+1F600 (GRINNING FACE)"),
    ("escape", "\\u001B", "U+001B (ESC)"),
    ("bell", "\\u0007", "U+0007"),
    ("delete", "\\u007F", "U+007F (DEL)"),
    ("c1-next-line", "\\u0085", "U+0085 (NEXT LINE)"),
    ("c1-csi", "\\u009B", "U+009B"),
    ("soft-hyphen", "\\u00AD", "U+00AD (SOFT HYPHEN)"),
    ("byte-order-mark", "\\uFEFF", "U+FEFF"),
    ("bidi-override", "\\u202E", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("bidi-embedding", "\\u202A", "U+202A"),
    ("bidi-isolate", "\\u2066", "U+2066"),
    ("pop-isolate", "\\u2069", "U+2069"),
    ("zero-width-space", "\\u200B", "U+200B"),
    ("line-separator", "\\u2028", "U+2028 (LINE SEPARATOR)"),
    ("paragraph-separator", "\\u2029", "U+2029 (PARAGRAPH SEPARATOR)"),
    ("cyrillic", "\\u0416", "U+0416"),
    ("hbar-not-in-t1", "\\u0127", "U+0127"),
]


# ------------------------------------------------------------------ the rule (no files)


@pytest.mark.parametrize("name, escape, expected", REFUSED, ids=[r[0] for r in REFUSED])
def test_each_refused_class_names_the_code_point(name, escape, expected):
    ch = escape.encode().decode("unicode_escape")
    with pytest.raises(ProseError) as caught:
        check_prose(f"ab {ch} cd", 100, "why")
    assert expected in caught.value.message and caught.value.position == 3
    assert "remove it" in caught.value.message or "write it in words" in caught.value.message \
        or "line break" in caught.value.message


def test_friendly_characters_pass_and_are_typeset_through_math():
    text = "KL ≥ 0, ℓ_k, Σ π = 1, α → ∞, a × b · c ≈ d ≠ e, naïve café – “quoted” … Œuvre ß"
    assert check_prose(text, 200, "why") == text
    assert latex_escape("ℓ") == r"\ensuremath{\ell}" and latex_escape("Σ") == r"\ensuremath{\Sigma}"
    assert latex_escape("é ß –") == "é ß –"


def test_line_breaks_become_one_space_blank_lines_one_paragraph_break():
    checked = check_prose("line1\nstill 1\n\nline2\r\n \n\n\\par\n", 100, "why")
    assert checked == "line1 still 1\n\nline2\n\n\\par"
    assert inline(checked) == "line1 still 1 line2 \\par"  # inline fields: never a paragraph


def test_lengths_and_long_words():
    assert check_prose("a" * MAX_WORD_CHARS, MAX_WHY_CHARS, "why") == "a" * MAX_WORD_CHARS
    with pytest.raises(ProseError, match=f"{MAX_WORD_CHARS + 1} characters long; the limit is {MAX_WORD_CHARS}"):
        check_prose("x " + "a" * (MAX_WORD_CHARS + 1), MAX_WHY_CHARS, "why")
    with pytest.raises(ProseError, match=f"why is 1,001 characters long; the limit is {MAX_WHY_CHARS:,}"):
        check_prose("ab " * 333 + "ab", MAX_WHY_CHARS, "why")


def test_terminal_safe_escapes_controls_formatting_and_surrogates():
    assert terminal_safe("ok\x1b[2J\u202egnp.exe\x85\u2028x\udcff\n\tend") == \
        "ok\\u001b[2J\\u202egnp.exe\\u0085\\u2028x\\udcff\n\tend"
    assert terminal_safe("plain ✓ — é") == "plain ✓ — é"
    assert json.loads('"' + terminal_safe("a\u202eb\U000E0041") + '"') == "a\u202eb\U000E0041"


def test_latex_escape_never_passes_an_unknown_character_to_tex():
    assert latex_escape("file😀.toml") == "file{[}U+1F600{]}.toml"
    assert latex_escape("a\u202eb\u00adc\x85d") == "abcd"


# ------------------------------------------------------------------ load time: check and build


@pytest.fixture(autouse=True)
def _no_cache(monkeypatch):
    monkeypatch.setenv("ELBO_SYM_NO_CACHE", "1")


def one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("field", ["title", "summary", "why"])
@pytest.mark.parametrize("name, escape, expected", REFUSED, ids=[r[0] for r in REFUSED])
def test_check_and_build_refuse_at_load_with_file_and_line(tmp_path, capsys, field, name, escape, expected):
    path = tmp_path / "bad.toml"
    path.write_text(derivation(**{field: f"ab {escape} cd"}), "utf-8")
    line = {"title": 1, "summary": 2, "why": WHY_LINE}[field]
    column = len(f'{field} = "ab ') + 1
    for argv in (["check", str(path)], ["build", str(path), "--out", str(tmp_path / "out")]):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 2 and "Traceback" not in out + err
        message = one_error(err)
        assert f"{path}:{line}:{column}:" in message and f"{field}:" in message and expected in message
        assert not (tmp_path / "out").exists()  # refused before any checking or LaTeX


def test_a_refused_character_in_a_multi_line_string_names_its_own_line_and_column(tmp_path, capsys):
    """The character's own line (the string's second) and column, not the line of `why =` (session 13)."""
    path = tmp_path / "bad.toml"
    path.write_text(derivation().replace('why = "w"', 'why = """first line\nsecond \U0001F600 line"""'), "utf-8")
    assert main(["check", str(path)]) == 2
    column = len("second ") + 1
    assert f"{path}:{WHY_LINE + 1}:{column}: step 1: why: character U+1F600" in one_error(capsys.readouterr().err)


@pytest.mark.parametrize("field, limit", [("title", MAX_TITLE_CHARS), ("summary", MAX_SUMMARY_CHARS),
                                          ("why", MAX_WHY_CHARS)])
def test_too_long_fields_are_refused(tmp_path, capsys, field, limit):
    path = tmp_path / "long.toml"
    path.write_text(derivation(**{field: "ab " * (limit // 3 + 1)}), "utf-8")
    assert main(["check", str(path)]) == 2
    assert f"the limit is {limit:,}" in one_error(capsys.readouterr().err)


def test_red_team_long_word_and_long_line_are_refused_with_a_short_pointer(tmp_path, capsys):
    for name, why in (("word.toml", "a" * 150_000), ("line.toml", "ab " * 70_000)):
        path = tmp_path / name
        path.write_text(derivation(why=why), "utf-8")
        assert main(["build", str(path), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert f"{path}:{WHY_LINE}:" in one_error(err) and "the limit is 1,000" in err
        assert max(len(line) for line in err.splitlines()) < 400  # not the 210 KB line
    path = tmp_path / "one-word.toml"
    path.write_text(derivation(why="see " + "x" * 100 + " here"), "utf-8")
    assert main(["check", str(path)]) == 2
    assert "is 100 characters long; the limit is 80" in one_error(capsys.readouterr().err)


def test_deck_texts_are_checked_too(tmp_path):
    base = 'title = "{title}"\nsummary = "s"\n\n[[card]]\nfront = "{front}"\nback = "{back}"\ntopic = "{topic}"\n'
    fields = {"title": "t", "front": "f", "back": "b", "topic": "x"}
    for field, line in (("title", 1), ("front", 5), ("back", 6), ("topic", 7)):
        path = tmp_path / f"{field}.toml"
        path.write_text(base.format(**{**fields, field: "a \\u202E b"}), "utf-8")
        with pytest.raises(DerivationError) as caught:
            load_deck(path)
        assert caught.value.line == line and "U+202E" in caught.value.message, str(caught.value)
    path = tmp_path / "long.toml"
    path.write_text(base.format(**{**fields, "back": "ab " * 700}), "utf-8")
    with pytest.raises(DerivationError, match=f"the limit is {MAX_CARD_TEXT_CHARS:,}"):  # a printed card's side
        load_deck(path)
    path.write_text(base.format(**fields).replace("[[card]]", "[[question]]").replace("front", "question")
                    .replace("back", "answer").replace('"b"', '"' + "ab " * 700 + '"'), "utf-8")
    with pytest.raises(DerivationError, match=f"the limit is {MAX_SELFCHECK_TEXT_CHARS:,}"):  # a sheet's question
        load_deck(path)
    path = tmp_path / "newlines.toml"
    path.write_text(base.format(**{**fields, "back": "one\\n\\ntwo"}), "utf-8")
    assert load_deck(path).cards[0].back == "one two"


def test_cli_cards_refuses_bad_prose_with_exit_2(tmp_path, capsys):
    path = tmp_path / "deck.toml"
    path.write_text('title = "t"\n\n[[card]]\nfront = "f \\u001B[31m"\nback = "b"\n', "utf-8")
    assert main(["cards", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:4:" in one_error(err) and "U+001B (ESC)" in err and "\x1b" not in err


# ------------------------------------------------------------------ the terminal


def test_file_names_with_control_characters_are_refused_and_escaped_on_the_terminal(tmp_path, capsys):
    """A control or format character in a file name is refused when the file is read (red team rt25:
    a newline in a name was typeset), the name escaped in the error, on the terminal and in JSON."""
    good = (ROOT / "derivations" / "jensen.toml").read_text("utf-8")
    path = tmp_path / "evil\x1b[2J\u202egnp.toml"
    path.write_text(good, "utf-8")
    assert main(["check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "\u202e" not in out + err
    assert "evil\\u001b[2J\\u202egnp.toml: cannot read file: file name contains a control character" in err
    assert main(["check", "--json", str(path)]) == 2
    out = capsys.readouterr().out
    assert "\u202e" not in out and "\x1b" not in out and json.loads(out)  # still valid JSON
    other = tmp_path / "plain.toml"
    other.write_text("title = 'x'\nstart = \"\u202elog\"\n", "utf-8")  # quoted in the caret pointer
    assert main(["check", str(other)]) == 2
    err = capsys.readouterr().err
    assert "\u202e" not in err and "\\u202e" in err


def test_undecodable_file_name_does_not_crash_the_output(tmp_path, capsys):
    good = (ROOT / "derivations" / "jensen.toml").read_bytes()
    raw = bytes(tmp_path) + b"/bad\xff.toml"
    with open(raw, "wb") as handle:
        handle.write(good)
    assert main(["check", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "bad\\udcff.toml" in out and "Traceback" not in err


# ------------------------------------------------------------------ every allowed character, one build


def _every_allowed_character() -> list[str]:
    return sorted(TEXT_CHARACTERS | MATH_CHARACTERS.keys())


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_every_allowed_character_is_typeset_by_pdflatex(tmp_path):
    characters = _every_allowed_character()
    assert len(characters) > 250 and "\u00ad" not in characters
    everything = " ".join(characters)
    assert len(everything) <= min(MAX_SUMMARY_CHARS, MAX_WHY_CHARS)
    per_title = (MAX_TITLE_CHARS - 10) // 2
    chunks = [characters[i:i + per_title] for i in range(0, len(characters), per_title)]
    results = []
    for number, chunk in enumerate(chunks):
        text = derivation(title="T", summary="S", why="W")
        text = text.replace('title = "T"', f"title = {_toml_string('T ' + ' '.join(chunk))}")
        text = text.replace('summary = "S"', f"summary = {_toml_string(everything)}")
        # the note sits inside alignat*: blank lines in it must not end a paragraph there
        text = text.replace('why = "W"', 'why = """' + everything.replace("\\", "\\\\").replace('"', '\\"')
                            + '\n\n\nend \\\\par\n"""')
        derivation_ = loads(text, f"chars{number}.toml")
        assert derivation_.steps[0].why.endswith("end \\par")
        result = check_derivation(derivation_)
        assert result.ok, result.claim_reason
        results.append(result)
    (report,) = write_handouts([derivations_handout(results)], tmp_path)
    assert report.ok, report.message + "\n" + report.log_excerpt
    printed = subprocess.run(["pdftotext", str(report.pdf), "-"], capture_output=True, text=True,
                             check=True, timeout=CHILD_TIMEOUT_SECONDS).stdout
    for sample in ("α", "Σ", "ℓ", "ß", "Œ", "é", "Ł", "€", "–", "“", "≤", "∞"):
        assert sample in printed, sample
