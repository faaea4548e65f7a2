"""The suite's `fresh_memos` fixture (tests/conftest.py) empties every memo a test that changes a limit
of elbo_sym/limits.py could meet: a memo made under the usual limit must not answer a test run under
another (session 12: a K = 13 model unfolded under MAX_IWAE_TERMS = 4096 let a test under 100 find its
draws' 169 terms, and the test failed or passed with the order of an xdist run).

Its lists stay whole: every module-level table the engine fills at run time (outside the second
opinion, whose values reference.forget empties and whose work never depends on them) is either one
it empties or one named as no memo, with the reason."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ENGINE_MEMO_TABLES, NOT_ENGINE_MEMOS, clear_engine_memos

import elbo_sym.engine.check  # noqa: F401  (its memo is emptied only once it is imported)
import elbo_sym.engine.reference  # noqa: F401
from elbo_sym.engine.derivation import loads
from elbo_sym.engine.models.general import _explicit

ENGINE = Path(__file__).resolve().parents[1] / "elbo_sym" / "engine"
EMPTY = ("{}", "dict()", "set()", "[]")


def _tables_filled_at_run_time() -> set[tuple[str, str]]:
    """(module, name) of every module-level name of the engine bound to an empty dict, set or list:
    a table its code fills (a memo, a registry, an interning table)."""
    found = set()
    for path in sorted(ENGINE.rglob("*.py")):
        relative = path.relative_to(ENGINE.parent.parent).with_suffix("")
        if "reference" in relative.parts:
            continue
        module = ".".join(relative.parts).removesuffix(".__init__")
        for node in ast.parse(path.read_text("utf-8")).body:
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            elif isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            else:
                continue
            if ast.unparse(value) in EMPTY:
                found |= {(module, target.id) for target in targets if isinstance(target, ast.Name)}
    return found


@pytest.mark.full
def test_every_table_the_engine_fills_is_emptied_or_named_as_no_memo():
    listed = {(module, name) for table in (ENGINE_MEMO_TABLES, NOT_ENGINE_MEMOS)
              for module, names in table.items() for name in names}
    found = _tables_filled_at_run_time()
    assert ("elbo_sym.engine.check", "_DERIVED_MEMO") in found  # the scan sees the tables
    assert found == listed, f"new: {sorted(found - listed)}; gone: {sorted(listed - found)}"
    assert not set(ENGINE_MEMO_TABLES) & set(NOT_ENGINE_MEMOS) or all(
        not set(ENGINE_MEMO_TABLES[m]) & set(NOT_ENGINE_MEMOS.get(m, ())) for m in ENGINE_MEMO_TABLES)


def test_the_fixture_empties_the_models_and_every_memo_they_hold():
    """A K = "any" check builds its models (once per spec) and the explicit models of its search; after
    clear_engine_memos a new check builds new ones, so none of their unfolded forms is met again."""
    text = ('title = "t"\nK = "any"\nstart = "ELBO(q)"\n\n[[step]]\nrel = "<="\nexpr = "log(p(x))"\n'
            'rule = "kl-nonneg"\n')
    model = loads(text, "t.toml").model()
    explicit = _explicit(3, model.spec)
    assert loads(text, "t.toml").model() is model and _explicit(3, model.spec) is explicit  # remembered
    emptied = clear_engine_memos()
    for memo in ("elbo_sym.engine.derivation._model", "elbo_sym.engine.models.general._explicit",
                 "elbo_sym.engine.check._DERIVED_MEMO", "elbo_sym.engine.models.discrete._POSTERIORS",
                 "elbo_sym.engine.reference.forget()"):
        assert memo in emptied, memo
    assert loads(text, "t.toml").model() is not model and _explicit(3, model.spec) is not explicit


def test_the_fixture_empties_the_caches_of_every_module_of_the_package():
    """With every module of elbo_sym imported (pdfpages' pikepdf names answer any attribute asked of
    them with an error), each functools cache of the package is found and emptied, and nothing else."""
    import functools
    import importlib
    import pkgutil

    import elbo_sym

    for module in pkgutil.walk_packages(elbo_sym.__path__, "elbo_sym."):
        if module.name != "elbo_sym.__main__":  # (runs the command line)
            importlib.import_module(module.name)
    emptied = clear_engine_memos()
    models = {"elbo_sym.engine.derivation._model", "elbo_sym.engine.models.gaussian._explicit_d",
              "elbo_sym.engine.models.chain_general._explicit", "elbo_sym.engine.models.general._explicit"}
    assert models | {"elbo_sym.report.build.math", "elbo_sym.engine.notation._printed"} <= set(emptied)
    for name in emptied:
        if name.endswith("()"):
            continue
        module, attribute = name.rsplit(".", 1)
        value = getattr(importlib.import_module(module), attribute)
        assert isinstance(value, functools._lru_cache_wrapper) or attribute in ENGINE_MEMO_TABLES[module], name
        assert len(value) == 0 if isinstance(value, dict) else value.cache_info().currsize == 0, name
