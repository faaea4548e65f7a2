"""The second opinion's shortcuts give what the plain definitions give (the same intervals, bit for bit,
and the same count of work), so that a faster second opinion changes no outcome."""

from __future__ import annotations

import math
import random
import re

import pytest
import sympy
from interval_backends import mpmath_backend  # noqa: F401 - the fixture
from mpmath.libmp import finf, fninf, from_rational, fzero, round_ceiling, round_floor
from mpmath.libmp.libmpi import mpi_add, mpi_log, mpi_mul

from elbo_sym.engine.reference import discrete, gaussian, intervals
from elbo_sym.engine.reference.rationals import Rational

# the fast way against the long way, test by test: in make test-full (and CI), not the author's
# fast loop (every test is in one of the two tiers)
pytestmark = [pytest.mark.full, pytest.mark.usefixtures("mpmath_backend")]
"""These tests hold the pure-Python backend's shortcuts to mpmath's plain libmpi operations, bit for
bit; tests/test_interval_backends.py holds the arb backend to the same judgements."""


def _plain_sum(values):
    """The sum as it was defined before the shortcut: fractions in turn, intervals from (0, 0)."""
    if all(type(v) is Rational for v in values):
        return sum(values, Rational(0))
    total = (fzero, fzero)
    for v in values:
        total = mpi_add(total, discrete._iv(v), discrete.PREC)
    return total


def _plain_product(values):
    """The product as it was defined before the shortcut: 0 if a factor is an exact 0, fractions in
    turn, intervals from (1, 1)."""
    if any(type(v) is Rational and not v for v in values):
        return Rational(0)
    if all(type(v) is Rational for v in values):
        out = Rational(1)
        for v in values:
            out *= v
        return out
    total = discrete._ONE
    for v in values:
        total = mpi_mul(total, discrete._iv(v), discrete.PREC)
    return total


def _value(rng: random.Random, bits: int):
    """A fraction, or an interval of any kind the second opinion meets: from a fraction or a log at
    the working precision, a point with more bits than that (a Hermite node), one of mixed sign,
    one with an end at 0 or at infinity, an exact 0."""
    kind = rng.randrange(9)
    q = Rational(rng.randint(-10**12, 10**12), rng.randint(1, 10**9))
    if kind <= 1:
        return q
    if kind == 2:
        return Rational(0)
    if kind == 3:
        return discrete._iv(q)
    if kind == 4:
        return mpi_log(discrete._iv(abs(q) + 1), bits)
    if kind == 5:  # more bits than the working precision: a sum or product may not start from it as it is
        lo = from_rational(int(q.numerator), int(q.denominator), bits + 40, round_floor)
        return (lo, lo)
    if kind == 6:
        a = from_rational(-abs(int(q.numerator)) - 1, int(q.denominator), bits, round_floor)
        return (a, from_rational(abs(int(q.numerator)) + 1, int(q.denominator), bits, round_ceiling))
    if kind == 7:
        return (fzero, from_rational(abs(int(q.numerator)) + 1, int(q.denominator), bits, round_ceiling))
    return rng.choice([(fzero, finf), (fninf, fzero), (fzero, fzero)])


@pytest.mark.parametrize("bits", [discrete.PREC, *discrete.RETRY_PRECISIONS])
def test_sums_and_products_are_the_plain_ones_bit_for_bit(bits):
    """A sum or product that starts from its first interval (instead of adding it to 0 or multiplying
    it by 1) is the same interval, at every precision, for every kind of operand; and counts the same."""
    rng = random.Random(bits)
    for _ in range(3000):
        values = [_value(rng, bits) for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4, 7]))]
        with discrete._precision(bits):
            for fast, plain in ((discrete._sum, _plain_sum), (discrete._product, _plain_product)):
                with discrete.work_limit(10**9, "test"):
                    got = fast(list(values))
                    assert discrete.work_spent() == len(values)
                want = plain(values)
                assert type(got) is type(want)
                assert got == want, (fast.__name__, values)


