"""The site's address is a key of elbo-sym.toml, ``site_url``, that `web --site` writes into
astro.config.mjs as Astro's ``site`` (red team rt26: docs/03 said to set ``site`` in
astro.config.mjs, and the next `web --site` refused the folder as changed since elbo-sym wrote
it; nothing else set it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError
from elbo_sym.limits import MAX_SITE_URL_CHARS
from elbo_sym.publish.project import load_project
from elbo_sym.publish.site import site_files

URL = "https://example.edu/week5"
DERIVATION = '''title = "The gap"
K = "any"
start = "log(p(x)) - ELBO(q)"

[[step]]
rel = "="
expr = "KL(q(z), p(z | x))"
rule = "definition"
'''


def _config(url: str = "") -> str:
    (config,) = [f for f in site_files("T", url) if f.path == "astro.config.mjs"]
    return config.data.decode("utf-8")


def _site_value(config: str) -> str | None:
    match = re.search(r"^\s*site: (\".*\"),$", config, re.MULTILINE)
    return json.loads(match.group(1)) if match else None


def test_the_address_is_astros_site():
    assert _site_value(_config(URL)) == URL
    assert "__SITE_URL__" not in _config(URL)


def test_without_an_address_the_config_says_where_to_set_it():
    config = _config()
    assert _site_value(config) is None and "__SITE_URL__" not in config
    assert "set site_url in elbo-sym.toml" in config


def _project(tmp_path: Path, value: str) -> Path:
    (tmp_path / "gap.toml").write_text(DERIVATION)
    (tmp_path / "elbo-sym.toml").write_text(f'title = "Week 5"\nsite_url = {value}\nderivations = ["gap.toml"]\n')
    return tmp_path / "elbo-sym.toml"


@pytest.mark.parametrize("address", ["http://localhost:4321/", "https://[::1]/x", "http://127.0.0.1/a"])
def test_a_local_or_numeric_address_is_taken(tmp_path, address):
    assert load_project(_project(tmp_path, json.dumps(address))).site_url == address


def test_the_project_reads_the_address(tmp_path):
    assert load_project(_project(tmp_path, json.dumps(URL))).site_url == URL


TOO_LONG = json.dumps("https://e.edu/" + "a" * MAX_SITE_URL_CHARS)


@pytest.mark.parametrize("value", ['"javascript:alert(1)"', '"ftp://example.edu/"', '"https://"', '"example.edu"',
                                   '"https://example.edu/a b"', "'https://example.edu/\"x'", '""', "3",
                                   '"https://example.edu:99999/"', TOO_LONG, '"https://example.edu/\\u2028"',
                                   # hosts urlsplit takes and Node's URL (Astro's `site` check) refuses (rt29)
                                   '"https://exa^mple.com/week5"', '"http://%zz/"', '"https://a|b/"'])
def test_a_bad_address_is_refused_at_its_line(tmp_path, value):
    with pytest.raises(DerivationError) as info:
        load_project(_project(tmp_path, value))
    assert info.value.line == 2 and "site_url must be the site's address" in info.value.message


@pytest.mark.full  # a real `web --site` run, twice
def test_web_site_twice_keeps_the_address(tmp_path, capsys):
    project = _project(tmp_path, json.dumps(URL))
    site = tmp_path / "site"
    for _ in range(2):  # the second run finds its own config, not one edited by hand
        assert main(["web", "--project", str(project), "--site", str(site)]) == 0, capsys.readouterr()
    assert _site_value((site / "astro.config.mjs").read_text(encoding="utf-8")) == URL
