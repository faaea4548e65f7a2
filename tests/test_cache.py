"""The result cache may only save time, never change an outcome.

Entries are authenticated with an HMAC under a per-user secret: a planted entry (computed
with the public key derivation but without the secret, or with another secret), a corrupt
entry, or an entry copied from another file is a miss, and the exit status and the output
are exactly those of a run without cache.  As a positive control, an entry signed with the
real secret *is* believed (so it is the MAC that keeps the others out).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import elbo_sym.engine.repair
from elbo_sym.authoring import cache as result_cache
from elbo_sym.cli import main
from elbo_sym.limits import STEP_BUDGET_SECONDS
from elbo_sym.report.build import check_file
from elbo_sym.report.model import DerivationReport
from elbo_sym.report.text import derivation_text, warnings_text

REPO = Path(__file__).resolve().parents[1]
GAP = (REPO / "derivations" / "gap.toml").read_text("utf-8")
REFUTED = GAP.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(p(z | x), q(z))"')
assert REFUTED != GAP


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working folder with a good and a refuted derivation; a private cache folder outside it."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "good.toml").write_text(GAP, "utf-8")
    (folder / "bad.toml").write_text(REFUTED, "utf-8")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ELBO_SYM_NO_CACHE", raising=False)
    return folder


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def cache_folder() -> Path:
    return Path(os.environ["ELBO_SYM_CACHE_DIR"])


def slot(name: str) -> tuple[str, Path]:
    """The public key of `name`'s entry and the file it lives in."""
    key = result_cache.entry_key(name, Path(name).read_bytes(), STEP_BUDGET_SECONDS)
    return key, cache_folder() / f"{key}.json"


def fresh(capsys, name: str) -> tuple[int, str, str]:
    return cli(capsys, "check", "--no-cache", name)


_GOOD_REPORT: dict = {}


def forged_payload(key: str, name: str, title: str = "FAKE REPORT: all proved") -> dict:
    """What a correct entry for `name` looks like, claiming every step proved (the report of
    good.toml, renamed)."""
    if not _GOOD_REPORT:
        _GOOD_REPORT.update(check_file("good.toml").to_dict())
    report = {**_GOOD_REPORT, "file": name, "title": title}
    report.pop("ok", None)
    read_back = DerivationReport.from_dict(report)  # the text and totals a warm check prints
    return {"format": result_cache.FORMAT, "key": key, "path": name, "report": report,
            "text": derivation_text(read_back), "warnings": warnings_text(read_back),
            "tally": result_cache._tally(read_back), "plain": True}


def write_entry(path: Path, payload: dict | str, secret: bytes | None, key: str) -> None:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    mac = result_cache._mac(secret, key, text.encode("utf-8")) if secret is not None else "0" * 64
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": result_cache.FORMAT, "mac": mac, "payload": text}), "utf-8")


def secret() -> bytes:
    return (cache_folder() / result_cache.KEY_FILE).read_bytes()


def no_engine(monkeypatch) -> None:
    """Make any real check fail loudly: the run must be answered from the cache."""
    def refuse(*args, **kwargs):
        raise AssertionError("the engine ran: this was not a cache hit")

    monkeypatch.setattr(elbo_sym.engine.repair, "check_with_suggestions", refuse)


# ---------------------------------------------------------------------------- location and key


def test_cache_lives_outside_the_working_tree_with_a_private_key(work, capsys):
    assert cli(capsys, "check", "good.toml")[0] == 0
    assert not (work / ".elbo-sym-cache").exists()
    assert sorted(p.name for p in work.iterdir()) == ["bad.toml", "good.toml"]
    key_file = cache_folder() / result_cache.KEY_FILE
    info = key_file.lstat()
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.geteuid() and info.st_size == result_cache.KEY_BYTES
    assert len(list(cache_folder().glob("*.json"))) == 1
    assert not list(cache_folder().glob("*.tmp"))  # no temporary files left behind


@pytest.mark.parametrize("umask", [0o000, 0o277])
def test_key_is_0600_whatever_the_umask(work, capsys, umask):
    previous = os.umask(umask)
    try:
        assert cli(capsys, "check", "good.toml")[0] == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((cache_folder() / result_cache.KEY_FILE).stat().st_mode) == 0o600


def test_authentic_entry_is_a_hit(work, capsys, monkeypatch):
    first = cli(capsys, "check", "good.toml")
    no_engine(monkeypatch)
    assert cli(capsys, "check", "good.toml") == first == (0, first[1], "")


