"""A course title's formula that names a parameter or uses LaTeX gets an error that says what to
write (red team rt26: ``$beta$`` in elbo-sym.toml's title was told to "declare parameters in a
[params] table", and adding one was refused as an unknown key).  The advice is checked too: the
title written as it says loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from elbo_sym.engine.derivation import DerivationError
from elbo_sym.publish.project import load_project


def _load(tmp_path: Path, title: str):
    path = tmp_path / "elbo-sym.toml"
    path.write_text(f"title = {title}\n", encoding="utf-8")
    return load_project(path)


@pytest.mark.parametrize("title", ['"Week 5: the $beta$-ELBO"', r"'Week 5: the $\beta$-ELBO'"])
def test_a_greek_name_in_a_formula_is_told_to_write_the_letter(tmp_path, title):
    with pytest.raises(DerivationError) as info:
        _load(tmp_path, title)
    assert info.value.line == 1 and "write the letter itself, β, outside $...$" in info.value.message
    assert "[params] table" not in info.value.message  # elbo-sym.toml has none
    assert _load(tmp_path, '"Week 5: the β-ELBO"').title == "Week 5: the β-ELBO"


def test_another_unknown_name_is_told_to_use_words(tmp_path):
    with pytest.raises(DerivationError) as info:
        _load(tmp_path, '"Week 5: the $gamma2$ bound"')
    assert "unknown name 'gamma2' in a formula: a course title has no [params]; write the name in words" \
        in info.value.message


@pytest.mark.parametrize(("formula", "name"), [
    ("beta", "beta"), ("e", "e"), ("Beta", "Beta"), ("p(x | gamma)", "gamma"), ("ELBO(q, th)", "th"),
    ("\\beta", "\\beta"), ("\\Omega", "\\Omega"),
    ("\\leq", ""), ("\\mathrm{x}", ""), ("log(p(x)", ""),  # LaTeX with a plain spelling; no name at all
])
def test_a_parse_error_names_what_the_author_wrote_that_is_not_known(formula, name):
    """The title's advice reads the error's `name`, not its message: an unknown name, or a LaTeX
    command without a plain spelling (with its backslash); nothing for any other error."""
    from elbo_sym.engine.parse import ParseError, Vocabulary, parse_expression

    with pytest.raises(ParseError) as info:
        parse_expression(formula, Vocabulary())
    assert info.value.name == name


@pytest.mark.parametrize(("title", "advice"), [
    ('"On $p(x | gamma)$"', "unknown name 'gamma' in a formula: a course title has no [params]; "
                            "write the letter itself, γ, outside $...$"),
    (r"'On $\leq$'", "write `<=` in `rel`, not \\leq"),  # a plain spelling: the parser's own advice, as it was
    (r"'On $\Omega$'", "remove \\Omega (plain text throughout, as in `a / b`, not \\frac{a}{b}); "
                       "write the letter itself, Ω, outside $...$"),
])
def test_the_title_advice_for_each_kind_of_name(tmp_path, title, advice):
    with pytest.raises(DerivationError) as info:
        _load(tmp_path, title)
    assert advice in info.value.message and info.value.message.startswith("title: ")
