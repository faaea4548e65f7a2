"""The gap identity in one step (log p(x) - ELBO(q) = KL(q(z), p(z | x)), by ``algebra``): the small
passing derivation that the prose-warning tests (with a summary and a why to warn about) and the
publishing tests of red team rt12 (a course of one file) write -- one copy of its text."""

from __future__ import annotations

CLAIM = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"


def gap_file(K: str = '"any"', summary: str | None = None, why: str | None = None) -> str:
    """The file's text: `K` as TOML writes it (``'"any"'``, ``"2"``), `summary` and the step's `why`
    written into TOML strings as given (None: no such line)."""
    start, end = CLAIM.split(" = ")
    lines = ['title = "The gap"', *([f'summary = "{summary}"'] if summary is not None else []), f"K = {K}",
             f'claim = "{CLAIM}"', f'start = "{start}"', "", "[[step]]", 'rel = "="', f'expr = "{end}"',
             'rule = "algebra"', *([f'why = "{why}"'] if why is not None else [])]
    return "\n".join(lines) + "\n"