def test_a_correctly_signed_entry_is_believed_positive_control(work, capsys, monkeypatch):
    """Whoever holds the secret can write entries: so the secret, not the layout, is what counts."""
    assert cli(capsys, "check", "good.toml")[0] == 0  # creates the key
    key, entry = slot("bad.toml")
    write_entry(entry, forged_payload(key, "bad.toml"), secret(), key)
    no_engine(monkeypatch)
    code, out, _ = cli(capsys, "check", "bad.toml")
    assert code == 0 and "FAKE REPORT" in out


# ---------------------------------------------------------------------------- planted entries


PLANTED_KINDS = ["unauthenticated-format-1", "mac-without-the-secret", "mac-under-another-secret", "no-mac"]


def _planted(key: str, name: str) -> dict[str, tuple[dict | str, bytes | None]]:
    payload = forged_payload(key, name)
    return {
        "unauthenticated-format-1": (None, None),  # the old layout: the report in the clear
        "mac-without-the-secret": (payload, b""),
        "mac-under-another-secret": (payload, os.urandom(result_cache.KEY_BYTES)),
        "no-mac": (payload, None),
    }


@pytest.mark.parametrize("kind", PLANTED_KINDS)
@pytest.mark.parametrize("key_exists", [True, False])
def test_planted_entry_never_changes_the_outcome(work, capsys, kind, key_exists):
    expected = fresh(capsys, "bad.toml")
    assert expected[0] == 1 and "refuted" in expected[1]
    if key_exists:
        assert cli(capsys, "check", "good.toml")[0] == 0
    key, entry = slot("bad.toml")
    payload, signing_key = _planted(key, "bad.toml")[kind]
    if kind == "unauthenticated-format-1":
        entry.parent.mkdir(parents=True, exist_ok=True)
        legacy = dict(forged_payload(key, "bad.toml"), format=1)
        entry.write_text(json.dumps(legacy), "utf-8")
    else:
        write_entry(entry, payload, signing_key, key)
    assert cli(capsys, "check", "bad.toml") == expected
    assert cli(capsys, "check", "--json", "bad.toml")[0] == 1


