"""One value type for an instance of the model, one posterior.

The lesson (worked examples, exercises, the drill) and the handouts hold their givens as
one :class:`elbo_sym.engine.models.base.Instance` -- no (prior, likelihood, q) classes of
their own -- and every evidence p(x) and posterior p(z | x) of a concrete instance is
``Instance.evidence()`` / ``Instance.posterior()``. The last tests read the package's
source (with ``ast``) so that no module outside elbo_sym/engine/models divides by an
evidence itself.
"""

from __future__ import annotations

import ast
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_sym.engine.models.base import Instance
from elbo_sym.lesson.examples import ExampleInputError, example_of, lesson_instance, worked_example
from elbo_sym.lesson.exercises import generate_exercises, tight_drill
from elbo_sym.publish import handouts

PACKAGE = Path(__file__).resolve().parent.parent / "elbo_sym"
MODELS = PACKAGE / "engine" / "models"
REFERENCE = PACKAGE / "engine" / "reference"


@st.composite
def instances(draw, max_k: int = 5) -> Instance:
    """A valid lesson instance (K states); with probability about 1/4 q is the posterior."""
    K = draw(st.integers(2, max_k))
    weights = st.integers(1, 12)
    prior_w = [draw(weights) for _ in range(K)]
    prior = tuple(F(v, sum(prior_w)) for v in prior_w)
    likelihood = tuple(draw(st.integers(1, 10).flatmap(lambda d: st.integers(1, d).map(lambda n: F(n, d))))
                       for _ in range(K))
    model = lesson_instance(prior, likelihood)
    if draw(st.integers(0, 3)) == 0:
        return model.with_block("q", model.posterior())
    q_w = [draw(weights) for _ in range(K)]
    return model.with_block("q", tuple(F(v, sum(q_w)) for v in q_w))


def bayes(prior, likelihood) -> tuple[F, ...]:
    """An independent oracle for the posterior (the test's own arithmetic)."""
    joint = [a * b for a, b in zip(prior, likelihood)]
    return tuple(j / sum(joint) for j in joint)


# ------------------------------------------------------------------ the lesson holds Instances


def test_a_worked_example_holds_its_instance():
    ex = worked_example("3/4,1/4", "1/5,3/5", "1/3,2/3")
    assert isinstance(ex.instance, Instance)
    assert [name for name, _ in ex.instance.blocks] == ["prior", "likelihood", "q"]
    assert (ex.prior, ex.likelihood, ex.q) == ((F(3, 4), F(1, 4)), (F(1, 5), F(3, 5)), (F(1, 3), F(2, 3)))
    assert ex.K == 2
    assert ex.instance == lesson_instance(ex.prior, ex.likelihood, ex.q)
    assert example_of(ex.instance) == ex


def test_example_of_validates_like_worked_example():
    with pytest.raises(ExampleInputError, match="sums to"):
        example_of(lesson_instance((F(1, 2), F(1, 3)), (F(1, 2), F(1, 2)), (F(1, 2), F(1, 2))))
    with pytest.raises(ExampleInputError, match="q"):
        example_of(lesson_instance((F(1, 2), F(1, 2)), (F(1, 2), F(1, 4))))


@pytest.mark.full
@settings(max_examples=60, deadline=None)
@given(instances())
def test_the_worked_example_posterior_is_the_instances(instance: Instance):
    ex = example_of(instance, cross_check=False)
    posterior = instance.posterior()
    assert all(isinstance(v, F) for v in posterior)
    assert posterior == bayes(instance.prior, instance.likelihood())
    assert ex.posterior_values == posterior
    assert tuple(row.posterior.value.rational for row in ex.rows) == posterior
    assert ex.evidence.value.rational == instance.evidence() == sum(a * b for a, b in
                                                                    zip(instance.prior, instance.likelihood()))
    assert ex.tight == (instance.q() == posterior)


def test_exercises_and_drill_cases_are_instances():
    for e in generate_exercises(5, 6, K=3):
        assert e.instance is e.key.instance
        assert (e.prior, e.likelihood, e.q) == (e.instance.prior, e.instance.likelihood(), e.instance.q())
        assert e.q != e.instance.posterior()
    drill = tight_drill(5, 4)
    for c in drill.cases:
        assert c.instance is c.key.instance and c.q == c.instance.posterior()
    near, first = drill.near_miss, drill.cases[0]
    assert near.instance.prior == first.prior and near.instance.likelihood() == first.likelihood
    assert near.instance.posterior() == first.q != near.q


def test_the_posterior_and_evidence_come_from_instance(monkeypatch):
    calls = {"posterior": 0, "evidence": 0}
    posterior, evidence = Instance.posterior, Instance.evidence

    def counted_posterior(self, observation="x"):
        calls["posterior"] += 1
        return posterior(self, observation)

    def counted_evidence(self, observation="x"):
        calls["evidence"] += 1
        return evidence(self, observation)

    monkeypatch.setattr(Instance, "posterior", counted_posterior)
    monkeypatch.setattr(Instance, "evidence", counted_evidence)
    for make in (lambda: worked_example("1/2,1/4,1/4", "1/3,1/2,1", "1/5,2/5,2/5"),
                 lambda: generate_exercises(3, 2),
                 lambda: tight_drill(3, 2),
                 lambda: handouts.elbo_curve(handouts.LESSON_EXAMPLE)):
        calls.update(posterior=0, evidence=0)
        make()
        assert calls["posterior"] > 0 and calls["evidence"] > 0


