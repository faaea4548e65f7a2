"""engine.walks.replaced: SymPy's `replace` with each distinct subtree walked once.

It must give SymPy's own result -- the same tree, node for node -- for the canonical forms'
queries and for the corner SymPy's walk has (a node rebuilt into one of its changed arguments
is not matched again), and it must visit a subtree shared by many parents once.
"""

from __future__ import annotations

import random

import pytest
from sympy import Add, Integer, Mul, Symbol, exp, log

from elbo_sym.engine.walks import replaced

a, b, c = (Symbol(name, positive=True) for name in "abc")


def same_tree(x, y) -> bool:
    """Equal and built the same way at every node (type and arguments), not only ==."""
    if type(x) is not type(y) or x != y:
        return False
    return all(same_tree(p, q) for p, q in zip(x.args, y.args)) and len(x.args) == len(y.args)


def shared(depth: int):
    """A tree whose every level holds the level below twice (2**depth paths to the leaves)."""
    node = a + b
    for i in range(depth):
        node = log(node * exp(node) + Integer(i + 1)) + node
    return node


def random_tree(rng: random.Random, depth: int):
    if depth == 0:
        return rng.choice([a, b, c, Integer(rng.randint(1, 5))])
    kind = rng.choice(["add", "mul", "log", "exp", "logexp"])
    if kind == "add":
        return Add(random_tree(rng, depth - 1), random_tree(rng, depth - 1))
    if kind == "mul":
        return Mul(random_tree(rng, depth - 1), random_tree(rng, depth - 1))
    if kind == "log":
        return log(random_tree(rng, depth - 1), evaluate=False)
    if kind == "exp":
        return exp(random_tree(rng, depth - 1), evaluate=False)
    return log(exp(random_tree(rng, depth - 1), evaluate=False), evaluate=False)


QUERIES = [
    # canonical.exp_as_symbols and exps_on_one_denominator
    (lambda n: isinstance(n, log) and isinstance(n.args[0], exp), lambda n: n.args[0].args[0]),
    (lambda n: isinstance(n, exp), lambda n: Symbol(f"E[{n.args[0]}]", positive=True)),
    (lambda n: n.is_Pow and isinstance(n.base, exp), lambda n: exp(n.exp * n.base.args[0], evaluate=False)),
    # a value that is None or the node itself changes nothing
    (lambda n: n.is_Add, lambda n: None),
    (lambda n: n.is_Mul, lambda n: n),
    # a match that rebuilds its parent into one of the parent's changed arguments
    (lambda n: n.is_Add and c in n.args, lambda n: Integer(0)),
    (lambda n: n.is_Symbol, lambda n: {a: b, b: a}.get(n)),
]


@pytest.mark.full
def test_the_same_tree_as_sympy_replace():
    rng = random.Random(20261206)
    trees = [shared(4), shared(6), a * (b + c) + (a + c) * log(b + c)] + [random_tree(rng, 5) for _ in range(60)]
    for tree in trees:
        for query, value in QUERIES:
            assert same_tree(replaced(tree, query, value), tree.replace(query, value)), (tree, query)


def test_a_node_rebuilt_into_its_changed_argument_is_not_matched_again():
    tree = Mul(a, Add(b, c, evaluate=False), evaluate=False)  # a*(b + c): the sum becomes 1, the product a
    query, value = (lambda n: n.is_Add or n == a, lambda n: Integer(1) if n.is_Add else b)
    assert replaced(tree, query, value) == tree.replace(query, value)


@pytest.mark.full
def test_each_shared_subtree_is_visited_once():
    tree = shared(8)  # 2**8 paths to the leaves, a few dozen distinct subtrees
    asked: list = []

    def query(n):
        asked.append(n)
        return isinstance(n, exp)

    result = replaced(tree, query, lambda n: n.args[0])
    assert len(asked) == len(set(asked)) < 100
    assert result == tree.replace(lambda n: isinstance(n, exp), lambda n: n.args[0])