def test_a_sum_or_product_starts_from_its_first_interval_only_when_that_changes_nothing():
    """The shortcut's condition: an interval whose ends are non-zero and have at most PREC bits is
    what adding it to 0 and multiplying it by 1 give; one with more bits is not (it is rounded)."""
    rng = random.Random(5)
    rounded = intervals.MPMATH.rounded
    for _ in range(500):
        q = Rational(rng.randint(-10**30, 10**30), rng.randint(1, 10**30)) or Rational(1)
        fits = discrete._iv(q)
        assert rounded(fits, discrete.PREC) is fits
        assert mpi_add((fzero, fzero), fits, discrete.PREC) == fits == mpi_mul(discrete._ONE, fits, discrete.PREC)
        wide = from_rational(int(q.numerator), int(q.denominator), discrete.PREC + 40, round_floor)
        if wide[3] > discrete.PREC:
            assert rounded((wide, wide), discrete.PREC) != (wide, wide)
            assert rounded((wide, wide), discrete.PREC) == mpi_mul(discrete._ONE, (wide, wide), discrete.PREC)


def test_the_gaussian_judges_common_nodes_are_taken_by_no_earlier_branch():
    """The Gaussian evaluator sends Add, Mul and Pow straight to the arithmetic: right only while no
    class it checks before them is one of theirs."""
    from elbo_sym.engine.notation import ELBO, IWAE, KL, Density, DimensionSum, Entropy, Expectation, LatentSum, Normal

    earlier = (DimensionSum, Density, Normal, Expectation, KL, Entropy, ELBO, LatentSum, IWAE, sympy.Symbol,
               sympy.Rational, sympy.log, sympy.exp)
    for kind in (sympy.Add, sympy.Mul, sympy.Pow):
        assert not issubclass(kind, earlier)
        assert not any(issubclass(other, kind) for other in earlier)


def test_a_gaussian_instances_values_by_name_are_the_first_of_each_name():
    """`value` reads a dict made once: the value a search of the pairs in order finds, and the same
    error for a name it does not have."""
    cases = [inst for D in (1, 2, "any") for inst in gaussian.instances(D, 6, 0, (("beta", ">= 1"),))]
    cases.append(gaussian.GaussianInstance("repeated", (("mu", Rational(1)), ("mu", Rational(2)))))
    for inst in cases:
        for name, _ in inst.values:
            assert inst.value(name) == next(v for n, v in inst.values if n == name)
        with pytest.raises(discrete.JudgeError):
            inst.value("no-such-name")


def test_log_normals_remembered_under_their_keys_are_the_values_computed_afresh():
    """log_normal keys an exact value by itself (lowest terms): equal values share an entry,
    and every remembered value is the one computed afresh (fractions and intervals mixed)."""
    rng = random.Random(11)
    gaussian._LOG_NORMALS.clear()
    for _ in range(300):
        v = _value(rng, discrete.PREC) if rng.random() < 0.5 else Rational(rng.randint(-50, 50), rng.randint(1, 9))
        if type(v) is not Rational and intervals.MPMATH.rounded(v, discrete.PREC) is not v:
            continue
        mean = Rational(rng.randint(-20, 20), rng.randint(1, 7))
        variance = Rational(rng.randint(1, 30), rng.randint(1, 7))
        with discrete.work_limit(10**9, "test"):
            fresh = gaussian._log_normal(v, mean, variance)
            assert gaussian.log_normal(v, mean, variance) == fresh
            assert gaussian.log_normal(v, Rational(mean.numerator * 3, mean.denominator * 3), variance) == fresh


@pytest.mark.parametrize("n", sorted(gaussian.HERMITE_STARTS))
def test_written_out_hermite_starts_are_polyroots_and_give_the_same_rule(n):
    """The written-out starting points are exactly what polyroots gives, so the rule made from them
    is the rule made from polyroots, bit for bit, at every precision the judge uses."""
    from mpmath import mpf

    written = [float.fromhex(h) for h in gaussian.HERMITE_STARTS[n]]
    computed = gaussian.hermite_starts(n)
    assert [mpf(w) for w in written] == computed
    saved = gaussian.HERMITE_STARTS.pop(n)
    try:
        for bits in (discrete.PREC, *discrete.RETRY_PRECISIONS):
            gaussian.hermite_rule.cache_clear()
            slow = gaussian.hermite_rule(n, bits)
            gaussian.HERMITE_STARTS[n] = saved
            gaussian.hermite_rule.cache_clear()
            assert gaussian.hermite_rule(n, bits) == slow
            del gaussian.HERMITE_STARTS[n]
    finally:
        gaussian.HERMITE_STARTS[n] = saved
        gaussian.hermite_rule.cache_clear()


