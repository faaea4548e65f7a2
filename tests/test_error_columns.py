"""Every input error of a derivation file names file:line:col and shows the line with a caret
(README's promise; red team rt26: an unknown key, a missing `expr` and a step without its
[[step]] header gave file:line only, and the last one no hint about the header)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elbo_sym.cli import main

FILE = '''title = "The gap"
K = "any"
start = "log(p(x)) - ELBO(q)"

[[step]]
rel = "="
expr = "KL(q(z), p(z | x))"
rule = "definition"
why = "the gap is a KL"
'''

DOTTED = 'step.rel = "="\nstep.expr = "KL(q(z), p(z | x))"\n'

CASES = {
    # name: (file text, line, the text the caret points at, a part of the message)
    "unknown top-level key": (FILE.replace("title =", "titel ="), 1, "titel", "unknown key 'titel'"),
    "unknown step key": (FILE.replace("why =", "wyh ="), 9, "wyh", "step 1: unknown key 'wyh'"),
    "missing expr": (FILE.replace('expr = "KL(q(z), p(z | x))"\n', ""), 5, "[[step]]", "step 1: missing 'expr'"),
    "a step without its header": (FILE.replace("[[step]]\n", ""), 5, "rel", "start each step with a [[step]] header"),
    # a TOML dotted key names its own line, not its table's header (session 15)
    "a dotted step key inside a step": (FILE + '  step.why = "again"\n', 10, "step.why",
                                        "`step.why` inside [[step]] number 1: the [[step]] header already starts"),
    "dotted step keys without a header": (FILE.split("[[step]]")[0] + DOTTED, 5, "step.rel",
                                          "a dotted key `step.<key> = ...` makes one [step] table"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_error_has_a_column_and_a_caret(tmp_path: Path, capsys, name: str) -> None:
    text, line, pointed, part = CASES[name]
    path = tmp_path / "input.toml"
    path.write_text(text)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    (at,) = [i for i, row in enumerate(err) if row.startswith("error:")]
    match = re.match(rf"error: {re.escape(str(path))}:(\d+):(\d+): (.*)$", err[at])
    assert match, err[at]
    assert int(match.group(1)) == line and part in match.group(3), err[at]
    column = int(match.group(2)) - 1
    source = text.splitlines()[line - 1]
    assert source[column:].startswith(pointed), (source, column)
    assert err[at + 1].strip() == source.strip()  # the line, then the caret under the column
    indent = len(source) - len(source.lstrip())
    assert err[at + 2].index("^") - err[at + 1].index(source.strip()[0]) == column - indent
