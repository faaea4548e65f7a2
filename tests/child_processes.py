"""The one time limit of every process a test starts (subprocess.run, check_output, communicate).

A child that hangs (a deadlock, a server that never answers, a prompt waiting for input) must fail
its test -- subprocess.TimeoutExpired names the command -- instead of stopping the run until CI's
own limit. tests/test_child_timeouts.py finds every call in tests/ without a timeout.
"""

from __future__ import annotations

CHILD_TIMEOUT_SECONDS = 900.0
"""Most one child process of a test may run: generous (the slowest healthy ones, a site build or a
handout build, take a minute or two on a busy 2-core machine), and below pyproject.toml's
faulthandler_timeout, so a hang fails its own test before the watchdog ends the whole run."""