def test_remembered_gaussian_distributions_are_the_ones_computed_afresh():
    """A distribution's (mean, variance), remembered per instance, is what computing it afresh gives,
    with the same work counted; an error is raised again, not remembered."""
    from elbo_sym.engine.notation import Density, Normal, x, z

    mu, sigma = sympy.Symbol("mu", real=True), sympy.Symbol("sigma", positive=True)
    dists = [Density("q", (z,)), Density("p", (z,)), Density("p", (z,), (x,)), Normal(mu / 2 + 1, sigma**2 + 1)]
    for inst in gaussian.instances(1, 9, 0):
        for d in dists:
            with discrete.work_limit(10**9, "test"):
                fresh = gaussian._distribution_of(d, gaussian.GaussianInstance(inst.name, inst.values))
                spent = discrete.work_spent()
            with discrete.work_limit(10**9, "test"):
                first = gaussian._distribution(d, inst)
                assert discrete.work_spent() == spent
                assert gaussian._distribution(d, inst) == first == fresh
        for _ in range(2):
            with pytest.raises(discrete.JudgeError):
                gaussian._distribution(Density("p", (x,)), inst)


_CHAIN_FILES = ["variants/hierarchical-bound.toml", "variants/hierarchical-decomposition.toml",
                "variants/hierarchical-gap.toml", "literature/chain-tight-only-if.toml",
                "literature/ddpm-appendix-a-three-steps.toml", "literature/mean-field-product.toml"]


def _chain_expressions() -> list:
    from pathlib import Path

    from elbo_sym.engine.derivation import load

    root = Path(__file__).resolve().parent.parent
    out = []
    for name in _CHAIN_FILES:
        derivation = load(root / "derivations" / name)
        out.append(derivation.start.expr)
        out += [step.expr for step in derivation.steps]
    return out


def test_remembered_free_layers_are_the_ones_computed_afresh():
    """free_layers, remembered by identity, is what the plain recursion gives on every expression of
    the chain files and every part of them; a bare layer is an error each time, never remembered."""
    from elbo_sym.engine.reference import chain

    expressions = _chain_expressions()
    assert expressions
    for e in expressions:
        for part in sympy.preorder_traversal(e):
            try:
                fresh = chain._free_layers(part)
            except discrete.JudgeError:
                for _ in range(2):
                    with pytest.raises(discrete.JudgeError):
                        chain.free_layers(part)
                continue
            assert chain.free_layers(part) == fresh
            assert chain.free_layers(part) == fresh  # the second time from the memo
    for _ in range(2):
        with pytest.raises(discrete.JudgeError):
            chain.free_layers(chain.z1)


def test_chain_marginals_are_the_table_summed_by_hand():
    """A marginal (the table summed over the layers not fixed) is the plain sum over the matching
    assignments, for every set of fixed layers and values, two to four layers."""
    import itertools

    from elbo_sym.engine.reference import chain

    for layers in (2, 3, 4):
        for inst in chain.instances(2, 3, seed=layers, layers=layers):
            names = inst.layers
            for name, with_x in (("p", True), ("p", False), ("q", False)):
                table = inst.table(name, with_x)
                for size in range(len(names) + 1):
                    for over in itertools.combinations(names, size):
                        for values in itertools.product(range(inst.K), repeat=size):
                            point = dict(zip(over, values))
                            at = [point.get(v) for v in names]
                            by_hand = sum((value for a, value in table.items()
                                           if all(w is None or w == g for w, g in zip(at, a))), Rational(0))
                            assert inst.marginal(name, frozenset(over), with_x, point) == by_hand


