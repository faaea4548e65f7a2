"""SymPy's `replace`, the same result, with each distinct subtree walked once.

SymPy walks every occurrence of a subtree, and an unfolded expression shares its subtrees
heavily (p(x) = sum_k pi_k l_k sits inside K logs; the canonical forms' exps of a chain of
layers).  What a subtree becomes depends only on the subtree (the query and the value are pure),
so remembering it per walk changes nothing but the work (tests/test_walks.py compares them).
"""

from __future__ import annotations

from collections.abc import Callable

from sympy import Basic


def replaced(e: Basic, query: Callable[[Basic], object], value: Callable[[Basic], Basic | None]) -> Basic:
    """``e.replace(query, value)`` for a callable query and value (SymPy's defaults: simultaneous,
    no map): arguments first, then the node rebuilt from them, then the node matched."""
    done: dict[Basic, Basic] = {}

    def walk(node: Basic) -> Basic:
        known = done.get(node)
        if known is not None:
            return known
        result = node
        args = getattr(node, "args", None)
        if args is not None:
            if args:
                new = tuple([walk(a) for a in args])
                if args != new:
                    result = node.func(*new)
                    # as SymPy: a node rebuilt into one of its changed arguments is not matched again
                    if any(result == a and a != n for a, n in zip(args, new)):
                        done[node] = result
                        return result
            found = query(result)
            if found or found == {}:
                changed = value(result)
                if changed is not None and changed != result:
                    result = changed
        done[node] = result
        return result

    return walk(e)


__all__ = ["replaced"]
