"""Model families behind one interface (`base.Model`); `model = "..."` picks one from the registry.

A family is a module with a class implementing `base.Model` and one `register` call here.
The discrete family has two implementations: explicit K states (`discrete`) and every
latent space at once (`general`, for `K = "any"`).
"""

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
from elbo_sym.engine.models.chain import ChainModel
from elbo_sym.engine.models.chain_general import GeneralChainModel
from elbo_sym.engine.models.discrete import DiscreteModel, UnfoldError, has_free_latent
from elbo_sym.engine.models.gaussian import GaussianAnyD, GaussianModel
from elbo_sym.engine.models.gaussian_chain import GaussianChainModel
from elbo_sym.engine.models.general import GeneralModel


def _discrete(spec: ModelSpec) -> Model:
    if spec.K == "any":
        return GeneralModel(spec)
    if isinstance(spec.K, str):
        raise ValueError(f"K must be an integer >= 2, got {spec.K!r}")
    return DiscreteModel(spec.K, spec)


register("discrete", _discrete)


def _gaussian(spec: ModelSpec) -> Model:
    if spec.layered:  # latents = ["z1", "z2"]: Gaussian layers
        return GaussianChainModel(spec)
    return GaussianAnyD(spec) if spec.D == "any" else GaussianModel(spec)


register("gaussian", _gaussian)


def _chain(spec: ModelSpec) -> Model:
    if spec.K == "any":
        return GeneralChainModel(spec)
    return ChainModel(spec.K, spec)  # type: ignore[arg-type]  # K checked by ChainModel


register("chain", _chain)

__all__ = ["Block", "Instance", "Interval", "Model", "ModelSpec", "Parameter", "build", "families", "register",
           "ChainModel", "GeneralChainModel", "GaussianChainModel", "DiscreteModel", "GaussianModel", "GeneralModel",
           "UnfoldError",
           "has_free_latent"]
