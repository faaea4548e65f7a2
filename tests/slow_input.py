"""Files crafted to be slow to read (not to check): every formula is long, and all differ.

Reading parses each formula (the parser, then SymPy's unevaluated trees), so such a file takes
seconds to read however small its budget -- unless the reading is bounded.  Used by the tests
that every command and API entry point bound the reading (tests/test_reading_budget.py)."""

from __future__ import annotations

_KLS = [f"KL((q(z) + {i}*p(z))/{i + 1}, (p(z | x) + q(z))/2)" for i in range(1, 37)]
LONG_SUM = " + ".join("(" + " + ".join(_KLS[g:g + 6]) + ")" for g in range(0, 36, 6))
"""A grouped sum of 36 KLs of mixtures, all different (about 1,700 characters)."""


def slow_derivation(steps: int) -> str:
    """A derivation of `steps` steps, each the long sum plus its own number (140 steps: about 2 s to
    read without a budget on a quiet machine, near the file size limit; the red team's slowload.toml
    repeated one KL)."""
    return 'title = "slow to read"\nK = 2\nstart = "log(p(x))"\n' + "".join(
        f'\n[[step]]\nrel = "<="\nexpr = "{LONG_SUM} + {k}"\nrule = "algebra"\n' for k in range(steps))


def slow_deck(cards: int, kind: str = "flashcards") -> str:
    """A flashcard deck (or a self-check: `kind`, at most 20 questions) of `cards` cards whose
    formulas are the long sum (100 cards: about 3.5 s to read without a budget; 20: 0.7 s)."""
    table, front, back = ("card", "front", "back") if kind == "flashcards" else ("question", "question", "answer")
    return 'title = "slow to read"\n' + "".join(
        f'\n[[{table}]]\n{front} = "Card {k}"\n{back} = "Back {k}"\nformula = "{LONG_SUM} + {k} >= 0"\n'
        for k in range(cards))
