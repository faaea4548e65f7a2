"""elbo-sym: machine-checked derivations for the lesson "Latent variables and the ELBO"."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `from elbo_sym import assert_derivation` without importing SymPy at package import.
    if name == "assert_derivation":
        from elbo_sym.testing import assert_derivation

        return assert_derivation
    raise AttributeError(f"module 'elbo_sym' has no attribute {name!r}")
