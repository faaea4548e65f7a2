"""Authoring helpers: the `new` starter file, and the `new` / `explain` commands' logic.

The starter is a short, commented chain that checks green as written, so a course author
starts from something that works and changes one line at a time: the gap identity, or
(:data:`KINDS`) the beta-ELBO bound with a ``[params]`` table, a dataset of two observations,
or a teaching file whose wrong step is refuted as intended; with K = 2, any integer up to
:data:`MAX_NEW_K` (an example of that many states) or "any".  Its
list of rules is generated from :data:`elbo_sym.engine.rules.RULE_HELP`, so it never drifts from
what the checker actually knows.
"""

from __future__ import annotations

import os
import re
import shlex
from fractions import Fraction
from pathlib import Path

from elbo_sym.files import InputError, control_character
from elbo_sym.limits import MAX_NEW_K, MAX_TITLE_CHARS, MAX_WORD_CHARS
from elbo_sym.prose import make_safe

HEADER = """\
# @FILE@ -- a derivation for elbo-sym, the ELBO-lesson checker.
#
#   elbo-sym check @WORD@                  prove or refute every step
#   elbo-sym explain @WORD@ --step 2       how step 2 was decided
#   pytest @WORD@                          the same, as a pytest test
#
# The file is TOML: `key = "value"` lines, `#` starts a comment, and each [[step]]
# header opens one more step of the chain.  Every formula is a string written in a
# small vocabulary (Python-like syntax; nothing else is accepted):
#
#   p(x)  p(z)  p(x, z)  p(x | z)  p(z | x)  q(z)   the lesson's densities
#   Sum(f, z)                 the sum of f over the latent states z
#   E(q, f)                   the expectation of f under q
#   KL(q(z), p(z | x))        the KL divergence from q(z) to p(z | x)
#   H(q)                      the entropy of q
#   ELBO(q)                   the evidence lower bound
#   log(...)  exp(...)  + - * / **   and exact numbers: 2, 3/4 (never 0.75)
#
# Relations (`rel`): =  <=  >=  <  >
#   A chain composes like a written derivation: = with >= gives >=; mixing >= and <=
#   establishes nothing.
#
# Rules (`rule`), i.e. why a step holds:
@RULES@
#
# Verdicts: proved (for every model), refuted (with an exact counterexample),
# checked (held on exact instances only, not a proof), error (could not be checked).

"""

_MODEL = """\
title = "@TITLE@"          # shown on the handout and in every report
summary = "@SUMMARY@"
model = "discrete"          # z takes finitely many values ...
@K@
"""

_K_LINE = {
    2: 'K = 2                       # ... K of them (2: binary z; "any": one proof for every K)',
    "any": 'K = "any"                   # ... any finite number of them: one proof for every K',
}
_K_N = 'K = @N@                       # ... @N@ of them ("any": one proof for every K)'

_GAP = """
# Optional: what the whole chain must establish.  Checked against start and the last step.
claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"

# The first expression of the chain; each step relates the previous expression to its `expr`.
start = "log(p(x)) - ELBO(q)"

[[step]]
rel = "="                   # previous expression  =  expr
expr = "Sum(q(z) * log(p(x)), z) - Sum(q(z) * log(p(x, z) / q(z)), z)"
rule = "linearity"          # checked as an identity on the model
why = "q sums to one, so log p(x) equals its q-average; unfold the ELBO"   # prose for the handout

[[step]]
rel = "="
expr = "Sum(q(z) * log(q(z) / p(z | x)), z)"
rule = "bayes"
why = "collect the logs; Bayes' rule turns p(x, z) / p(x) into p(z | x)"

[[step]]
rel = "="
expr = "KL(q(z), p(z | x))"
rule = "definition"
why = "the KL divergence from q to the posterior"
"""

