"""A new author's inputs (red team rt32): `check .` in a course folder with its deck, error
positions of unknown tables and of example expectations, the hint for `E[q, f]`, a parameter
named after a Python keyword."""

from __future__ import annotations

from pathlib import Path

import pytest

from elbo_sym.cli import main

REPO = Path(__file__).resolve().parent.parent
GAP = (REPO / "derivations" / "gap.toml").read_text("utf-8")
DECK = '''title = "Week 5"

[[card]]
front = "What does the ELBO bound?"
back = "The log-evidence."
formula = "ELBO(q) <= log(p(x))"
'''


def test_check_of_a_folder_skips_its_deck_and_says_so(tmp_path: Path, capsys) -> None:
    (tmp_path / "gap.toml").write_text(GAP, "utf-8")
    (tmp_path / "cards.toml").write_text(DECK, "utf-8")
    assert main(["check", "--no-cache", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "1 derivation(s)" in captured.out
    assert f"skipped {tmp_path / 'cards.toml'}: a deck" in captured.err
    assert "elbo-sym cards" in captured.err


def test_a_deck_named_as_a_file_is_still_an_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "cards.toml").write_text(DECK, "utf-8")
    assert main(["check", "--no-cache", str(tmp_path / "cards.toml")]) == 2
    assert "is a deck" in capsys.readouterr().err


def test_a_derivation_with_a_stray_card_is_read_as_a_derivation(tmp_path: Path, capsys) -> None:
    (tmp_path / "gap.toml").write_text(GAP + "\n[[card]]\nfront = \"x\"\n", "utf-8")
    assert main(["check", "--no-cache", str(tmp_path)]) == 2  # not skipped: its error is shown
    assert "is a deck" in capsys.readouterr().err


# ---------------------------------------------------------------------------- error positions


def _error(text: str, name: str = "f.toml"):
    from elbo_sym.engine.derivation import DerivationError, loads

    with pytest.raises(DerivationError) as caught:
        loads(text, name)
    return caught.value


def test_an_unknown_table_is_named_at_its_header() -> None:
    text = ('title = "t"\nstart = "log(p(x))"\n\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n\n'
            '[extra]\na = 1\n')
    error = _error(text)
    assert str(error).startswith("f.toml:9:1: unknown key 'extra'")


def test_the_course_settings_file_given_as_a_derivation_says_what_it_is() -> None:
    text = 'title = "Week 5"\nflashcards = "cards.toml"\n\n[exercises]\nseed = 7\n'
    error = _error(text, "elbo-sym.toml")
    assert error.line == 2
    assert "is a course's settings file" in str(error) and "elbo-sym check in its folder" in str(error)


def test_a_wrong_expected_value_is_named_at_its_own_line(tmp_path: Path, capsys) -> None:
    wrong = GAP.rstrip("\n") + '\n\n[example.expect]\n"log(p(x))" = "log(3/10)"\n"KL(q(z), p(z | x))" = "1/2"\n'
    path = tmp_path / "ex.toml"
    path.write_text(wrong, "utf-8")
    lines = wrong.splitlines()
    number = lines.index('"KL(q(z), p(z | x))" = "1/2"') + 1
    header = lines.index("[[example]]") + 1
    assert main(["check", "--no-cache", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"ex.toml:{number}  example 1: expected value FAILS: KL(q(z), p(z | x)): is " in out
    assert f"ex.toml:{header}  example 1" not in out  # the header only when the example holds


# ---------------------------------------------------------------------------- hints


@pytest.mark.parametrize("written, hint", [
    ("E[q, log(p(x | z))]", "write `E(q, log(p(x | z)))`, not `E[q, log(p(x | z))]`"),
    ("E[q(z), log(p(x, z))]", "write `E(q(z), log(p(x, z)))`, not `E[q(z), log(p(x, z))]`"),
    ("E[log(p(x, z))]", "write `E(q, log(p(x, z)))`, not `E[log(p(x, z))]`"),
])
def test_a_bracketed_expectation_gets_a_hint_that_parses(written: str, hint: str) -> None:
    from elbo_sym.engine.parse import ParseError, parse_expression

    with pytest.raises(ParseError) as caught:
        parse_expression(written)
    assert hint in str(caught.value)
    suggested = hint.split("`")[1]
    parse_expression(suggested)  # the text suggested is itself right


@pytest.mark.parametrize("name, instead", [("lambda", "lam"), ("in", "in1"), ("None", "none1")])
def test_a_parameter_named_after_a_python_keyword_is_refused_at_its_line(name: str, instead: str) -> None:
    text = (f'title = "t"\nK = "any"\nstart = "ELBO(q)"\n\n[params]\n{name} = ">= 1"\n\n'
            '[[step]]\nrel = "="\nexpr = "ELBO(q)"\nrule = "algebra"\n')
    error = _error(text)
    assert str(error).startswith(f"f.toml:6:1: \"{name}\" cannot name a parameter: it is a Python keyword")
    assert f"call it {instead}" in str(error)


# ---------------------------------------------------------------------------- wording


def _checked(text: str):
    from elbo_sym.engine.derivation import loads
    from elbo_sym.report.build import check_file

    return check_file(loads(text, "w.toml"))


@pytest.mark.full
def test_a_latent_free_on_one_side_only_is_said_when_refuted() -> None:
    report = _checked('title = "t"\nK = 2\nstart = "ELBO(q)"\n\n[[step]]\nrel = "="\n'
                      'expr = "log(p(x | z)) - KL(q(z), p(z))"\nrule = "definition"\n')
    (step,) = report.steps
    assert step.verdict == "refuted"
    assert "z is free in the step (not bound by a Sum, E, KL or H) while the previous expression has none" \
        in step.reason
    assert "bind z" in step.reason


def test_a_claim_the_chain_misses_on_one_side_says_which() -> None:
    text = GAP.replace('claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"', 'claim = "log(p(x)) - ELBO(q) = H(q)"')
    assert text != GAP
    report = _checked(text)
    assert report.claim_reason.endswith("which is not the claim: the claim has log(p(x)) - ELBO(q) too, but H(q) "
                                        "where the chain ends")


def test_a_failed_jensen_condition_is_named_in_the_reason() -> None:
    report = _checked('title = "t"\nK = "any"\nstart = "log(E(q, p(x, z) / q(z)))"\n\n[[step]]\nrel = "<="\n'
                      'expr = "E(q, log(p(x, z) / q(z)))"\nrule = "jensen"\n')
    (step,) = report.steps
    assert step.verdict == "refuted"
    assert "Jensen's pattern found but a condition failed: " in step.reason
    failed = [c.text for c in step.conditions if not c.shown]
    assert failed and step.reason.endswith(failed[0])


def test_the_site_and_docs_do_not_say_prose_is_checked() -> None:
    # red team rt32 F12: "$A$ is $B$" in a why prints an unchecked (possibly false) statement
    # between two parsed formulas; the site said every formula was machine-checked
    from elbo_sym.publish.site import index_page

    body = index_page([]).body
    assert "Every formula" not in body and "is not checked" in body
    for page in ("01-writing-derivations.md", "02-what-checked-means.md"):
        text = (REPO / "docs" / page).read_text("utf-8")
        assert "**Only checked math is typeset.**" not in text
        assert "not checked" in text


# ---------------------------------------------------------------------------- a repair inside a closed form

VAE_SIGN_SLIP = '''title = "The Gaussian VAE ELBO, sign slip in the KL"
model = "gaussian"
start = "ELBO(q)"

[[step]]
rel = "="
expr = "E(q, log(p(x | z))) - KL(q(z), Normal(0, 1))"
rule = "definition"

[[step]]
rel = "="
expr = "E(q, -log(2 * pi * s**2) / 2 - (x - w * z - b)**2 / (2 * s**2)) - (mu**2 + sigma**2 - 1 + log(sigma**2)) / 2"
rule = "definition"
'''


@pytest.mark.full
def test_a_sign_slip_inside_a_closed_form_gets_a_checked_repair() -> None:
    # red team rt32 F2: refuted with no suggestion; a sign inside a bracketed sum is now tried last
    report = _checked(VAE_SIGN_SLIP)
    step = report.steps[1]
    assert step.verdict == "refuted"
    assert step.suggestion is not None
    assert step.suggestion.describe().startswith("flip the sign of the term log(sigma**2)")
    assert "- 1 - log(sigma**2)) / 2" in step.suggestion.expr
    repaired = _checked(VAE_SIGN_SLIP.replace("- 1 + log(sigma**2)", "- 1 - log(sigma**2)"))
    assert repaired.steps[1].verdict == "proved"  # the repair suggested is one that holds


def test_nested_sign_flips_touch_only_bracketed_sums() -> None:
    from elbo_sym.engine.repair import nested_sign_flips

    assert nested_sign_flips("a - b + c") == []  # top-level terms are the ordinary sign flips'
    edits = [text for _, text in nested_sign_flips("a - (b + c) / 2")]
    assert edits == ["a - (-b + c) / 2", "a - (b - c) / 2"]
