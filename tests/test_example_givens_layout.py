"""An example's givens break between two givens, never after a given's = (red team rt26: the
derivations handout ended a line with "q(z | x2) =" and began the next with its values)."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.engine.derivation import loads
from elbo_sym.publish.handouts import derivations_handout, write_handouts
from elbo_sym.report.build import check_file

FILE = '''title = "Two observations: the summed ELBOs"
K = "any"
data = ["x1", "x2"]
start = "log(p(x1)) + log(p(x2)) - ELBO(q(z | x1), x1) - ELBO(q(z | x2), x2)"

[[step]]
rel = "="
expr = "KL(q(z | x1), p(z | x1)) + KL(q(z | x2), p(z | x2))"
rule = "bayes"

[[example]]
prior = ["1/2", "1/2"]
likelihood = { x1 = ["1/5", "3/5"], x2 = ["1/2", "1/4"] }
q = { x1 = ["1/3", "2/3"], x2 = ["1/4", "3/4"] }
'''
_WORD = re.compile(r'<word xMin="([0-9.]+)" yMin="([0-9.]+)" xMax="([0-9.]+)" yMax="([0-9.]+)">([^<]*)</word>')


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_no_line_of_the_givens_ends_with_an_equals_sign(tmp_path):
    (built,) = write_handouts([derivations_handout([check_file(loads(FILE, "two.toml"))])], tmp_path)
    assert built.ok, built.message + built.log_excerpt
    boxes = subprocess.run(["pdftotext", "-bbox", str(built.pdf), "-"], capture_output=True, text=True,
                           check=True, timeout=CHILD_TIMEOUT_SECONDS).stdout
    for page in boxes.split("<page ")[1:]:
        lines: dict[float, list[tuple[float, str]]] = defaultdict(list)
        for _x0, y0, x1, y1, text in _WORD.findall(page):
            if text and float(y1) - float(y0) > 8:  # a glyph of the text's size (not a fraction's digits)
                lines[round(float(y1))].append((float(x1), text))
        ends = [max(words)[1] for words in lines.values()]
        assert "=" not in ends, ends
