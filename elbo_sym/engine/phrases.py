"""Phrases of the engine's verdict texts that the report layer recognises in a report.

Kept free of imports: a warm check (every report from the cache) prints its reports without importing
SymPy or the engine (tests/test_loop_speed.py), and the text renderer reads these.
"""

OUTSIDE_PREMISES = "the example is not shown to satisfy every premise"
"""How an example outside the file's premises begins its failure (red team rt47 F4: the report says
"example N FAILS", not "expected value FAILS", for it)."""

__all__ = ["OUTSIDE_PREMISES"]
