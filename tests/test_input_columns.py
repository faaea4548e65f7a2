"""Input errors of the newer model keys name file:line:col (red team round 7): the Gaussian
layers' [params] narrowing and `assume`, `data_space`, the theta example tables, D = "any"
with an assumption -- exit 2, one error line, the caret under the key or value at fault."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elbo_sym.cli import main

GAUSS_LAYERS = '''title = "t"
summary = "s"
model = "gaussian"
latents = ["z1", "z2"]
{extra}start = "KL(q(z2 | x), p(z2))"
{params}
[[step]]
rel = "="
expr = "(c1**2 * c2**2 * (x**2 - 1) - log(1 - c1**2 * c2**2)) / 2"
rule = "algebra"
'''

EM = '''title = "EM"
summary = "s"
K = "any"
assume = [
  "q(z) = p(z | x; theta_old)",
  "ELBO(q, theta_new) >= ELBO(q, theta_old)",
]
claim = "log(p(x | theta_new)) >= log(p(x | theta_old))"
start = "log(p(x | theta_new))"

[params]
theta_old = "real"
theta_new = "real"

[[step]]
rel = ">="
expr = "ELBO(q, theta_new)"
rule = "kl-nonneg"

[[step]]
rel = ">="
expr = "ELBO(q, theta_old)"
rule = "assumption"

[[step]]
rel = "="
expr = "log(p(x | theta_old))"
rule = "assumption"

[[example]]
{example}
'''

CASES = {
    # name: (file text, line, the text the caret points at, a part of the message)
    "narrowing widens c1": (GAUSS_LAYERS.format(extra="", params='\n[params]\nc1 = "in (0, 1]"\n'),
                            8, 'in (0, 1]"', "may only narrow its range"),
    "narrowing v2 >= 0": (GAUSS_LAYERS.format(extra="", params='\n[params]\nv2 = ">= 0"\n'),
                          8, '>= 0"', "may only narrow its range"),
    "assume with Gaussian layers": (GAUSS_LAYERS.format(extra='assume = ["q(z1, z2 | x) != p(z1, z2 | x)"]\n',
                                                        params=""),
                                    5, "assume =", "'assume' is not supported with Gaussian layers"),
    "data_space not data": ('title = "t"\nsummary = "s"\nK = 2\ndata = ["x1", "x2"]\n'
                            'data_space = ["x1", "x2", "x3"]\nstart = "Sum(q(z | x1) * p(x1 | z), z)"\n\n'
                            '[[step]]\nrel = "="\nexpr = "Sum(q(z | x1) * p(x1 | z), z)"\nrule = "algebra"\n',
                            5, '["x1", "x2", "x3"]', "data_space lists every value x takes"),
    "theta table missing a parameter": (EM.format(example='prior = { theta_old = ["1/2", "1/2"] }\n'
                                                          'likelihood = { theta_old = ["1/5", "3/5"] }'),
                                        31, "{ theta_old", "prior gives one list per parameter"),
    "theta table length": (EM.format(example='prior = { theta_old = ["1/2", "1/2"], theta_new = ["1/4", "1/4", '
                                             '"1/2"] }\nlikelihood = { theta_old = ["1/5", "3/5"], theta_new = '
                                             '["1/5", "4/5"] }'),
                           31, '["1/4", "1/4", "1/2"]', "prior[theta_new] has 3 values"),
    "theta table sum": (EM.format(example='prior = { theta_old = ["1/2", "1/2"], theta_new = ["1/2", "1/3"] }\n'
                                          'likelihood = { theta_old = ["1/5", "3/5"], theta_new = ["1/5", "4/5"] }'),
                        31, '["1/2", "1/3"]', "sums to 5/6, not 1"),
    "theta likelihood above 1": (EM.format(example='prior = { theta_old = ["1/2", "1/2"], theta_new = ["1/4", '
                                                   '"3/4"] }\nlikelihood = { theta_old = ["1/5", "3/5"], '
                                                   'theta_new = ["6/5", "4/5"] }'),
                                 32, '6/5", "4/5"]', "must lie in (0, 1]"),  # the value, not its list (rt47)
    "q fixed by the assumption": (EM.format(example='prior = { theta_old = ["1/2", "1/2"], theta_new = ["1/4", '
                                                    '"3/4"] }\nlikelihood = { theta_old = ["1/5", "3/5"], '
                                                    'theta_new = ["1/5", "4/5"] }\nq = ["1/3", "2/3"]'),
                                  33, "q = ", "q is fixed by the assumption"),
    "D any with assume": ('title = "t"\nsummary = "s"\nmodel = "gaussian"\nD = "any"\nassume = "q(z) != p(z | x)"\n'
                          'start = "log(p(x))"\n\n[[step]]\nrel = ">="\nexpr = "ELBO(q)"\nrule = "kl-nonneg"\n',
                          5, "assume =", "free diagonal Gaussian (no assume)"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_error_names_line_and_column(tmp_path: Path, capsys, name: str) -> None:
    text, line, pointed, part = CASES[name]
    path = tmp_path / "input.toml"
    path.write_text(text)
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    errors = [row for row in err.splitlines() if row.startswith("error:")]
    assert len(errors) == 1, err
    match = re.match(rf"error: {re.escape(str(path))}:(\d+):(\d+): (.*)$", errors[0])
    assert match, errors[0]
    assert int(match.group(1)) == line, errors[0]
    assert part in match.group(3), errors[0]
    source_line = text.splitlines()[line - 1]
    column = int(match.group(2)) - 1  # the message counts columns from 1
    assert source_line[column:].startswith(pointed.lstrip('"')) or source_line[column:].startswith(pointed), \
        (source_line, column, pointed)
