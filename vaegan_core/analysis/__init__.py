"""Analysis of a trained model: its latent space (``latent``: encode, interpolate, project; ``latent_usage``: active
units; ``directions``: attribute directions), anomaly scores (``anomaly``), memorisation (``memorisation``) and the
diagnostics ``vaegan eval`` stores (``diagnostics``). The scores of samples (FID, IS, ...) are in ``metrics``."""
