"""The check loop's speed-ups may only save time (issue 19 item 3, bench/bench_loop.py).

Each shortcut is compared with the slow way it replaces: the direct *.dist-info reading of
the cache key with importlib.metadata (and it steps aside whenever it could disagree), the
per-class memo of report field types with typing.get_type_hints, a warm check's imports.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import typing
from importlib import metadata
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.authoring import cache as result_cache
from elbo_sym.limits import GC_YOUNG_OBJECTS, SYMPY_CACHE_ENTRIES
from elbo_sym.report import model as report_model

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- the cache key's versions


@pytest.mark.parametrize("package", [*result_cache.DEPENDENCIES, "click"])
def test_dist_info_versions_are_importlib_metadatas(package):
    """Installed by pip as plain *.dist-info folders: read directly, the same answer."""
    direct = result_cache._dist_info_version(package)
    assert direct is not None
    assert direct == metadata.version(package) == result_cache.installed_version(package)


def _dist_info(folder: Path, name: str, version: str, suffix: str = ".dist-info", field: str = "Version") -> None:
    info = folder / f"{name}-{version}{suffix}"
    info.mkdir()
    metadata_file = "METADATA" if suffix == ".dist-info" else "PKG-INFO"
    (info / metadata_file).write_text(f"Metadata-Version: 2.1\nName: {name}\n{field}: {version}\n", "utf-8")


def test_a_planted_dist_info_is_read_like_importlib_metadata(tmp_path, monkeypatch):
    _dist_info(tmp_path, "SymPy", "0.0.2-planted")  # another spelling of the name: normalised alike
    monkeypatch.syspath_prepend(str(tmp_path))
    assert result_cache._dist_info_version("sympy") == metadata.version("sympy") == "0.0.2-planted"


@pytest.mark.parametrize("layout", ["egg-info", "two dist-infos", "lower-case field"])
def test_unusual_metadata_is_left_to_importlib_metadata(layout, tmp_path, monkeypatch):
    """Where the direct reading could disagree it answers None, and installed_version asks
    importlib.metadata: the key is the same as before the shortcut."""
    if layout == "egg-info":
        _dist_info(tmp_path, "mpmath", "0.0.3", suffix=".egg-info")
    elif layout == "two dist-infos":
        _dist_info(tmp_path, "mpmath", "0.0.3")
        _dist_info(tmp_path, "mpmath", "0.0.4")
    else:
        _dist_info(tmp_path, "mpmath", "0.0.3", field="version")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert result_cache._dist_info_version("mpmath") is None
    assert result_cache.installed_version("mpmath") == metadata.version("mpmath")
    assert metadata.version("mpmath").startswith("0.0.")  # the planted metadata, not the real one


def test_a_missing_package_is_still_missing():
    assert result_cache._dist_info_version("no-such-package-elbo-sym-loop") is None
    assert result_cache.installed_version("no-such-package-elbo-sym-loop") == "missing"


def _fingerprint_by_rglob(package: Path, version: str) -> str:
    """The fingerprint as written before the os.walk listing: pathlib's rglob, sorted."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(f"format {result_cache.FORMAT}\nelbo-sym {version}\npython {sys.version}\n".encode())
    for source in sorted(package.rglob("*.py")):
        digest.update(b"\0" + source.relative_to(package).as_posix().encode() + b"\0")
        digest.update(source.read_bytes())
    for name in result_cache.DEPENDENCIES:
        digest.update(f"\0{name}\0{metadata.version(name)}".encode())
    return digest.hexdigest()


def test_the_fingerprint_is_the_one_rglob_and_importlib_metadata_give(tmp_path):
    """The same digest as before the shortcuts (so every cache entry stays valid), also for a
    package whose names sort differently as strings and as paths, in nested folders."""
    assert result_cache.fingerprint(REPO / "elbo_sym", "9.9") == _fingerprint_by_rglob(REPO / "elbo_sym", "9.9")
    package = tmp_path / "pkg"
    for name in ["a/x.py", "a-b.py", "a_b.py", "a.py", "b/c/d.py", "b/c.py", "b/notes.txt", "A.py", ".hidden.py"]:
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(f"# {name}\n", "utf-8")
    assert result_cache.fingerprint(package, "1") == _fingerprint_by_rglob(package, "1")
    (package / "a" / "x.py").write_text("# changed\n", "utf-8")
    assert result_cache.fingerprint(package, "1") == _fingerprint_by_rglob(package, "1")


