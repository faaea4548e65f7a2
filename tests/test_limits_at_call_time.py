"""A limit of elbo_sym/limits.py is read when it is used, never copied at import into a default
argument or a second name: a module that binds ``def f(x=LIMIT)`` or ``ALIAS = LIMIT`` keeps the old
value when the limit is patched (a test's monkeypatch, a tool that lowers it), so two parts of the
checker could run under different limits.  Each test patches one limit where its module reads it and
sees the patched value used (each failed while the default or alias was bound at import)."""

from __future__ import annotations

import pytest
from sympy import Integer, Symbol

import elbo_sym.engine.canonical as canonical_module
import elbo_sym.engine.models.gaussian as gaussian_module
import elbo_sym.engine.models.general as general_module
import elbo_sym.engine.reference.discrete as reference_discrete
import elbo_sym.engine.reference.gaussian as reference_gaussian
import elbo_sym.files as files_module
import elbo_sym.prose as prose_module
import elbo_sym.publish.roster as roster_module
import elbo_sym.report.parallel as parallel_module
from elbo_sym.engine.canonical import TooLarge
from elbo_sym.engine.models import ModelSpec, build
from elbo_sym.engine.reference.rationals import Rational
from elbo_sym.files import FileReadError, read_regular_file


def test_the_log_polynomial_product_follows_the_expansion_limit(monkeypatch):
    a, b, c, d = (("log", Symbol(n, positive=True)) for n in "abcd")  # the atoms log(a), ..., log(d)
    left = canonical_module._LogPoly({(a,): [Integer(1)], (b,): [Integer(1)]})  # log(a) + log(b)
    right = canonical_module._LogPoly({(c,): [Integer(1)], (d,): [Integer(1)]})
    assert len(left.times(right).collapsed()) == 4  # under the usual limit
    monkeypatch.setattr(canonical_module, "MAX_EXPANSION_TERMS", 3)
    with pytest.raises(TooLarge, match="too large"):
        left.times(right)


def test_the_larger_k_of_a_general_search_follow_their_limit(fresh_memos, monkeypatch):
    monkeypatch.setattr(general_module, "GENERAL_SEARCH_LARGER_K", (13,))
    model = build(ModelSpec(K="any"))
    assert [m.K for m in model.search_models() if getattr(m, "K", None) is not None][-1:] == [13]
    assert 21 not in [getattr(m, "K", None) for m in model.search_models()]


def test_the_dimensions_of_a_d_any_search_follow_their_limit(fresh_memos, monkeypatch):
    monkeypatch.setattr(gaussian_module, "GAUSSIAN_ANY_D", (1, 3))
    assert [m.D for m in build(ModelSpec("gaussian", D="any")).search_models()] == [1, 3]


def test_the_second_opinions_dimensions_and_whole_numbers_follow_their_limits(monkeypatch):
    monkeypatch.setattr(reference_gaussian, "REFERENCE_ANY_D", (2,))
    assert {inst.D for inst in reference_gaussian.instances("any", 2)} == {2}
    monkeypatch.setattr(reference_discrete, "REFERENCE_INTEGER_OFFSETS", (0, 3))
    assert reference_discrete.parameter_samples("integer >= 2") == (Rational(2), Rational(5))


def test_reading_a_file_follows_the_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "f.toml"
    path.write_bytes(b"x" * 20)
    assert read_regular_file(path) == b"x" * 20
    monkeypatch.setattr(files_module, "MAX_FILE_BYTES", 10)
    with pytest.raises(FileReadError):
        read_regular_file(path)


def test_made_safe_prose_follows_the_word_limit(monkeypatch):
    monkeypatch.setattr(prose_module, "MAX_WORD_CHARS", 4)
    assert prose_module.make_safe("elbow grease", 100) == "elbo grea"


def test_printed_commands_follow_the_line_limit(monkeypatch):
    words = ["exercises", "--seed", "7", "--count", "3", "--K", "3"]
    assert len(roster_module._command_lines(words)) == 1
    monkeypatch.setattr(roster_module, "PRINTED_COMMAND_LINE_CHARS", 24)
    lines = roster_module._command_lines(words)
    assert len(lines) > 1 and all(len(line) <= 24 for line in lines), lines


def test_a_pools_default_patience_follows_the_budget_limit(monkeypatch):
    monkeypatch.setattr(parallel_module, "MAX_BUDGET_SECONDS", 1.0)
    monkeypatch.setattr(parallel_module, "WORKER_WALL_PER_CPU_SECOND", 2.0)
    monkeypatch.setattr(parallel_module, "WORKER_MARGIN_SECONDS", 5.0)
    pool = parallel_module._Pool(lambda i: i, 1)
    assert pool.patience(0) == 7.0