_PARAMS = """
# What the whole chain must establish: the beta-ELBO is a lower bound too.
claim = "E(q, log(p(x | z))) - beta * KL(q(z), p(z)) <= log(p(x))"
start = "E(q, log(p(x | z))) - beta * KL(q(z), p(z))"

# Named real parameters and their domain: ">= 1", "> 0", "<= 2", "in [0, 1]", "in (0, 1]".
# Every step must hold for every value in it (beta >= 1 here; try ">= 0": step 2 is refuted).
[params]
beta = ">= 1"

[[step]]
rel = "="
expr = "ELBO(q) - (beta - 1) * KL(q(z), p(z))"
rule = "algebra"
why = "the ELBO is the reconstruction term minus one KL term"

[[step]]
rel = "<="
expr = "ELBO(q)"
rule = "kl-nonneg"          # drops a KL divergence whose coefficient is shown >= 0
why = "a KL divergence is never negative, and so is its weight $beta - 1$"

[[step]]
rel = "<="
expr = "log(p(x))"
rule = "kl-nonneg"
why = "the gap is the KL divergence from q to the posterior"
"""

_DATA = """
# Several observations: each has its own q and ELBO, written q(z | x1), ELBO(q(z | x1), x1).
data = ["x1", "x2"]

# What the whole chain must establish: the dataset's ELBO bounds its log-likelihood.
claim = "ELBO(q(z | x1), x1) + ELBO(q(z | x2), x2) <= log(p(x1)) + log(p(x2))"
start = "log(p(x1)) + log(p(x2)) - ELBO(q(z | x1), x1) - ELBO(q(z | x2), x2)"

[[step]]
rel = "="
expr = "KL(q(z | x1), p(z | x1)) + KL(q(z | x2), p(z | x2))"
rule = "algebra"
why = "the gap identity, once per observation"

[[step]]
rel = ">="
expr = "0"
rule = "kl-nonneg"
why = "each KL divergence is never negative"
"""

_TEACHING = """
# A teaching file ("find the mistake"): the steps listed here are wrong on purpose.
# `elbo-sym check` passes (exit 0) exactly when these steps, and no others, are refuted,
# each with an exact counterexample, and the solution holds: with each wrong step corrected
# (its `repair = "..."`, else the generated suggestion) every step is proved and the chain
# shows the claim.  find-the-mistake.pdf prints the chain to correct, then the solutions.
# (`accept = "checked"` is never allowed in a teaching file.)
expect_refuted = [2]

# The claim is true: the corrected chain must show it.
claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"
start = "log(p(x)) - ELBO(q)"

[[step]]
rel = "="
expr = "Sum(q(z) * log(q(z) * p(x) / p(x, z)), z)"
rule = "logarithm"
why = "unfold the ELBO; collect the two sums under one logarithm"

[[step]]
rel = "="
expr = "KL(q(z), p(z))"
rule = "bayes"
why = "Bayes' rule, and the definition of the KL divergence"
# the slip: p(x, z) / p(x) is the posterior, not the prior
repair = "KL(q(z), p(z | x))"   # the intended correction (checked, printed in the solution)
"""

KINDS = {
    "gap": ("The gap is a KL divergence",
            "How far the ELBO sits below log p(x) is the KL divergence from q to the posterior.", _GAP),
    "params": ("The beta-ELBO is a lower bound",
               "Weighting the KL term by a beta of at least 1 keeps the ELBO below log p(x).", _PARAMS),
    "data": ("A dataset's ELBO bounds its log-likelihood",
             "Summed over the observations, the ELBO stays below the log-likelihood of the data.", _DATA),
    "teaching": ("Find the mistake in the gap",
                 "A derivation of the gap identity as a student wrote it: one step is wrong. Which one?", _TEACHING),
}
"""The starters `new` writes: title prefix, summary and chain of each kind (``--params``,
``--data``, ``--teaching``; ``gap`` without a flag)."""


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _vector(values) -> str:
    return "[" + ", ".join(f'"{_number(v)}"' for v in values) + "]"


def example_values(K: int) -> tuple[tuple[Fraction, ...], tuple[Fraction, ...], tuple[Fraction, ...],
                                    tuple[Fraction, ...]]:
    """(prior, likelihood of x1, likelihood of x2, q) of the starter's example with K states:
    the lesson's binary numbers for K = 2; else a decreasing prior, an increasing likelihood
    (a decreasing one for x2) and a uniform q, none of them 0 or 1, q not the posterior."""
    if K == 2:
        return ((Fraction(3, 4), Fraction(1, 4)), (Fraction(1, 5), Fraction(3, 5)),
                (Fraction(1, 2), Fraction(1, 10)), (Fraction(1, 3), Fraction(2, 3)))
    total = K * (K + 1) // 2
    prior = tuple(Fraction(K + 1 - k, total) for k in range(1, K + 1))
    return (prior, tuple(Fraction(k, K + 1) for k in range(1, K + 1)),
            tuple(Fraction(K + 1 - k, K + 1) for k in range(1, K + 1)), tuple(Fraction(1, K) for _ in range(K)))


