"""Every CLI command over hostile input: no traceback, exit status 1 or 2, no hang.

The commands, their positional arguments and their options are read from the CLI's own
click group, so a new command (or a new option) is covered automatically -- or, if
this module does not know how to attack one of its arguments, `test_every_argument_is_covered`
fails and says which table to extend.

Runs in-process (`elbo_sym.cli.main(argv)`), each call under a SIGALRM deadline so a
blocking read fails the test instead of hanging it; one case runs the real command in a
subprocess with a timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from cpu_work import HANG_GUARD_SECONDS, cpu_seconds

from elbo_sym import cli
from elbo_sym.limits import MAX_FILE_BYTES

ROOT = Path(__file__).resolve().parent.parent
GOOD_DERIVATION = (ROOT / "derivations" / "gap.toml").read_text("utf-8")
GOOD_DECK = ROOT / "lesson" / "flashcards.toml"
DECK_COMMANDS = {"cards", "flashcards"}
"""Commands whose file arguments are card decks, not derivations."""
CPU_SECONDS = 20
"""CPU time a command may spend refusing hostile input (a wall-clock bound fails on a loaded machine:
the wall-clock deadline below is HANG_GUARD_SECONDS, a guard against a blocking read only)."""


COMMANDS: dict[str, click.Command] = dict(cli.cli.commands)


def _positionals(command: click.Command) -> list[click.Argument]:
    return [p for p in command.params if isinstance(p, click.Argument)]


def _options(command: click.Command) -> list[click.Option]:
    """Options that take a value (flags such as --json are not input)."""
    return [p for p in command.params if isinstance(p, click.Option) and not p.is_flag]


# ------------------------------------------------------------------ hostile files

def derivation(expr: str) -> str:
    return f'title = "t"\nstart = "log(p(x))"\n\n[[step]]\nrel = "="\nexpr = "{expr}"\nrule = "definition"\n'


def deck(formula: str) -> str:
    return f'title = "t"\n\n[[card]]\nfront = "f"\nback = "b"\nformula = "{formula}"\n'


CONTENT = {
    # name: (derivation bytes, deck bytes)
    "nul-byte": (derivation("log(Sum(p(x, z), z))").encode().replace(b'title = "t"', b'title = "t\x00"'),
                 deck("p(x) = Sum(p(x, z), z)").encode().replace(b'front = "f"', b'front = "f\x00"')),
    "invalid-utf8": (derivation("log(\xff)").encode("latin-1"), deck("p(x) = \xff").encode("latin-1")),
    "hash-in-expression": (derivation("log(Sum(p(x, z), z)) # + 5").encode(),
                           deck("p(x) = Sum(p(x, z), z) # + 5").encode()),
    "full-width-identifier": (derivation("ｌｏｇ(Sum(p(x, z), z))").encode(),
                              deck("p(x) = Ｓｕｍ(p(x, z), z)").encode()),
    "math-alphanumerics": (derivation("log(p(x)) + 𝐊𝐋(q(z), p(z))").encode(),
                           deck("𝐊𝐋(q(z), p(z)) >= 0").encode()),
    "latex": (derivation("\\\\log p(x)").encode(), deck("\\\\frac{1}{2} = 1/2").encode()),
    "too-large": ((derivation("log(Sum(p(x, z), z))") + "#" * MAX_FILE_BYTES + "\n").encode(),
                  (deck("p(x) = Sum(p(x, z), z)") + "#" * MAX_FILE_BYTES + "\n").encode()),
}
SPECIAL = ["fifo", "dev-zero-symlink", "directory", "missing", "dangling-symlink"]
HOSTILE_FILES = SPECIAL + list(CONTENT)


def make_hostile(folder: Path, kind: str, deck_format: bool) -> Path:
    """A hostile file named x.toml in `folder` (a fresh folder per case)."""
    path = folder / "x.toml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero-symlink":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "dangling-symlink":
        path.symlink_to(folder / "nowhere")
    elif kind == "missing":
        pass
    else:
        path.write_bytes(CONTENT[kind][1 if deck_format else 0])
    return path


# ------------------------------------------------------------------ hostile option values

BAD_SECONDS = ["0", "-1", "inf", "nan", "1e9", "-0", "1e-400", "abc", ""]

OPTION_VALUES = {
    # parameter name: hostile values (strings; "@name" is a path made by `special_path`)
    "budget": BAD_SECONDS,
    "timeout": BAD_SECONDS,
    "file_budget": BAD_SECONDS,
    "seed": ["-1", "nan", "1e9", "ｌ", "9" * 30, ""],
    "count": ["0", "-1", "nan", "1e9", "100000", "9" * 30],
    "K": ["1", "-1", "nan", "1e9", "9" * 30],
    "prior": ["nan,nan", "inf,0", "1e9,1", "ｌ,1", "1/0,1", "#", "", "3/4,1/4,0"],
    "likelihood": ["nan,nan", "0,1", "2,1", "ｌ,1", "#"],
    "q": ["nan,nan", "1,1", "ｌ,1", "1/2;1/2"],
    # (a missing folder is created, like mkdir -p: not hostile; a folder under a file is)
    "out": ["@regular-file", "@fifo", "@dev-zero-symlink", "@under-file/out"],
    "site": ["@regular-file", "@fifo", "@dev-zero-symlink", "@under-file/out"],
    "title": ["", "a\x00b", "a\nb", "x" * 1000],
    "anki": ["@directory", "@fifo", "@dev-zero-symlink", "@missing/deeper/deck.apkg"],
    "only": ["nope", ""],
    "step": ["0", "-1", "nan", "999", "1e9"],
    "jobs": ["0", "-1", "nan", "257", "1e9", "ｌ", "9" * 30, ""],
    "project": ["@fifo", "@dev-zero-symlink", "@missing/deeper/out", "@invalid-utf8", "@too-large",
                "@hash-in-expression", "@nul-byte"],
    "parts": ["nope", "", "evidence,nope", "ｌ", ","],
    "solutions": ["all", "", "NONE"],
    "moodle": ["@directory", "@fifo", "@dev-zero-symlink", "@missing/deeper/out"],
    "gallery": ["@fifo", "@dev-zero-symlink", "@missing/deeper/out", "@invalid-utf8", "@hash-in-expression",
                "@nul-byte", "@latex"],
    "roster": ["@fifo", "@dev-zero-symlink", "@directory", "@missing/deeper/out", "@invalid-utf8"],
    "literature": ["@fifo", "@dev-zero-symlink", "@missing/deeper/out", "@invalid-utf8", "@hash-in-expression",
                   "@nul-byte", "@latex"],
}
VALID_OPTION = {"prior": "3/4,1/4", "likelihood": "1/5,3/5", "q": "1/3,2/3"}
"""Values for *required* options while another argument is the hostile one."""


def special_path(folder: Path, spec: str) -> str:
    name = spec[1:]
    if name == "missing/deeper/out" or name == "missing/deeper/deck.apkg":
        return str(folder / name)
    if name in ("regular-file", "under-file/out"):
        path = folder / "file"
        path.write_text("x", "utf-8")
        return str(path if name == "regular-file" else path / "out")
    return str(make_hostile(folder, name, deck_format=False))


def valid_positional(command: str, folder: Path) -> list[str]:
    """A valid value for each positional argument (used while an option is the hostile one)."""
    values = []
    for action in _positionals(COMMANDS[command]):
        if action.name == "name":
            values.append(str(folder / "fresh-name"))
        elif command in DECK_COMMANDS:
            values.append(str(GOOD_DECK))
        else:
            good = folder / "good.toml"
            good.write_text(GOOD_DERIVATION, "utf-8")
            values.append(str(good))
    return values


def required_options(command: str, skip: str) -> list[str]:
    argv = []
    for action in _options(COMMANDS[command]):
        if action.required and action.name != skip:
            argv += [action.opts[0], VALID_OPTION[action.name]]
    return argv


# ------------------------------------------------------------------ the cases

def cases() -> list:
    out = []
    for command, group_command in COMMANDS.items():
        out.append(pytest.param(command, "unknown-option", None, id=f"{command}-unknown-option"))
        for action in _positionals(group_command):
            for kind in HOSTILE_FILES:
                if kind == "missing" and action.name == "name":
                    continue  # a new name is what `new` wants
                out.append(pytest.param(command, f"positional:{action.name}", kind,
                                        id=f"{command}-{action.name}-{kind}"))
            if action.name == "name":
                for kind in ("300-characters", "missing-folder", "nul-in-name", "empty"):
                    out.append(pytest.param(command, "name", kind, id=f"{command}-name-{kind}"))
        for action in _options(group_command):
            for value in OPTION_VALUES.get(action.name, []):
                out.append(pytest.param(command, f"option:{action.name}", value,
                                        id=f"{command}-{action.name}-{value[:20] or 'empty'}"))
    return out


@contextmanager
def deadline(seconds: float):
    """Fail (instead of hanging) when the block takes longer than `seconds` (main thread)."""
    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a blocking read or a runaway computation")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(capsys, argv: list[str]) -> tuple[int, str, str, float]:
    """The command's exit status, output and CPU seconds (its own and its waited-for children's)."""
    started = cpu_seconds()
    with deadline(HANG_GUARD_SECONDS):
        code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err, cpu_seconds() - started


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Run in a scratch folder (`new`, `build` write relative paths), without the result cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ELBO_SYM_NO_CACHE", "1")
    monkeypatch.delenv("ELBO_SYM_REQUIRE_LATEX", raising=False)


@pytest.mark.parametrize("command, where, hostile", cases())
def test_hostile_input_is_refused_cleanly(tmp_path, capsys, command, where, hostile):
    folder = tmp_path / "case"
    folder.mkdir()
    if where == "unknown-option":
        argv = [command, *required_options(command, ""), "--no-such-option"]
    elif where == "name":
        name = {"300-characters": "a" * 300, "missing-folder": str(folder / "missing" / "x"),
                "nul-in-name": "bad\0name", "empty": " "}[hostile]
        argv = [command, name]
    elif where.startswith("positional:"):
        dest = where.split(":", 1)[1]
        argv = [command]
        for action in _positionals(COMMANDS[command]):
            if action.name == dest:
                argv.append(str(make_hostile(folder, hostile, deck_format=command in DECK_COMMANDS)))
            else:  # pragma: no cover - no command has two positionals today
                argv += valid_positional(command, folder)[:1]
        argv += required_options(command, "")
    else:
        dest = where.split(":", 1)[1]
        (action,) = [a for a in _options(COMMANDS[command]) if a.name == dest]
        value = special_path(folder, hostile) if hostile.startswith("@") else hostile
        argv = [command, *valid_positional(command, folder), *required_options(command, dest),
                f"{action.opts[0]}={value}"]
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err, cpu = run(capsys, argv)
    assert "Traceback" not in out + err, err
    assert code in (1, 2), (code, out[-500:], err[-500:])
    assert cpu < CPU_SECONDS
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert error_lines, (code, err)
    assert len(error_lines) == 1, err  # one line says what is wrong
    # hostile input never makes anything appear next to it (no handouts/, no stray files)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_every_argument_is_covered():
    """A new command or option needs hostile values here (and valid ones if it is required)."""
    missing = []
    for command, group_command in COMMANDS.items():
        for action in _options(group_command):
            if action.name not in OPTION_VALUES:
                missing.append(f"{command} {action.opts[0]}: add hostile values to OPTION_VALUES")
            if action.required and action.name not in VALID_OPTION:
                missing.append(f"{command} {action.opts[0]}: add a valid value to VALID_OPTION")
        if len(_positionals(group_command)) > 1:
            missing.append(f"{command}: several positional arguments; extend test_hostile_input_is_refused_cleanly")
    assert not missing, "\n".join(missing)
    assert {"check", "example", "exercises", "drill", "cards", "handouts", "build", "flashcards", "new",
            "explain"} <= set(COMMANDS)


@pytest.mark.full
def test_a_fifo_in_a_folder_is_one_error_and_the_other_files_are_checked(tmp_path):
    """The real command, in a subprocess with a timeout: a FIFO (and a device) named *.toml never hangs it."""
    folder = tmp_path / "derivations"
    folder.mkdir()
    (folder / "good.toml").write_text(GOOD_DERIVATION, "utf-8")
    os.mkfifo(folder / "a-fifo.toml")
    (folder / "b-zero.toml").symlink_to("/dev/zero")
    env = dict(os.environ, PYTHONPATH=str(ROOT), ELBO_SYM_NO_CACHE="1")
    done = subprocess.run([sys.executable, "-m", "elbo_sym", "check", str(folder)], capture_output=True,
                          text=True, timeout=CHILD_TIMEOUT_SECONDS, env=env, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, done.stderr
    assert "a-fifo.toml: cannot read file: not a regular file (a FIFO)" in errors[0]
    assert "b-zero.toml: cannot read file: not a regular file (a character device)" in errors[1]
    assert "good.toml — " in done.stdout and "4 proved" in done.stdout  # the good file is still checked


_REPO = Path(__file__).resolve().parents[1]


@pytest.mark.full
@pytest.mark.parametrize("warm", [False, True])
def test_an_ascii_terminal_gets_escapes_not_a_traceback(tmp_path, warm):
    """A title with é on a stream that cannot encode it (PYTHONIOENCODING=ascii): the report is
    printed with \\xe9, exit 0, the same from the engine and from the cache."""
    text = (_REPO / "derivations" / "gap.toml").read_text("utf-8")
    (tmp_path / "gap.toml").write_text(text.replace('title = "', 'title = "Caf\u00e9: ', 1), "utf-8")
    env = dict(os.environ, PYTHONIOENCODING="ascii", ELBO_SYM_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("ELBO_SYM_NO_CACHE", None)
    command = [sys.executable, "-m", "elbo_sym", "check", "gap.toml"]
    if warm:
        subprocess.run(command, cwd=tmp_path, env=dict(env, PYTHONIOENCODING="utf-8"), capture_output=True, check=True,
                       timeout=CHILD_TIMEOUT_SECONDS)
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stderr
    assert b"Caf\\xe9: " in done.stdout and b"Traceback" not in done.stderr


@pytest.mark.full
def test_a_closed_stdout_is_no_traceback(tmp_path):
    """`elbo-sym check FILE >&-`: nothing can be printed, the exit status still says the outcome."""
    (tmp_path / "gap.toml").write_text((_REPO / "derivations" / "gap.toml").read_text("utf-8"), "utf-8")
    done = subprocess.run([sys.executable, "-m", "elbo_sym", "check", "--no-cache", "gap.toml"], cwd=tmp_path,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          preexec_fn=lambda: os.close(1), timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