@pytest.mark.full
def test_planted_folder_in_the_working_tree_is_ignored(work, capsys, monkeypatch):
    """The old default location, force-added in a pull request (key and all), is not read any more."""
    monkeypatch.delenv("ELBO_SYM_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(work.parent / "home"))
    expected = fresh(capsys, "bad.toml")
    planted = work / ".elbo-sym-cache"
    planted.mkdir()
    known = b"k" * result_cache.KEY_BYTES
    (planted / result_cache.KEY_FILE).write_bytes(known)
    os.chmod(planted / result_cache.KEY_FILE, 0o600)  # as a checkout with umask 077 would leave it
    key = result_cache.entry_key("bad.toml", Path("bad.toml").read_bytes(), STEP_BUDGET_SECONDS)
    write_entry(planted / f"{key}.json", forged_payload(key, "bad.toml"), known, key)
    assert cli(capsys, "check", "bad.toml") == expected
    assert cli(capsys, "check", "good.toml")[0] == 0
    assert list((work.parent / "home" / ".cache" / "elbo-sym").glob("*.json"))  # the real cache is used


def test_entry_copied_from_another_file_is_a_miss(work, capsys):
    expected = fresh(capsys, "bad.toml")
    assert cli(capsys, "check", "good.toml")[0] == 0
    _, good_entry = slot("good.toml")
    bad_key, bad_entry = slot("bad.toml")
    shutil.copyfile(good_entry, bad_entry)  # an authentic entry, in the wrong slot
    assert cli(capsys, "check", "bad.toml") == expected
    # and the same bytes under another path name (same content, different report path)
    shutil.copyfile("good.toml", "copy.toml")
    _, copy_entry = slot("copy.toml")
    shutil.copyfile(good_entry, copy_entry)
    code, out, _ = cli(capsys, "check", "copy.toml")
    assert code == 0 and "copy.toml — " in out and "good.toml" not in out


# ---------------------------------------------------------------------------- corrupt entries


def _corruptions(entry_text: str) -> dict[str, bytes]:
    entry = json.loads(entry_text)
    payload = json.loads(entry["payload"])

    def with_entry(**changes) -> bytes:
        return json.dumps({**entry, **changes}).encode()

    return {
        "truncated": entry_text[: len(entry_text) // 2].encode(),
        "empty": b"",
        "not-json": b"{not json",
        "a-list": b"[1, 2, 3]",
        "null": b"null",
        "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
        "invalid-utf8": b"\xff\xfe" + entry_text.encode(),
        "mac-is-a-number": with_entry(mac=12345),
        "mac-non-ascii": with_entry(mac="é" * 64),
        "payload-is-a-dict": with_entry(payload=payload),
        "payload-edited": with_entry(payload=entry["payload"].replace("proved", "PROVED")),
        "missing-mac": json.dumps({"format": entry["format"], "payload": entry["payload"]}).encode(),
        "missing-payload": json.dumps({"format": entry["format"], "mac": entry["mac"]}).encode(),
        "wrong-format": with_entry(format="2"),
    }


def _assert_same_as_fresh(capsys, name: str, expected) -> None:
    assert cli(capsys, "check", name) == expected


@pytest.mark.parametrize("corruption", list(_corruptions(json.dumps({"format": 2, "mac": "", "payload": "{}"}))))
def test_corrupt_entry_is_a_miss(work, capsys, corruption):
    expected = fresh(capsys, "good.toml")
    assert cli(capsys, "check", "good.toml") == expected
    _, entry = slot("good.toml")
    entry.write_bytes(_corruptions(entry.read_text("utf-8"))[corruption])
    _assert_same_as_fresh(capsys, "good.toml", expected)
    # ... and the next run re-stores an authentic entry
    assert json.loads(entry.read_text("utf-8"))["format"] == result_cache.FORMAT


def _signed_variants(key: str, name: str, good: dict) -> dict[str, object]:
    """Authentic (signed with the real secret) but inconsistent or mistyped payloads."""
    def edit(**changes) -> dict:
        return {**good, **changes}

    report = good["report"]
    steps = report["steps"]

    def step_edit(**changes) -> dict:
        return edit(report={**report, "steps": [{**step, **changes} for step in steps]})

    return {
        "other-path": edit(path="elsewhere.toml"),
        "other-slot": edit(key="0" * 64),
        "wrong-format": edit(format=1),
        "report-not-a-dict": edit(report=[]),
        "report-missing": {k: v for k, v in good.items() if k != "report"},
        "report-other-file": edit(report={**report, "file": "elsewhere.toml"}),
        "report-not-established": edit(report={**report, "established": False}),
        "established-as-string": edit(report={**report, "established": "yes"}),
        "unknown-field": edit(report={**report, "bogus": 1}),
        "steps-missing": edit(report={k: v for k, v in report.items() if k != "steps"}),
        "steps-a-string": edit(report={**report, "steps": "proved"}),
        "unknown-verdict": step_edit(verdict="bogus"),  # crashed the summary before
        "refuted-verdict": step_edit(verdict="refuted"),
        "verdict-a-number": step_edit(verdict=1),
        "step-without-line": edit(report={**report, "steps": [{k: v for k, v in step.items() if k != "line"}
                                                              for step in steps]}),
        "steps-renumbered": step_edit(index=7),
        "instances-a-string": step_edit(instances="many"),
        "payload-a-list": [good],
    }


@pytest.mark.full
def test_signed_but_inconsistent_entries_are_misses(work, capsys):
    expected = fresh(capsys, "good.toml")
    assert cli(capsys, "check", "good.toml") == expected
    key, entry = slot("good.toml")
    good = json.loads(json.loads(entry.read_text("utf-8"))["payload"])
    for name, payload in _signed_variants(key, "good.toml", good).items():
        if isinstance(payload, dict) and isinstance(payload.get("report"), dict):
            report = payload["report"]
            payload = {**payload, "report": {**report, "title": "FAKE " + str(report.get("title"))}}
        write_entry(entry, payload, secret(), key)
        assert cli(capsys, "check", "good.toml") == expected, name


@pytest.mark.parametrize("kind", ["fifo", "directory", "dev-zero", "too-large"])
def test_entry_that_is_not_a_small_regular_file_is_a_miss(work, capsys, kind):
    expected = fresh(capsys, "good.toml")
    assert cli(capsys, "check", "good.toml") == expected
    _, entry = slot("good.toml")
    entry.unlink()
    if kind == "fifo":
        os.mkfifo(entry)  # opening it must not block
    elif kind == "directory":
        entry.mkdir()
    elif kind == "dev-zero":
        entry.symlink_to("/dev/zero")
    else:
        with open(entry, "wb") as handle:
            handle.truncate(result_cache.MAX_ENTRY_BYTES + 1)
    _assert_same_as_fresh(capsys, "good.toml", expected)


# ---------------------------------------------------------------------------- an untrusted key file


def _key_cases():
    return ["mode-0644", "mode-0400", "symlink", "directory", "fifo", "wrong-size", "hard-link", "other-owner"]


@pytest.mark.parametrize("case", _key_cases())
def test_untrusted_key_file_turns_the_cache_off(work, capsys, monkeypatch, case):
    expected_bad = fresh(capsys, "bad.toml")
    expected_good = fresh(capsys, "good.toml")
    assert cli(capsys, "check", "good.toml") == expected_good
    key_file = cache_folder() / result_cache.KEY_FILE
    real = secret()
    # an attacker's entry for the refuted file, signed with the key file's *current* bytes
    bad_key, bad_entry = slot("bad.toml")
    if case == "mode-0644":
        os.chmod(key_file, 0o644)
    elif case == "mode-0400":
        os.chmod(key_file, 0o400)
    elif case == "symlink":
        target = work.parent / "elsewhere"
        target.write_bytes(real)
        os.chmod(target, 0o600)
        key_file.unlink()
        key_file.symlink_to(target)
    elif case == "directory":
        key_file.unlink()
        key_file.mkdir()
    elif case == "fifo":
        key_file.unlink()
        os.mkfifo(key_file, 0o600)
    elif case == "wrong-size":
        key_file.write_bytes(real + b"\n")
    elif case == "hard-link":
        os.link(key_file, work.parent / "second-name")
    elif case == "other-owner":
        uid = os.geteuid()
        monkeypatch.setattr(result_cache.os, "geteuid", lambda: uid + 1)
    write_entry(bad_entry, forged_payload(bad_key, "bad.toml"), real, bad_key)
    entries = sorted(p.name for p in cache_folder().glob("*.json"))
    assert cli(capsys, "check", "bad.toml") == expected_bad           # not read ...
    assert cli(capsys, "check", "good.toml") == expected_good
    (work / "other.toml").write_text(GAP.replace("The gap", "Another gap"), "utf-8")
    assert cli(capsys, "check", "other.toml")[0] == 0
    assert sorted(p.name for p in cache_folder().glob("*.json")) == entries  # ... and not written
    if case not in ("directory", "fifo", "symlink"):
        assert key_file.read_bytes()[: result_cache.KEY_BYTES] == real  # never replaced behind the user's back


# ---------------------------------------------------------------------------- switching it off


def test_no_cache_and_the_environment_neither_read_nor_write(work, capsys, monkeypatch):
    assert cli(capsys, "check", "good.toml")[0] == 0
    key, entry = slot("bad.toml")
    write_entry(entry, forged_payload(key, "bad.toml"), secret(), key)  # would be believed (see above)
    before = sorted(p.name for p in cache_folder().iterdir())
    assert cli(capsys, "check", "--no-cache", "bad.toml")[0] == 1
    monkeypatch.setenv("ELBO_SYM_NO_CACHE", "1")
    assert cli(capsys, "check", "bad.toml")[0] == 1
    (work / "other.toml").write_text(GAP.replace("The gap", "Another gap"), "utf-8")
    assert cli(capsys, "check", "other.toml")[0] == 0
    assert sorted(p.name for p in cache_folder().iterdir()) == before


def test_ci_runs_without_the_cache():
    lines = (REPO / ".ci" / "run").read_text("utf-8").splitlines()
    assert "export ELBO_SYM_NO_CACHE=1" in lines
    assert lines.index("export ELBO_SYM_NO_CACHE=1") < next(i for i, l in enumerate(lines) if "make test" in l)


def test_pruning_removes_only_old_entries_never_other_files(work, capsys, monkeypatch):
    """ELBO_SYM_CACHE_DIR pointed at a user folder: its own *.json files (and links) survive."""
    folder = cache_folder()
    folder.mkdir()
    user_files = [folder / f"notes-{i}.json" for i in range(5)] + [folder / ("A" * 64 + ".json")]
    for path in user_files:
        path.write_text("{}", "utf-8")
    target = work / "precious.json"
    target.write_text("{}", "utf-8")
    link = folder / ("b" * 64 + ".json")
    link.symlink_to(target)  # named like an entry, but not a regular file
    old = [folder / f"{i:064x}.json" for i in range(4)]
    for age, path in enumerate(old):
        path.write_text("{}", "utf-8")
        os.utime(path, (1_000 + age, 1_000 + age))
    monkeypatch.setattr(result_cache, "MAX_ENTRIES", 2)
    assert cli(capsys, "check", "good.toml")[0] == 0  # writes one entry, then prunes
    assert all(path.exists() for path in user_files) and link.is_symlink() and target.exists()
    entries = sorted(p.name for p in folder.iterdir() if result_cache.ENTRY_NAME.fullmatch(p.name)
                     and not p.is_symlink())
    assert len(entries) == 2 and old[3].name in entries  # the newest old entry and the new one
    assert not any(path.exists() for path in old[:3])


def test_a_relative_cache_folder_is_made_absolute(work, monkeypatch):
    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", "relative-cache")
    assert result_cache.cache_dir() == work / "relative-cache"
    assert result_cache.cache_dir().is_absolute()


# ---------------------------------------------------------------------------- issue 15: dependencies and checkouts


@pytest.mark.parametrize("package", result_cache.DEPENDENCIES)
def test_the_key_changes_with_each_dependencys_version(package, tmp_path, monkeypatch):
    """SciPy's search can decide an accepted step: another SciPy (or SymPy, mpmath, NumPy) is another key.
    A distribution's metadata put first on sys.path is what importlib.metadata reports as installed."""
    source = REPO / "elbo_sym"
    before = result_cache.fingerprint(source, "1.0")
    assert result_cache.installed_version(package) != "0.0.1-planted"
    dist_info = tmp_path / f"{package.replace('-', '_')}-0.0.1-planted.dist-info"  # as a wheel names it
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.0.1-planted\n", "utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert result_cache.installed_version(package) == "0.0.1-planted"
    assert result_cache.fingerprint(source, "1.0") != before


def test_python_flint_decides_the_interval_text_so_its_version_is_in_the_key():
    """rt17 F4: with python-flint the second opinion prints arb's intervals, without it mpmath's."""
    assert {"python-flint", "sympy", "mpmath", "scipy", "numpy"} <= set(result_cache.DEPENDENCIES)
    assert result_cache.installed_version("python-flint") != "missing"  # a dependency: the venv has it


@pytest.mark.parametrize("variable", result_cache.OUTCOME_VARIABLES)
def test_the_key_changes_with_each_setting_that_changes_a_report(variable, monkeypatch):
    """rt17 F4: a report checked with ELBO_SYM_INTERVALS=mpmath (another interval text) or another
    SymPy ground type is never served to a run with another value, nor to one without the variable."""
    monkeypatch.delenv(variable, raising=False)
    keys = {result_cache.entry_key("gap.toml", GAP.encode(), STEP_BUDGET_SECONDS)}
    for value in ("mpmath", "python", ""):
        monkeypatch.setenv(variable, value)
        keys.add(result_cache.entry_key("gap.toml", GAP.encode(), STEP_BUDGET_SECONDS))
    assert len(keys) == 4


def test_the_interval_variable_is_the_one_the_second_opinion_reads():
    from elbo_sym.engine.reference.intervals import BACKEND_VARIABLE

    assert BACKEND_VARIABLE in result_cache.OUTCOME_VARIABLES


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_unknown_interval_backend_is_one_input_error_even_after_a_cached_pass(work, capsys, monkeypatch, jobs):
    """rt17 F4: ELBO_SYM_INTERVALS=bogus was answered from the cache (exit 0), and without it each step
    said "internal error (please report): ImportError" (exit 1): now one line and exit 2, both ways."""
    assert cli(capsys, "check", "good.toml", "--jobs", jobs)[0] == 0  # a pass stored without the variable
    monkeypatch.setenv("ELBO_SYM_INTERVALS", "bogus")
    for extra in ((), ("--no-cache",)):
        code, out, err = cli(capsys, "check", "good.toml", "bad.toml", "--jobs", jobs, *extra)
        assert code == 2 and out == "", (code, out, err)
        assert err.splitlines() == [f"elbo-sym: error: ELBO_SYM_INTERVALS='bogus': not available here "
                                    f"(available: {err.split('(available: ')[1].split(')')[0]})"]
        assert "mpmath" in err and "internal error" not in err


@pytest.mark.full
def test_a_pass_near_its_budget_is_not_stored(work, capsys, monkeypatch):
    """rt17 F2: a pass that finished just inside its budget (or only because a neighbour warmed the
    memos) is not one a fresh run must give: it is re-checked every time, never stored."""
    import elbo_sym.report.build as build
    from elbo_sym.budget import clock
    from elbo_sym.limits import CACHED_PASS_BUDGET_SHARE

    budget = 0.6
    real = build.check_file

    def slow(loaded, *args):
        started = clock()
        report = real(loaded, *args)
        while clock() - started <= CACHED_PASS_BUDGET_SHARE * budget + 0.01:  # the file took over half
            pass
        return report

    monkeypatch.setattr(build, "check_file", slow)
    code, out, _ = cli(capsys, "check", "good.toml", "--budget", str(budget), "--jobs", "1")
    assert code == 0 and "1/1 file(s) pass" in out
    assert not list(cache_folder().glob("*.json"))  # nothing stored
    monkeypatch.setattr(build, "check_file", real)
    assert cli(capsys, "check", "good.toml", "--jobs", "1")[0] == 0  # far from its budget: stored
    assert len(list(cache_folder().glob("*.json"))) == 1


def test_far_from_every_budget():
    from elbo_sym.limits import CACHED_PASS_BUDGET_SHARE as SHARE
    from elbo_sym.limits import REFERENCE_BUDGET_SECONDS, file_budget

    near = result_cache.far_from_every_budget
    assert near(SHARE * 1.0, 3, 1.0, None) and not near(SHARE * 1.0 + 0.001, 3, 1.0, None)  # the step budget
    assert not near(SHARE * 0.5 + 0.001, 3, 1.0, 0.5)                                   # a smaller file budget
    assert near(SHARE * 0.5, 3, 1.0, 0.5)
    assert not near(SHARE * REFERENCE_BUDGET_SECONDS + 0.001, 3, 100.0, None)           # the second opinion's
    assert file_budget(3, 100.0) > REFERENCE_BUDGET_SECONDS


def test_a_missing_dependency_is_part_of_the_key_too():
    assert result_cache.installed_version("no-such-package-elbo-sym-test") == "missing"


@pytest.mark.parametrize("marker", ["folder", "file"])  # a clone's .git folder, a worktree's .git file
def test_a_cache_folder_inside_a_git_work_tree_is_not_used(work, capsys, monkeypatch, marker):
    """$ELBO_SYM_CACHE_DIR pointing into a checkout whose commit carries a key and a forged entry
    (right owner, right mode): the run checks everything, warns, and writes nothing there."""
    expected = fresh(capsys, "bad.toml")
    assert expected[0] == 1
    repository = work.parent / "repository"
    repository.mkdir()
    if marker == "folder":
        (repository / ".git").mkdir()
    else:
        (repository / ".git").write_text("gitdir: /elsewhere/.git/worktrees/x\n", "utf-8")
    planted = repository / "sub" / "cache"
    planted.mkdir(parents=True)
    known = b"k" * result_cache.KEY_BYTES
    (planted / result_cache.KEY_FILE).write_bytes(known)
    os.chmod(planted / result_cache.KEY_FILE, 0o600)
    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", str(planted))
    key = result_cache.entry_key("bad.toml", Path("bad.toml").read_bytes(), STEP_BUDGET_SECONDS)
    write_entry(planted / f"{key}.json", forged_payload(key, "bad.toml"), known, key)
    code, out, err = cli(capsys, "check", "bad.toml")
    assert (code, out) == expected[:2] and "FAKE REPORT" not in out
    assert "warning" in err and "git work tree" in err and str(repository) in err
    before = sorted(p.name for p in planted.iterdir())
    assert cli(capsys, "check", "good.toml")[0] == 0
    assert sorted(p.name for p in planted.iterdir()) == before  # nothing written there either
    assert result_cache.inside_work_tree(planted) == repository


def test_a_symlink_into_a_work_tree_is_refused_too(tmp_path):
    repository = tmp_path / "repository"
    (repository / ".git").mkdir(parents=True)
    (repository / "cache").mkdir()
    link = tmp_path / "outside"
    link.symlink_to(repository / "cache")
    assert result_cache.inside_work_tree(link) == repository
    assert result_cache.inside_work_tree(tmp_path / "elsewhere") is None
    assert result_cache.Cache(link).warning is not None and result_cache.Cache(tmp_path / "c").warning is None