# ---------------------------------------------------------------------------- reading reports back


def _report_classes() -> list[type]:
    return [value for value in vars(report_model).values()
            if isinstance(value, type) and dataclasses.is_dataclass(value)
            and value.__module__ == report_model.__name__]


def test_the_field_type_memo_is_get_type_hints():
    classes = _report_classes()
    assert len(classes) >= 10
    for cls in classes:
        assert report_model._hints(cls) == typing.get_type_hints(cls)
        assert report_model._hints(cls) is report_model._hints(cls)  # computed once
        assert report_model._fields(cls) == dataclasses.fields(cls)


def test_a_report_reads_back_the_same_with_the_memo_filled():
    """The first read fills the memo, the second uses it: both give the report that was checked."""
    from elbo_sym.engine.derivation import load
    from elbo_sym.report.build import check_file

    report = check_file(load(REPO / "derivations" / "gap.toml"))
    report_model._HINTS.clear()
    report_model._FIELDS.clear()
    first = report_model.DerivationReport.from_dict(report.to_dict())
    assert report_model._HINTS and report_model._FIELDS  # filled
    second = report_model.DerivationReport.from_dict(report.to_dict())
    assert first == second == report and second.to_dict() == report.to_dict()
    with pytest.raises(TypeError):  # the memo does not loosen the type checks
        report_model.DerivationReport.from_dict({**report.to_dict(), "steps": "not a list"})


# ---------------------------------------------------------------------------- a warm check's imports


