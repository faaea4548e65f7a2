"""An example's values written with TOML dotted keys (``likelihood.x2 = [...]`` inside an [[example]]) are
named at their own line and value (red team rt53 class 3): each error named the line of the table's first
dotted key, ``likelihood.x1``, at its first column -- whatever the error was about ``x2``'s values, an
``params.beta`` after a ``params.gamma``, or a second ``expect."..."`` entry."""

from __future__ import annotations

import pytest

from elbo_sym.engine.derivation import DerivationError, key_column, loads

TWO_OBSERVATIONS = ('title = "t"\nK = 2\ndata = ["x1", "x2"]\nstart = "log(p(x1))"\n\n'
                    '[[step]]\nrel = "<="\nexpr = "0"\nrule = "algebra"\n\n[[example]]\nprior = ["1/2", "1/2"]\n')
GOOD = {"likelihood.x1": '["1/5", "3/5"]', "likelihood.x2": '["1/2", "1/2"]',
        "q.x1": '["1/3", "2/3"]', "q.x2": '["1/3", "2/3"]'}


def example(**changed: str) -> str:
    """The two-observation file with its example's dotted keys, `changed` ones (x3 for an extra) replaced."""
    keys = {**GOOD, **{k.replace("__", "."): v for k, v in changed.items()}}
    return TWO_OBSERVATIONS + "".join(f"{key} = {value}\n" for key, value in keys.items() if value)


def error_of(text: str) -> DerivationError:
    with pytest.raises(DerivationError) as info:
        loads(text, "d.toml")
    return info.value


def place(text: str, line_start: str, fragment: str) -> tuple[int, int]:
    """(line, 0-based column) of `fragment` on the line that starts with `line_start`."""
    lines = text.split("\n")
    number = next(i for i, line in enumerate(lines) if line.startswith(line_start))
    return number + 1, lines[number].index(fragment)


@pytest.mark.parametrize("changed, line_start, fragment, message", [
    ({"likelihood__x2": '["1/2", "3/2"]'}, "likelihood.x2", '3/2"]', "likelihood[x2] values"),
    ({"likelihood__x2": '["1/2", "abc"]'}, "likelihood.x2", 'abc"', "'abc' is not a number"),
    ({"likelihood__x2": '["1/2"]'}, "likelihood.x2", '["1/2"]', "has 1 values"),
    ({"likelihood__x2": '"1/2"'}, "likelihood.x2", '1/2"', "must be a list of fractions"),
    ({"q__x2": '["1/3", "1/3"]'}, "q.x2", '["1/3", "1/3"]', "q[x2] sums to 2/3"),
    ({"likelihood__x2": "", "likelihood__x3": '["1/2", "1/2"]'}, "likelihood.x3", "x3", "one list per observation"),
])
def test_an_error_in_a_dotted_example_key_names_its_own_line_and_value(changed, line_start, fragment, message):
    text = example(**changed)
    error = error_of(text)
    assert message in str(error), str(error)
    assert (error.line, error.column) == place(text, line_start, fragment), str(error)
    assert error.source is not None and error.source.startswith(line_start)


PARAMS = ('title = "t"\nK = 2\nstart = "beta * log(p(x))"\n\n[params]\nbeta = ">= 1"\ngamma = "real"\n\n'
          '[[step]]\nrel = "<="\nexpr = "beta * log(p(x)) + gamma - gamma"\nrule = "algebra"\n\n'
          '[[example]]\nprior = ["1/2", "1/2"]\nlikelihood = ["1/5", "3/5"]\nq = ["1/3", "2/3"]\n'
          'params.gamma = "1"\nparams.beta = "{beta}"\n{more}')


@pytest.mark.parametrize("beta, more, line_start, fragment, message", [
    ("abc", "", "params.beta", 'abc"', "'abc' is not a number"),
    ("1/2", "", "params.beta", '1/2"', "beta = 1/2 is outside beta >= 1"),
    ("2", 'params.delta = "2"\n', "params.delta", "delta", "delta is not a parameter here"),
    ("2", 'expect."log(p(x))" = "log(2/5)"\nexpect."ELBO(q)" = "log(2/5) +"\n', 'expect."ELBO(q)"', '+"',
     "a term is missing"),
])
def test_a_dotted_params_or_expect_key_is_named_at_its_own_line(beta, more, line_start, fragment, message):
    text = PARAMS.format(beta=beta, more=more)
    error = error_of(text)
    assert message in str(error), str(error)
    assert (error.line, error.column) == place(text, line_start, fragment), str(error)


def test_the_same_errors_in_an_inline_table_keep_their_place():
    """The inline form, ``likelihood = { x1 = [...], x2 = [...] }``, is still named at x2's value."""
    text = TWO_OBSERVATIONS + ('likelihood = { x1 = ["1/5", "3/5"], x2 = ["1/2", "3/2"] }\n'
                               'q = { x1 = ["1/3", "2/3"], x2 = ["1/3", "2/3"] }\n')
    error = error_of(text)
    assert (error.line, error.column) == place(text, "likelihood", '3/2"'), str(error)


def test_a_dotted_keys_value_column():
    """key_column finds the last part of a dotted key (its value too); a plain key as before."""
    assert key_column('likelihood.x2 = ["1/2"]', "x2", value=True) == 16
    assert key_column('likelihood.x2 = ["1/2"]', "x2") == 11
    assert key_column('params. "beta" = "2"', "beta", value=True) == 18
    assert key_column('beta = "2"', "beta", value=True) == 8 and key_column("[site]", "x2") == 0
