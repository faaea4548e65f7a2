"""Red team rt30's findings on messages and decks (F2, F3, F5, F6; F1 is in test_premise_ranges.py).

F2: a Gaussian value has a log(pi) term and is decided exactly (docs/02); the report gave it no exact
value ("has no exact value here: a value with a log(pi) term") right after saying the example's
expected values hold exactly.  Its row now carries the exact value, as the check compared it.
F6: the example's givens listed z = 0 (and, with q fixed, mu = 0 and sigma = 1), values the file never
gave; they are listed only when a quantity of the table depends on them.
F3: an over-long number was quoted cut, as a fine fraction, "is not a number like 3/4".
F5: `cards` printed a card whose answer claims a false relation, exit 0, while `flashcards` refused it.
"""

from __future__ import annotations

import math
import subprocess
from fractions import Fraction

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from latex_tools import require_latex

from elbo_sym.cli import main
from elbo_sym.publish.handouts import derivations_handout, write_handouts
from elbo_sym.report.build import check_file
from elbo_sym.report.text import closing_lines

GIVEN = {"mu": "1/2", "sigma": "1", "w": "2", "b": "0", "x": "1", "s": "1"}
PARAMS = "{ " + ", ".join(f'{k} = "{v}"' for k, v in GIVEN.items()) + " }"
KL_FILE = f'''title = "gaussian example"
model = "gaussian"
start = "KL(q(z), p(z))"
[[step]]
rel = "="
expr = "(mu**2 + sigma**2 - 1 - log(sigma**2)) / 2"
rule = "algebra"
[[example]]
params = {PARAMS}
[example.expect]
"log(p(x))" = "-log(pi)/2 - log(2)/2 - log(5)/2 - 1/10"
'''
TIGHT_FILE = '''title = "tight"
model = "gaussian"
assume = "q(z) = p(z | x)"
start = "ELBO(q)"
[[step]]
rel = "="
expr = "log(p(x))"
rule = "assumption"
[[example]]
params = { w = "3/4", b = "0", x = "1", s = "1" }
'''


def log_evidence(w: Fraction, b: Fraction, s: Fraction, x: Fraction) -> float:
    """log N(x; b, w^2 + s^2), the marginal of z ~ N(0, 1), x | z ~ N(w z + b, s^2), in floats."""
    variance = float(w * w + s * s)
    return -0.5 * math.log(2 * math.pi * variance) - float(x - b) ** 2 / (2 * variance)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rt30")
    (folder / "kl.toml").write_text(KL_FILE, "utf-8")
    (folder / "tight.toml").write_text(TIGHT_FILE, "utf-8")
    return check_file(str(folder / "kl.toml")), check_file(str(folder / "tight.toml"))


def test_a_value_with_a_log_pi_term_has_its_exact_value(reports) -> None:
    kl, _ = reports
    (example,) = kl.examples
    assert example.holds and not example.unevaluated
    row = next(r for r in example.rows if r.symbol.text == "log(p(x))")
    assert "log(pi)" in row.exact.text and r"\pi" in row.exact.latex
    wanted = log_evidence(Fraction(2), Fraction(0), Fraction(1), Fraction(1))
    assert abs(float(row.nats) - wanted) < 1e-4, (row.nats, wanted)
    assert not any("no exact value" in line for line in closing_lines(kl))


def test_the_givens_are_what_the_file_gives(reports) -> None:
    kl, tight = reports
    assert sorted(g.symbol.text for g in kl.examples[0].given) == sorted(GIVEN)  # no z = 0
    texts = [g.symbol.text for g in tight.examples[0].given]
    assert texts == ["w", "b", "s", "x", "q(z)"], texts  # q fixed: not its unused mu = 0, sigma = 1


def test_a_filled_in_value_a_quantity_uses_is_listed(tmp_path) -> None:
    """z = 0 stays where the table's values depend on it (a quantity at z)."""
    path = tmp_path / "z.toml"
    path.write_text(KL_FILE.replace('start = "KL(q(z), p(z))"', 'start = "log(p(z)) + KL(q(z), p(z))"')
                    .replace('expr = "(mu', 'expr = "log(p(z)) + (mu'), "utf-8")
    report = check_file(str(path))
    assert report.ok, report.problems
    given = {g.symbol.text: g.values for g in report.examples[0].given}
    assert given.get("z") == ("0",), given


@pytest.mark.full
def test_the_derivation_sheet_prints_the_value_and_no_z(reports, tmp_path) -> None:
    require_latex()
    (report,) = write_handouts([derivations_handout(list(reports))], tmp_path)
    assert report.ok, report.message
    text = " ".join(subprocess.run(["pdftotext", str(report.pdf), "-"], capture_output=True, text=True, check=True,
                                   timeout=CHILD_TIMEOUT_SECONDS).stdout.split())
    assert "no exact value" not in text and "−1.8237" in text, text
    assert "z = 0" not in text and "µ = 0" not in text, text


def test_an_over_long_number_is_quoted_cut_with_an_ellipsis_and_called_too_long() -> None:
    """F3: '1/10000000000000000' (the first 19 characters, a fine fraction) "is not a number like 3/4"."""
    from elbo_sym.engine.derivation import MAX_NUMBER_CHARS, DerivationError, loads

    long = "1/" + "1" + "0" * 30 + "1"
    text = KL_FILE.replace('mu = "1/2"', f'mu = "{long}"')
    with pytest.raises(DerivationError) as raised:
        loads(text, "long.toml")
    message = str(raised.value)
    quoted = repr(long[:MAX_NUMBER_CHARS] + "...")
    assert f"params.mu: {quoted} is too long ({len(long)} characters" in message, message
    assert "not a number like" not in message
    with pytest.raises(DerivationError, match=r"'0\.75\.1' is not a number like 3/4 or 0\.25"):
        loads(KL_FILE.replace('mu = "1/2"', 'mu = "0.75.1"'), "bad.toml")


DECK = """title = "Deck"

[[card]]
front = "Is the entropy of q never negative?"
back = "Yes: $H(q) >= 0$ always."
"""


@pytest.mark.full
def test_cards_prints_a_deck_by_the_rule_of_flashcards(tmp_path, capsys) -> None:
    """H(q) >= 0 is false for densities (K = "any"): neither print command prints the card."""
    path = tmp_path / "deck.toml"
    path.write_text(DECK, "utf-8")
    for argv in (["cards", str(path)], ["cards", "--json", str(path)], ["flashcards", str(path)]):
        assert main(argv) == 1, argv
        out, err = capsys.readouterr()
        assert "H(q) >= 0" not in out and "card 1 is refuted" in err, (argv, out, err)
    path.write_text(DECK.replace("$H(q) >= 0$", "$KL(q(z), p(z)) >= 0$"), "utf-8")  # true: printed
    assert main(["cards", str(path)]) == 0
    assert "$KL(q(z), p(z)) >= 0$ always" in capsys.readouterr().out
