"""Training: the Lightning module, losses, the Hydra task and its run directory."""
