"""Every key of a real derivation and a real deck, given a value of each TOML type: the loader
answers with one DerivationError at that key's line (or loads the file), never another exception.

rt3 F2/F3: `rule = []` raised TypeError (unhashable list), `[[example]] params = 0` AttributeError;
both escaped as tracebacks (exit 1) instead of one line at the key (exit 2)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from elbo_sym.engine.derivation import DerivationError, load
from elbo_sym.lesson.practice import load_deck

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite_sizes import FULL_CAMPAIGNS  # noqa: E402

pytestmark = pytest.mark.sized

REPO = Path(__file__).resolve().parents[1]
ALL_DERIVATIONS = ("derivations/literature/renyi-bound.toml", "derivations/literature/kingma-welling-eq3.toml",
                   "derivations/literature/em-m-step.toml", "derivations/teaching/gap-slip.toml")
ALL_DECKS = ("elbo_sym/lesson/data/flashcards.toml", "elbo_sym/lesson/data/selfcheck.toml")
DERIVATIONS = ALL_DERIVATIONS if FULL_CAMPAIGNS else ALL_DERIVATIONS[:2]
"""The fast tier: a discrete file with [params] and [[example]] params, and a Gaussian one."""
DECKS = ALL_DECKS if FULL_CAMPAIGNS else ALL_DECKS[:1]
"""The fast tier: the flashcards (every card key); the full one adds the self-check."""
VALUES = {"string": '"x"', "integer": "0", "float": "1.5", "boolean": "true", "array": "[1, 2]",
          "empty array": "[]", "table": "{ a = 1 }", "datetime": "1979-05-27T07:32:00Z"}
"""One value of every TOML type (an empty array too: `rule = []` was rt3's F2)."""
_KEY_LINE = re.compile(r'(\s*(?:"[^"]*"|[A-Za-z_][\w-]*)\s*=\s*)(.*)$')
_HEADER = re.compile(r"\s*\[\[?\s*([A-Za-z_][\w.-]*)\s*\]\]?\s*$")
EVERY_LINE = FULL_CAMPAIGNS
"""The full tier replaces the value of every key line; the fast tier of each key's first line in each
kind of table (the flashcards' 18 cards repeat the same few keys: a card key is one case, not 18)."""


def _key_lines(text: str, every_line: bool = True) -> list[tuple[int, str]]:
    """(line number, prefix up to the value) of each `key = value` written on one line; with
    `every_line` False only the first line of each key in each kind of table ([[step]], [[card]], ...)."""
    out, seen, table = [], set(), ""
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header is not None:
            table = header.group(1)
            continue
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        try:
            tomllib.loads(line)
        except tomllib.TOMLDecodeError:
            continue  # a line inside a multi-line string or array
        key = (table, match.group(1).split("=")[0].strip())
        if every_line or key not in seen:
            seen.add(key)
            out.append((number, match.group(1)))
    return out


def _cases(files: tuple[str, ...]) -> list:
    cases = []
    for name in files:
        text = (REPO / name).read_text("utf-8")
        for number, prefix in _key_lines(text, EVERY_LINE):
            for kind in VALUES:
                cases.append(pytest.param(name, number, prefix, kind, id=f"{Path(name).stem}:{number}:{kind}"))
    return cases


def _replaced(tmp_path: Path, name: str, number: int, prefix: str, kind: str) -> Path:
    lines = (REPO / name).read_text("utf-8").splitlines()
    lines[number - 1] = prefix + VALUES[kind]
    path = tmp_path / Path(name).name
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _assert_one_clean_error(path: Path, number: int, read) -> DerivationError | None:
    """The file loads, or its one error names file:line:column (the error, for more checks)."""
    try:
        read(path)
    except DerivationError as error:
        assert error.column is not None, str(error)
        where = f"{path}:{error.line}" + (f":{error.column + 1}:" if error.column is not None else ":")
        assert str(error).startswith(where), str(error)
        assert "\n" not in error.message, error.message
        # at the replaced key's line, or a line of its table (a card's `rule` that now has no relation);
        # a teaching file's expect/expect_refuted changed: at a step's `repair`, which they no longer allow
        lines = path.read_text("utf-8").splitlines()
        replaced = lines[number - 1].split("=")[0].strip()
        moved = replaced in ("expect", "expect_refuted") and lines[error.line - 1].lstrip().startswith("repair")
        assert moved or error.line in _table_of(path, number), (str(error), number)
        return error
    return None


def _table_of(path: Path, number: int) -> range:
    """The lines of the table (or the top level) that line `number` is in."""
    headers = [n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1) if line.lstrip().startswith("[")]
    first = max((n for n in headers if n <= number), default=1)
    last = min((n for n in headers if n > number), default=10**6)
    return range(first, last)


def test_the_fuzz_finds_keys_in_every_table() -> None:
    """The cases cover the top level, [params], [[step]], [[example]], [example.expect] and cards."""
    text = (REPO / DERIVATIONS[0]).read_text("utf-8")
    keys = {prefix.split("=")[0].strip() for _, prefix in _key_lines(text)}
    assert {"title", "K", "claim", "start", "alpha", "rel", "expr", "rule", "why", "prior", "params"} <= keys
    deck = {prefix.split("=")[0].strip() for _, prefix in _key_lines((REPO / DECKS[0]).read_text("utf-8"))}
    assert {"title", "topic", "front", "formula"} <= deck
    for name in ALL_DERIVATIONS + ALL_DECKS:  # the fast tier's first lines name every key the full tier's do
        every = (REPO / name).read_text("utf-8")
        assert {p for _, p in _key_lines(every, False)} == {p for _, p in _key_lines(every)}, name
        assert len(_key_lines(every, False)) <= len(_key_lines(every))


