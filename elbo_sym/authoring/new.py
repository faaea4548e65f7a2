"""Authoring helpers: the `new` starter file, and the `new` / `explain` commands' logic.

The starter is a short, commented gap-identity chain that checks green as written, so a
course author starts from something that works and changes one line at a time.  Its
list of rules is generated from :data:`elbo_sym.engine.rules.RULE_HELP`, so it never drifts from
what the checker actually knows.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from elbo_sym.limits import MAX_TITLE_CHARS, MAX_WORD_CHARS
from elbo_sym.prose import make_safe

STARTER = """\
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

title = "@TITLE@"          # shown on the handout and in every report
summary = "How far the ELBO sits below log p(x) is the KL divergence from q to the posterior."
model = "discrete"          # z takes finitely many values ...
K = 2                       # ... K of them (2: binary z)

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

# Exact binary examples (optional, any number): every step is re-checked on them.
[[example]]
prior = ["3/4", "1/4"]          # p(z=0), p(z=1)
likelihood = ["1/5", "3/5"]     # p(x|z=0), p(x|z=1)
q = ["1/3", "2/3"]              # q(z=0), q(z=1)

# Optional: values you state for this example, checked exactly ("formula" = "value").
[example.expect]
"log(p(x))" = "log(3/10)"
"KL(q(z), p(z | x))" = "1/3 * log(2/3) + 2/3 * log(4/3)"
"""


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


def starter_text(path: Path) -> str:
    """The commented starter derivation for `path` (the title mentions the file's stem)."""
    prefix = "The gap is a KL divergence"
    # the title must load as prose (elbo_sym.prose): no emoji or control characters from the
    # file name, no word TeX cannot break, within the title's length limit
    stem = make_safe(re.sub(r"[-_]+", " ", path.stem), MAX_TITLE_CHARS - len(prefix) - 3,
                     MAX_WORD_CHARS - 2) or "new variant"
    stem = stem.replace("\\", "/").replace("$", "\\$")  # prose: a $ in a file name is a dollar, not math
    title = f"{prefix} ({stem})"
    return (STARTER.replace("@WORD@", shell_word(path.name)).replace("@FILE@", path.name)
            .replace("@TITLE@", _toml_basic(title))
            .replace("@RULES@", rules_comment()))


class NewFileError(Exception):
    """`new` refused: the file exists or cannot be written."""


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 100 else f"{text[:50]}...{text[-30:]} ({len(text)} characters)"


def new_derivation(name: str) -> Path:
    """Write NAME.toml (or NAME if it already ends in .toml); never overwrite, never create folders.

    Every refusal is a NewFileError with a one-line message (exists, missing folder,
    name too long, not writable, ...).
    """
    if not name.strip():
        raise NewFileError("give a name, e.g. `elbo-sym new my-variant`")
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise NewFileError(f"the name {name!r} contains control characters; choose a plain file name")
    path = Path(name if name.endswith(".toml") else name + ".toml")
    exists = f"{_shown(path)} already exists; not overwriting it (choose another name)"
    try:
        if path.exists() or path.is_symlink():
            raise NewFileError(exists)
        if not path.parent.is_dir():
            raise NewFileError(f"folder {_shown(path.parent)} does not exist (it is not created)")
    except OSError as error:  # e.g. a name longer than the file system allows
        raise NewFileError(f"cannot write {_shown(path)}: {(error.strerror or str(error)).lower()}") from None
    data = starter_text(path).encode("utf-8")
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


__all__ = ["STARTER", "starter_text", "new_derivation", "NewFileError", "rules_comment", "shell_word"]
