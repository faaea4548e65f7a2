"""Hostile and malformed derivation files are refused cleanly.

Every bad file gives exactly one `error: FILE:LINE[:COL]: [step N:] message` line (plus,
where it helps, the offending source line with a caret), exit status 2, never a
traceback, never code execution, never a hang.  Most cases run `elbo_sym.cli.main`
in-process (fast); a few run the real command in a subprocess with a timeout to prove
that nothing hangs or escapes.
"""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cpu_work import HANG_GUARD_SECONDS, cpu_bounded
from slow_input import slow_derivation

import elbo_sym.engine.check  # noqa: F401  (imported up front: the spies below must not see import machinery)
import elbo_sym.engine.derivation  # noqa: F401
from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError, loads

ROOT = Path(__file__).resolve().parent.parent
EXIT_INPUT = 2


def derivation_text(expr: str = "log(Sum(p(x, z), z))", *, rel: str = "=", rule: str = "definition",
                    start: str = "log(p(x))", extra_top: str = "", example: str = "") -> str:
    return (f'title = "hostile"\n'
            f'start = "{start}"\n'
            f"{extra_top}"
            f"\n[[step]]\n"
            f'rel = "{rel}"\n'
            f'expr = "{expr}"\n'
            f'rule = "{rule}"\n'
            f"{example}")


EXPR_LINE = 6  # the line of `expr = ...` in derivation_text() without extra_top


