"""An error inside a derivation's multi-line string (``\"\"\"...\"\"\"`` or ``'''...'''``) names
file:line:column of the offending character itself, as a deck's errors do since session 12: a
formula on the string's third line, a tab before it, a prose formula, a literal string."""

from __future__ import annotations

import pytest

from elbo_sym.engine.derivation import DerivationError, loads

HEAD = 'title = "t"\nK = 2\nstart = "log(p(x)) - ELBO(q)"\n\n[[step]]\nrel = "="\n'
TAIL = 'rule = "definition"\n'


def error_of(text: str) -> DerivationError:
    with pytest.raises(DerivationError) as info:
        loads(text, "f.toml")
    return info.value


@pytest.mark.parametrize(("written", "bad"), [
    ('expr = """(KL(q(z), p(z | x)) + foo(1))"""\n', "foo"),  # the string's first line, after the opening
    ('expr = """\n(KL(q(z),\n   p(z | x)) + foo(1))\n"""\n', "foo"),  # a later line (the third of the value)
    ('expr = """\n(KL(q(z),\n\tp(z | x))\n\t+ foo(1))\n"""\n', "foo"),  # after a tab
    ("expr = '''\n(KL(q(z),\n  p(z | x)) +\n  bar(1))'''\n", "bar"),  # a literal string
    ('expr = """(KL(q(z), \\\n      p(z | x)) + foo(1))"""\n', "foo"),  # a line-ending backslash
])
def test_a_formula_error_in_a_multiline_string_names_its_line_and_column(written, bad):
    text = HEAD + written + TAIL
    error = error_of(text)
    lines = text.splitlines()
    line = next(n for n, source in enumerate(lines, 1) if f"{bad}(" in source)
    column = lines[line - 1].index(f"{bad}(")
    assert (error.line, error.column) == (line, column), str(error)
    assert str(error).startswith(f"f.toml:{line}:{column + 1}: step 1: expr: unknown function '{bad}'")
    assert error.source == lines[line - 1] and error.pointer().splitlines()[1].rstrip().endswith("^")


def test_a_prose_formula_in_a_multiline_why_names_its_line_and_column():
    text = HEAD + 'expr = "KL(q(z), p(z | x))"\n' + TAIL + 'why = """the gap,\n\tas a KL: $KL(q(z), p(z | x)$ here"""\n'
    error = error_of(text)
    lines = text.splitlines()
    column = lines[-1].index("KL(") + 2  # the "(" that is never closed
    assert (error.line, error.column) == (len(lines), column), str(error)


def test_a_one_line_string_still_names_its_column():
    """The multi-line reading is only where no one-line string holds the value."""
    text = HEAD + 'expr = "KL(q(z), p(z | x)) + foo(1)"\n' + TAIL
    error = error_of(text)
    assert (error.line, error.column) == (7, text.splitlines()[6].index("foo("))
