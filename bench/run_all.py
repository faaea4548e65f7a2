"""Run every benchmark in this folder, one after the other (results belong in docs/05-benchmarks.md)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

SCRIPTS = ("bench_loop.py", "bench_floor.py", "bench_exact.py", "bench_any.py", "bench_variants.py",
           "bench_literature.py", "bench_k_scaling.py", "bench_roster.py")

for script in SCRIPTS:
    print(f"\n=== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True)