def test_the_observation_symbol_is_the_symbol_of_its_name():
    from elbo_sym.engine.reference import chain

    for name in ("x", "x1", "y"):
        assert chain._observation_symbol(name) == sympy.Symbol(name)
        assert chain._observation_symbol(name) is chain._observation_symbol(name)


def _densities_of(expressions) -> list:
    from elbo_sym.engine.notation import Density

    found = {part for e in expressions for part in sympy.preorder_traversal(e) if isinstance(part, Density)}
    return sorted(found, key=str)


def test_planned_chain_densities_are_the_ratios_of_marginals_computed_afresh():
    """A density read through its plan (made once per density) is what `_density_at` gives at every
    point of every chain instance, two to four layers, for every density of the chain files and
    ones it refuses (an unknown name, a layer the chain has not, q over x, nothing left of |): the
    same value, or the same error each time (a refused density has no plan)."""
    import itertools

    from elbo_sym.engine.notation import LAYER_SYMBOLS, Density, x, z1, z2
    from elbo_sym.engine.reference import chain

    odd = [Density("r", (z1,)), Density("q", (x,), (z1,)), Density("p", (), (z1,)),
           Density("p", (LAYER_SYMBOLS[-1],), (z1,)), Density("p", (z1, z2), (x,)), Density("q", (z2,), (z1, x))]
    densities = _densities_of(_chain_expressions()) + odd
    checked = refused = 0
    for layers in (2, 3, 4):
        for inst in chain.instances(2, 4, seed=layers, layers=layers):
            for d in densities:
                for size in range(len(inst.layers) + 1):
                    for bound in itertools.combinations(inst.layers, size):
                        for values in itertools.product(range(inst.K), repeat=size):
                            point = dict(zip(bound, values))
                            try:
                                fresh = chain._density_at(d, inst, point)
                            except (discrete.JudgeError, discrete.Undefined) as error:
                                plan = chain._plan_of(d, inst)
                                with pytest.raises(type(error), match=re.escape(str(error))):
                                    (chain._density_at(d, inst, point) if plan is None
                                     else chain._planned_density(d, plan, inst, point))
                                refused += 1
                                continue
                            plan = chain._plan_of(d, inst)
                            assert plan is not None and chain._planned_density(d, plan, inst, point) == fresh
                            checked += 1
    assert checked > 1000 and refused > 100


def test_iwae_draws_in_integers_are_the_fractions_added_in_turn():
    """A multiset's mean weight from the ratios over their common denominator is the sum of the
    fractions in turn divided by the number of draws; the weight is ways * prod q_j**c_j; and the
    same work is counted -- on random q's and ratios (tiny and huge ones among them)."""
    import itertools

    rng = random.Random(19)
    for _ in range(300):
        K = rng.randint(1, 5)
        q = [Rational(rng.randint(1, 10**rng.randint(1, 30)), rng.randint(1, 10**rng.randint(1, 30))) for _ in range(K)]
        ratios = [Rational(rng.randint(1, 10**rng.randint(1, 30)), rng.randint(1, 10**rng.randint(1, 30)))
                  for _ in range(K)]
        scaled = discrete._common_denominator(ratios)
        draws = rng.randint(1, 4)
        for draw in itertools.combinations_with_replacement(range(K), draws):
            counts = [draw.count(j) for j in range(K)]
            ways = math.factorial(draws) // math.prod(math.factorial(c) for c in counts)
            with discrete.work_limit(10**9, "test"):
                weight, mean = discrete._exact_draw(ways, counts, tuple(q), scaled, draws)
                spent = discrete.work_spent()
            assert weight == ways * math.prod(q[j] ** c for j, c in enumerate(counts))
            assert mean == sum((c * ratios[j] for j, c in enumerate(counts) if c), Rational(0)) / draws
            assert spent == 5 * sum(1 for c in counts if c) + 3


def _every_file_expression() -> list:
    from pathlib import Path

    from elbo_sym.engine.derivation import load

    root = Path(__file__).resolve().parent.parent / "derivations"
    out = []
    for path in sorted(root.rglob("*.toml")):
        try:
            derivation = load(path)
        except Exception:  # noqa: BLE001 - a file another family's loader refuses here: not this test's
            continue
        out += [derivation.start.expr] + [step.expr for step in derivation.steps]
    return out


