"""Puffer envs for other RL libraries. Each submodule imports its library, which puffer_core itself never does:

    puffer_core.integrations.sb3         Stable-Baselines3 VecEnv        (pip install puffer-core[sb3])
    puffer_core.integrations.pettingzoo  PettingZoo ParallelEnv          (pip install puffer-core[pettingzoo])

For Gymnasium's vector API see puffer_core.emulation.VectorEnvAdapter.
"""
