"""Training: the Hydra task and dispatcher (task.py), one recipe per training method
(recipes/: finetune, multihead, probe; ``train.method``), the shared run scaffolding
(scaffold.py), the Lightning modules, losses and sweeps."""