def run(capsys, path: Path, *args: str) -> tuple[int, str, str]:
    code = main(["check", str(path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_error(code: int, out: str, err: str, path: Path, line: int | None, step: int | None = None,
                       contains: str | None = None) -> str:
    """Exit 2, no traceback, exactly one error line naming the file (and line, step)."""
    assert code == EXIT_INPUT, (code, out, err)
    assert "Traceback" not in out + err
    errors = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(errors) == 1, err
    (message,) = errors
    assert str(path) in message
    if line is not None:
        assert f"{path}:{line}:" in message, message
    if step is not None:
        assert f"step {step}:" in message, message
    if contains is not None:
        assert contains in message, message
    # anything else on stderr is the caret pointer under the source line
    for extra in err.splitlines():
        assert extra.startswith("error:") or extra.startswith("    "), extra
    assert "derivation(s)" in out  # the summary still prints
    return message


def write(tmp_path: Path, text: str | bytes, name: str = "hostile.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ code that must never run


@pytest.fixture
def spies(monkeypatch):
    """Record every eval/exec and forbid any shell or process while the CLI runs."""
    calls: list[str] = []
    real_eval, real_exec = builtins.eval, builtins.exec

    def spy_eval(source, *a, **k):
        calls.append(str(source))
        return real_eval(source, *a, **k)

    def spy_exec(source, *a, **k):
        calls.append(str(source))
        return real_exec(source, *a, **k)

    def forbidden(*a, **k):
        raise AssertionError(f"a process was started: {a!r}")

    monkeypatch.setattr(builtins, "eval", spy_eval)
    monkeypatch.setattr(builtins, "exec", spy_exec)
    monkeypatch.setattr(os, "system", forbidden)
    monkeypatch.setattr(os, "popen", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    return calls


def payloads(marker: Path) -> list[str]:
    return [
        f"__import__('os').system('touch {marker}')",
        f"__import__('subprocess').call(['touch', '{marker}'])",
        f"open('{marker}', 'w')",
        f"eval('open(\\'{marker}\\', \\'w\\')')",
        "exec('import os')",
        "q.__class__.__mro__[1].__subclasses__()",
        "p(x).__globals__",
        "(lambda: __import__('os'))()",
        "[c for c in ().__class__.__bases__]",
        "getattr(q, '__class__')",
        "Sum.__init__.__globals__['__builtins__']",
        "log(p(x)).func",
    ]


PAYLOAD_IDS = ["os.system", "subprocess", "open", "eval", "exec", "subclasses", "globals", "lambda",
               "comprehension", "getattr", "builtins", "attribute"]


@pytest.mark.parametrize("index", range(len(PAYLOAD_IDS)), ids=PAYLOAD_IDS)
def test_code_payload_in_an_expression_is_refused_and_never_runs(tmp_path, capsys, spies, index):
    marker = tmp_path / "PWNED"
    payload = payloads(marker)[index].replace('"', "'")
    path = write(tmp_path, derivation_text(payload.replace("\\", "\\\\")))
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, EXPR_LINE, step=1)
    assert not marker.exists()
    assert not any(str(marker) in call or "__import__" in call for call in spies)


@pytest.mark.parametrize("where", ["start", "claim", "assume", "expect-key", "expect-value", "prior", "title"])
def test_code_payload_anywhere_in_the_file_never_runs(tmp_path, short_tmp, capsys, spies, where):
    marker = short_tmp / "PWNED"  # a short path: a title's words may hold 80 characters
    payload = f"__import__('os').system('touch {marker}')"
    example = ('\n[[example]]\nprior = ["3/4", "1/4"]\nlikelihood = ["1/5", "3/5"]\nq = ["1/2", "1/2"]\n'
               '\n[example.expect]\n"log(p(x))" = "log(3/10)"\n')
    text = derivation_text(example=example)
    if where == "start":
        text = text.replace('start = "log(p(x))"', f'start = "{payload}"')
    elif where == "claim":
        text = text.replace('start = "log(p(x))"', f'start = "log(p(x))"\nclaim = "log(p(x)) = {payload}"')
    elif where == "assume":
        text = text.replace('start = "log(p(x))"', f'start = "log(p(x))"\nassume = "q(z) = {payload}"')
    elif where == "expect-key":
        text = text.replace('"log(p(x))" = "log(3/10)"', f'"{payload}" = "1"')
    elif where == "expect-value":
        text = text.replace('"log(p(x))" = "log(3/10)"', f'"log(p(x))" = "{payload}"')
    elif where == "prior":
        text = text.replace('prior = ["3/4", "1/4"]', f'prior = ["{payload}", "1/4"]')
    elif where == "title":  # prose is never evaluated: the file is fine
        text = text.replace('title = "hostile"', f'title = "{payload}"')
    path = write(tmp_path, text)
    code, out, err = run(capsys, path)
    if where == "title":
        assert code == 0 and "Traceback" not in err
    else:
        assert_clean_error(code, out, err, path, None)
    assert not marker.exists()
    assert not any(str(marker) in call for call in spies)


# ------------------------------------------------------------------ resource bombs (in-process)


@pytest.mark.parametrize("expr, fragment", [
    ("2**2**2**2**2**2", "integer literal"),
    ("(((2**12)**12)**12)**12", "nested powers"),
    ("((p(x)**12)**12)**12", "degree"),
    ("p(x)**100000", "exceeds the limit"),
    ("10**10**10", "integer literal"),
    ("999999999999999999999", "exceeds the limit"),
    ("-" * 300 + "p(x)", "nested deeper"),
    ("(" * 250 + "p(x)" + ")" * 250, "too many nested parentheses"),
    ("log(" * 100 + "p(x)" + ")" * 100, "nested deeper"),
])
def test_bombs_are_refused_fast(tmp_path, capsys, expr, fragment):
    path = write(tmp_path, derivation_text(expr))
    with cpu_bounded(3):
        code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, EXPR_LINE, step=1, contains=fragment)


def test_ten_thousand_deep_nesting_in_process(tmp_path, capsys):
    path = write(tmp_path, derivation_text("(" * 10_000 + "p(x)" + ")" * 10_000))
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, EXPR_LINE, step=1)
    # and through the string API, which has no file-size limit
    with pytest.raises(DerivationError) as info:
        loads(derivation_text("-" * 10_000 + "p(x)"), "deep.toml")
    assert "deep.toml:6" in str(info.value) and "step 1" in str(info.value)


@pytest.mark.full
def test_ten_thousand_deep_toml_arrays(tmp_path, capsys):
    path = write(tmp_path, "title = " + "[" * 10_000 + "]" * 10_000 + "\n")
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, 1, contains="malformed TOML")


def test_one_megabyte_expression_in_process(tmp_path, capsys):
    big = " + ".join(["p(x)"] * 150_000)
    assert len(big) > 1_000_000
    path = write(tmp_path, derivation_text(big))
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, 1, contains="limit")
    assert len(err) < 2000  # the error does not echo a megabyte back
    with pytest.raises(DerivationError, match="larger than the limit"):  # text is read as its bytes (red team rt7)
        loads(derivation_text(big), "big.toml")


# ------------------------------------------------------------------ encoding and TOML


def test_non_utf8_bytes(tmp_path, capsys):
    raw = derivation_text().encode("utf-8").replace(b"log(Sum(p(x, z), z))", b"log(\xff\xfe)")
    path = write(tmp_path, raw)
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, EXPR_LINE, contains="not UTF-8")