@pytest.mark.full
def test_a_warm_check_imports_neither_sympy_nor_importlib_metadata(tmp_path):
    folder = tmp_path / "derivations"
    folder.mkdir()
    for source in sorted((REPO / "derivations").glob("*.toml")):
        (folder / source.name).write_text(source.read_text("utf-8"), "utf-8")
    env = dict(os.environ, PYTHONPATH=str(REPO), ELBO_SYM_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("ELBO_SYM_NO_CACHE", None)
    probe = ("import sys; from elbo_sym.cli import main; code = main(['check', sys.argv[1]]); "
             "heavy = ['sympy', 'mpmath', 'scipy', 'numpy', 'jinja2', 'importlib.metadata']; "
             "print(sorted(m for m in heavy if m in sys.modules)); sys.exit(code)")
    cold = subprocess.run([sys.executable, "-c", probe, str(folder)], env=env, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_SECONDS)
    warm = subprocess.run([sys.executable, "-c", probe, str(folder)], env=env, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_SECONDS)
    assert cold.returncode == warm.returncode == 0, cold.stderr + warm.stderr
    assert "'sympy'" in cold.stdout.splitlines()[-1]  # the probe can see an import
    assert warm.stdout.splitlines()[-1] == "[]"
    assert cold.stdout.splitlines()[:-1] == warm.stdout.splitlines()[:-1]


FAMILY_MODULES = ["elbo_sym.engine.models.gaussian", "elbo_sym.engine.models.gaussian_chain",
                  "elbo_sym.engine.models.chain", "elbo_sym.engine.models.chain_general",
                  "elbo_sym.engine.reference.gaussian", "elbo_sym.engine.reference.chain"]
"""Imported when a file of their family is checked, not for the discrete lesson."""
NOT_ON_A_COLD_CHECK = ["hashlib", "hmac", "difflib", "jinja2", "click", "numpy", "scipy"]
"""`check --no-cache` hashes nothing, suggests no spelling, renders no template."""


def _cold_check_modules(paths: list[str], collector: list | None = None) -> tuple[int, list[str], str]:
    """Exit status, the watched modules imported, and stderr of `check --no-cache --jobs 1 paths`
    run as `python -m elbo_sym` runs it (the plain path, in one process); `collector` gets the
    garbage collector's state after the check: [enabled, objects frozen]."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    watched = FAMILY_MODULES + NOT_ON_A_COLD_CHECK + ["sympy", "elbo_sym.engine.models.general"]
    probe = ("import gc, json, sys; from elbo_sym.__main__ import main; "
             "code = main(['check', '--no-cache', '--jobs', '1', *sys.argv[1:]]); "
             "print(json.dumps([gc.isenabled(), gc.get_freeze_count()])); "
             f"print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules))); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", probe, *paths], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_SECONDS)
    if collector is not None:
        collector.extend(json.loads(done.stdout.splitlines()[-2]))
    return done.returncode, json.loads(done.stdout.splitlines()[-1]), done.stderr


@pytest.mark.full
def test_a_cold_lesson_check_imports_no_other_family_and_no_hashing():
    collector: list = []
    code, imported, stderr = _cold_check_modules(["derivations"], collector)
    assert code == 0, stderr
    assert "sympy" in imported and "elbo_sym.engine.models.general" in imported  # the probe sees imports
    assert [m for m in imported if m in FAMILY_MODULES + NOT_ON_A_COLD_CHECK] == []
    enabled, frozen = collector
    assert enabled is True  # the collector is on again for the check
    assert frozen > 100_000  # the engine's imports (SymPy's objects) were frozen, before the exit hook


def test_every_dataclass_has_a_docstring():
    """A dataclass without a docstring gets one made from inspect.signature at import (Python 3.11),
    about 0.4 million instructions for a dozen fields, in every process that imports it."""
    import pkgutil
    from importlib import import_module

    import elbo_sym

    names = [m.name for m in pkgutil.walk_packages(elbo_sym.__path__, "elbo_sym.")]
    modules = [import_module(name) for name in names if name != "elbo_sym.__main__"]
    classes = [value for module in modules for value in vars(module).values()
               if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__]
    assert len(classes) >= 60  # the engine's, the reports', the lesson's and publishing's dataclasses
    made = [cls.__qualname__ for cls in classes if (cls.__doc__ or "").startswith(cls.__name__ + "(")]
    assert made == []


def _module_with_cycles(folder: Path, name: str) -> None:
    """A module whose import builds reference cycles (the kind of garbage SymPy's import leaves)."""
    (folder / f"{name}.py").write_text("CYCLES = []\nfor _ in range(1000):\n    a = []\n    a.append(a)\n"
                                       "    CYCLES.append(a)\n", "utf-8")


@pytest.mark.parametrize("enabled", [True, False])
def test_import_quietly_pauses_the_collector_and_freezes_once(tmp_path, monkeypatch, enabled):
    """The modules are imported, the collector ran no pass meanwhile, what they built is frozen, and
    the collector's on/off state is as before; modules imported already are left alone (no freeze)."""
    import gc

    monkeypatch.syspath_prepend(str(tmp_path))
    _module_with_cycles(tmp_path, "elbo_sym_quiet_probe")
    passes: list[str] = []

    def count(phase, info):
        if phase == "start":
            passes.append(phase)

    was, thresholds = gc.isenabled(), gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    gc.callbacks.append(count)
    try:
        (gc.enable if enabled else gc.disable)()
        result_cache.import_quietly(["json", "elbo_sym_quiet_probe"])
        assert gc.isenabled() is enabled
        assert gc.get_threshold() == (GC_YOUNG_OBJECTS, *thresholds[1:])
        assert passes == []  # 1,000 new containers, and no collection while importing
        assert "elbo_sym_quiet_probe" in sys.modules
        frozen = gc.get_freeze_count()
        assert frozen >= frozen_before + 1000
        freezes: list[None] = []  # the freeze count itself drops when a frozen object is freed: count calls
        monkeypatch.setattr(gc, "freeze", lambda: freezes.append(None))
        result_cache.import_quietly(["json", "elbo_sym_quiet_probe"])  # nothing missing: nothing done
        assert freezes == [] and gc.isenabled() is enabled
    finally:
        gc.callbacks.remove(count)
        sys.modules.pop("elbo_sym_quiet_probe", None)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        (gc.enable if was else gc.disable)()


@pytest.mark.full
@pytest.mark.parametrize("users_size", [None, "500"])
def test_a_check_imports_sympy_with_the_larger_cache(users_size):
    """The check's import gives each of SymPy's cached functions SYMPY_CACHE_ENTRIES entries and
    leaves no SYMPY_CACHE_SIZE behind for child processes; a size the user set is kept.  The
    collector's youngest generation waits for GC_YOUNG_OBJECTS new containers."""
    env = {k: v for k, v in os.environ.items() if k != "SYMPY_CACHE_SIZE"}
    env["PYTHONPATH"] = str(REPO)
    if users_size is not None:
        env["SYMPY_CACHE_SIZE"] = users_size
    probe = ("import json, os; from elbo_sym.authoring.cache import ENGINE_MODULES, import_quietly; "
             "import_quietly(ENGINE_MODULES); from sympy import Symbol; from sympy.core.cache import "
             "SYMPY_CACHE_SIZE; print(json.dumps([SYMPY_CACHE_SIZE, os.environ.get('SYMPY_CACHE_SIZE'), "
             "(Symbol('a') + 1).func.__new__.cache_info().maxsize, __import__('gc').get_threshold()[0]]))")
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stderr
    size, left, add_cache, young = json.loads(done.stdout.splitlines()[-1])
    assert young == GC_YOUNG_OBJECTS != 700  # Python's default
    wanted = SYMPY_CACHE_ENTRIES if users_size is None else int(users_size)
    assert size == add_cache == wanted and wanted != 1000  # SymPy's own default is 1,000
    assert left == users_size


@pytest.mark.full
def test_a_gaussian_file_imports_its_family_when_checked():
    code, imported, stderr = _cold_check_modules(["derivations/variants/gaussian-kl.toml"])
    assert code == 0, stderr
    assert "elbo_sym.engine.models.gaussian" in imported and "elbo_sym.engine.reference.gaussian" in imported
    assert "elbo_sym.engine.models.chain" not in imported


@pytest.mark.full
def test_workers_load_their_own_files():
    """With worker processes the files are parsed in the workers (the parsing is shared out too):
    the parent never loads the Gaussian file, so it never imports its family; the reports and the
    input error come back as a serial run gives them."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    probe = ("import json, sys; from elbo_sym.authoring.cache import check_paths; "
             "runs = [check_paths(sys.argv[1:], 10.0, use_cache=False, jobs=j) for j in (2, 1)]; "
             "parent = 'elbo_sym.engine.models.gaussian' in sys.modules; "
             "print(json.dumps([[[r.to_dict() for r in reports], [e.message for e in errors]] "
             "for reports, errors in runs] + [parent]))")
    files = ["derivations/gap.toml", "derivations/jensen.toml", "derivations/variants/gaussian-kl.toml",
             "derivations/tight.toml"]
    parallel_only = subprocess.run([sys.executable, "-c", probe.replace("(2, 1)", "(2,)"), *files], env=env,
                                   cwd=REPO, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert parallel_only.returncode == 0, parallel_only.stderr
    *_, imported = json.loads(parallel_only.stdout.splitlines()[-1])
    assert imported is False  # the parent parsed no file: the Gaussian family stayed in the worker
    both = subprocess.run([sys.executable, "-c", probe, *files], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_SECONDS)
    assert both.returncode == 0, both.stderr
    in_workers, serial, imported = json.loads(both.stdout.splitlines()[-1])
    assert imported is True  # the serial run loaded it here: the probe sees the import
    assert in_workers == serial and len(serial[0]) == 4 and not serial[1]


@pytest.mark.full
def test_what_every_worker_would_import_is_imported_before_the_fork():
    """With workers the parent checks nothing itself, yet it has imported SymPy's sympy.tensor and
    the second opinion (once, so that the workers need not), and frozen them; the reports are the
    serial run's."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    probe = ("import gc, json, sys; from elbo_sym.authoring.cache import BEFORE_THE_FORK, check_paths; "
             "reports, errors = check_paths(sys.argv[1:], 10.0, use_cache=False, jobs=2); "
             "print(json.dumps([[r.to_dict() for r in reports], [m in sys.modules for m in BEFORE_THE_FORK], "
             "gc.get_freeze_count()]))")
    files = ["derivations/gap.toml", "derivations/jensen.toml"]
    done = subprocess.run([sys.executable, "-c", probe, *files], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stderr
    in_workers, imported, frozen = json.loads(done.stdout.splitlines()[-1])
    assert imported == [True, True, True] and frozen > 100_000
    serial = subprocess.run([sys.executable, "-c", probe.replace("jobs=2", "jobs=1"), *files], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert serial.returncode == 0, serial.stderr
    assert json.loads(serial.stdout.splitlines()[-1])[0] == in_workers and len(in_workers) == 2


def test_the_families_classes_stay_importable_from_the_registry():
    from elbo_sym.engine import models
    from elbo_sym.engine.models.chain import ChainModel
    from elbo_sym.engine.models.chain_general import GeneralChainModel
    from elbo_sym.engine.models.gaussian import GaussianModel
    from elbo_sym.engine.models.gaussian_chain import GaussianChainModel

    assert (models.ChainModel, models.GeneralChainModel, models.GaussianModel, models.GaussianChainModel) == (
        ChainModel, GeneralChainModel, GaussianModel, GaussianChainModel)
    # every name the package offers resolves (GaussianAnyD was once dropped by the lazy imports)
    for name in models.__all__:
        assert getattr(models, name) is not None, name
    with pytest.raises(AttributeError):
        models.NoSuchModel  # noqa: B018 - the attribute lookup is the test


# ---------------------------------------------------------------------------- shortcuts in the engine


def _fractions(rng, count: int, kind=None) -> list:
    """`count` random exact values of the type `kind` (default: the second opinion's, `rationals.Rational`)."""
    from elbo_sym.engine.reference.rationals import Rational

    kind = kind or Rational

    def one():
        big = rng.choice([9, 10**6, 10**40])
        return kind(rng.randint(-big, big), rng.choice([1, 2, 3, 12, rng.randint(1, big)]))

    return [one() for _ in range(count)]


@pytest.mark.parametrize("kind", ["chosen", "fraction"])
def test_exact_sums_and_products_are_the_values_in_turn(kind, monkeypatch):
    """The second opinion's exact sums and products are the values that adding and multiplying in turn
    give (reduced, positive denominator): with the chosen type (fmpq where python-flint imports), and with
    ``Fraction`` (the browser's), whose sums and products are formed in integers and reduced once, on both
    sides of the length where they switch back to adding in turn."""
    import random
    from fractions import Fraction

    from elbo_sym.engine.reference import discrete, rationals

    if kind == "fraction":
        monkeypatch.setattr(rationals, "Rational", Fraction)
    Rational = rationals.Rational
    rng = random.Random(19)
    lengths = [0, 1, 2, 3, 5, rationals.EXACT_IN_INTEGERS, rationals.EXACT_IN_INTEGERS + 1, 40]
    for _ in range(300):
        values = _fractions(rng, rng.choice(lengths), Rational)
        if rng.random() < 0.2 and values:  # repeated denominators: the integer shortcut's other branch
            values = [Rational(v.numerator, values[0].denominator) for v in values]
        in_turn_sum = Rational(0)
        in_turn_product = Rational(1)
        for v in values:
            in_turn_sum += v
            in_turn_product *= v
        if kind == "chosen":
            with discrete.work_limit(10**9, "test"):
                total, product = discrete._sum(values), discrete._product(values)
        else:
            total, product = rationals.exact_sum(values), rationals.exact_product(values)
        assert type(total) is Rational and type(product) is Rational
        assert rationals.parts(total) == rationals.parts(in_turn_sum)
        assert rationals.parts(product) == rationals.parts(in_turn_product)


def test_remembered_logs_are_the_logs_and_every_one_is_counted():
    """The second opinion's remembered log of a fraction is the interval its backend gives afresh, at
    each precision (the retries' too), and the work budget counts every log taken, remembered or not."""
    import random

    from interval_backends import same

    from elbo_sym.engine.reference import discrete

    rng = random.Random(3)
    values = [v for v in _fractions(rng, 60) if v > 0 and v != 1]
    discrete._LOGS.clear()
    for bits in (discrete.PREC, *discrete.RETRY_PRECISIONS):
        with discrete._precision(bits), discrete.work_limit(10**9, "test"):
            for v in values + values:  # the second time from the memo
                assert same(discrete._log(v), discrete.backend().log(discrete._iv(v), bits))
            assert discrete.work_spent() == 2 * len(values)
    assert len(discrete._LOGS) == 3 * len(set(values))


@pytest.mark.full
def test_derived_arguments_are_the_preorder_walks_in_its_order():
    """The derived distribution arguments, found by a walk that visits each distinct subtree once and
    remembered per expression, are the full preorder walk's, in its order: of every side of every
    file in derivations/ (nine files have such arguments, one has three), one side at a time and a
    whole file's sides at once, asked twice (the second time from the memo)."""
    from sympy import preorder_traversal

    from elbo_sym.engine.derivation import load
    from elbo_sym.engine.notation import ELBO, IWAE, KL, Entropy, Expectation, is_derived
    from elbo_sym.engine.wellformed import derived_arguments
    from elbo_sym.files import discover

    def walked(*exprs):
        found: dict = {}
        for e in exprs:
            for node in preorder_traversal(e):
                if isinstance(node, (Expectation, KL, Entropy, ELBO, IWAE)):
                    for d in (node.args[:2] if isinstance(node, KL) else node.args[:1]):
                        if is_derived(d):
                            found.setdefault(d, None)
        return tuple(found)

    with_arguments, most = 0, 0
    for path in discover([str(p) for p in sorted((REPO / "derivations").rglob("*")) if p.is_dir()] +
                         [str(REPO / "derivations")]):
        d = load(path)
        sides = [d.start.expr] + [s.expr for s in d.steps]
        sides += [d.claim.lhs.expr, d.claim.rhs.expr] if d.claim is not None else []
        for _ in range(2):
            assert derived_arguments(*sides) == walked(*sides)
            assert derived_arguments(*reversed(sides)) == walked(*reversed(sides))
            for side in sides:
                assert derived_arguments(side) == walked(side)
        with_arguments += bool(walked(*sides))
        most = max(most, len(walked(*sides)))
    assert with_arguments >= 9 and most >= 3


def test_remembered_samples_are_the_samples_of_that_interval():
    """The search's sample values of a parameter's interval, remembered, are what the interval gives
    afresh, for every kind of interval; an int bound and an equal Fraction bound keep their own
    values (the same numbers, not the same types)."""
    from fractions import Fraction

    from elbo_sym.engine.models import base

    intervals = [base.Interval(), base.Interval(Fraction(0), None, True), base.Interval(0, None, True),
                 base.Interval(Fraction(1), None), base.Interval(None, Fraction(-2), False, True),
                 base.Interval(Fraction(0), Fraction(1), True, True), base.Interval(0, 1),
                 base.Interval(Fraction(1), None, integer=True), base.Interval(1, None, integer=True)]
    for interval in intervals:
        fresh = base._samples.__wrapped__(interval)
        for _ in range(2):  # computed, then remembered
            got = interval.samples()
            assert got == fresh and [type(v) for v in got] == [type(v) for v in fresh]
    assert [type(v) for v in base.Interval(0, 1).samples()] != [type(v) for v in base.Interval(
        Fraction(0), Fraction(1)).samples()]  # the types differ, so the key must tell them apart


def test_printing_is_remembered_as_printed():
    """A report's formulas are remembered per expression: the same Math the printer gives."""
    from sympy import Rational, Symbol, log

    from elbo_sym.engine.notation import to_latex, to_text
    from elbo_sym.report.build import math

    a, b = Symbol("a", positive=True), Symbol("a")  # equal names, different symbols
    for e in (log(a) / 2, log(b) / 2, Rational(1, 3) * a, Rational(1, 3) * b):
        first, again = math(e), math(e)
        assert first == again and (first.text, first.latex) == (to_text(e), to_latex(e))


# ---------------------------------------------------------------------------- the process's teardown


def test_the_exit_hook_is_registered_once(monkeypatch):
    registered = []
    monkeypatch.setattr(result_cache, "_FINAL_COLLECTION_SKIPPED", False)
    monkeypatch.setattr("atexit.register", registered.append)
    result_cache.skip_final_collection()
    result_cache.skip_final_collection()
    import gc

    assert registered == [gc.freeze]


@pytest.mark.full
def test_skipping_the_final_collection_changes_no_output(tmp_path):
    """The same stdout, stderr and exit status with and without the exit hook, for a file that
    is proved and one that is refuted (exit 1), and the cache written either way."""
    gap = (REPO / "derivations" / "gap.toml").read_text("utf-8")
    refuted = gap.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(p(z | x), q(z))"')
    assert refuted != gap
    (tmp_path / "good.toml").write_text(gap, "utf-8")
    (tmp_path / "bad.toml").write_text(refuted, "utf-8")
    runs = {}
    for hook in ("with", "without"):
        env = dict(os.environ, PYTHONPATH=str(REPO), ELBO_SYM_CACHE_DIR=str(tmp_path / f"cache-{hook}"))
        env.pop("ELBO_SYM_NO_CACHE", None)
        off = "import elbo_sym.authoring.cache as c; c.skip_final_collection = lambda: None; "
        off = off if hook == "without" else ""
        probe = off + "import sys; from elbo_sym.cli import main; sys.exit(main(['check', 'good.toml', 'bad.toml']))"
        done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=CHILD_TIMEOUT_SECONDS)
        entries = sorted(p.name for p in (tmp_path / f"cache-{hook}").glob("*.json"))
        runs[hook] = (done.returncode, done.stdout, done.stderr, entries)
    assert runs["with"] == runs["without"]
    assert runs["with"][0] == 1 and "refuted" in runs["with"][1] and len(runs["with"][3]) == 1


# ---------------------------------------------------------------------------- bench/outcome_diff.py


def _outcome_diff():
    import importlib.util

    spec = importlib.util.spec_from_file_location("outcome_diff", REPO / "bench" / "outcome_diff.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_outcome_diff_sees_every_kind_of_change():
    diff = _outcome_diff()
    report = {"file": "a.toml", "steps": [{"verdict": "proved", "seconds": 0.5,
                                           "second_opinion": "the reference evaluator agrees on 9 instance(s)"}]}
    assert diff.without_timings(report) == {"file": "a.toml", "steps": [
        {"verdict": "proved", "second_opinion": "the reference evaluator agrees on 9 instance(s)"}]}
    same = diff.without_timings({**report, "steps": [{**report["steps"][0], "seconds": 9.0}]})
    assert diff.differences(diff.without_timings(report), same) == []
    refuted = {**report, "steps": [{**report["steps"][0], "verdict": "refuted"}]}
    assert diff.differences(report, refuted) == ["/steps[0]/verdict: 'proved' -> 'refuted'"]
    assert diff.differences(report, {**report, "steps": []}) == ["/steps: 1 items before, 0 after"]
    assert diff.differences(report, {"file": "a.toml"}) == ["/steps: only in before"]
    fewer = {**report, "steps": [{**report["steps"][0],
                                  "second_opinion": "the reference evaluator agrees on 7 instance(s)"}]}
    (line,) = diff.differences(report, fewer)
    assert line.endswith("(budgeted: the instance count depends on the load)")
    undecided = {**report, "steps": [{**report["steps"][0], "second_opinion": "undecided"}]}
    (line,) = diff.differences(report, undecided)
    assert "budgeted" not in line


def _bench(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frame_in(*functions: str):
    """The frame of a call chain through functions named "path under elbo_sym/:name", outermost first."""
    source = "import sys\ndef call(inner):\n    return inner()\n"
    chain = lambda: sys._getframe()  # noqa: E731 - the innermost frame, outside elbo_sym
    for function in reversed(functions):
        path, name = function.split(":")
        scope: dict = {"sys": sys}
        exec(compile(source.replace("call", name), f"/x/elbo_sym/{path}", "exec"), scope)
        chain = (lambda f, inner: lambda: f(inner))(scope[name], chain)
    return chain()


def test_the_rest_sampler_charges_groups_and_drops_the_second_opinion():
    """bench/profile_rest.py --sample: a sample counts in every group on its stack and at its innermost
    function of elbo_sym; one taken inside the second opinion is not the rest's."""
    sampler = _bench("profile_rest")._Sampler()

    sampler(0, _frame_in("engine/check.py:check_step", "engine/canonical.py:_canonical",
                        "engine/canonical.py:bounded_expand"))
    sampler(0, _frame_in("engine/check.py:check_step", "engine/models/gaussian.py:unfold"))
    sampler(0, _frame_in("engine/check.py:_second_opinion", "engine/canonical.py:_canonical"))
    assert sampler.samples == 2
    assert sampler.by_group["canonical forms"] == 1
    assert sampler.by_group["unfoldings (the models' unfold, latent sums, expectations)"] == 1
    assert sampler.by_group["expanding (`bounded_expand`, the Gaussian moments' `expanded_terms`)"] == 1
    assert sampler.engine == {"engine/canonical.py:bounded_expand": 1, "engine/models/gaussian.py:unfold": 1}
    assert sum(sampler.leaf.values()) == 2


def test_the_whole_sampler_charges_each_sample_to_one_part():
    """bench/profile_rest.py --whole: the second opinion's samples stay, and each sample is charged to one
    part -- the phase that asked (the second opinion, the search), else the innermost engine work on its stack
    (SymPy's frames below it charged to it) -- so the parts add up to every sample."""
    bench = _bench("profile_rest")
    sampler = bench._Sampler(whole=True)
    assert sampler.part(["engine/canonical.py:_canonical", "engine/check.py:_second_opinion"]) == \
        bench.PHASE_PARTS[0][0]
    assert sampler.part(["numbers/polish.py:polish", "engine/polishing.py:polished_instances",
                         "engine/check.py:_search", "engine/check.py:check_step"]) == bench.PHASE_PARTS[1][0]
    assert sampler.part(["engine/canonical.py:bounded_expand", "engine/models/gaussian.py:unfold",
                         "engine/check.py:_obligations_of"]) == "canonical forms (`engine.canonical`)"
    assert sampler.part(["engine/models/gaussian.py:unfold", "engine/check.py:_obligations_of"]) == \
        "unfoldings (`engine.models`)"
    assert sampler.part(["engine/check.py:check_step"]).startswith("other")
    charged = [("engine/check.py:_second_opinion", "engine/canonical.py:_canonical"),
               ("engine/check.py:check_step", "engine/rules.py:jensen")]
    for functions in charged:
        sampler(0, _frame_in(*functions))
    assert sampler.samples == 2
    assert sum(sampler.by_part.values()) == 2
    assert sampler.by_part[bench.PHASE_PARTS[0][0]] == 1
    assert sampler.by_part["the rules (`engine.rules`, less the forms they ask for)"] == 1


_SETTINGS = ("import gc, json, os, sys; print(json.dumps([__import__('sympy.core.cache').core.cache.SYMPY_CACHE_SIZE "
             "if 'sympy' in sys.modules else None, gc.get_threshold()[0], os.environ.get('SYMPY_CACHE_SIZE')]))")


@pytest.mark.full
@pytest.mark.parametrize("entry", [
    "from elbo_sym.cli import main; main(['explain', 'derivations/jensen.toml', '--step', '1'])",
    "from elbo_sym.cli import main; main(['example'])",
    "import elbo_sym; elbo_sym.check_file('derivations/gap.toml')",
    "import elbo_sym; elbo_sym.assert_derivation('derivations/gap.toml')",
    "import pytest; pytest.main(['-q', '-p', 'no:cacheprovider', 'derivations/gap.toml'])",
])
def test_every_entry_that_checks_imports_sympy_as_check_does(entry):
    """`explain`, `example` (and the other commands that compute), the Python API and the pytest
    plugin import the engine as `check` does (authoring.cache.import_engine): SymPy's cache of
    SYMPY_CACHE_ENTRIES, the collector's young generation at GC_YOUNG_OBJECTS, no variable left."""
    env = {k: v for k, v in os.environ.items() if k != "SYMPY_CACHE_SIZE"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", f"{entry}; {_SETTINGS}"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [SYMPY_CACHE_ENTRIES, GC_YOUNG_OBJECTS, None]


def test_a_commands_help_imports_no_sympy():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    probe = f"from elbo_sym.cli import main; main(['build', '--help']); {_SETTINGS}"
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])[:2] == [None, 700]  # Python's threshold: nothing imported
