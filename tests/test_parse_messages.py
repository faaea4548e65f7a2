"""Parse errors in the author's language: every refusal names the construct in the notation's
own terms (``missing `*` between `2` and `q(z)`?``), never in Python's ("invalid syntax"),
and carries the column of the offending character, where the caret goes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.engine.parse import ParseError, Vocabulary, parse_expression
from elbo_sym.limits import MAX_EXPRESSION_DEPTH

MESSAGES = [
    # ---- implicit multiplication: two terms side by side
    ("2 q(z)", "missing `*` between `2` and `q(z)`?", 2),
    ("2q(z)", "missing `*` between `2` and `q(z)`?", 1),
    ("q(z) log(q(z))", "missing `*` between `q(z)` and `log(q(z))`?", 5),
    ("q(z)(p(x))", "missing `*` between `q(z)` and `(p(x))`?", 4),
    ("(1 - q(z))(2)", "missing `*` between `(1 - q(z))` and `(2)`?", 10),
    ("2 (p(x) + 1)", "missing `*` between `2` and `(p(x) + 1)`?", 2),
    ("2(p(x) + 1)", "missing `*` between `2` and `(p(x) + 1)`?", 1),
    ("p(x) 2", "missing `*` between `p(x)` and `2`?", 5),
    ("Sum(q(z) log(q(z)), z)", "missing `*` between `q(z)` and `log(q(z))`?", 9),
    ("Sum(q(z) * log(p(x, z) / q(z)), z) log(p(x))", "missing `*` between `Sum(...)` and `log(p(x))`?", 35),
    ("   2 q(z)", "missing `*` between `2` and `q(z)`?", 5),  # columns count leading blanks
    ("KL(q(z) p(z))", "missing `,` between `q(z)` and `p(z)`? `KL` takes two arguments", 8),
    ("E(q log(p(x)))", "missing `,` between `q` and `log(p(x))`?", 4),
    ("p(x z)", "missing `,` or `|` between `x` and `z`?", 4),
    ("log p(x)", "`log` needs parentheses: write `log(p(x))`", 4),
    ("exp 2", "`exp` needs parentheses: write `exp(2)`", 4),
    # ---- LaTeX
    (r"\frac{a}{b}", r"LaTeX is not accepted in expressions: write `a / b`, not \frac{a}{b}", 0),
    (r"p(x) / \frac{1}{2}", r"write `a / b`, not \frac{a}{b}", 7),
    (r"log(p(x)) - \log q(z)", r"LaTeX is not accepted in expressions: write `log(...)`, not \log", 12),
    (r"\ln p(x)", r"write `log(...)`, not \ln", 0),
    (r"\sum_z q(z)", r"write `Sum(f, z)`, not \sum", 0),
    (r"\mathbb E(q, 1)", r"write `E(q, f)`, not \mathbb E", 0),
    (r"\mathbb{E}_q[1]", r"write `E(q, f)`, not \mathbb{E}", 0),
    (r"p(x) \cdot q(z)", r"write `*`, not \cdot", 5),
    (r"2 \times p(x)", r"write `*`, not \times", 2),
    (r"KL(q \| p)", r"write a comma, as in `KL(q(z), p(z))`, not \|", 5),
    (r"\left( p(x) \right)", r"write plain parentheses, not \left", 0),
    (r"\\log p(x)", r"write `log(...)`, not \log", 0),  # a doubled backslash: same command
    (r"p(x) \foo", r"remove \foo", 5),
    # ---- powers
    ("p(x)^2", "write `p(x)**2` for a power, not `p(x)^2`", 4),
    ("p(x) ^ 2", "write `p(x) ** 2` for a power, not `p(x) ^ 2`", 5),
    ("q(z) ^ -1", "write `q(z) ** -1` for a power, not `q(z) ^ -1`", 5),
    ("2^3^4", "write `2**3` for a power, not `2^3`", 1),  # the first ^
    ("q(z) ^ -1 +", "write `q(z) ** -1` for a power", 5),  # also when Python's parser gives up
    ("Sum(q(z) * log(p(x, z) / q(z)), z) ^ 2", "write `a ** b` for a power, not `a ^ b`", 35),
    # ---- bars: KL(q || p), and | outside a density
    ("KL(q || p)", "write `KL(q(z), p(z))`, not `KL(q || p)`", 5),
    ("KL(q | p)", "write `KL(q(z), p(z))`, not `KL(q | p)`", 5),
    ("KL(q(z) || p(z | x))", "write `KL(q(z), p(z | x))`, not `KL(q(z) || p(z | x))`", 8),
    ("log(p(x)) - KL(q(z) | p(z))", "write `KL(q(z), p(z))`, not `KL(q(z) | p(z))`", 20),
    ("p(x || z)", "write a single `|`, as in `p(x | z)`", 4),
    ("log(p(x) | z)", "`|` is only allowed inside p(...) or q(...), as in `p(x | z)`", 9),
    ("KL(q, p(z) | x)", "`|` is only allowed inside p(...) or q(...)", 11),
    ("p(x) || q(z)", "`||` is not part of the notation: a divergence is written `KL(q(z), p(z))`", 5),
    # ---- near-miss names
    ("sum(q(z), z)", "unknown function 'sum': did you mean `Sum`?", 0),
    ("log(p(x)) + Sun(q(z), z)", "unknown function 'Sun': did you mean `Sum`?", 12),
    ("log2(p(x))", "did you mean `log`? (`log` is the natural logarithm; for base 2 write `log(a) / log(2)`)", 0),
    ("ln(p(x))", "unknown function 'ln': did you mean `log`? (`log` is the natural logarithm)", 0),
    ("Log(p(x))", "did you mean `log`?", 0),
    ("Kl(q, p(z))", "unknown function 'Kl': did you mean `KL`?", 0),
    ("kl(q, p(z))", "unknown function 'kl': did you mean `KL`?", 0),
    ("D_KL(q, p(z))", "did you mean `KL`?", 0),
    ("elbo(q)", "unknown function 'elbo': did you mean `ELBO`?", 0),
    ("Exp(1)", "unknown function 'Exp': did you mean `exp`?", 0),
    ("EXP(1)", "did you mean `exp`?", 0),
    ("H(q) + h(q)", "unknown function 'h': did you mean `H`?", 7),
    ("entropy(q)", "did you mean `H`?", 0),
    ("E_q(log(p(x)))", "did you mean `E`? (the distribution is the first argument: `E(q, f)`)", 0),
    ("P(x)", "unknown function 'P': did you mean `p`?", 0),
    ("log", "`log` is a function: write `log(...)`", 0),
    ("ELBO + 1", "`ELBO` is a function: write `ELBO(q)`", 0),
    ("1 - e", "unknown name 'e': did you mean `exp(1)`?", 4),
    ("p(x) * X", "unknown name 'X': did you mean `x`?", 7),
    # ---- parentheses
    ("log(p(x)", "missing `)`: `log(` is never closed", 3),
    ("Sum(q(z) * log(p(x, z) / q(z), z", "missing `)`: `log(` is never closed", 14),
    ("(p(x) + 1", "missing `)`: this `(` is never closed", 0),
    ("log(p(x)))", "unmatched `)`: there is no `(` for it to close", 9),
    (")p(x)(", "unmatched `)`", 0),
    ("(" * 250 + "p(x)" + ")" * 250, "too many nested parentheses", MAX_EXPRESSION_DEPTH),  # the first too deep
    # ---- empty, dangling and doubled operators
    ("", "empty expression", 0),
    ("  \t ", "empty expression", 0),
    ("p(x) +", "the expression ends with `+`: a term is missing after it", 5),
    ("log(p(x)) -", "the expression ends with `-`", 10),
    ("p(x) **", "the expression ends with `**`", 5),
    ("p(x) /  ", "the expression ends with `/`", 5),
    ("* p(x)", "the expression starts with `*`: a term is missing before it", 0),
    ("log(p(x) +)", "a term is missing after `+`", 9),
    ("q(z) * * p(x)", "a term is missing between `*` and `*`", 7),
    ("Sum(, z)", "an argument is missing before `,`", 4),
    ("p(x), q(z)", "a comma only separates the arguments of a function", 4),
    # ---- relations belong in `rel`
    ("log(p(x)) = ELBO(q)", "`=` is a relation: a relation goes in `rel`, not in `expr`", 10),
    ("log(p(x)) == ELBO(q)", "`==` is a relation: a relation goes in `rel`, not in `expr` (written `=`)", 10),
    ("ELBO(q) <= log(p(x))", "`<=` is a relation: a relation goes in `rel`, not in `expr`", 8),
    ("ELBO(q) >= 1 +", "`>=` is a relation", 8),  # also when Python's parser gives up
    ("p(x) < 1", "`<` is a relation", 5),
    ("p(x) != 1", "`!=` is not one of the lesson's relations", 5),
    # ---- Unicode look-alikes: the ASCII spelling
    ("log(p(x)) \u2212 1", "write plain ASCII such as -", 10),
    ("2 \u00d7 p(x)",
     "non-ASCII character '\u00d7' (U+00D7) is not allowed in an expression; write plain ASCII such as *", 2),
    ("2 \u00b7 p(x)", "write plain ASCII such as *", 2),
    ("2 \u22c5 p(x)", "write plain ASCII such as *", 2),
    ("p(x) \u00f7 2", "write plain ASCII such as /", 5),
    ("p(x) \u2264 1", "write plain ASCII such as <= (a relation goes in `rel`, not in `expr`)", 5),
    ("KL(q \u2016 p(z))", "a comma, as in KL(q(z), p(z | x))", 5),
    # ---- brackets, braces and other characters
    ("E[log(p(x))]", "write `E(q, log(p(x)))`, not `E[log(p(x))]`: the distribution is the first argument", 1),
    ("E_q[log(p(x))]", "write `E(q, log(p(x)))`, not `E_q[log(p(x))]`", 3),
    ("p(x)[0]", "square brackets are not allowed in an expression", 4),
    ("[1, 2]", "square brackets are not allowed in an expression", 0),
    ("{p(x)}", "braces are not allowed in an expression", 0),
    ("p(x) ; 1", "`;` is not part of the notation", 5),
    ("p(x) if", "`if` is not part of the notation", 5),
    ("'p(x)", "quotes are not allowed in an expression", 0),
    ("012", "write `12`, not `012`: a number cannot start with 0", 0),
    ("p(x)\n+ 1", "a line break is only allowed inside parentheses", 5),
    ("log(p(x) +\n foo(z))", "unknown function 'foo'", 12),  # columns count earlier lines
]


@pytest.mark.parametrize("text, fragment, column", MESSAGES)
def test_message_names_the_construct_at_its_column(text, fragment, column):
    with pytest.raises(ParseError) as info:
        parse_expression(text)
    error = info.value
    assert fragment in error.message, error.message
    assert error.column == column, (error.column, error.message)
    assert "\n" not in error.message


def test_near_miss_parameter_names():
    vocabulary = Vocabulary(params=("beta",))
    with pytest.raises(ParseError) as info:
        parse_expression("ELBO(q) - Beta * KL(q(z), p(z))", vocabulary)
    assert "unknown name 'Beta': did you mean `beta`?" in info.value.message and info.value.column == 10


def test_spacing_around_the_bar_does_not_matter():
    assert parse_expression("p(z|x)") == parse_expression("p(z | x)")
    assert parse_expression("KL(q(z),p(z|x))") == parse_expression("KL(q(z), p(z | x))")


def test_names_far_from_the_vocabulary_get_no_guess():
    for text, name in [("foo(x)", "foo"), ("pi", "pi"), ("sqrt(p(x))", "sqrt"), ("eval('1')", "eval")]:
        with pytest.raises(ParseError) as info:
            parse_expression(text)
        assert "did you mean" not in info.value.message and f"'{name}'" in info.value.message


# ------------------------------------------------------------------ through a file: the caret

FILE = 'title = "t"\nstart = "log(p(x))"\n\n[[step]]\nrel = "="\nexpr = "{}"\nrule = "algebra"\n'
EXPR_LINE = 6


@pytest.mark.parametrize("text, fragment, column", [
    ("2 q(z)", "missing `*` between `2` and `q(z)`?", 2),
    ("KL(q || p)", "write `KL(q(z), p(z))`, not `KL(q || p)`", 5),
    ("sum(q(z) * log(p(x)), z)", "did you mean `Sum`?", 0),
    ("Sum(q(z) * log(p(x, z) / q(z), z", "missing `)`: `log(` is never closed", 14),
    ("log(p(x)) = ELBO(q)", "a relation goes in `rel`, not in `expr`", 10),
    ("p(x)^2", "write `p(x)**2`", 4),
    ("log(p(x)) +", "the expression ends with `+`", 10),
])
def test_the_caret_sits_under_the_construct_in_the_file(text, fragment, column):
    with pytest.raises(DerivationError) as info:
        loads(FILE.format(text).encode(), "f.toml")
    error = info.value
    source = FILE.format(text).splitlines()[EXPR_LINE - 1]
    start = source.index('"') + 1
    assert error.line == EXPR_LINE and fragment in error.message, str(error)
    assert error.column == start + column
    assert str(error).startswith(f"f.toml:{EXPR_LINE}:{start + column + 1}: step 1: expr: ")
    shown, caret = error.pointer().splitlines()
    assert shown == "    " + source and caret.index("^") == 4 + start + column


# ------------------------------------------------------------------ no Python-speak

JARGON = ("invalid syntax", "line continuation", "EOF", "token", "unexpected indent", "SyntaxError",
          "decimal literal", "hexadecimal", "string literal", "Perhaps you", "Maybe you meant",
          "was never closed", "unmatched ')'", "does not match opening", "RecursionError", "MemoryError",
          "cannot assign", "expression cannot contain", "f-string", "<unknown>", "unindent")

MALFORMED = [text for text, _, _ in MESSAGES] + [
    "p(x) +", "+", "-", "*", "**", "/", "|", ",", "(", ")", "()", "(,)", "((", "))", ")(", "p(x) :", "p(x) := 1",
    "p(x) -> q(z)", "p(x) @", "p(x) $", "p(x) ?", "p(x) !", "p(x) &", "p(x) && q(z)", "p(x) `", "1 2 3",
    "a'b", '"', "'''", "0x", "0b2", "0o9", "1__0", "1_", "1e", "1e+", "p(x).", "...", "p(x) ..",
    "lambda", "lambda x: x", "def f", "import os", "x = 1", "print(1) = 2", "p(x) = ", "= p(x)", "< p(x)",
    "p(x) <", "p(x) >", "yield", "await p(x)", "p(x) is", "not", "p(x) not in", "1 if", "1 if 1", "f'",
    "b''", "p(x) if 1 else", "\np(x) +", "p(x)\t+", "p(x) \r\n +", "p(x)\r+ 1", "log(\n", "p(x=",
    "p(x=1", "KL(q=q", "Sum(q(z) z)", "E(q, )", "E(, 1)", "KL(q || )", "KL( || p)", "KL(||)", "p(|)", "p(x |)",
    "log(p(x) ||", "^", "p(x) ^", "^ 2", "2 ^^ 3", "[", "]", "{", "}", "E[", "E_q[", "p(x)[", "{{", "\\",
    "\\\\", "\\(", "log(p(x))\\", "p(x) \\\\ q(z)", "(" * 205 + "p(x)", "(" * 150 + "p(x)", "p(" * 300,
    "-" * 300 + "p(x)", "log(" * 100 + "p(x)", "log(" * 100 + "p(x)" + ")" * 100, "p(x) p(x) p(x)",
    "1/", "1//2", "p(x) % 2", "~", "p(x) ~", "True +", "None(", "and", "or p(x)", "p(x) or",
]


@pytest.mark.parametrize("text", MALFORMED)
def test_no_python_jargon_reaches_the_author(text):
    with pytest.raises(ParseError) as info:
        parse_expression(text)
    error = info.value
    for word in JARGON:
        assert word.lower() not in error.message.lower(), (text, error.message)
    assert error.message and "\n" not in error.message
    assert 0 <= error.column <= max(len(text), 1), (text, error.column)


SOUP = ["p(x)", "q(z)", "p(x | z)", "q", "z", "x", "log", "exp", "Sum", "E", "KL", "H", "ELBO", "sum", "kl",
        "(", ")", "(", ")", ",", "+", "-", "*", "/", "**", "|", "||", "^", "=", "==", "<=", "1", "2", "3/4", "0",
        " ", " ", "2q", "[", "]", "{", "}", ".", ":", ";", "'", "\"", "!", "if", "lambda", "\n", "\t", "0x", "1e",
        "\\frac", "\\log", "\u2212", "\u00d7"]


@pytest.mark.full
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(SOUP), max_size=25).map("".join))
def test_fuzz_no_python_jargon_in_any_refusal(text):
    try:
        parse_expression(text)
    except ParseError as error:
        for word in JARGON:
            assert word.lower() not in error.message.lower(), (text, error.message)
        assert error.message and "\n" not in error.message
        assert 0 <= error.column <= max(len(text), 1), (text, error.column)


def test_the_depth_message_keeps_its_limit():
    with pytest.raises(ParseError, match=f"at most {MAX_EXPRESSION_DEPTH} levels"):
        parse_expression("(" * 250 + "p(x)" + ")" * 250)


def test_a_long_flat_sum_is_told_how_to_fit_and_the_grouped_form_fits():
    """41 terms in a row pass the nesting limit one level per term: the message says to group them,
    and the grouped sum (two parenthesised halves) parses to the same value."""
    from sympy import Rational

    terms = [f"{i}/{i + 1}" for i in range(1, MAX_EXPRESSION_DEPTH + 3)]
    with pytest.raises(ParseError, match=r"group a long sum in parentheses"):
        parse_expression(" + ".join(terms), Vocabulary())
    half = len(terms) // 2
    grouped = parse_expression(f"({' + '.join(terms[:half])}) + ({' + '.join(terms[half:])})", Vocabulary())
    assert grouped.doit() == sum(Rational(i, i + 1) for i in range(1, MAX_EXPRESSION_DEPTH + 3))
