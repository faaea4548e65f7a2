# elbo-sym: `make handouts` builds the PDFs, `make test` runs the fast tests, `make check` all (CI).
# Both set up .venv and (if possible) TeX Live first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TEX_PACKAGES := texlive-latex-base texlive-latex-recommended texlive-pictures \
                texlive-fonts-recommended lmodern latexmk poppler-utils

# In CI a missing LaTeX is a failure, not a skip.
ifdef CI
export ELBO_SYM_REQUIRE_LATEX := 1
endif

.PHONY: venv latex handouts test lint bench clean docs-images

venv: $(VENV)/.stamp

# Re-install only when pyproject.toml changed since the last install.
$(VENV)/.stamp: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Install TeX Live from apt when it is missing and we may (root or password-less
# sudo); otherwise explain how, and carry on: LaTeX tests then skip.
latex:
	@if command -v latexmk >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 \
	    && kpsewhich lmodern.sty >/dev/null 2>&1; then \
	  echo "LaTeX: $$(command -v latexmk)"; \
	elif command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  echo "Installing TeX Live (apt-get): $(TEX_PACKAGES)"; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEX_PACKAGES) \
	  || echo "warning: apt-get failed; LaTeX tests will be skipped, and make handouts fails (no PDF without TeX)"; \
	else \
	  echo "LaTeX (latexmk, pdflatex, lmodern, pdftotext) is not fully installed and cannot be installed automatically."; \
	  echo "Install it with:"; \
	  echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(TEX_PACKAGES)"; \
	  echo "(or any TeX Live with latexmk). Continuing: LaTeX tests skip; make handouts fails (no PDF without TeX)."; \
	fi

# The website checks (tests/test_web.py): node + npm and Debian's chromium from apt when missing
# and we may (as for TeX), then web/node_modules (katex, remark/rehype, puppeteer-core) from the
# committed web/package-lock.json with `npm ci`, and the real site's packages (Astro, Starlight)
# in web/site/ from the lock `elbo-sym web --site` ships (elbo_sym/publish/site_template/).
# Without them the web tests skip (fail if ELBO_SYM_REQUIRE_WEB=1).
WEB_APT := nodejs:node npm:npm chromium:chromium
SITE_TEMPLATE := elbo_sym/publish/site_template
SITE_DEPS := web/site
.PHONY: web-deps
web-deps:
	@missing=; for pair in $(WEB_APT); do command -v $${pair#*:} >/dev/null 2>&1 || missing="$$missing $${pair%%:*}"; done; \
	if [ -z "$$missing" ]; then \
	  echo "web: $$(command -v node) $$(node --version), $$(command -v chromium)"; \
	elif command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  case "$$missing" in *chromium*) missing="$$missing fonts-liberation";; esac; \
	  echo "Installing (apt-get):$$missing"; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing \
	  || echo "warning: apt-get failed; web tests will be skipped"; \
	else \
	  echo "Missing:$$missing. Install with: sudo apt-get update && sudo apt-get install -y --no-install-recommends$$missing"; \
	fi
	@if ! command -v npm >/dev/null 2>&1; then echo "no npm: web tests will be skipped"; \
	elif [ -f web/node_modules/katex/package.json ] && [ web/node_modules/.package-lock.json -nt web/package-lock.json ]; then \
	  echo "web/node_modules: up to date with web/package-lock.json"; \
	else npm ci --prefix web --no-audit --no-fund || echo "warning: npm ci failed; web tests will be skipped"; fi
	@if ! command -v npm >/dev/null 2>&1; then :; \
	elif [ -f $(SITE_DEPS)/node_modules/.package-lock.json ] && cmp -s $(SITE_TEMPLATE)/package-lock.json $(SITE_DEPS)/package-lock.json; then \
	  echo "$(SITE_DEPS)/node_modules: up to date with $(SITE_TEMPLATE)/package-lock.json"; \
	else mkdir -p $(SITE_DEPS) && cp $(SITE_TEMPLATE)/package.json $(SITE_TEMPLATE)/package-lock.json $(SITE_DEPS)/ && \
	  npm ci --prefix $(SITE_DEPS) --no-audit --no-fund || echo "warning: npm ci of the site failed; site tests will be skipped"; fi

# Without TeX the build writes the .tex files, says how to install TeX Live and exits 1
# (ELBO_SYM_REQUIRE_LATEX=1 here only: `make test` skips its LaTeX tests): no PDF, no success.
handouts: venv latex
	$(BIN)/elbo-sym check derivations/ derivations/variants/ derivations/teaching/ derivations/literature/
	$(BIN)/elbo-sym cards --check
	ELBO_SYM_REQUIRE_LATEX=1 ELBO_SYM_STRICT_LAYOUT=1 $(BIN)/elbo-sym build derivations/ derivations/teaching/ --gallery derivations/variants/ --literature derivations/literature/ --out handouts/

# The suite on every core (pytest-xdist; tests/conftest.py keeps the users of a file's shared
# fixtures on one worker: --dist loadgroup). Bytecode is cached even where PYTHONDONTWRITEBYTECODE
# is set: each worker and each `python -m elbo_sym` a test starts would compile (and pytest would
# assertion-rewrite) every module again. A worker that crashes ends the run at once (measured with
# pytest-xdist 3.8: under --dist loadgroup the crashed worker's replacement never gets its work and
# the run waits forever).
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n auto --dist loadgroup --max-worker-restart 0

# Two tiers, both run by CI (`make check`, .ci/run); tests/test_suite_sizes.py proves that every
# collected test is in one of them and that every sized test runs at full size in the second.
# `make test`: the author's fast loop (goal: 150 s of pytest on two idle cores): every test not
# marked `full`, the sized campaigns (fuzzers, mutants) at their small size. The rule
# (tests/suite_sizes.py): a test of half a second of CPU or more is marked `full`, unless it is one
# of the representatives of a slow kind named there (the lesson's LaTeX handouts, the command as a
# process, each campaign small, the docs test).
# `make test-full`: the tests marked `full` (the Astro site and Chromium, the checker in Pyodide,
# the heavy LaTeX builds, the engine's slow red-team cases, tests that start processes or wait out a
# budget) and every sized test at full size. `make soundness` is its old name.
FAST_TESTS := not full
FULL_TESTS := full or sized
.PHONY: test-full soundness check
test: venv latex web-deps lint
	$(PYTEST) -m "$(FAST_TESTS)"

test-full: venv latex web-deps
	ELBO_SYM_FULL_CAMPAIGNS=1 $(PYTEST) -m "$(FULL_TESTS)"

soundness: test-full

# What CI runs (.ci/run): the fast loop, then the full tier (about 14 minutes in all, session 17), in that
# order even under `make -j`.
check:
	$(MAKE) test
	$(MAKE) test-full

# Static checks, run by `make test` (and so by CI): ruff (style, imports, bugs) and mypy (types).
lint: venv
	$(BIN)/ruff check elbo_sym tests bench
	$(BIN)/mypy

bench: venv
	$(BIN)/python bench/run_all.py

# Every page image README.md and docs/ show (bench/docs_images.py): handout pages via pdftoppm,
# the site and its checker via headless Chromium (needs `make web-deps`).
docs-images: venv latex web-deps
	$(BIN)/python bench/docs_images.py

clean:
	rm -rf $(VENV) build dist *.egg-info handouts .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
