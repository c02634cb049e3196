"""Train CartPole with puffer-train's Python API, then play the checkpoint.

    python examples/train_cartpole.py

The same as `puffer-train cartpole` followed by `puffer-train eval cartpole --checkpoint ...`: the
plugin's training config is used, and any section can be overridden with a dict.
"""

import puffer_train


def report(info):
    # Runs after every update epoch; returning True would stop training early.
    stats = info["episodes"]
    if info["epoch"] % 20 == 0 and stats:
        print(f"epoch {info['epoch']:4d}  steps {info['global_step']:>9,}  return {stats['episode_return']:6.1f}")


result = puffer_train.train(
    "cartpole",
    train={"total_timesteps": 500_000, "dashboard": False},  # over the plugin's config.toml
    callback=report,
    quiet=True,
)
print(f"trained {result.global_step:,} agent steps in {result.wall_time:.1f} s; "
      f"final evaluation return {result.score:.1f}")

stats = puffer_train.evaluate("cartpole", result.checkpoint, episodes=20)
print(f"replayed {stats['n']:.0f} episodes from {result.checkpoint}: mean return {stats['episode_return']:.1f}")
