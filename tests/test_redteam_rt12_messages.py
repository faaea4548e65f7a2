"""Red team rt12 F4: messages that tell the author what to do, in the file's own words.

`check .` in a course folder met the deck and said "unknown key 'card'"; K = 1979-05-27 was
shown as datetime.date(1979, 5, 27); a refused parameter name did not state the rule; the
chain's K message offered "any" with two layers only (five are allowed); `explain` printed
the unfolded side "-log(1) + log(p_x@theta)".
"""

from __future__ import annotations

import re

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.limits import MAX_SHOWN_VALUE_CHARS, PARAMETER_NAME_RULE

GAP = ('title = "t"\nK = 2\nstart = "log(p(x)) - ELBO(q)"\n\n[[step]]\nrel = "="\n'
       'expr = "KL(q(z), p(z | x))"\nrule = "definition"\n')
DECK = ('title = "Week 5"\n\n[[card]]\nfront = "What does the ELBO bound?"\nback = "log p(x)"\n'
        'formula = "ELBO(q) <= log(p(x))"\n')
BETA = ('title = "t"\nK = "any"\nstart = "E(q, log(p(x | z))) - NAME * KL(q(z), p(z))"\n\n[params]\nNAME = ">= 1"\n\n'
        '[[step]]\nrel = "<="\nexpr = "log(p(x))"\nrule = "kl-nonneg"\n')
CHAIN = ('title = "c"\nlatents = ["z1", "z2", "z3"]\nK = KAY\nstart = "ELBO(q)"\n\n[[step]]\nrel = "<="\n'
         'expr = "log(p(x))"\nrule = "kl-nonneg"\n')
ESTEP = """\
title = "The E-step makes the bound tight"
K = "any"
assume = "q(z) = p(z | x; theta)"
start = "ELBO(q, theta)"

[params]
theta = "real"

[[step]]
rel = "="
expr = "log(p(x | theta)) - KL(q(z), p(z | x; theta))"
rule = "definition"
"""


def message(text: str) -> str:
    with pytest.raises(DerivationError) as info:
        loads(text, "f.toml")
    return info.value.message


def test_check_on_a_deck_says_it_is_a_deck_and_which_command_checks_it(tmp_path, capsys):
    (tmp_path / "cards.toml").write_text(DECK, "utf-8")
    assert main(["check", "--no-cache", str(tmp_path / "cards.toml")]) == 2
    err = capsys.readouterr().err
    assert "cards.toml is a deck ([[card]] tables), not a derivation" in err
    assert f"elbo-sym cards {tmp_path / 'cards.toml'} --check" in err and "unknown key" not in err


@pytest.mark.parametrize(("line", "shown"), [
    ("K = 1979-05-27", "got 1979-05-27"), ("K = true", "got true"), ("K = 2.5", "got 2.5"),
    ('K = "all"', 'got "all"'), ("K = [2]", "got [2]"),
])
def test_the_k_error_shows_the_value_as_the_file_writes_it(line, shown):
    text = message(GAP.replace("K = 2", line))
    assert text.endswith(shown) and "datetime" not in text and "True" not in text


def test_a_refused_parameter_name_states_the_rule_and_the_rule_is_the_code():
    assert "one `_` and a letter with up to 9 more letters or digits (theta_old)" in message(
        BETA.replace("NAME", "__class__"))
    assert "it names an observation" in message(BETA.replace("NAME", "x"))
    assert "(reserved: " in message(BETA.replace("NAME", "q"))
    # the rule as stated: a letter and up to 19 more; 2 to 12 letters, up to 3 digits, _, a letter and up to 9 more
    for name in ("b" * 20, "ab_c", "abcdefghijkl123_c123456789"):
        loads(BETA.replace("NAME", name), "f.toml")
    for name in ("b" * 21, "a_c", "abcdefghijklm_c", "abcd1234_c", "ab_c1234567890", "ab_1"):
        assert "cannot name a parameter: a name is a letter (a-z, A-Z)" in message(BETA.replace("NAME", name)), name


def test_the_loaders_words_and_cut_come_from_limits():
    """One place for each constant (elbo_sym.limits): the rule a refused name states, and where a
    quoted value is cut."""
    assert message(BETA.replace("NAME", "ab_1")).endswith(f"cannot name a parameter: {PARAMETER_NAME_RULE}")
    long = "7" * (MAX_SHOWN_VALUE_CHARS + 5)
    assert message(GAP.replace("K = 2", f'K = "{long}"')).endswith(f'got "{long[:MAX_SHOWN_VALUE_CHARS - 1]}...')


def test_the_chains_k_message_gives_the_range_for_its_layers_and_any_up_to_five():
    text = message(CHAIN.replace("KAY", "5"))
    assert "(with 3 layers K from 2 to 4)" in text and 'or K = "any" (every latent space, up to 5 layers)' in text
    loads(CHAIN.replace("KAY", "4"), "f.toml")  # the range it states is the code's
    loads(CHAIN.replace("KAY", '"any"').replace('"z3"]', '"z3", "z4", "z5"]'), "f.toml")


def test_explain_shows_log_1_as_0(tmp_path, capsys):
    path = tmp_path / "estep.toml"
    path.write_text(ESTEP, "utf-8")
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  right = log\(p_x@theta\)$", out, re.M), out
    assert "log(1)" not in out
