"""elbo-sym: machine-checked derivations for the lesson "Latent variables and the ELBO"."""

__version__ = "0.1.0"
