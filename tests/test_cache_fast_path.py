"""A warm `check` answered before click is imported (elbo_sym.__main__, cache.answer_from_cache)
may only save time: the same stdout and exit status as the full command line, byte for byte,
in both formats; anything it does not fully understand, and every entry that is not authentic
and whole, is left to the full command line.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym import __main__ as entry
from elbo_sym.authoring import cache as result_cache
from elbo_sym.cli import main as full_command_line
from elbo_sym.limits import STEP_BUDGET_SECONDS

REPO = Path(__file__).resolve().parents[1]
TREE = sorted({str(p.parent.relative_to(REPO)) for p in (REPO / "derivations").rglob("*.toml")})
GAP = (REPO / "derivations" / "gap.toml").read_text("utf-8")
REFUTED = GAP.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(p(z | x), q(z))"')
assert REFUTED != GAP
WARNS = GAP.replace(GAP.splitlines()[1], "summary = \"Bayes' rule: $p(x, z) / p(x)$ is $p(z)$.\"")
"""A file that passes and warns: its summary states a false relation in words (elbo_sym.engine.prose_check)."""
assert WARNS != GAP


@pytest.fixture
def cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ELBO_SYM_NO_CACHE", raising=False)
    monkeypatch.delenv(result_cache._COMPLETION_VARIABLE, raising=False)
    return tmp_path / "cache"


@pytest.fixture
def work(tmp_path, cache_env, monkeypatch):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "good.toml").write_text(GAP, "utf-8")
    (folder / "bad.toml").write_text(REFUTED, "utf-8")
    monkeypatch.chdir(folder)
    return folder


def full(capsys, *args: str) -> tuple[int, str, str]:
    code = full_command_line(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def fast(capsys, *args: str) -> tuple[int | None, str, str]:
    code = entry._answer_warm_check(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------- the same bytes


@pytest.mark.full
def test_the_whole_tree_warm_is_the_cold_run_byte_for_byte(cache_env, capsys, monkeypatch):
    """Every file under derivations/ (all pass, so all are stored), both formats.  The cold
    JSON run fills the cache; the full command's warm text is the cold text (Cache.put stores
    a report only when it reads back equal), so the fast answer is compared with both."""
    monkeypatch.chdir(REPO)
    cold_json = full(capsys, "check", "--json", *TREE)
    assert cold_json[0] == 0 and cold_json[2] == ""
    assert len(json.loads(cold_json[1])) == sum(1 for _ in (REPO / "derivations").rglob("*.toml"))
    assert fast(capsys, "check", "--json", *TREE) == cold_json
    warm_text = full(capsys, "check", *TREE)
    assert warm_text[0] == 0 and warm_text[1].count(" — ") >= len(json.loads(cold_json[1]))
    assert fast(capsys, "check", *TREE) == warm_text


def test_the_lesson_warm_is_a_cold_text_run(cache_env, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    cold = full(capsys, "check", "--no-cache", "derivations")
    assert full(capsys, "check", "derivations") == cold  # fills the cache
    assert cold[0] == 0
    assert fast(capsys, "check") == cold  # no path: derivations/, as the full command
    assert fast(capsys, "check", "derivations", "--json")[0] == 0


@pytest.mark.parametrize("options", [["--budget", "7"], ["--budget=7"], ["--file-budget", "300"],
                                     ["--budget", "7", "--file-budget=300", "--json"]])
def test_budget_options_are_part_of_the_answer(work, capsys, options):
    assert full(capsys, "check", "good.toml", *options)[0] == 0
    answer = fast(capsys, "check", "good.toml", *options)
    assert answer == full(capsys, "check", "good.toml", *options)
    assert answer[0] == 0
    assert fast(capsys, "check", "good.toml")[0] is None  # another budget: another key, a miss


def test_the_console_entry_prints_what_the_full_command_prints(work, capsys):
    assert full(capsys, "check", "good.toml")[0] == 0
    assert entry.main(["check", "good.toml"]) == 0
    out, _ = capsys.readouterr()
    assert out == full(capsys, "check", "good.toml")[1]
    assert entry.main(["check", "bad.toml"]) == 1  # not answerable: the full command ran
    assert "refuted" in capsys.readouterr().out


@pytest.mark.full
def test_a_warm_process_imports_neither_click_nor_the_report_model(work):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-X", "importtime", "-m", "elbo_sym", "check", "good.toml"]
    cold = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    warm = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert cold.returncode == warm.returncode == 0
    assert cold.stdout == warm.stdout and "good.toml" in warm.stdout

    def imported(stderr: str) -> set[str]:
        return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}

    heavy = {"click", "sympy", "elbo_sym.report.model", "elbo_sym.cli", "elbo_sym.prose", "typing", "dataclasses"}
    assert {"sympy", "elbo_sym.report.model", "elbo_sym.prose"} <= imported(cold.stderr)  # the probe sees imports
    assert imported(warm.stderr) & heavy == set()


# ---------------------------------------------------------------------------- what is left to the full command


@pytest.mark.parametrize("argv", [
    [], ["explain", "good.toml"], ["check", "--no-cache", "good.toml"], ["check", "-h"], ["check", "--help"],
    ["check", "--"], ["check", "-"], ["check", "--jso", "good.toml"], ["check", "--json=1", "good.toml"],
    ["check", "good.toml", "--budget"], ["check", "good.toml", "--budget", "-1"],
    ["check", "good.toml", "--budget", "0"], ["check", "good.toml", "--budget", "abc"],
    ["check", "good.toml", "--budget", "1", "--budget", "1"], ["check", "good.toml", "--budget="],
    ["check", "good.toml", "--budgets", "1"], ["check", "good.toml", "--file-budget"],
    ["check", "good.toml", "--budget", "\u0661"], ["check", ""], ["--json", "check", "good.toml"],
])
def test_command_lines_it_does_not_fully_understand_are_left_alone(work, capsys, argv):
    assert full(capsys, "check", "good.toml")[0] == 0  # an entry exists: only the command line declines
    assert fast(capsys, *argv) == (None, "", "")


def test_a_hit_for_every_file_or_nothing(work, capsys):
    assert full(capsys, "check", "good.toml", "bad.toml")[0] == 1
    assert fast(capsys, "check", "good.toml", "bad.toml") == (None, "", "")  # a refuted file is never stored
    assert fast(capsys, "check", "good.toml")[0] == 0
    (work / "good.toml").write_text(GAP + "\n# edited\n", "utf-8")
    assert fast(capsys, "check", "good.toml") == (None, "", "")  # the file's bytes are in the key
    assert fast(capsys, "check", "missing.toml") == (None, "", "")
    (work / "empty").mkdir()
    assert fast(capsys, "check", "empty") == (None, "", "")


@pytest.mark.parametrize("setting", ["no-cache variable", "completion", "project file", "no default folder"])
def test_the_environment_and_the_folder_can_send_it_to_the_full_command(work, capsys, monkeypatch, setting):
    (work / "derivations").mkdir()
    (work / "derivations" / "good.toml").write_text(GAP, "utf-8")
    assert full(capsys, "check")[0] == 0
    assert fast(capsys, "check")[0] == 0  # positive control
    if setting == "no-cache variable":
        monkeypatch.setenv("ELBO_SYM_NO_CACHE", "1")
    elif setting == "completion":
        monkeypatch.setenv(result_cache._COMPLETION_VARIABLE, "bash_complete")
    elif setting == "project file":
        (work / "elbo-sym.toml").write_text('title = "A course"\n', "utf-8")
    else:
        (work / "derivations" / "good.toml").rename(work / "good.toml")
        (work / "derivations").rmdir()
    assert fast(capsys, "check") == (None, "", "")


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_file_that_warns_is_answered_warm_with_the_warning_a_cold_check_prints(work, capsys, json_flag):
    """The cache only saves time: a warm check of a file that warns prints on stderr what a cold one printed
    (session 16 left such files to the full command, which re-read the cache: slower, never the fast path)."""
    (work / "warns.toml").write_text(WARNS, "utf-8")
    cold = full(capsys, "check", "--no-cache", *json_flag, "warns.toml", "good.toml")
    assert cold[0] == 0 and cold[2].startswith("warning: warns.toml:2:") and cold[2].count("warning: ") == 1
    assert full(capsys, "check", *json_flag, "warns.toml", "good.toml") == cold  # fills the cache, as cold
    assert fast(capsys, "check", *json_flag, "warns.toml", "good.toml") == cold  # answered, the same bytes
    assert entry.main(["check", *json_flag, "warns.toml", "good.toml"]) == 0
    assert tuple(capsys.readouterr()) == cold[1:]


def test_the_warnings_are_printed_before_the_reports_as_the_full_command_prints_them(work, capsys, monkeypatch):
    (work / "warns.toml").write_text(WARNS, "utf-8")
    assert full(capsys, "check", "warns.toml")[0] == 0
    shared = io.StringIO()  # 2>&1: one stream for both
    monkeypatch.setattr(sys, "stdout", shared)
    monkeypatch.setattr(sys, "stderr", shared)
    assert entry._answer_warm_check(["check", "warns.toml"]) == 0
    assert shared.getvalue().startswith("warning: warns.toml:2:") and "warns.toml — The gap" in shared.getvalue()


def test_a_cache_folder_in_a_work_tree_is_left_to_the_full_command(work, capsys, monkeypatch):
    """The full command prints a warning then; the fast path says nothing, so it must not answer."""
    assert full(capsys, "check", "good.toml")[0] == 0
    (Path(os.environ["ELBO_SYM_CACHE_DIR"]).parent / ".git").mkdir()
    assert fast(capsys, "check", "good.toml") == (None, "", "")
    assert "warning" in full(capsys, "check", "good.toml")[2]


def test_a_name_the_terminal_filter_escapes_is_left_to_the_full_command(work, capsys):
    name = "odd\u2028name.toml"  # a line separator: shown as \\u2028 by the full command
    (work / name).write_text(GAP, "utf-8")
    code, out, _ = full(capsys, "check", name)
    assert code == 0 and "odd\\u2028name.toml" in out and "\u2028" not in out
    payload = result_cache.Cache().payload(
        result_cache.entry_key(name, (work / name).read_bytes(), STEP_BUDGET_SECONDS), name)
    assert payload is not None and payload["plain"] is False  # stored, but not answered as it is
    assert fast(capsys, "check", name) == (None, "", "")


def test_a_stream_that_cannot_take_the_text_is_left_to_the_full_command(work, capsys, monkeypatch):
    assert full(capsys, "check", "good.toml")[0] == 0
    ascii_only = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_only)
    assert entry._answer_warm_check(["check", "good.toml"]) is None
    ascii_only.flush()
    assert ascii_only.buffer.getvalue() == b""


# ---------------------------------------------------------------------------- entries that are not whole


def _entry_path(name: str) -> tuple[str, Path]:
    key = result_cache.entry_key(name, Path(name).read_bytes(), STEP_BUDGET_SECONDS)
    return key, Path(os.environ["ELBO_SYM_CACHE_DIR"]) / f"{key}.json"


def _resign(path: Path, key: str, change) -> None:
    """Rewrite the entry at `path` with its payload changed by `change`, correctly signed."""
    entry_data = json.loads(path.read_text("utf-8"))
    payload = json.loads(entry_data["payload"])
    change(payload)
    text = json.dumps(payload, ensure_ascii=False)
    secret = (path.parent / result_cache.KEY_FILE).read_bytes()
    path.write_text(json.dumps({"format": result_cache.FORMAT, "mac": result_cache._mac(secret, key, text.encode()),
                                "payload": text}), "utf-8")


@pytest.mark.parametrize("damage", ["truncated", "not json", "wrong mac", "old format", "no text", "text not a string",
                                    "no tally", "tally negative", "tally bool count", "tally missing verdict",
                                    "established not bool", "plain missing", "no warnings", "warnings not a string",
                                    "another path", "another key",
                                    "report of another file", "report that failed"])
def test_an_entry_that_is_not_whole_is_a_miss(work, capsys, damage):
    assert full(capsys, "check", "good.toml")[0] == 0
    key, path = _entry_path("good.toml")
    assert fast(capsys, "check", "good.toml")[0] == 0  # positive control: the entry is answered
    raw = path.read_text("utf-8")
    if damage == "truncated":
        path.write_text(raw[: len(raw) // 2], "utf-8")
    elif damage == "not json":
        path.write_text("\0" * 10, "utf-8")
    elif damage == "wrong mac":
        data = json.loads(raw)
        data["mac"] = "0" * 64
        path.write_text(json.dumps(data), "utf-8")
    else:
        changes = {
            "old format": lambda p: p.update(format=result_cache.FORMAT - 1),
            "no text": lambda p: p.pop("text"),
            "text not a string": lambda p: p.update(text=["a"]),
            "no tally": lambda p: p.pop("tally"),
            "tally negative": lambda p: p["tally"].update(proved=-1),
            "tally bool count": lambda p: p["tally"].update(proved=True),
            "tally missing verdict": lambda p: p["tally"].pop("error"),
            "established not bool": lambda p: p["tally"].update(established=1),
            "plain missing": lambda p: p.pop("plain"),
            "no warnings": lambda p: p.pop("warnings"),
            "warnings not a string": lambda p: p.update(warnings=None),
            "another path": lambda p: p.update(path="bad.toml"),
            "another key": lambda p: p.update(key="0" * 64),
            "report of another file": lambda p: p["report"].update(file="bad.toml"),
            "report that failed": lambda p: p["report"].update(ok=False),
        }
        _resign(path, key, changes[damage])
    assert fast(capsys, "check", "good.toml") == (None, "", "")
    code, out, _ = full(capsys, "check", "good.toml")  # the full command re-checks it
    assert code == 0 and "good.toml" in out


def test_a_correctly_signed_entry_is_answered_positive_control(work, capsys):
    """The stored text is what is printed: so it is the MAC and the checks above that keep
    other text out, not a recomputation."""
    assert full(capsys, "check", "good.toml")[0] == 0
    key, path = _entry_path("good.toml")
    _resign(path, key, lambda p: p.update(text="SIGNED TEXT"))
    code, out, _ = fast(capsys, "check", "good.toml")
    assert code == 0 and out.startswith("SIGNED TEXT\n")


# ---------------------------------------------------------------------------- a plain `check` without click


@pytest.mark.parametrize("argv", [
    ["check", "--no-cache", "good.toml"], ["check", "--no-cache", "--jobs", "1", "good.toml", "bad.toml"],
    ["check", "--no-cache", "--json", "."], ["check", "--no-cache", "--jobs=2", "."],
    ["check", "--no-cache", "--budget", "5", "--file-budget=60", "bad.toml"], ["check", "--no-cache", "missing.toml"],
    ["check", "--no-cache", "empty"], ["check", "--no-cache"], ["check", "--no-cache", "broken.toml", "good.toml"],
    ["check", "--no-cache", "--json", "broken.toml"], ["check", "--no-cache", "folder.toml"],
])
def test_a_plain_check_without_click_prints_what_click_prints(work, capsys, argv):
    (work / "broken.toml").write_text(GAP.replace('rule = "', 'rule = "no-such-rule', 1), "utf-8")
    (work / "empty").mkdir()
    (work / "folder.toml").mkdir()
    expected = full(capsys, *argv)
    assert entry._plain_check(argv) is not None  # this command line runs without click ...
    capsys.readouterr()
    assert entry.main(argv) == expected[0]
    out, err = capsys.readouterr()
    assert (expected[0], out, err) == expected  # ... and prints the same
    assert expected[0] in (0, 1, 2) and (out or err)


def test_a_plain_check_fills_the_cache_click_and_the_fast_path_read(work, capsys):
    assert entry.main(["check", "good.toml"]) == 0
    first = capsys.readouterr()
    assert fast(capsys, "check", "good.toml") == (0, first.out, first.err)
    assert full(capsys, "check", "good.toml") == (0, first.out, first.err)


def test_a_course_folder_is_left_to_click(work, capsys):
    (work / "elbo-sym.toml").write_text('title = "A course"\n', "utf-8")
    assert entry._plain_check(["check"]) is None
    assert entry._plain_check(["check", "good.toml"]) is not None  # files named: no project needed


def test_a_cold_process_without_click(work):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-X", "importtime", "-m", "elbo_sym", "check", "--no-cache", "good.toml", "bad.toml"]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode == 1 and "refuted" in done.stdout
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "sympy" in modules and "click" not in modules