@pytest.mark.parametrize("raw, line", [
    (b"\xff\xfetitle = 'utf-16 bom'\n", 1),
    (b'title = "t"\nstart = "\x80"\n', 2),
])
def test_binary_garbage(tmp_path, capsys, raw, line):
    path = write(tmp_path, raw)
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, line)


@pytest.mark.parametrize("text, line", [
    ('title = "t"\nstart = "log(p(x))\n', 2),  # unterminated string
    ('title = "t"\nstart = "log(p(x))"\n[[step]\nrel = "="\n', 3),  # broken header
    ('title = "t"\ntitle = "again"\n', 2),  # duplicate key
    ('title = "t"\nstart = \n', 2),  # missing value
    ('title = "t"\x00\n', 1),  # NUL
    ('title = "t"\nstart = "log(p(x))"\n[[step]]\nrel = "="\nexpr = "p(x)" junk\n', 5),
])
def test_malformed_toml(tmp_path, capsys, text, line):
    path = write(tmp_path, text)
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, line, contains="malformed TOML")


@pytest.mark.parametrize("final_newline", ["", "\n"])
@pytest.mark.parametrize("text, line, column", [
    ('title = "t"\nstart = "log(p(x))"\nrule = "a"\nrule = "jensen"', 4, 16),  # a duplicate key
    ('title = "t"\nstart = ', 2, 9),  # a missing value
])
def test_malformed_toml_on_the_last_line_has_its_line_and_column(tmp_path, capsys, text, line, column,
                                                                 final_newline):
    """tomllib says "(at end of document)" for an error on a last line without a newline: the
    report still names that line and column (it said line 1), as with the newline."""
    path = write(tmp_path, text + final_newline)
    code, out, err = run(capsys, path)
    message = assert_clean_error(code, out, err, path, line, contains="malformed TOML")
    assert f"{path}:{line}:{column}: " in message and "end of document" not in message


@pytest.mark.parametrize("first, second, line", [("[step]", "[[step]]", 4), ("[[step]]", "[step]", 8)])
def test_one_single_bracket_step_among_steps_is_named_at_its_line(tmp_path, capsys, first, second, line):
    """`[step]` beside `[[step]]` is malformed TOML ("Cannot overwrite a value" at the other
    header): the error names the [step] header and says how to write it."""
    step = 'rel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n'
    path = write(tmp_path, f'title = "t"\nstart = "log(p(x))"\n\n{first}\n{step}{second}\n{step}')
    code, out, err = run(capsys, path)
    message = assert_clean_error(code, out, err, path, line, contains="[step] must be written [[step]]")
    assert f"{path}:{line}:1: " in message


def test_empty_file(tmp_path, capsys):
    path = write(tmp_path, "")
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, 1, contains="title")


# ------------------------------------------------------------------ examples with bad probabilities

EXAMPLE = '\n[[example]]\nprior = {prior}\nlikelihood = {likelihood}\nq = {q}\n'
EXAMPLE_LINE = 9


@pytest.mark.parametrize("prior, likelihood, q, fragment", [
    ('["1/2", "1/3"]', '["1/5", "3/5"]', '["1/2", "1/2"]', "prior sums to 5/6"),
    ('["3/4", "1/4"]', '["1/5", "3/5"]', '["1/2", "2/3"]', "q sums to 7/6"),
    ('["1", "0"]', '["1/5", "3/5"]', '["1/2", "1/2"]', "<= 0"),
    ('["5/4", "-1/4"]', '["1/5", "3/5"]', '["1/2", "1/2"]', "<= 0"),
    ('["3/4", "1/4"]', '["1/5", "3/5"]', '["0", "1"]', "<= 0"),
    ('["3/4", "1/4"]', '["0", "3/5"]', '["1/2", "1/2"]', "likelihood"),
    ('["3/4", "1/4"]', '["6/5", "3/5"]', '["1/2", "1/2"]', "likelihood"),
    ('["3/4", "1/4", "0"]', '["1/5", "3/5"]', '["1/2", "1/2"]', "K = 2"),
    ('["1/0", "1"]', '["1/5", "3/5"]', '["1/2", "1/2"]', "divides by zero"),
    ('[0.75, 0.25]', '["1/5", "3/5"]', '["1/2", "1/2"]', "is not exact"),
    ('["3/4", "1/4"]', '["1/5", "3/5"]', '["one half", "1/2"]', "not a number like 3/4"),
    ('["3/4", "1/4"]', '["1/5", "3/5"]', '["1234567891/2469135782", "1/2"]', "is too long (21 characters"),
    ('[]', '["1/5", "3/5"]', '["1/2", "1/2"]', "list of fractions"),
    ('"3/4"', '["1/5", "3/5"]', '["1/2", "1/2"]', "list of fractions"),
])
def test_example_probabilities_are_validated(tmp_path, capsys, prior, likelihood, q, fragment):
    path = write(tmp_path, derivation_text(example=EXAMPLE.format(prior=prior, likelihood=likelihood, q=q)))
    code, out, err = run(capsys, path)
    message = assert_clean_error(code, out, err, path, None, contains=fragment)
    line = int(message.split(f"{path}:")[1].split(":")[0])
    assert EXAMPLE_LINE <= line <= EXAMPLE_LINE + 3, message  # the example's header or the bad key


