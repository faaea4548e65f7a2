"""A suggestion judged against an earlier step's suggested repair says so (red team rt26: step 2's
suggestion expr = "ELBO(q) + KL(q(z), p(z))" proves step 2 only once step 1 is repaired too, and
was printed as if it were the smallest edit of the file as written)."""

from __future__ import annotations

from elbo_sym.engine.derivation import loads
from elbo_sym.report.build import check_file

FILE = '''title = "The beta-ELBO, with a wrong range"
K = "any"
claim = "E(q, log(p(x | z))) - beta * KL(q(z), p(z)) <= log(p(x))"
start = "E(q, log(p(x | z))) - beta * KL(q(z), p(z))"

[params]
beta = "> 0"

[[step]]
rel = "="
expr = "ELBO(q) + (beta - 1) * KL(q(z), p(z))"
rule = "definition"

[[step]]
rel = "<="
expr = "ELBO(q)"
rule = "kl-nonneg"

[[step]]
rel = "<="
expr = "log(p(x))"
rule = "kl-nonneg"
'''


def test_the_suggestion_names_the_repair_it_was_judged_with():
    report = check_file(loads(FILE, "range.toml"))
    first, second = report.steps[0].suggestion, report.steps[1].suggestion
    assert first is not None and second is not None
    assert not first.describe().startswith("with step")  # judged against the file as written
    assert second.describe().startswith("with step 1 repaired as suggested, ")
    # and it is needed: step 2's edit alone, step 1 as written, leaves step 2 refuted
    alone = FILE.replace('expr = "ELBO(q)"\n', f'expr = "{second.expr}"\n', 1)
    assert alone != FILE
    assert check_file(loads(alone, "alone.toml")).steps[1].verdict == "refuted"
