"""Registers the sanity envs; each ships its own training config in configs/<name>.toml."""

from __future__ import annotations

from pathlib import Path

from puffer_core import EnvSpec, hookimpl

CONFIGS = Path(__file__).parent / "configs"

ENVS = {
    # name: (class, description)
    "bandit": ("Bandit", "one-step contextual bandit: pick the arm the cue shows"),
    "memory": ("Memory", "recall a cue shown at t=0 after a delay (needs an LSTM)"),
    "continuous": ("Continuous", "Box actions: move a point onto a target"),
    "coop": ("Coop", "two agents per env paid for matching actions (multi-agent rows)"),
    "multidiscrete": ("MultiDiscreteCue", "MultiDiscrete actions matching a cue per component"),
    "dict": ("DictCue", "a Gymnasium env with a Dict observation, through emulation, with its own policy"),
    "duel": ("Duel", "two-player toy for Elo: whoever alone names the shared cue wins"),
}
# Competitive envs: agents per team and the Log field with the first team's outcome (Elo).
TEAMS = {"duel": (1, "outcome")}
MODULES = {"dict": "puffer_envs_sanity.dict_env"}
POLICIES = {"dict": "puffer_envs_sanity.policy:DictPolicy"}


@hookimpl
def puffer_envs():
    return [EnvSpec(name=f"sanity-{name}", make=f"{MODULES.get(name, 'puffer_envs_sanity.envs')}:{cls}",
                    config=(CONFIGS / f"{name}.toml").read_text(), description=description,
                    policy=POLICIES.get(name), team_size=TEAMS.get(name, (0, None))[0],
                    outcome_field=TEAMS.get(name, (0, None))[1])
            for name, (cls, description) in ENVS.items()]