@pytest.mark.parametrize(("name", "number", "prefix", "kind"), _cases(DERIVATIONS))
def test_a_derivation_key_of_any_toml_type_is_one_clean_error(tmp_path, name, number, prefix, kind) -> None:
    _assert_one_clean_error(_replaced(tmp_path, name, number, prefix, kind), number, load)


@pytest.mark.parametrize(("name", "number", "prefix", "kind"), _cases(DECKS))
def test_a_deck_key_of_any_toml_type_is_one_clean_error(tmp_path, name, number, prefix, kind) -> None:
    """Every key of the lesson's decks (card keys too: before, a card key of the wrong type named
    file:line only): file:line:column, at the replaced line's key or value when it is that line."""
    error = _assert_one_clean_error(_replaced(tmp_path, name, number, prefix, kind), number, load_deck)
    if error is not None and error.line == number:
        key, value = len(prefix) - len(prefix.lstrip()), len(prefix)
        assert error.column in (key, value, value + 1), (str(error), prefix)  # + 1: inside a string's quotes


# -- rt3's repros, each at its key's line and column ------------------------------------------

NO_PARAMS = ('title = "an example whose params is a number"\nstart = "log(p(x))"\n\n[[step]]\nrel = ">="\n'
             'expr = "ELBO(q)"\nrule = "kl-nonneg"\n\n[[example]]\nprior = ["1/2", "1/2"]\n'
             'likelihood = ["1/2", "1/2"]\nq = ["1/2", "1/2"]\nparams = 0\n')
"""rt3's F3 file: line 7 is the rule, line 13 the example's params."""


@pytest.mark.parametrize("rule", ["[]", '["algebra"]', "{ name = \"algebra\" }"])
def test_a_rule_that_is_not_a_string_is_one_error_at_its_value(tmp_path, rule) -> None:
    path = tmp_path / "rule.toml"
    path.write_text(NO_PARAMS.replace('"kl-nonneg"', rule), "utf-8")
    with pytest.raises(DerivationError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}:7:8: step 1: rule must be a string naming a rule (known: ")


@pytest.mark.parametrize(("value", "column"), [("0", 10), ('"x"', 11), ("[1]", 10), ("true", 10)])
def test_example_params_that_are_not_a_table_is_one_error_at_its_value(tmp_path, value, column) -> None:
    path = tmp_path / "params.toml"
    path.write_text(NO_PARAMS.replace("params = 0", f"params = {value}"), "utf-8")
    with pytest.raises(DerivationError) as caught:
        load(path)
    assert str(caught.value) == f"{path}:13:{column}: this model has no parameters to give (declare them in [params])"


@pytest.mark.parametrize("name", ["mu", "sigma", "w"])
def test_a_gaussian_parameter_redeclared_after_the_steps_is_reported_at_its_entry(tmp_path, name) -> None:
    path = tmp_path / "gaussian.toml"
    path.write_text('title = "t"\nmodel = "gaussian"\nstart = "mu"\n\n[[step]]\nrel = ">"\nexpr = "0"\n'
                    f'rule = "algebra"\n\n[params]\nbeta = "> 0"\n{name} = "> 0"\n', "utf-8")
    with pytest.raises(DerivationError) as caught:
        load(path)
    assert (caught.value.line, caught.value.column) == (12, 0), str(caught.value)
    assert f"'{name}' is a parameter of the Gaussian family already" in caught.value.message


CARD = 'title = "deck"\n\n[[card]]\nfront = "Q?"\nback = "B"\nformula = "KL(q(z), p(z)) >= 0"\nrule = "kl-nonneg"\n'
"""A one-card deck: line 6 is the formula, line 7 the rule."""


@pytest.mark.parametrize(("old", "new", "where"), [
    ('formula = "KL(q(z), p(z)) >= 0"', "formula = 1", "6:11: card 1: formula must be a string"),
    ('rule = "kl-nonneg"', "rule = []", "7:8: card 1: 'rule' must be a string"),
    ('rule = "kl-nonneg"', 'rule = "kl"', "7:9: card 1: unknown rule 'kl' (known: "),
    ('front = "Q?"', "front = true", "4:9: card 1: 'front' must be non-empty text"),
    ('back = "B"', 'back = "B"\ncolour = 1', "6:1: card 1: unknown key 'colour' (allowed: "),
])
def test_a_card_key_error_names_its_column(tmp_path, old, new, where) -> None:
    """A card key of the wrong type (or unknown) is one error at file:line:column -- the value, or
    the unknown key -- as a derivation's keys are (before: file:line only)."""
    path = tmp_path / "deck.toml"
    path.write_text(CARD.replace(old, new), "utf-8")
    with pytest.raises(DerivationError) as caught:
        load_deck(path)
    assert str(caught.value).startswith(f"{path}:{where}"), str(caught.value)
