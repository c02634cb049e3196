"""puffer_train: PPO for any registered Puffer env, as a Python API and the `puffer-train` CLI.

    import puffer_train
    result = puffer_train.train("cartpole", train={"total_timesteps": 500_000})
    print(result.score, result.checkpoint)

    best = puffer_train.sweep("cartpole", trials=20, cost="seconds")   # cost-aware hyperparameter search
    print(best["best"], best["best_toml"])
"""

from .checkpoint import CheckpointError
from .evaluate import evaluate
from .sweep import SweepError, sweep
from .trainer import TrainingError, train

__all__ = ["CheckpointError", "SweepError", "TrainingError", "evaluate", "sweep", "train"]