def _evidence(prior, likelihood) -> Fraction:
    return sum((a * b for a, b in zip(prior, likelihood)), Fraction(0))


def example_text(kind: str, K: int | str) -> str:
    """The [[example]] of a starter (K states; K "any": a binary one), with its stated values."""
    states = 2 if K == "any" else int(K)
    prior, like1, like2, q = example_values(states)
    comment = "exact binary example" if states == 2 else f"exact example with {states} states"
    lines = [f"# An {comment} (optional, any number): every step is re-checked on it.", "[[example]]",
             f"prior = {_vector(prior)}" + ("          # p(z=0), p(z=1)" if states == 2 else "")]
    if kind == "data":
        lines += [f"likelihood = {{ x1 = {_vector(like1)}, x2 = {_vector(like2)} }}",
                  f"q = {{ x1 = {_vector(q)}, x2 = {_vector(q)} }}",
                  "", "# Optional: values you state for this example, checked exactly (\"formula\" = \"value\").",
                  "[example.expect]",
                  f'"log(p(x1))" = "log({_number(_evidence(prior, like1))})"',
                  f'"log(p(x2))" = "log({_number(_evidence(prior, like2))})"']
        return "\n".join(lines) + "\n"
    lines += [f"likelihood = {_vector(like1)}" + ("     # p(x|z=0), p(x|z=1)" if states == 2 else ""),
              f"q = {_vector(q)}" + ("              # q(z=0), q(z=1)" if states == 2 else "")]
    if kind == "params":
        lines.append('params = { beta = "2" }    # a value of each parameter, in its domain')
    lines += ["", "# Optional: values you state for this example, checked exactly (\"formula\" = \"value\").",
              "[example.expect]", f'"log(p(x))" = "log({_number(_evidence(prior, like1))})"']
    if states == 2 and kind == "gap":
        lines.append('"KL(q(z), p(z | x))" = "1/3 * log(2/3) + 2/3 * log(4/3)"')
    return "\n".join(lines) + "\n"


def _k_line(K: int | str) -> str:
    return _K_LINE.get(K, _K_N.replace("@N@", str(K)))


def _starter(kind: str = "gap", K: int | str = 2) -> str:
    """The starter's text with @FILE@, @WORD@, @TITLE@ and @RULES@ still to fill in."""
    _, summary, chain = KINDS[kind]
    return HEADER + _MODEL.replace("@SUMMARY@", summary).replace("@K@", _k_line(K)) + chain + "\n" \
        + example_text(kind, K)


STARTER = _starter()
"""The default starter (the gap identity, K = 2), with @FILE@, @WORD@, @TITLE@, @RULES@ to fill in."""


def rules_comment() -> str:
    """The rule list for the starter's comments (from RULE_HELP)."""
    from elbo_sym.engine.rules import RULE_HELP

    width = max(len(name) for name in RULE_HELP)
    return "\n".join(f"#   {name:<{width}}  {help}" for name, help in RULE_HELP.items())


