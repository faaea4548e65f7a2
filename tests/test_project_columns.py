"""elbo-sym.toml's errors name file:line:col and carry the line, as a derivation's do (session 15:
its validation errors said file:line only, and a table the file may not have, [site], was an
unknown key at line 1).  The column is the key's, or its value's for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from elbo_sym.engine.derivation import DerivationError
from elbo_sym.publish.project import PROJECT_FILE, load_project

# (the file, the line, the text the column points at, a part of the message)
CASES = [
    ('colour = "red"\n', 1, "colour", "unknown key 'colour'"),
    ('title = "x"\n\n[site]\nsite_url = "https://example.edu"\n', 3, "[site]", "unknown key 'site'"),
    ('title = "x"\nsite.url = "https://example.edu"\n', 2, "site.url", "unknown key 'site'"),
    ('[exercises]\nseed = 1\n  sed = 2\n', 3, "sed", "[exercises] unknown key 'sed'"),
    ('[exercises]\ncount = 0\n', 2, "0", "count = 0 is not in the range 1 to 100"),
    ('exercises = { seed = 1, count = 0 }\n', 1, "0 }", "count = 0 is not in the range 1 to 100"),
    ('[drill]\nK = "9"\n', 2, "9", "K must be an integer"),
    ('solutions = "all"\n', 1, "all", "solutions must be one of none, separate, inline"),
    ('selfcheck = "missing.toml"\n', 1, "missing.toml", "missing.toml does not exist"),
    ('site_url = "ftp://example.edu"\n', 1, "ftp://", "site_url must be the site's address"),
    ('title = "Week $beta$"\n', 1, "beta", "a course title has no [params]"),
    ('title = 7\n', 1, "7", "title must be the course's name"),
    ('[exercises\n', 1, "", "malformed TOML"),  # tomllib's own column
]


@pytest.mark.parametrize(("config", "line", "pointed", "part"), CASES, ids=[c[3] for c in CASES])
def test_a_project_error_has_a_column(tmp_path: Path, config: str, line: int, pointed: str, part: str) -> None:
    (tmp_path / PROJECT_FILE).write_text(config)
    with pytest.raises(DerivationError) as caught:
        load_project(tmp_path / PROJECT_FILE)
    error = caught.value
    assert error.line == line and part in error.message, str(error)
    assert error.column is not None and error.source == config.splitlines()[line - 1], str(error)
    assert error.source[error.column:].startswith(pointed), (error.source, error.column)
    assert str(error).startswith(f"{tmp_path / PROJECT_FILE}:{line}:{error.column + 1}: "), str(error)
