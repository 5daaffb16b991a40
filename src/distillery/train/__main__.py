"""``python -m distillery.train [hydra overrides]``: the training job without the CLI front.

``distillery train`` runs through here too (sys.argv[0] is this file), so processes that
Lightning's DDP launcher re-executes start the same Hydra job with the same overrides.
"""

import sys

from distillery.train.commands import run_hydra
from distillery.train.task import task

if __name__ == "__main__":
    run_hydra(task, "train", sys.argv[1:])