# ------------------------------------------------------------------ structure: keys, rules, relations


@pytest.mark.parametrize("old, new, line, step, fragment", [
    ('rule = "definition"', 'rule = "magic"', 7, 1, "unknown rule 'magic'"),
    ('rule = "definition"', 'rule = "definition"\nrul = "algebra"', 8, 1, "unknown key 'rul'"),
    ('rel = "="', 'rel = "=="', 5, 1, "unknown relation"),
    ('rel = "="', 'rel = "≥"', 5, 1, "unknown relation"),
    ('rel = "="', 'rel = "=>"', 5, 1, "unknown relation"),
    ('rel = "="', 'rel = 1', 5, 1, "unknown relation"),
    ('rel = "="\n', "", 4, 1, "missing 'rel'"),
    ('expr = "log(Sum(p(x, z), z))"\n', "", 4, 1, "missing 'expr'"),
    ('rule = "definition"\n', "", 4, 1, "missing 'rule'"),
    ('expr = "log(Sum(p(x, z), z))"', 'expr = 3', 6, 1, "must be a string"),
    ('rule = "definition"', 'rule = "definition"\nwhy = 3', 8, 1, "why must be a string"),
])
def test_step_structure_errors_name_file_line_and_step(tmp_path, capsys, old, new, line, step, fragment):
    text = derivation_text()
    assert old in text
    path = write(tmp_path, text.replace(old, new))
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, line, step=step, contains=fragment)


def test_error_in_a_later_step_names_that_step(tmp_path, capsys):
    text = derivation_text() + '\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "voodoo"\n'
    path = write(tmp_path, text)
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, 12, step=2, contains="voodoo")


@pytest.mark.parametrize("text, line, fragment", [
    ('title = "t"\nstart = "log(p(x))"\ncolour = "red"\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n',
     3, "unknown key 'colour'"),
    ('start = "log(p(x))"\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n', 1,
     "missing required key 'title'"),
    ('title = "t"\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n', 1, "missing required key 'start'"),
    ('title = "t"\nstart = "log(p(x))"\n', 1, "at least one [[step]]"),
    ('title = "t"\nstart = "log(p(x))"\nstep = "x"\n', 1, "at least one [[step]]"),
    ('title = "t"\nstart = "log(p(x))"\n\n[step]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n', 4,
     "[step] must be written [[step]]"),
    ('title = "t"\nstart = "log(p(x))"\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n\n'
     ' [ example ]\nprior = ["3/4", "1/4"]\n', 8, "[example] must be written [[example]]"),
    ('title = "t"\nmodel = "poisson"\nstart = "log(p(x))"\n', 2, "unknown model"),
    ('title = 3\nstart = "log(p(x))"\n', 1, "title must be a string"),
    ('title = "t"\nK = "many"\nstart = "log(p(x))"\n', 2, "K must be"),
    ('title = "t"\nstart = "log(p(x))"\nclaim = "log(p(x))"\n'
     '[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n',
     3, "exactly one relation"),
    ('title = "t"\nstart = "log(p(x))"\nassume = "p(z) = q(z)"\n[[step]]\nrel = "="\nexpr = "log(p(x))"\n'
     'rule = "algebra"\n', 3, "fixes q"),
    ('title = "t"\nstart = "log(p(x))"\n\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n'
     '\n[[example]]\nprior = ["3/4", "1/4"]\nlikelihood = ["1/5", "3/5"]\nq = ["1/2", "1/2"]\nseed = 3\n',
     13, "unknown key 'seed'"),
])
def test_top_level_structure_errors(tmp_path, capsys, text, line, fragment):
    path = write(tmp_path, text)
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, line, contains=fragment)