def test_the_handouts_use_instances():
    lesson = handouts.LESSON_EXAMPLE
    assert isinstance(lesson, Instance) and lesson.posterior() == (F(1, 2), F(1, 2))
    ctx = handouts.worked_example_context(lesson)
    assert ctx["posterior"] == handouts.vector(lesson.posterior())
    assert ctx["figure"]["posterior_q1_exact"] == handouts.number(lesson.posterior()[1])
    assert [g["value"] for g in ctx["given"]] == [handouts.vector(v) for v in
                                                  (lesson.prior, lesson.likelihood(), lesson.q())]
    assert not hasattr(handouts, "BinaryExample")


# ------------------------------------------------------------------ the source: one place


def _names(node: ast.AST) -> set[str]:
    """Identifiers (names and attributes) mentioned anywhere in ``node``."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
    return out


def _is_marginal(node: ast.AST) -> bool:
    """A sum (sum / fsum / Add) of a joint: of products, or of something named *joint*.

    Normalising other weights (w / sum(w), a softmax) is not Bayes' rule and is not matched.
    """
    if not (isinstance(node, ast.Call) and (
            (isinstance(node.func, ast.Name) and node.func.id in ("sum", "fsum", "Add"))
            or (isinstance(node.func, ast.Attribute) and node.func.attr in ("sum", "fsum", "Add")))):
        return False
    return any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) for n in ast.walk(node)) \
        or any("joint" in s.lower() for s in _names(node))


def hand_made_posteriors(source: str) -> list[int]:
    """Lines that divide by an evidence: by anything named *evidence* or *marginal*, by a
    sum of a joint, or (within a function) by a name bound to one of those."""
    tree = ast.parse(source)
    hits = []
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
    for scope in [tree] + scopes:
        summed = set()
        for n in ast.walk(scope):
            if isinstance(n, ast.Assign) and (_is_marginal(n.value)
                                              or any("evidence" in s.lower() for s in _names(n.value))):
                summed |= {t.id for t in n.targets if isinstance(t, ast.Name)}
        for n in ast.walk(scope):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div):
                right = n.right
            elif isinstance(n, ast.AugAssign) and isinstance(n.op, ast.Div):
                right = n.value
            else:
                continue
            named = {s.lower() for s in _names(right)}
            if (_is_marginal(right) or any("evidence" in s or "marginal" in s for s in named)
                    or (isinstance(right, ast.Name) and right.id in summed)):
                hits.append(n.lineno)
    return sorted(set(hits))


@pytest.mark.parametrize("snippet", [
    "posterior = tuple(j / evidence for j in joint)",
    "def posterior(self):\n    return tuple(j / self.evidence for j in self.joint)",
    "p = [a * b / instance.evidence() for a, b in zip(prior, likelihood)]",
    "p = tuple(j / sum(joint) for j in joint)",
    "def f(pi, l):\n    px = sum(a * b for a, b in zip(pi, l))\n    return [a * b / px for a, b in zip(pi, l)]",
    "def f(x):\n    px = x.evidence()\n    return [j / px for j in x.joint]",
    "def f(joint, p_x):\n    for j in joint:\n        j /= p_x_marginal\n",
])
def test_the_detector_finds_a_hand_made_posterior(snippet: str):
    assert hand_made_posteriors(snippet)


@pytest.mark.parametrize("snippet", [
    "ratios = [j / w for j, w in zip(joint, q)]",
    "grid = {Fraction(i, points - 1) for i in range(points)}",
    "posterior = instance.posterior()\nevidence = instance.evidence()\nlog_px = log_of(evidence)",
    "def softmax(weights):\n    total = sum(weights)\n    return tuple(w / total for w in weights)",
])
def test_the_detector_leaves_other_divisions_alone(snippet: str):
    assert not hand_made_posteriors(snippet)


@pytest.mark.full
def test_only_the_models_compute_a_posterior():
    """Outside elbo_sym/engine/models nothing divides by an evidence (Instance.posterior does) --
    except the reference evaluators (engine/reference), whose whole point is to compute it a
    second time, independently of the models."""
    found = {path: hand_made_posteriors(path.read_text("utf-8")) for path in PACKAGE.rglob("*.py")}
    outside = {str(path.relative_to(PACKAGE)): lines for path, lines in found.items()
               if lines and MODELS not in path.parents and REFERENCE not in path.parents}
    assert not outside, f"posterior/evidence computed outside engine/models: {outside}"
    assert found[MODELS / "base.py"], "the detector must see Instance.posterior's own division"


@pytest.mark.full
def test_no_prior_likelihood_q_classes_outside_the_engine():
    """The lesson and the handouts hold Instances, not (prior, likelihood, q) vectors of their own."""
    triples = []
    for layer in ("lesson", "publish", "report", "authoring"):
        for path in (PACKAGE / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.ClassDef):
                    # vector-valued fields (a StateRow's per-state Quantity cells are not a triple)
                    vectors = {s.target.id for s in node.body
                               if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                               and any(word in ast.unparse(s.annotation) for word in ("tuple", "Sequence", "list"))}
                    if {"prior", "likelihood"} <= vectors:
                        triples.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert not triples, triples