def _plain_free_z(e) -> bool:
    """has_free_z's definition, recursing without the memo."""
    from elbo_sym.engine.notation import ELBO, IWAE, KL, Density, Draw, Entropy, Expectation, LatentSum, z

    if isinstance(e, LatentSum) and isinstance(e.args[1], Draw):
        return _plain_free_z(e.args[0])
    if isinstance(e, (LatentSum, Expectation, KL, Entropy, ELBO, IWAE)):
        return False
    if isinstance(e, Density):
        return z in e.variables or z in e.given
    return any(_plain_free_z(a) for a in e.args)


def test_remembered_free_z_and_density_forms_are_the_ones_computed_afresh():
    """has_free_z (remembered by identity) is the plain recursion on every part of every derivation
    file; a density's remembered form names its draws and is the density with its one draw
    replaced by z (none when it has two draws, or z beside one)."""
    from elbo_sym.engine.notation import Density, Draw, q, x, z

    expressions = _every_file_expression()
    assert len(expressions) > 200
    w, v = Draw("w"), Draw("v")
    extra = [Density("q", (w,)), Density("p", (x, w)), Density("q", (w,), (z,)), Density("p", (w, v)), q(z)]
    densities = 0
    for e in expressions + extra:
        for part in sympy.preorder_traversal(e):
            assert discrete.has_free_z(part) == _plain_free_z(part)
            assert discrete.has_free_z(part) == _plain_free_z(part)  # the second time from the memo
            if isinstance(part, Density):
                densities += 1
                form = discrete.remembered_by_identity(discrete._DENSITY_FORMS, part, discrete._density_form)
                assert discrete._DENSITY_FORMS[id(part)] == (part, form)  # part pinned beside its form
                assert discrete.remembered_by_identity(discrete._DENSITY_FORMS, part, discrete._density_form) is form
                draws = [a for a in (*part.variables, *part.given) if isinstance(a, Draw)]
                assert list(form[0]) == draws
                one = len(draws) == 1 and z not in (*part.variables, *part.given)
                assert form[1] == (part.xreplace({draws[0]: z}) if one else None)
    assert densities > 1000


def test_remembered_chain_values_are_the_ones_computed_afresh_with_the_same_work(monkeypatch):
    """A chain expression's value, remembered per instance by the layers free in it, is what the
    evaluation without any memo gives at every point (two and three layers, every part of every
    step of the chain files), with the same work counted -- the first time and when remembered --
    and the same Undefined; so the work budget stops where it stopped without the memo."""
    import itertools

    from elbo_sym.engine.reference import chain

    def plain(e, inst, point):
        with monkeypatch.context() as m:
            m.setattr(chain, "evaluate", chain._evaluate)  # every level without the memo
            return _value_and_work(chain._evaluate, e, inst, point)

    parts = list(dict.fromkeys(part for e in _chain_expressions() for part in sympy.preorder_traversal(e)
                               if isinstance(part, sympy.Expr) and not isinstance(part, sympy.Atom)))
    compared = 0
    for layers in (2, 3):
        for inst in chain.instances(2, 3, seed=layers, layers=layers):
            for part in parts:
                try:
                    free = sorted(chain.free_layers(part), key=chain.LAYERS.index)
                except discrete.JudgeError:
                    continue
                for values in itertools.product(range(inst.K), repeat=len(free)):
                    point = dict(zip(free, values))
                    want = plain(part, inst, point)
                    for _ in range(2):  # afresh (or remembered from an enclosing part), then remembered
                        assert _value_and_work(chain.evaluate, part, inst, point) == want, (part, point)
                    compared += 1
    assert compared > 500


def _value_and_work(evaluate, e, inst, point):
    with discrete.work_limit(10**9, "test"):
        try:
            value = evaluate(e, inst, point)
        except discrete.Undefined as error:
            value = ("undefined", str(error))
        except discrete.JudgeError as error:
            value = ("judge error", str(error))
        return value, discrete.work_spent()


