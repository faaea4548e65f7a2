"""An example's value outside its domain is named at its own place, file:line:col under the value
(red team rt47 err/e4: a likelihood of 3/2 had its caret under the ``x2`` list that holds it):
inline tables, a list over several lines with comments, a prior's zero; a list's sum that is not 1
is the whole list's, so its caret stays under the list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.derivation import list_element

HEAD = 'title = "t"\nK = 2\ndata = ["x1", "x2"]\nstart = "log(p(x1))"\n\n[[step]]\nrel = "<="\nexpr = "0"\n' \
       'rule = "algebra"\n\n[[example]]\n'

CASES = {
    # name: (the example's lines, the line of the error, what the caret is under, a part of the message)
    "rt47 e4, inline": ('prior = ["1/2", "1/2"]\nlikelihood = { x1 = ["1/2", "1/2"], x2 = ["1/2", "3/2"] }\n'
                        'q = { x1 = ["1/2", "1/2"], x2 = ["1/2", "1/2"] }\n', 13, '3/2"', "must lie in (0, 1]"),
    "first of the list": ('prior = ["1/2", "1/2"]\nlikelihood = { x1 = ["0", "1/2"], x2 = ["1/2", "1/2"] }\n'
                          'q = { x1 = ["1/2", "1/2"], x2 = ["1/2", "1/2"] }\n', 13, '0", "1/2"] ,',
                          "likelihood[x1] values"),
    "a list over lines, with comments": ('prior = ["1/2", "1/2"]\nq = { x1 = ["1/2", "1/2"], x2 = ["1/2", "1/2"] }\n'
                                         '[example.likelihood]\nx1 = ["1/2", "1/2"]\nx2 = [\n  "1/2", # "9", [\n'
                                         '  "5/4",\n]\n', 18, '5/4"', "likelihood[x2] values"),
    "a prior's zero": ('prior = ["1", "0"]\nlikelihood = { x1 = ["1/2", "1/2"], x2 = ["1/2", "1/2"] }\n'
                       'q = { x1 = ["1/2", "1/2"], x2 = ["1/2", "1/2"] }\n', 12, '0"]', "probability <= 0"),
    "a q's sum: the list": ('prior = ["1/2", "1/2"]\nlikelihood = { x1 = ["1/2", "1/2"], x2 = ["1/2", "1/2"] }\n'
                            'q = { x1 = ["1/2", "1/3"], x2 = ["1/2", "1/2"] }\n', 14, '["1/2", "1/3"]', "not 1"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_caret_is_under_the_bad_value(tmp_path: Path, capsys, name: str) -> None:
    example, line, pointed, part = CASES[name]
    path = tmp_path / "input.toml"
    text = HEAD + example
    path.write_text(text)
    code = main(["check", "--no-cache", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err, (code, out, err)
    (error,) = [row for row in err.splitlines() if row.startswith("error:")]
    match = re.match(rf"error: {re.escape(str(path))}:(\d+):(\d+): (.*)$", error)
    assert match and int(match.group(1)) == line and part in match.group(3), error
    source = text.splitlines()[line - 1]
    column = int(match.group(2)) - 1
    assert source[column:].startswith(pointed.split(" ,")[0]), (source, column, pointed)
    shown = err.splitlines()[err.splitlines().index(error) + 1:][:2]  # the line, then the caret under the value
    assert shown == [f"    {source}", " " * (4 + column) + "^"], shown


def test_list_element_reads_toml_arrays() -> None:
    lines = ['a = ["x,]", [1, 2], \'y\', "q\\"]", 7]  # ["not", 1]', "b = 3"]
    at = lines[0].index("[")
    assert list_element(lines, 1, at, 0) == (1, at + 2)  # a string: its first character, inside the quotes
    assert list_element(lines, 1, at, 1) == (1, lines[0].index("[1"))  # a nested array: its bracket
    assert list_element(lines, 1, at, 2) == (1, lines[0].index("y"))
    assert list_element(lines, 1, at, 3) == (1, lines[0].index('q\\"'))  # an escaped quote ends no string
    assert list_element(lines, 1, at, 4) == (1, lines[0].index("7"))
    assert list_element(lines, 1, at, 5) is None  # fewer elements: no place (the comment's are none)
    assert list_element(lines, 2, 4, 0) is None  # no array opens there
    assert list_element(["a = [", "  # 1,", "", "  2, 3", "]"], 1, 4, 1) == (4, 5)
