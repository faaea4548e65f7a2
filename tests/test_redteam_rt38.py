"""Red team rt38's findings (a new course author, end to end): what `check` warns of reaches every
command and API that checks files; decks' words; Jensen's explanation; decks' labels; cards only checked."""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from elbo_sym.cli import main

pytest_plugins = ["pytester"]

# A derivation that passes, whose note states a refuted relation in words: `check` warns of it.
WARNED = """title = "Warned"
start = "log(p(x))"

[[step]]
rel = "="
expr = "log(p(x))"
rule = "algebra"
why = "$ELBO(q)$ is $log(p(x))$"
"""
WARNING = 'warning: warned.toml:8:18: step 1: why: "$ELBO(q)$ is $log(p(x))$" states a relation in words'


def project(folder: Path, derivation: str = WARNED) -> None:
    (folder / "warned.toml").write_text(derivation, "utf-8")
    (folder / "elbo-sym.toml").write_text('title = "t"\nderivations = ["warned.toml"]\n', "utf-8")


# ---------------------------------------------------------------------------- F1: warnings everywhere


def test_check_warns_of_the_fixture(tmp_path, capsys, monkeypatch):
    """The baseline the others are held to."""
    monkeypatch.chdir(tmp_path)
    project(tmp_path)
    assert main(["check", "--no-cache", "warned.toml"]) == 0
    assert WARNING in capsys.readouterr().err


