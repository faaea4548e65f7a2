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
import time
from pathlib import Path

import pytest

import elbo_sym.check  # noqa: F401  (imported up front: the spies below must not see import machinery)
import elbo_sym.derivation  # noqa: F401
from elbo_sym.cli import main
from elbo_sym.derivation import DerivationError, loads

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
        f"exec('import os')",
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
def test_code_payload_anywhere_in_the_file_never_runs(tmp_path, capsys, spies, where):
    marker = tmp_path / "PWNED"
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
    started = time.perf_counter()
    code, out, err = run(capsys, path)
    assert time.perf_counter() - started < 3
    assert_clean_error(code, out, err, path, EXPR_LINE, step=1, contains=fragment)


def test_ten_thousand_deep_nesting_in_process(tmp_path, capsys):
    path = write(tmp_path, derivation_text("(" * 10_000 + "p(x)" + ")" * 10_000))
    code, out, err = run(capsys, path)
    assert_clean_error(code, out, err, path, EXPR_LINE, step=1)
    # and through the string API, which has no file-size limit
    with pytest.raises(DerivationError) as info:
        loads(derivation_text("-" * 10_000 + "p(x)"), "deep.toml")
    assert "deep.toml:6" in str(info.value) and "step 1" in str(info.value)


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
    with pytest.raises(DerivationError, match="characters long"):
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
    ('[0.75, 0.25]', '["1/5", "3/5"]', '["1/2", "1/2"]', "exact fraction"),
    ('["3/4", "1/4"]', '["1/5", "3/5"]', '["one half", "1/2"]', "not a fraction"),
    ('["3/4", "1/4"]', '["1/5", "3/5"]', '["1234567891/2469135782", "1/2"]', "not a fraction"),
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
    ('start = "log(p(x))"\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n', 1, "missing required key 'title'"),
    ('title = "t"\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n', 1, "missing required key 'start'"),
    ('title = "t"\nstart = "log(p(x))"\n', 1, "at least one [[step]]"),
    ('title = "t"\nstart = "log(p(x))"\nstep = "x"\n', 1, "at least one [[step]]"),
    ('title = "t"\nmodel = "gaussian"\nstart = "log(p(x))"\n', 2, "unknown model"),
    ('title = 3\nstart = "log(p(x))"\n', 1, "must be strings"),
    ('title = "t"\nK = "many"\nstart = "log(p(x))"\n', 2, "K must be"),
    ('title = "t"\nstart = "log(p(x))"\nclaim = "log(p(x))"\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n',
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


def run_command(path: Path, timeout: float = 15.0) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "elbo_sym", "check", str(path)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(path.parent))


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
    started = time.perf_counter()
    done = run_command(path)  # raises TimeoutExpired on a hang
    elapsed = time.perf_counter() - started
    assert done.returncode == EXIT_INPUT, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    errors = [l for l in done.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and str(path) in errors[0]
    assert not marker.exists()
    assert elapsed < 15
