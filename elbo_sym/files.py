"""Finding derivation files: kept free of SymPy so a warm, cached check starts instantly."""

from __future__ import annotations

from pathlib import Path


def discover(paths: list[str | Path]) -> list[Path]:
    """Derivation files named by the user: files as given, folders searched for *.toml."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(p.glob("*.toml")))
        else:
            found.append(p)
    return found
