"""The β-ELBO bound with a slip in step 1 (``+`` where the bound has ``-``): the teaching file that
tests of find-the-mistake files check (test_carried_mistake, test_mistake_no_edit,
test_failure_reasons), each with its own middle step.

Built from the chain `elbo-sym new --params` writes (elbo_sym.authoring.new.KINDS), so there is one
copy of the bound: the starter's claim, start, [params], first and last steps, and -- unless a test
gives its own -- its middle step."""

from __future__ import annotations

import json
import tomllib

from elbo_sym.authoring.new import KINDS

_STARTER = tomllib.loads(KINDS["params"][2])
FIRST, MIDDLE, LAST = (dict(step) for step in _STARTER["step"])
"""The starter's three steps: the bound unfolded, one KL term dropped, the gap dropped."""
SLIP = FIRST["expr"].replace(" - ", " + ", 1)
"""Step 1 as the student wrote it: the sign of the (beta - 1) KL term flipped."""
assert SLIP != FIRST["expr"]


def _value(value) -> str:
    """A TOML value: strings and integer lists as JSON writes them (the same syntax)."""
    return json.dumps(value, ensure_ascii=False)


def slip_file(expect: str, middle: dict | None = None, whys: tuple[str, ...] = (),
              title: str = "The beta-ELBO, with one slip") -> str:
    """The file's text: `expect` its expect line (``expect_refuted = [1]``), `middle` step 2's keys
    (rel, expr, rule; default the starter's), `whys` the steps' whys (default none)."""
    steps = [{**FIRST, "expr": SLIP, "repair": FIRST["expr"]}, middle or MIDDLE, LAST]
    lines = [f"title = {_value(title)}", 'K = "any"', expect, f"claim = {_value(_STARTER['claim'])}",
             f"start = {_value(_STARTER['start'])}", "", "[params]",
             *(f"{name} = {_value(domain)}" for name, domain in _STARTER["params"].items())]
    for number, step in enumerate(steps):
        lines += ["", "[[step]]", *(f"{key} = {_value(step[key])}" for key in ("rel", "expr", "repair", "rule")
                                    if key in step)]
        if number < len(whys):
            lines.append(f"why = {_value(whys[number])}")
    return "\n".join(lines) + "\n"