def test_missing_file_and_empty_folder(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    code, out, err = run(capsys, missing)
    assert code == EXIT_INPUT and "Traceback" not in err and str(missing) in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["check", str(empty)])
    out, err = capsys.readouterr()
    assert code == EXIT_INPUT and "no derivation files" in err and len(err.strip().splitlines()) == 1


def test_several_bad_files_one_error_line_each(tmp_path, capsys):
    folder = tmp_path / "many"
    folder.mkdir()
    write(folder, derivation_text("q.__class__"), "a.toml")
    write(folder, b"\xff", "b.toml")
    write(folder, derivation_text(rule="nonsense"), "c.toml")
    write(folder, derivation_text(), "good.toml")
    code = main(["check", str(folder)])
    out, err = capsys.readouterr()
    assert code == EXIT_INPUT and "Traceback" not in out + err
    errors = [l for l in err.splitlines() if l.startswith("error:")]
    assert sorted(Path(l.split(":")[1].strip()).name for l in errors) == ["a.toml", "b.toml", "c.toml"]
    assert "good.toml" in out  # the good file is still checked and reported


def test_json_report_of_input_errors(tmp_path, capsys):
    path = write(tmp_path, derivation_text(rule="nonsense"))
    code = main(["check", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == EXIT_INPUT and "Traceback" not in err
    (entry,) = json.loads(out)
    assert entry["file"] == str(path) and entry["line"] == 7 and entry["step"] == 1
    assert "nonsense" in entry["error"]


# ------------------------------------------------------------------ the real command, with a timeout


def run_command(path: Path, timeout: float = HANG_GUARD_SECONDS) -> subprocess.CompletedProcess:
    """`python -m elbo_sym check PATH`; the wall-time limit only guards against a hang (the test bounds
    the command's CPU time: under load, 15 s of wall time ran out for a 1 MB file, CPU well below it)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "elbo_sym", "check", str(path)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(path.parent))


@pytest.mark.full
@pytest.mark.parametrize("kind", ["payload", "power-tower", "deep-nesting", "one-megabyte"])
def test_command_refuses_without_hanging_or_executing(tmp_path, kind):
    marker = tmp_path / "PWNED"
    expr = {
        "payload": f"__import__('os').system('touch {marker}')",
        "power-tower": "2**2**2**2**2**2",
        "deep-nesting": "(" * 10_000 + "1" + ")" * 10_000,
        "one-megabyte": " + ".join(["p(x)"] * 150_000),
    }[kind]
    path = write(tmp_path, derivation_text(expr))
    with cpu_bounded(15):  # the command's CPU time (a child waited for)
        done = run_command(path)  # raises TimeoutExpired on a hang
    assert done.returncode == EXIT_INPUT, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    errors = [l for l in done.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and str(path) in errors[0]
    assert not marker.exists()


# ------------------------------------------------------------------ characters Python would reinterpret
# Python's tokenizer drops everything after `#` and NFKC-normalises identifiers (full-width
# ｌｏｇ and mathematical 𝐊𝐋 would be read as log and KL): such files used to check green.


@pytest.mark.parametrize("expr, fragments, at", [
    ("log(Sum(p(x, z), z)) # + 5", ["'#' is not allowed", "comment"], "#"),
    ("ｌｏｇ(Sum(p(x, z), z))", ["non-ASCII character 'ｌ' (U+FF4C)", "write plain ASCII such as log"], "ｌ"),
    ("log(p(x)) + 𝐊𝐋(q(z), p(z)) - KL(q(z), p(z))", ["'𝐊' (U+1D40A)", "such as KL"], "𝐊"),
    ("log(p(x)) − 0", ["U+2212", "such as -"], "−"),
    ("log(p(x))\u00a0+ 0", ["U+00A0 NO-BREAK SPACE", "a plain space"], "\u00a0"),
    ("log(p(x)) + 0\u200b", ["U+200B ZERO WIDTH SPACE"], "\u200b"),
    ("\\\\log p(x)", ["LaTeX is not accepted in expressions", "not \\frac{a}{b}"], "\\\\"),
    ("log(p(x)) + 0 * 0x1F", ["plain decimal digits", "'0x1F'"], "0x1F"),
    ("log(p(x)) + 0 * 1_000", ["plain decimal digits"], "1_000"),
])
def test_reinterpreted_characters_are_refused_with_their_column(tmp_path, capsys, expr, fragments, at):
    path = write(tmp_path, derivation_text(expr, start="log(p(x))"))
    code, out, err = run(capsys, path)
    message = assert_clean_error(code, out, err, path, EXPR_LINE, step=1)
    for fragment in fragments:
        assert fragment in message, message
    source = path.read_text("utf-8").splitlines()[EXPR_LINE - 1]
    assert f"{path}:{EXPR_LINE}:{source.index(at) + 1}:" in message, (message, source)
    pointer = err.splitlines()[-1]
    assert pointer.index("^") - 4 == source.index(at)  # the caret sits under the character


def test_control_characters_by_toml_escape_are_refused(tmp_path, capsys):
    path = write(tmp_path, derivation_text("log(Sum(p(x, z), z))\\u0000"))
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, EXPR_LINE, step=1, contains="control character U+0000")


@pytest.mark.parametrize("text, column", [("p(x) # comment", 5), ("  ｌog(p(x))", 2), ("p(x) + \\frac", 7)])
def test_parse_expression_names_the_character_and_column(text, column):
    from elbo_sym.engine.parse import ParseError, parse_expression

    with pytest.raises(ParseError) as info:
        parse_expression(text)
    assert info.value.column == column and "\n" not in info.value.message


def test_everything_accepted_is_plain_ascii():
    from elbo_sym.engine.parse import ALLOWED_CHARACTERS

    assert all(c.isascii() for c in ALLOWED_CHARACTERS)
    assert not set("#\\'\"[]{}:;@%~^&!?$`<>=") & ALLOWED_CHARACTERS


# ------------------------------------------------------------------ reading files safely

from elbo_sym import files as user_files  # noqa: E402
from elbo_sym.files import FileReadError, read_regular_file  # noqa: E402
from elbo_sym.limits import MAX_FILE_BYTES  # noqa: E402


def refused(path, limit: int = MAX_FILE_BYTES) -> FileReadError:
    with cpu_bounded(2), pytest.raises(FileReadError) as info:
        read_regular_file(path, limit)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    return info.value


def test_regular_files_up_to_the_limit_are_read(tmp_path):
    path = tmp_path / "a.toml"
    path.write_bytes(b"x" * 100)
    assert read_regular_file(path, 100) == b"x" * 100
    error = refused(path, 99)
    assert error.reason == "file is larger than the limit of 99 bytes" and error.too_large


def test_the_limit_holds_while_reading_not_only_by_size():
    """/proc files say size 0 and have content: only the read itself can enforce the limit."""
    maps = Path("/proc/self/maps")
    assert maps.stat().st_size == 0 and len(maps.read_bytes()) > 10
    assert refused(maps, 10).too_large


def test_a_huge_sparse_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.toml"
    with open(path, "wb") as handle:
        handle.truncate(10 * 2**30)
    assert "larger than the limit" in refused(path).reason


@pytest.mark.parametrize("kind, reason", [
    ("fifo", "not a regular file (a FIFO)"),
    ("dev-zero", "not a regular file (a character device)"),
    ("directory", "not a regular file (a directory)"),
    ("socket", "not a regular file (a socket)"),
    ("missing", "no such file"),
    ("under-a-file", "no such file"),
    ("too-long", "file name too long"),
    ("loop", "too many levels of symbolic links"),
])
def test_what_is_not_a_readable_regular_file_is_refused_at_once(tmp_path, kind, reason):
    import socket

    path = tmp_path / "x.toml"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: a blocking open would wait forever
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    elif kind == "under-a-file":
        (tmp_path / "file").write_text("", "utf-8")
        path = tmp_path / "file" / "x.toml"
    elif kind == "too-long":
        path = tmp_path / ("a" * 300 + ".toml")
    elif kind == "loop":
        path.symlink_to(path)
    try:
        assert refused(path).reason.startswith(reason)
    finally:
        if kind == "socket":
            server.close()


def test_a_fifo_swapped_in_after_the_check_is_still_refused_without_blocking(tmp_path, monkeypatch):
    """Between stat and open the path may change: the open descriptor is checked again, and the
    open itself never blocks."""
    regular = tmp_path / "regular"
    regular.write_text("", "utf-8")
    fifo = tmp_path / "x.toml"
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr(user_files.os, "stat", lambda path, *a, **k: real_stat(regular))
    assert refused(fifo).reason == "not a regular file (a FIFO)"


def test_permission_denied_is_named(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "x.toml"
    path.write_text("", "utf-8")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(user_files.os, "open", denied)
    assert refused(path).reason == "permission denied"
    with pytest.raises(DerivationError, match="cannot read file: permission denied"):
        elbo_sym.engine.derivation.load(path)


def test_nul_in_a_file_name_is_refused():
    with pytest.raises(FileReadError) as info:
        read_regular_file("bad\0name.toml")
    assert info.value.reason == "file name contains a NUL byte" and "\0" not in str(info.value)


def test_every_reader_uses_the_safe_reader(tmp_path, capsys):
    """derivation.load, practice.load_deck, the cache's check_paths, explain, cards: a FIFO is refused."""
    from elbo_sym.authoring.cache import check_paths
    from elbo_sym.lesson.practice import load_deck

    fifo = tmp_path / "x.toml"
    os.mkfifo(fifo)
    with pytest.raises(DerivationError, match="a FIFO"):
        elbo_sym.engine.derivation.load(fifo)
    with pytest.raises(DerivationError, match="a FIFO"):
        load_deck(fifo)
    reports, errors = check_paths([str(fifo)], budget=10.0, use_cache=False)
    assert reports == [] and "a FIFO" in str(errors[0])
    for argv in (["explain", str(fifo)], ["cards", str(fifo)], ["flashcards", str(fifo)]):
        assert main(argv) == EXIT_INPUT
        assert "a FIFO" in capsys.readouterr().err


def test_no_user_file_is_read_another_way():
    """Only elbo_sym/files.py opens user files; the others go through read_regular_file."""
    package = ROOT / "elbo_sym"
    allowed = {"files.py", "render.py", "cache.py"}  # render: its own temp dir; cache: package sources
    offenders = []
    for source in package.glob("*.py"):
        if source.name in allowed:
            continue
        text = source.read_text("utf-8")
        for needle in (".read_bytes()", ".read_text(", "open("):
            for line in text.splitlines():
                if needle in line and "os.open(" not in line and "fdopen(" not in line:
                    offenders.append(f"{source.name}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


# ------------------------------------------------------------------ budgets at every entry point

from elbo_sym.limits import BudgetError  # noqa: E402

BAD_BUDGETS = [0, -1, 0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e9, "abc", None, "1e-400"]


@pytest.mark.parametrize("budget", BAD_BUDGETS, ids=repr)
def test_library_entry_points_refuse_bad_budgets(budget):
    from elbo_sym.authoring.cache import check_paths
    from elbo_sym.authoring.explain import explain
    from elbo_sym.authoring.pytest_plugin import _budget
    from elbo_sym.authoring.testing import assert_derivation, check_file
    from elbo_sym.lesson.practice import check_card, check_deck, check_lesson_cards, load_flashcards

    gap = ROOT / "derivations" / "gap.toml"
    deck = load_flashcards()
    calls = {
        "assert_derivation": lambda: assert_derivation(gap, budget=budget),
        "check_file": lambda: check_file(gap, budget=budget),
        "explain": lambda: explain(elbo_sym.engine.derivation.load(gap), 1, budget=budget),
        "check_deck": lambda: check_deck(deck, budget=budget),
        "check_card": lambda: check_card(deck.cards[0], deck.path, budget=budget),
        "check_lesson_cards": lambda: check_lesson_cards(budget=budget),
        "check_paths": lambda: check_paths([str(gap)], budget=budget, use_cache=False),
    }
    for name, call in calls.items():
        with cpu_bounded(1, name), pytest.raises(BudgetError):  # refused before any work
            call()

    class Config:
        def getini(self, name):
            assert name == "elbo_sym_budget"
            return str(budget)

    with pytest.raises(pytest.UsageError, match="elbo_sym_budget"):
        _budget(Config())
    assert issubclass(BudgetError, ValueError)


@pytest.mark.parametrize("command, option", [
    (["check"], "--budget"), (["check"], "--file-budget"), (["explain", str(ROOT / "derivations" / "gap.toml")],
                                                            "--budget"),
    (["build"], "--budget"), (["build"], "--timeout")])
@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "1e9", "-0", "x"])
def test_command_line_budgets_are_validated(capsys, command, option, value):
    with cpu_bounded(2):
        code = main([*command, f"{option}={value}"])
    out, err = capsys.readouterr()
    assert code == EXIT_INPUT
    lines = err.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith(f"elbo-sym: error: {option} must be"), err
    assert "Traceback" not in out + err


# ------------------------------------------------------------------ writing: outputs are checked first


def test_build_out_onto_a_file_or_under_a_file(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("keep me", "utf-8")
    for out, fragment in ((target, "not a folder"), (target / "deeper", "is not a folder")):
        with cpu_bounded(2):  # before checking anything
            code = main(["build", str(ROOT / "derivations"), "--out", str(out)])
        _, err = capsys.readouterr()
        assert code == EXIT_INPUT
        assert err.count("\n") == 1 and fragment in err and "Traceback" not in err
    assert target.read_text("utf-8") == "keep me"


def test_an_output_folder_under_missing_folders_is_created(tmp_path):
    from elbo_sym.files import output_folder

    out = output_folder(str(tmp_path / "missing" / "deeper" / "out"), "--out")
    assert out.parent.is_dir() and not out.exists()  # the parents, like mkdir -p; the folder when written


def test_write_handouts_refuses_a_file_as_its_folder(tmp_path):
    from elbo_sym.publish.handouts import worked_example_handout, write_handouts

    target = tmp_path / "a-file"
    target.write_text("keep me", "utf-8")
    with pytest.raises(NotADirectoryError):
        write_handouts([worked_example_handout()], target, latex=False)
    assert target.read_text("utf-8") == "keep me"


def test_new_refuses_impossible_names_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, fragment in (("a" * 300, "file name too long"), ("missing/x", "folder missing does not exist"),
                           ("bad\0name", "control characters")):
        assert main(["new", name]) == EXIT_INPUT
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fragment in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_anki_export_never_creates_folders_or_writes_into_a_folder(tmp_path):
    from elbo_sym.lesson.practice import load_flashcards
    from elbo_sym.publish.anki import AnkiError, write_apkg

    cards = load_flashcards().cards
    with pytest.raises(AnkiError, match="does not exist"):
        write_apkg(cards, tmp_path / "missing" / "deeper" / "deck.apkg")
    assert not (tmp_path / "missing").exists()
    (tmp_path / "folder.apkg").mkdir()
    with pytest.raises(AnkiError, match="is a folder"):
        write_apkg(cards, tmp_path / "folder.apkg")
    os.mkfifo(tmp_path / "fifo.apkg")
    with pytest.raises(AnkiError, match="not a regular file"):
        write_apkg(cards, tmp_path / "fifo.apkg")
    assert write_apkg(cards, tmp_path / "deck.apkg").stat().st_size > 0  # an existing folder is fine


def test_any_os_error_from_a_command_is_one_line_and_exit_2(capsys, monkeypatch):
    import errno

    from elbo_sym import cli

    def full_disk():
        raise OSError(errno.ENOSPC, "No space left on device", "handouts/derivations.pdf")

    monkeypatch.setattr(cli.cli.commands["handouts"], "callback", full_disk)
    assert main(["handouts"]) == EXIT_INPUT
    out, err = capsys.readouterr()
    assert err == "elbo-sym: error: handouts/derivations.pdf: no space left on device\n" and out == ""


def test_reading_a_file_is_bounded_by_the_file_budget(tmp_path, capsys):
    """Loading (parsing every formula) runs under the file budget: a file not read in time is one
    error line naming it, exit 2, soon after the budget -- it took 8-11 s whatever the budget."""
    path = write(tmp_path, slow_derivation(140))  # about 2 s to read without a budget on a quiet machine
    exhausted = r"file budget of 0\.02 CPU seconds exhausted while reading"
    with cpu_bounded(1.5), pytest.raises(DerivationError, match=exhausted) as info:
        elbo_sym.engine.derivation.loads(path.read_bytes(), str(path), 0.02)
    assert info.value.path == str(path)
    with cpu_bounded(1.5):
        code, out, err = run(capsys, path, "--no-cache", "--budget", "0.02", "--file-budget", "0.02")
    assert_clean_error(code, out, err, path, None,
                       contains=f"{path}: file budget of 0.02 CPU seconds exhausted while reading")
    with cpu_bounded(1.5):  # explain reads within its --file-budget (a step budget is not a file's)
        assert main(["explain", str(path), "--budget", "0.0001", "--file-budget", "0.02"]) == 2
    assert f"{path}: file budget of 0.02 CPU seconds exhausted while reading" in capsys.readouterr().err


def test_a_file_read_within_its_budget_is_checked_as_before(tmp_path):
    """The reading budget changes nothing for a file read in time: the same Derivation."""
    text = slow_derivation(2)
    assert loads(text, "t.toml", 60.0) == loads(text, "t.toml")
