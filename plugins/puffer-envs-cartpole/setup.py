# Compiles this plugin's env header into its wheel (metadata lives in pyproject.toml).
from puffer_envs.wheel import setup

setup()
