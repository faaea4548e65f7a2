"""Model families behind one interface (`base.Model`); `model = "..."` picks one from the registry.

A family is a module with a class implementing `base.Model` and one `register` call here.
The discrete family has two implementations: explicit K states (`discrete`) and every
latent space at once (`general`, for `K = "any"`).
"""

from typing import TYPE_CHECKING

from elbo_sym.engine.models.base import (
    Block,
    Instance,
    Interval,
    Model,
    ModelSpec,
    Parameter,
    build,
    families,
    register,
)
from elbo_sym.engine.models.discrete import DiscreteModel, UnfoldError, has_free_latent
from elbo_sym.engine.models.general import GeneralModel

if TYPE_CHECKING:
    from elbo_sym.engine.models.chain import ChainModel
    from elbo_sym.engine.models.chain_general import GeneralChainModel
    from elbo_sym.engine.models.gaussian import GaussianAnyD, GaussianModel
    from elbo_sym.engine.models.gaussian_chain import GaussianChainModel

_IMPORTED_ON_USE = {
    "ChainModel": "elbo_sym.engine.models.chain",
    "GeneralChainModel": "elbo_sym.engine.models.chain_general",
    "GaussianModel": "elbo_sym.engine.models.gaussian",
    "GaussianAnyD": "elbo_sym.engine.models.gaussian",
    "GaussianChainModel": "elbo_sym.engine.models.gaussian_chain",
}
"""The chain and Gaussian families are imported when a file uses them (a discrete lesson's check
need not pay for their module-level work); their classes stay importable from here."""


def _imported(name: str):
    """One of those classes, its module imported on first use (the one table says where it lives)."""
    from importlib import import_module

    return getattr(import_module(_IMPORTED_ON_USE[name]), name)


def __getattr__(name: str):
    if name in _IMPORTED_ON_USE:
        return _imported(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _discrete(spec: ModelSpec) -> Model:
    if spec.K == "any":
        return GeneralModel(spec)
    if isinstance(spec.K, str):
        raise ValueError(f"K must be an integer >= 2, got {spec.K!r}")
    return DiscreteModel(spec.K, spec)


register("discrete", _discrete)


def _gaussian(spec: ModelSpec) -> Model:
    if spec.layered:  # latents = ["z1", "z2"]: Gaussian layers
        return _imported("GaussianChainModel")(spec)
    return _imported("GaussianAnyD" if spec.D == "any" else "GaussianModel")(spec)


register("gaussian", _gaussian)


def _chain(spec: ModelSpec) -> Model:
    if spec.K == "any":
        return _imported("GeneralChainModel")(spec)
    return _imported("ChainModel")(spec.K, spec)


register("chain", _chain)

__all__ = ["Block", "Instance", "Interval", "Model", "ModelSpec", "Parameter", "build", "families", "register",
           "ChainModel", "GeneralChainModel", "GaussianChainModel", "DiscreteModel", "GaussianModel", "GaussianAnyD",
           "GeneralModel",
           "UnfoldError",
           "has_free_latent"]
