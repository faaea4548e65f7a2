"""The checker in the browser: cold load to first verdict, and a warm re-check, in headless Chromium.

Builds the course site once (``elbo-sym web --site``, then ``npm run build`` with the site's
packages from web/site/node_modules, which ``make web-deps`` installs from the same lock), serves
it on 127.0.0.1 and drives the checker page (web/checker_drive.mjs): the page is opened by the
shared link of the lesson's Jensen derivation, which it checks on load (cold: Pyodide, the wheels
and SymPy load first), then the derivation is checked again (warm), then a wrong file. The same run times
``elbo-sym check --no-cache derivations/jensen.toml`` on the command line as the baseline.

    .venv/bin/python bench/bench_browser.py [--keep DIR]

Goals (issue 18): first verdict <= 15 s cold, re-check of the Jensen derivation <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
COLD_GOAL, WARM_GOAL = 15.0, 2.0


def build_site(site: Path) -> float:
    """Write and build the site; seconds the build took.  The site is written inside web/site/,
    where `make web-deps` installed its packages (Vite does not build through a symlinked
    node_modules)."""
    subprocess.run([sys.executable, "-m", "elbo_sym", "web", "--site", str(site), "derivations/",
                    "derivations/variants/"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    astro = WEB / "site" / "node_modules" / "astro" / "astro.js"
    if not astro.is_file():
        sys.exit("web/site/node_modules is missing: run `make web-deps` first")
    started = time.perf_counter()
    subprocess.run(["node", str(astro), "build"], cwd=site, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "ASTRO_TELEMETRY_DISABLED": "1"})
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="build the site in this folder and keep it")
    args = parser.parse_args()
    folder = (args.keep or Path(tempfile.mkdtemp(prefix="bench-browser-", dir=WEB / "site"))).resolve()
    if args.keep and folder.exists():
        shutil.rmtree(folder)
    try:
        build_seconds = build_site(folder)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "elbo_sym", "check", "--no-cache", "derivations/jensen.toml"],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "ELBO_SYM_NO_CACHE": "1"})
        cli_seconds = time.perf_counter() - started
        out = folder / "drive.json"  # written after the build: not part of the site
        files = [ROOT / "derivations" / "jensen.toml", ROOT / "tests" / "data" / "wrong" / "01-gap-sign.toml"]
        subprocess.run(["node", str(WEB / "checker_drive.mjs"), str(folder / "dist"), str(out), *map(str, files)],
                       cwd=WEB, check=True, timeout=900)
        result = json.loads(out.read_text())
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    jensen, wrong = (result["files"][str(f)] for f in files)
    load = os.getloadavg()[0]
    print(f"# checker in the browser: headless Chromium, {platform.python_implementation()} "
          f"{platform.python_version()} on the command line, {os.cpu_count()} cores, load {load:.1f}")
    print(f"{'what':<52}{'seconds':>9}  verdicts")
    print(f"{'astro build (the site, checker included)':<52}{build_seconds:>9.2f}")
    print(f"{'command line: check --no-cache jensen.toml (baseline)':<52}{cli_seconds:>9.2f}")
    print(f"{'browser, cold: shared link opened -> first verdict':<52}{result['coldSeconds']:>9.2f}  "
          f"{' '.join(result['link']['verdicts'])}")
    print(f"{'browser, warm: Jensen derivation typed in and checked':<52}{jensen['seconds']:>9.2f}  "
          f"{' '.join(jensen['verdicts'])}")
    print(f"{'browser, warm: Jensen derivation checked again':<52}{result['warmSeconds']:>9.2f}")
    print(f"{'browser, warm: a wrong file (01-gap-sign.toml)':<52}{wrong['seconds']:>9.2f}  "
          f"{' '.join(wrong['verdicts'])}")
    print(f"# requests outside the local server: {len(result['outside'])}")
    met = result["coldSeconds"] <= COLD_GOAL and result["warmSeconds"] <= WARM_GOAL
    print(f"# goals: cold <= {COLD_GOAL:g} s, warm <= {WARM_GOAL:g} s: {'met' if met else 'NOT met'}")
    return 0 if not result["outside"] else 1


if __name__ == "__main__":
    sys.exit(main())
