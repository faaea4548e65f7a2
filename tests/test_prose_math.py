"""Math in prose: ``$...$`` formulas in titles, summaries and step notes are parsed by the
safe parser at load time and typeset by the one printer; everything else stays escaped text.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.prose import ProseError, split_math
from elbo_sym.publish.handouts import derivation_context, derivations_handout, write_handouts
from elbo_sym.report.build import check_file

GAP = (Path(__file__).resolve().parent.parent / "derivations" / "gap.toml").read_text("utf-8")


def gap_with(title: str | None = None, summary: str | None = None, why: str | None = None) -> str:
    text = GAP
    if title is not None:
        text = text.replace('title = "The gap is a KL divergence"', f"title = {title}")
    if summary is not None:
        start = text.index("summary = ")
        end = text.index("\n", start)
        text = text[:start] + f"summary = {summary}" + text[end:]
    if why is not None:
        text = text.replace('why = "the KL divergence from q to the posterior"', f"why = {why}")
    return text


# ---------------------------------------------------------------------------- splitting


def test_split_math_finds_formulas_text_dollars_and_paragraphs():
    spans = split_math("gap $KL(q(z), p(z | x))$ costs \\$5\n\nnext")
    assert [(s.kind, s.text) for s in spans] == [
        ("text", "gap "), ("math", "KL(q(z), p(z | x))"), ("text", " costs $5"), ("paragraph", ""),
        ("text", "next")]
    assert spans[1].position == 5  # where the formula's source starts, for carets


@pytest.mark.parametrize("text, fragment, position", [
    ("a $b", "unclosed $", 2),
    ("a $$ b", "empty formula", 2),
    ("a $  $ b", "empty formula", 2),
    ("a $b\n\nc$", "same paragraph", 2),
])
def test_split_math_refuses_unclosed_and_empty_formulas(text, fragment, position):
    with pytest.raises(ProseError) as info:
        split_math(text)
    assert fragment in info.value.message and info.value.position == position


# ---------------------------------------------------------------------------- loading


def test_formulas_in_prose_are_parsed_and_printed():
    d = loads(gap_with(title='"The gap is $KL(q(z), p(z | x))$"',
                       why='"the KL divergence from $q(z)$ to the posterior $p(z | x)$"'), "gap.toml")
    report = check_file(d)
    math = [p for p in report.title_parts if p.kind == "math"]
    assert len(math) == 1 and math[0].latex.startswith(r"\mathrm{KL}") and r"\mid x" in math[0].latex
    why = report.steps[-1].why_parts
    assert [p.kind for p in why] == ["text", "math", "text", "math"]
    assert why[3].latex == r"p(z \mid x)"
    context = derivation_context(report)
    assert "$" not in context["title"] and r"\(" in context["title"]


@pytest.mark.parametrize("field, value, fragment, token", [
    ("title", '"The gap is $KL(q(z), s(z))$"', "formula $KL(q(z), s(z))$", "s(z)"),
    ("why", '"from $q(z) ** $ on"', "formula $q(z) **$", None),
    ("summary", '"unclosed $KL(q(z), p(z))"', "unclosed $", "$KL"),
    ("why", '"costs $5 and $6"', "formula $5 and$", None),
])
def test_bad_formula_in_prose_names_file_line_and_column(field, value, fragment, token):
    text = gap_with(**{field: value})
    with pytest.raises(DerivationError) as info:
        loads(text, "gap.toml")
    error = info.value
    assert fragment in error.message
    line = text.splitlines()[error.line - 1]
    assert line.lstrip().startswith(field)
    assert error.column is not None
    if token is not None:
        assert line[error.column:].startswith(token), (line, error.column)


def test_dollar_sign_escaped_and_raw_latex_stays_text():
    d = loads(gap_with(summary='"costs \\\\$5; \\\\input{/etc/passwd} is printed, not run"'), "gap.toml")
    context = derivation_context(check_file(d))
    assert r"\$5" in context["summary"]
    assert r"\input" not in context["summary"] and r"\textbackslash{}input" in context["summary"]


def test_blank_line_is_a_paragraph_in_a_summary_and_a_space_in_a_note():
    d = loads(gap_with(summary='"First paragraph.\\n\\nSecond paragraph."', why='"one\\n\\ntwo"'), "gap.toml")
    assert d.summary == "First paragraph.\n\nSecond paragraph." and d.steps[-1].why == "one two"
    context = derivation_context(check_file(d))
    assert r"\par" in context["summary"] and r"\par" not in str(context["steps"][-1]["why"])


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_formulas_in_prose_are_typeset_in_the_pdf(tmp_path):
    d = loads(gap_with(title='"The gap is $KL(q(z), p(z | x))$"',
                       summary='"Why $ELBO(q)$ is a bound: see below.\\n\\nA second paragraph with \\\\$3."',
                       why='"by definition of $KL(q(z), p(z | x))$"'), "gap.toml")
    handout = derivations_handout([check_file(d)])
    (built,) = write_handouts([handout], tmp_path)
    assert built.ok, built.message + built.log_excerpt
    text = subprocess.run(["pdftotext", str(built.pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    assert "The gap is KL" in text and "$KL" not in text and "$ELBO" not in text
    assert "∥" in text  # the printer's KL(q ∥ p), not the ASCII source
    assert "$3" in text  # the escaped dollar is a dollar


@pytest.mark.parametrize("formula", ["\\\\input{/etc/passwd}", "\\\\write18{ls}", "x}\\\\def\\\\a{b", "q(z) # hidden"])
def test_raw_latex_inside_a_formula_is_refused_at_load(formula):
    with pytest.raises(DerivationError) as info:
        loads(gap_with(why=f'"see ${formula}$"'), "gap.toml")
    assert "formula $" in info.value.message and info.value.column is not None


def test_a_relation_in_prose_is_refused_it_would_print_unchecked():
    with pytest.raises(DerivationError) as info:
        loads(gap_with(why='"since $KL(q(z), p(z | x)) >= 0$ always"'), "gap.toml")
    assert "would be printed unchecked" in info.value.message


@pytest.mark.parametrize(("title", "written"), [
    ("The bound $log(p(x)) <= 0$", "<="), ("The bound $log(p(x)) >= 0$", ">="), ("Not $H(q) != 0$", "!="),
    ("Bound $ELBO(q)$ <= the evidence", "<="), ("The bound $log(p(x)) < 0$", "<"), ("A $H(q) ≤ 1$ bound", "≤"),
])
def test_a_relation_in_a_title_is_named_as_written(title, written):
    """The error named `<=` as `<` (its first sign) and `!=` as `=`: it quotes what the author typed
    and points at its first character."""
    with pytest.raises(DerivationError) as info:
        loads(gap_with(title=f'"{title}"'), "gap.toml")
    error = info.value
    assert f"a relation ({written}) " in error.message, error.message
    assert error.source is not None and error.column is not None
    assert error.source[error.column:].startswith(written), (error.source, error.column)


def test_formulas_on_cards_are_printed_by_the_printer(tmp_path):
    from elbo_sym.lesson.practice import load_deck
    from elbo_sym.publish.anki import note_fields
    from elbo_sym.publish.handouts import _card_context

    deck_file = tmp_path / "cards.toml"
    deck_file.write_text('title = "t"\n[[card]]\nfront = "What is $KL(q(z), p(z))$?"\n'
                         'back = "The average of $log(q(z) / p(z))$ under q."\n', "utf-8")
    (card,) = load_deck(deck_file).cards
    front, back = note_fields(card)[:2]
    assert front.startswith('<span class="tex2jax_ignore mathjax_ignore">What is </span>\\(') and "KL" in front
    assert "$" not in front
    context = _card_context(card, type("V", (), {"verdict": "none"})())
    assert r"\(" in context["front"] and r"\frac{q(z)}{p(z)}" in context["back"]
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "t"\n[[card]]\nfront = "What is $KL(q || p)$?"\nback = "b"\n', "utf-8")
    with pytest.raises(DerivationError) as info:
        load_deck(bad)
    assert info.value.line == 3 and info.value.column is not None


def test_typed_mathjax_delimiters_stay_text_in_anki_and_notebooks(tmp_path):
    r"""A \( ... \) typed in prose would be typeset by MathJax as an unchecked formula: it is
    marked as text MathJax ignores; $...$ formulas still come from the printer."""
    from elbo_sym.lesson.practice import load_deck
    from elbo_sym.publish.anki import note_fields
    from elbo_sym.report.display import to_html

    deck_file = tmp_path / "cards.toml"
    deck_file.write_text('title = "t"\n[[card]]\nfront = "Is \\\\(\\\\log p(x) + 1\\\\)?"\n'
                         'back = "No: $KL(q(z), p(z))$ is."\n', "utf-8")
    (card,) = load_deck(deck_file).cards
    front, back = note_fields(card)[:2]
    assert front == '<span class="tex2jax_ignore mathjax_ignore">Is &#92;(&#92;log p(x) + 1&#92;)?</span>'
    assert back.startswith('<span class="tex2jax_ignore mathjax_ignore">No: </span>\\(') and "KL" in back
    d = loads(gap_with(title='"Unchecked \\\\(a + b\\\\) and $KL(q(z), p(z | x))$"'), "gap.toml")
    page = to_html(check_file(d))
    # notebooks: both MathJax classes, and the typed delimiter as character references
    assert '<span class="tex2jax_ignore mathjax_ignore">Unchecked &#92;(a + b&#92;) and </span>\\(\\mathrm{KL}' in page


def test_anki_export_refuses_to_replace_a_symbolic_link(tmp_path):
    from elbo_sym.lesson.practice import load_flashcards
    from elbo_sym.publish.anki import AnkiError, write_apkg

    target = tmp_path / "elsewhere.apkg"
    target.write_bytes(b"keep me")
    link = tmp_path / "deck.apkg"
    link.symlink_to(target)
    with pytest.raises(AnkiError, match="symbolic link"):
        write_apkg(load_flashcards().cards, link)
    assert link.is_symlink() and target.read_bytes() == b"keep me"


def test_a_relation_next_to_a_formula_is_refused():
    for why in ('"so $ELBO(q)$ >= $log(p(x))$"', '"and $KL(q(z), p(z))$ < 0"', '"since 0 <= $H(q)$"'):
        with pytest.raises(DerivationError, match="next to a formula would be printed unchecked"):
            loads(gap_with(why=why), "gap.toml")


def test_a_paragraph_break_with_spaces_inside_a_formula_is_an_error_at_load():
    """It crashed the report (traceback, exit 1): blank lines with spaces on them were not
    seen as a paragraph break when the file was read."""
    with pytest.raises(DerivationError, match="same paragraph"):
        loads(gap_with(summary="'''A $(p(x)\n  \n+ 1)$ B'''"), "gap.toml")


def test_new_names_with_a_dollar_check_green(tmp_path, monkeypatch, capsys):
    from elbo_sym.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["new", "--", "d$b"]) == 0 and main(["new", "--", "e$$"]) == 0
    capsys.readouterr()
    assert main(["check", "--no-cache", "d$b.toml", "e$$.toml"]) == 0


def test_prose_formulas_are_parsed_once_at_load_and_the_report_reuses_them(monkeypatch):
    """The loader keeps what it parsed (Derivation.prose_math); the report and the display print
    those expressions instead of parsing every formula again."""
    from elbo_sym.engine import derivation as derivation_module
    from elbo_sym.engine.parse import parse_expression
    from elbo_sym.report import build as build_module
    from elbo_sym.report.display import to_html

    d = loads(gap_with(title='"The gap is $KL(q(z), p(z | x))$"', summary='"Twice: $KL(q(z), p(z | x))$ and $H(q)$."',
                       why='"the KL divergence from $q(z)$ to the posterior $p(z | x)$"'), "gap.toml")
    parsed = dict(d.prose_math)
    assert {"KL(q(z), p(z | x))", "H(q)", "q(z)", "p(z | x)"} <= set(parsed)
    for text, expr in parsed.items():  # what was kept is what a fresh parse gives
        assert expr == parse_expression(text, d.vocabulary)

    def parse_again(text, vocabulary):
        raise AssertionError(f"prose formula ${text}$ parsed again")

    monkeypatch.setattr(build_module, "prose_formula", parse_again)
    report = check_file(d)
    assert [p.text for p in report.title_parts if p.kind == "math"] == ["KL(q(z), p(z | x))"]
    assert [p.latex for p in report.steps[-1].why_parts if p.kind == "math"] == ["q(z)", r"p(z \mid x)"]
    assert r"p(z \mid x)" in to_html(d)  # the display of a loaded derivation reuses them too
    # a text the loader never saw (no entry) is still parsed: the fallback stays correct
    monkeypatch.setattr(build_module, "prose_formula", derivation_module.prose_formula)
    (part,) = build_module.prose_parts("$H(q)$", d.vocabulary, parsed={})
    assert part.latex == to_latex_of("H(q)", d)


def to_latex_of(text: str, d) -> str:
    from elbo_sym.engine.notation import to_latex
    from elbo_sym.engine.parse import parse_expression

    return to_latex(parse_expression(text, d.vocabulary))


def test_card_claims_and_formulas_are_parsed_once_at_load(tmp_path, monkeypatch):
    from elbo_sym.lesson.practice import load_deck
    from elbo_sym.publish.handouts import _card_context
    from elbo_sym.report import build as build_module

    deck_file = tmp_path / "cards.toml"
    deck_file.write_text('title = "t"\n[[card]]\nfront = "Why is $KL(q(z), p(z)) >= 0$?"\n'
                         'back = "The average of $log(q(z) / p(z))$ under q."\n', "utf-8")
    deck = load_deck(deck_file)
    parsed = dict(deck.prose_math)
    assert isinstance(parsed["KL(q(z), p(z)) >= 0"], tuple) and parsed["KL(q(z), p(z)) >= 0"][1] == ">="
    (card,) = deck.cards
    assert card.claims[0].lhs == parsed["KL(q(z), p(z)) >= 0"][0]  # the claim checked is the one parsed

    def parse_again(*args):
        raise AssertionError("card prose parsed again")

    monkeypatch.setattr(build_module, "prose_formula", parse_again)
    monkeypatch.setattr(build_module, "prose_claim", parse_again)
    context = _card_context(card, type("V", (), {"verdict": "none"})(), deck.vocabulary, parsed)
    assert r"\geq" in context["front"] and r"\frac{q(z)}{p(z)}" in context["back"]
