"""A 5v5 DOTA-style MOBA in C: three lanes, 22 towers and two ancients, creep waves, 18 jungle camps,
ten heroes in five roles with three skills each, on a 128x128 tile map (map.txt)."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
from gymnasium import spaces
from puffer_core.errors import PufferError
from puffer_envs import CEnv

CROP = 11
SELF_FEATURES = 26
OBS_SIZE = CROP * CROP * 4 + SELF_FEATURES  # 510
ENTITY_TYPES = 11  # floor, wall, 5 hero roles, creep, neutral, tower, ancient
ROLES = ("support", "assassin", "burst", "tank", "carry")
ACTION_NVEC = (7, 7, 3, 2, 2, 2)  # move y, move x (-3..3), attack mode, cast Q, W, E


def map_text() -> str:
    return files("puffer_envs_moba").joinpath("map.txt").read_text()


class Moba(CEnv):
    """5v5 DOTA-style MOBA: lanes, towers, creeps, jungle, 5 hero roles with skills (self-play).

    Self-play (default): 10 agents per game, rows 0-4 Radiant and 5-9 Dire, one policy
    for both. `script_opponents=1`: 5 agents (Radiant) against 5 scripted Dire heroes.

    Observation (uint8, 510): an 11x11 crop around the hero, channels-first: entity type (0 floor,
    1 wall, 2-6 hero by role, 7 creep, 8 neutral, 9 tower, 10 ancient), health fraction, side (85
    neutral, 170 ally, 255 enemy), terrain class (0 jungle, 85 lane, 170 river, 255 base); then 26
    bytes about the hero (health, mana, level, role, team, position, cooldowns, castable skills,
    statuses, respawn timer, game time, XP, distance to the enemy ancient). Dire sees the map
    transposed so both sides play from the same point of view.
    Actions: MultiDiscrete [7, 7, 3, 2, 2, 2] = move y, move x in -3..3, attack mode (none, nearest
    enemy, heroes and towers only), cast Q, W, E.
    """

    header = "moba.h"
    struct = "Moba"
    config = {
        "script_opponents": 0,
        "max_steps": 4096,  # truncation; more towers taken wins, then more damage to towers
        "randomize_start": 1,  # start the first game at a random time so parallel games desynchronize
        "wave_period": 90,  # steps between creep waves (4 creeps per lane per team)
        "camp_respawn": 300,  # steps before a cleared neutral camp respawns
        "reward_death": -1.0,
        "reward_xp": 0.002,
        "reward_distance": 0.01,  # per tile of walking distance gained toward the enemy ancient
        "reward_tower_damage": 0.0005,  # per hit point of tower damage dealt
        "reward_tower_kill": 1.0,  # to every hero of the team that takes a tower
        "reward_win": 5.0,  # +/- to every hero when an ancient falls
    }
    renderer = "puffer_envs_moba.render:MobaRenderer"
    policy = "puffer_envs_moba.policy:Policy"
    team_size = 5  # for Elo: agents per team, and the Log field with the first team's outcome
    outcome_field = "radiant_win"

    @classmethod
    def make_spaces(cls, config):
        return spaces.Box(0, 255, (OBS_SIZE,), np.uint8), spaces.MultiDiscrete(ACTION_NVEC)

    @classmethod
    def agents_per_env(cls, config):
        return 5 if config["script_opponents"] else 10

    @classmethod
    def init_shared(cls, shared, ffi, lib):
        """The process's map: map.txt parsed and its flow fields computed by c_shared_init."""
        text = shared.text = ffi.new("char[]", map_text().encode())
        code = lib.c_shared_init(shared)
        if code:
            raise PufferError(f"map.txt of puffer_envs_moba is not a valid map (code {code}): it must be "
                              "128 lines of 128 legend characters, symmetric under transposition; "
                              "regenerate it with `python -m puffer_envs_moba.mapgen`")
        return text  # the C map keeps a pointer to it

    @property
    def map(self):
        """The shared MobaMap (terrain, towers, camps, flow fields)."""
        return self.shared

    def keys_to_action(self, pressed: set[str]):
        """Human play (agent 0, Radiant support): arrows move, SPACE attacks the nearest enemy, H
        attacks heroes and towers only, Q/W/E cast skills."""
        dy = 3 * (("DOWN" in pressed) - ("UP" in pressed))
        dx = 3 * (("RIGHT" in pressed) - ("LEFT" in pressed))
        mode = 2 if "H" in pressed else 1 if "SPACE" in pressed else 0
        return np.array([dy + 3, dx + 3, mode, "Q" in pressed, "W" in pressed, "E" in pressed], np.int32)


__all__ = ["Moba", "OBS_SIZE", "ACTION_NVEC", "ENTITY_TYPES", "ROLES"]