def _toml_basic(text: str) -> str:
    """`text` safe inside a TOML basic string ("...")."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def shell_word(name: str) -> str:
    """`name` as one shell word in a printed command: quoted when needed, never read as an option."""
    return shlex.quote(os.path.join(".", name) if name.startswith("-") else name)


def written_message(path: Path, kind: str) -> str:
    """What `new` prints after writing ``path``: what it is, and how to check and explain it."""
    word = shell_word(str(path))  # the commands printed are safe to paste: 'my variant.toml'
    what = "a teaching file whose step 2 is refuted as intended" if kind == "teaching" else "a starter derivation"
    return (f"wrote {path}: {what}; it checks green\n  check it:    elbo-sym check {word}\n"
            f"  explain:     elbo-sym explain {word} --step 2")


def starter_text(path: Path, kind: str = "gap", K: int | str = 2) -> str:
    """The commented starter derivation of `kind` (:data:`KINDS`) with `K` latent states (2 to
    MAX_NEW_K, or "any") for `path` (the title mentions the file's stem)."""
    if kind not in KINDS:
        raise NewFileError(f"unknown kind of starter {kind!r} (kinds: {', '.join(KINDS)})")
    if K != "any" and (isinstance(K, bool) or not isinstance(K, int) or not 2 <= K <= MAX_NEW_K):
        raise NewFileError(f"K must be \"any\" or an integer from 2 to {MAX_NEW_K}, got {K!r}")
    prefix = KINDS[kind][0]
    # the title must load as prose (elbo_sym.prose): no emoji or control characters from the
    # file name, no word TeX cannot break, within the title's length limit
    stem = make_safe(re.sub(r"[-_]+", " ", path.stem), MAX_TITLE_CHARS - len(prefix) - 3,
                     MAX_WORD_CHARS - 2) or "new variant"
    stem = stem.replace("\\", "/").replace("$", "\\$")  # prose: a $ in a file name is a dollar, not math
    title = f"{prefix} ({stem})"
    return (_starter(kind, K).replace("@WORD@", shell_word(path.name)).replace("@FILE@", path.name)
            .replace("@TITLE@", _toml_basic(title))
            .replace("@RULES@", rules_comment()))


class NewFileError(InputError):
    """`new` refused: the file exists or cannot be written."""


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 100 else f"{text[:50]}...{text[-30:]} ({len(text)} characters)"


def _undecodable(name: str) -> bool:
    """Whether `name` holds a byte the file system gave undecoded (a lone surrogate, as
    os.fsdecode makes of a non-UTF-8 byte): such a name cannot be written into the starter."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def new_derivation(name: str, kind: str = "gap", K: int | str = 2) -> Path:
    """Write NAME.toml (or NAME if it already ends in .toml): the starter of `kind` with `K`
    latent states (:func:`starter_text`); never overwrite, never create folders.

    Every refusal is a NewFileError with a one-line message (exists, missing folder,
    name too long, not writable, ...).
    """
    if not name.strip():
        raise NewFileError("give a name, e.g. `elbo-sym new my-variant`")
    if control_character(name) is not None:  # a file with one is refused when read (files.read_regular_file)
        raise NewFileError(f"the name {name!r} contains control characters ({control_character(name)}); "
                           "choose a plain file name")
    if _undecodable(os.path.basename(name)):  # bytes that are not UTF-8 (a Latin-1 shell): \udce9
        raise NewFileError(f"the name {os.path.basename(name)!r} is not valid UTF-8 text (the starter quotes its "
                           "own file name); choose a UTF-8 file name")
    if not os.path.basename(name).removesuffix(".toml").strip("."):  # `new .` wrote "..toml" (rt3)
        raise NewFileError(f"the name {name!r} has no file stem (only dots, or a folder); choose a name such as "
                           "`elbo-sym new my-variant`")
    path = Path(name if name.endswith(".toml") else name + ".toml")
    exists = f"{_shown(path)} already exists; not overwriting it (choose another name)"
    try:
        if path.exists() or path.is_symlink():
            raise NewFileError(exists)
        if not path.parent.is_dir():
            raise NewFileError(f"folder {_shown(path.parent)} does not exist (it is not created)")
    except OSError as error:  # e.g. a name longer than the file system allows
        raise NewFileError(f"cannot write {_shown(path)}: {(error.strerror or str(error)).lower()}") from None
    data = starter_text(path, kind, K).encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except FileExistsError:
        raise NewFileError(exists) from None
    except OSError as error:
        raise NewFileError(f"cannot write {_shown(path)}: {(error.strerror or str(error)).lower()}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as error:  # e.g. the disk is full: leave no half-written starter behind
        path.unlink(missing_ok=True)
        raise NewFileError(f"cannot write {_shown(path)}: {(error.strerror or str(error)).lower()}") from None
    return path


__all__ = ["STARTER", "KINDS", "MAX_NEW_K", "starter_text", "new_derivation", "NewFileError", "rules_comment",
           "shell_word", "written_message", "example_text", "example_values"]