def test_web_prints_checks_warnings_on_stderr_never_on_the_page(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project(tmp_path)
    assert main(["web", "--out", "pages"]) == 0  # the exit status is unchanged
    out, err = capsys.readouterr()
    assert WARNING in err and "states a relation" not in out
    assert not any("states a relation" in p.read_text("utf-8") for p in (tmp_path / "pages").glob("*.md"))


def test_a_failed_web_still_prints_the_warnings_and_says_pages(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project(tmp_path, WARNED.replace('expr = "log(p(x))"', 'expr = "log(p(x)) + 1"'))  # refuted
    assert main(["web", "--out", "pages"]) == 1
    err = capsys.readouterr().err
    assert "warning: warned.toml:8:" in err and "no pages written" in err
    assert "handouts are built" not in err  # rt38 minor: `web` writes pages


@pytest.mark.full
def test_build_prints_checks_warnings_on_stderr(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project(tmp_path)
    assert main(["build", "--out", "h", "--only", "derivations"]) == 0
    out, err = capsys.readouterr()
    assert WARNING in err and "states a relation" not in out


def test_the_api_returns_the_warnings_and_show_displays_them(tmp_path):
    from elbo_sym import check_file, show

    path = tmp_path / "warned.toml"
    path.write_text(WARNED, "utf-8")
    report = check_file(path)
    assert report.ok and [w.line for w in report.warnings] == [8]
    html = show(report)._repr_html_()
    assert "warning: " in html and "states a relation in words" in html


def test_the_assertions_issue_each_warning_at_the_files_line(tmp_path):
    from elbo_sym.authoring.testing import DerivationWarning, assert_derivation

    path = tmp_path / "warned.toml"
    path.write_text(WARNED, "utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert_derivation(path)
    (one,) = [w for w in caught if issubclass(w.category, DerivationWarning)]
    assert (one.filename, one.lineno) == (str(path), 8) and "states a relation" in str(one.message)


def _plugin_args() -> list[str]:
    if any(ep.name == "elbo_sym" for ep in entry_points(group="pytest11")):
        return []
    return ["-p", "elbo_sym.authoring.pytest_plugin"]


def test_the_plugin_lists_the_warning_and_the_item_passes(pytester: pytest.Pytester) -> None:
    (pytester.path / "derivations").mkdir()
    (pytester.path / "derivations" / "warned.toml").write_text(WARNED, "utf-8")
    result = pytester.runpytest(*_plugin_args(), "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                                "derivations")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*DerivationWarning: derivations/warned.toml:8:18: step 1: why:*"])


# ---------------------------------------------------------------------------- F3: Jensen the wrong way round

JENSEN_REVERSED = """title = "Jensen gives the bound"
K = "any"
claim = "log(p(x)) >= ELBO(q)"
start = "log(p(x))"

[[step]]
rel = "="
expr = "log(Sum(q(z) * p(x, z) / q(z), z))"
rule = "algebra"
why = "multiply and divide by $q(z)$"

[[step]]
rel = "<="
expr = "Sum(q(z) * log(p(x, z) / q(z)), z)"
rule = "jensen"
why = "log is concave"
"""


def test_explain_says_a_reversed_jensen_step_points_the_wrong_way(tmp_path, capsys):
    path = tmp_path / "j.toml"
    path.write_text(JENSEN_REVERSED, "utf-8")
    main(["explain", str(path), "--step", "2"])
    out = capsys.readouterr().out
    assert "✗ the log of the average is on the larger side" in out and "wrong way round" in out
    assert "smaller side is the weighted average" not in out  # it was shown held, on the wrong side
    assert "both sides agree: FAILED" not in out
    assert "verdict: refuted" in out and 'rel = ">="' in out  # verdict and repair unchanged


def test_a_jensen_step_the_right_way_round_is_still_proved(tmp_path, capsys):
    path = tmp_path / "j.toml"
    path.write_text(JENSEN_REVERSED.replace('rel = "<="', 'rel = ">="'), "utf-8")
    assert main(["check", "--no-cache", str(path)]) == 0
    assert "wrong way" not in capsys.readouterr().out


# ---------------------------------------------------------------------------- F6: a card only checked

ONLY_CHECKED = """title = "Coins"
K = 2

[[card]]
front = "How large can a coin's entropy be?"
back = "One bit."
formula = "H(q) <= log(2)"
"""


def test_a_card_only_checked_is_refused_saying_proved_is_required_and_what_to_do(tmp_path, capsys):
    path = tmp_path / "dk.toml"
    path.write_text(ONLY_CHECKED, "utf-8")
    assert main(["flashcards", str(path), "--anki", str(tmp_path / "k.apkg")]) == 1
    err = capsys.readouterr().err
    assert "printed only with checked formulas" not in err and "card 1 is checked" in err
    assert "only with a formula proved for every instance" in err and "drop the card's formula" in err
    assert not (tmp_path / "k.apkg").exists()
    assert main(["cards", str(path), "--check"]) == 1
    out = capsys.readouterr().out
    assert "1 checked; NOT all proved" in out and "NOT all hold" not in out


# ---------------------------------------------------------------------------- F4: a label's relation, at its sign

DECK = """title = "{title}"

[[card]]
front = "x"
back = "y"
topic = "{topic}"
formula = "ELBO(q) <= log(p(x))"
"""


@pytest.mark.parametrize("title, topic, place, sign", [
    ("HTML <b>deck</b>", "gap", "deck.toml:1:15: title:", "(<)"),
    ("Bounds", "the bound &lt; the evidence", "deck.toml:6:20: card 1: 'topic':", "(&lt;)"),
])
def test_a_relation_in_a_decks_label_is_reported_at_its_sign(tmp_path, capsys, monkeypatch, title, topic, place,
                                                              sign):
    monkeypatch.chdir(tmp_path)
    Path("deck.toml").write_text(DECK.format(title=title, topic=topic), "utf-8")
    assert main(["cards", "deck.toml", "--check"]) == 2
    err = capsys.readouterr().err
    assert place in err and sign in err


def test_a_spelled_relation_in_a_label_says_why_it_counts(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("deck.toml").write_text(DECK.format(title="a &lt; b", topic="gap"), "utf-8")
    assert main(["cards", "deck.toml", "--check"]) == 2
    assert "a page that decodes HTML entities" in capsys.readouterr().err


# ---------------------------------------------------------------------------- minors

ONLY_CHECKED_CLAIM = """title = "Entropy of a coin"
K = 2
claim = "H(q) <= log(2)"
start = "H(q)"

[[step]]
rel = "<="
expr = "log(2)"
rule = "algebra"
accept = "checked"
why = "a coin's entropy is at most one bit"
"""


def test_a_claim_established_only_on_checked_instances_is_counted_as_such(tmp_path, capsys, monkeypatch):
    """The summary said "1/1 claims established" where the file's own line says "claim checked, not
    proved", and the page "0 of 1 step are proved"; fresh and from the cache alike."""
    from elbo_sym import __main__ as entry
    from elbo_sym.publish.web import derivations_page
    from elbo_sym.report.build import check_file

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ELBO_SYM_NO_CACHE", raising=False)
    Path("ent.toml").write_text(ONLY_CHECKED_CLAIM, "utf-8")
    for _ in range(2):  # the second run answers from the cache
        assert entry.main(["check", "ent.toml"]) == 0
        assert "1/1 claims established (1 only checked, not proved); 1/1 file(s) pass" in capsys.readouterr().out
    page = derivations_page([check_file("ent.toml")]).body
    assert "0 of 1 step are proved" not in page and "The step is not proved, only checked" in page


def test_explain_step_0_says_steps_start_at_1(tmp_path, capsys):
    path = tmp_path / "ent.toml"
    path.write_text(ONLY_CHECKED_CLAIM, "utf-8")
    assert main(["explain", str(path), "--step", "0"]) == 2
    err = capsys.readouterr().err
    assert "range at least" not in err and "'--step': 0 is below the smallest allowed, 1" in err


def test_the_shipped_selfcheck_without_solutions_speaks_of_no_answer():
    """`--solutions none` printed "Try each one before reading the answer" over a sheet with none."""
    import re

    from elbo_sym.publish.web import selfcheck_page

    page = selfcheck_page(solutions="none")
    assert not re.search("answer", page.body + page.description, re.IGNORECASE)


def test_the_gaussian_domain_sets_every_parameter_and_sign_as_math():
    from elbo_sym.engine.models.gaussian import GaussianModel
    from elbo_sym.publish.render import typeset_domain

    shown = typeset_domain(GaussianModel().describe())
    for name in ("z", r"\mu", "w", "b", "x", r"\sigma", "s", ">"):
        assert rf"\({name}\)" in shown, name
    assert r"\textgreater" not in shown
    assert typeset_domain("DDPM's forward process, any weights") == "DDPM’s forward process, any weights"