def test_remembered_shown_values_are_the_ones_shown_afresh():
    """show(), remembered by type, value and precision, gives what showing afresh gives for every
    kind of value at every precision (fractions short and long, intervals of every kind), and an
    unhashable or foreign value is shown (or refused) afresh, never answered from an equal one."""
    rng = random.Random(23)
    discrete._SHOWN.clear()
    for bits in (discrete.PREC, *discrete.RETRY_PRECISIONS):
        with discrete._precision(bits):
            for _ in range(400):
                v = _value(rng, bits)
                if rng.random() < 0.2:
                    v = Rational(rng.randint(1, 10**60), rng.randint(1, 10**60))
                for _ in range(2):
                    assert discrete.show(v) == discrete._show(v)
    assert discrete.show(Rational(1)) == "1"
    for foreign in (1, 1.0):  # equal to Rational(1), which is remembered: still not shown as "1"
        with pytest.raises((TypeError, AttributeError, IndexError)):
            discrete._show(foreign)
        with pytest.raises((TypeError, AttributeError, IndexError)):
            discrete.show(foreign)
    interval = discrete._iv(Rational(1, 3))
    assert discrete.show(list(interval)) == discrete._show(list(interval))  # unhashable: afresh


def _plain_relation_holds(rel, a, b):
    """relation_holds as it was: every comparison made, the one asked for picked."""
    from mpmath.libmp import mpf_ge, mpf_le, mpf_neg
    from mpmath.libmp.libmpi import mpi_abs, mpi_sub

    if isinstance(a, Rational) and isinstance(b, Rational):
        d = a - b
        ok = {"=": d == 0, ">=": d >= 0, "<=": d <= 0, ">": d > 0, "<": d < 0}[rel]
        return ok, "" if ok else f"lhs - rhs = {discrete.show(d)} (exact)"
    A, B = discrete._iv(a), discrete._iv(b)
    d = mpi_sub(A, B, discrete.PREC)
    big_a, big_b = mpi_abs(A, discrete.PREC)[1], mpi_abs(B, discrete.PREC)[1]
    scale = mpi_add(discrete._ONE, (fzero, big_a if mpf_ge(big_a, big_b) else big_b), discrete.PREC)
    tol = mpi_mul(discrete._TOL, scale, discrete.PREC)[0]
    lo, hi, minus_tol = d[0], d[1], mpf_neg(tol)
    ok = {"=": discrete._within(d, tol), ">=": mpf_ge(hi, minus_tol), "<=": mpf_le(lo, tol),
          ">": not mpf_le(lo, tol), "<": not mpf_ge(hi, minus_tol)}[rel]
    return ok, "" if ok else f"lhs - rhs = {discrete.show(d)} (tolerance {discrete.show((tol, tol))})"


def test_relations_tested_one_at_a_time_decide_as_all_at_once():
    """relation_holds tests only the relation asked for: the same verdict and text as making every
    comparison and picking one, for fractions and intervals of every kind (near-equal pairs
    among them) and every relation; an unknown relation is still a KeyError."""
    rng = random.Random(29)
    for bits in (discrete.PREC, *discrete.RETRY_PRECISIONS):
        with discrete._precision(bits):
            for _ in range(600):
                a = _value(rng, bits)
                b = rng.choice([a, _value(rng, bits), discrete._sum([a, Rational(1, 10**rng.choice([30, 45, 80]))])])
                for rel in ("=", "<=", ">=", "<", ">"):
                    try:
                        decided = discrete.relation_holds(rel, a, b)
                    except discrete.JudgeError:  # too wide to decide (red team rt7): only ever an "ok" undone
                        assert _plain_relation_holds(rel, a, b)[0], (rel, a, b)
                        continue
                    assert decided == _plain_relation_holds(rel, a, b), (rel, a, b)
    with pytest.raises(KeyError):
        discrete.relation_holds("!=", Rational(1), Rational(2))
    with pytest.raises(KeyError):
        discrete.relation_holds("!=", discrete._iv(Rational(1, 3)), Rational(2))
