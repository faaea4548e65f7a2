"""elbo-sym: machine-checked derivations for the lesson "Latent variables and the ELBO".

The package is layered; each layer imports only the ones below it (tests/test_architecture.py):

    limits, budget, files, prose    shared leaves (constants, time budgets, safe reading, prose rules)
    numbers                         exact log-prime arithmetic and certified evaluation
    engine                          notation, parsing, model families, proofs, search, verdicts
    lesson                          worked examples, exercises, drill, self-check, flashcards
    report                          one result model and its renderers
    publish                         handouts and Anki; the course project (elbo-sym.toml)
    authoring                       new, explain, cache, testing, pytest plugin (a project read as `check` reads it)
    cli                             the `elbo-sym` command, thin over the library

The names below are imported lazily, so `import elbo_sym` does not import SymPy.
"""

__version__ = "0.1.0"

_LAZY = {
    "assert_derivation": ("elbo_sym.authoring.testing", "assert_derivation"),
    "assert_refuted": ("elbo_sym.authoring.testing", "assert_refuted"),
    "assert_not_established": ("elbo_sym.authoring.testing", "assert_not_established"),
    "check_file": ("elbo_sym.authoring.testing", "check_file"),
    "project_files": ("elbo_sym.authoring.testing", "project_files"),
    "show": ("elbo_sym.report.display", "show"),
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        module, attribute = _LAZY[name]
        return getattr(import_module(module), attribute)
    raise AttributeError(f"module 'elbo_sym' has no attribute {name!r}")
