"""puffer_train: PPO for any registered Puffer env, as a Python API and the `puffer-train` CLI.

    import puffer_train
    result = puffer_train.train("cartpole", train={"total_timesteps": 500_000})
    print(result["score"], result["checkpoint"])
"""

from .checkpoint import CheckpointError
from .evaluate import evaluate
from .trainer import TrainingError, train

__all__ = ["CheckpointError", "TrainingError", "evaluate", "train"]
