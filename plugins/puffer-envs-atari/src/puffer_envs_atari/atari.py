"""Atari 2600 games through ale-py and puffer_core.emulation, with the preprocessing that trains well:

- frameskip inside ALE (default 4: one agent step = 4 emulator frames, rewards summed),
- no sticky actions (repeat_action_probability = 0),
- grayscale screens downscaled 2x by slicing (210x160 -> 105x80, no interpolation),
- optional terminal on life loss (the game itself goes on: the next "episode" starts where it stopped),
- optional frame stacking; observations are uint8, channels first: (frame_stack, 105, 80),
- optional random no-op starts (up to `noop_max` NOOPs after each new game): ALE without sticky actions
  is deterministic, so this is what makes seeds matter and keeps parallel copies out of lockstep.

Out-of-range actions written straight into the buffer (past validation) play NOOP instead of crashing.

`log()` reports whole games (all lives), whatever `life_loss_terminal` says: `episode_return` is the
game's score, `episode_length` its agent steps.
"""

from __future__ import annotations

import difflib

import gymnasium
import numpy as np
from ale_py import ALEInterface, AtariEnv, LoggerMode, roms
from gymnasium import spaces
from puffer_core import PufferEnv
from puffer_core.emulation import GymnasiumPufferEnv
from puffer_core.errors import ConfigError

MAX_FRAME_STACK = 16
ALEInterface.setLoggerMode(LoggerMode.Error)  # no ALE banner from every game in every worker


class AtariGame(gymnasium.Wrapper):
    """One ALE game with the preprocessing above, as a Gymnasium env (emulated by Atari below)."""

    def __init__(self, game: str, frameskip: int = 4, frame_stack: int = 1, life_loss_terminal: bool = False,
                 max_episode_frames: int = 108_000, noop_max: int = 0, render_mode: str | None = None):
        super().__init__(AtariEnv(game=game, obs_type="grayscale", frameskip=frameskip,
                                  repeat_action_probability=0.0, max_num_frames_per_episode=max_episode_frames,
                                  render_mode=render_mode))
        self.num_actions = int(self.env.action_space.n)
        self.noop_max = noop_max
        height, width = self.env.observation_space.shape
        shape = (frame_stack, (height + 1) // 2, (width + 1) // 2)
        self.observation_space = spaces.Box(0, 255, shape, np.uint8)
        self.frames = np.zeros(shape, np.uint8)  # the stack, oldest first; returned to the emulation, which copies
        self.life_loss_terminal = life_loss_terminal
        self.lives = 0
        self.life_lost = False  # the last step ended an "episode" by losing a life; the game is not over
        self.game_return, self.game_length = 0.0, 0
        # Whole games finished since the last pop_game_stats(): count, summed scores, summed lengths.
        self.games, self.sum_return, self.sum_length = 0, 0.0, 0

    def _push(self, screen: np.ndarray) -> np.ndarray:
        if len(self.frames) > 1:
            self.frames[:-1] = self.frames[1:]
        self.frames[-1] = screen[::2, ::2]
        return self.frames

    def reset(self, *, seed=None, options=None):
        if self.life_lost and seed is None:
            # Auto-reset after a life-loss terminal: carry on with the same game from its current screen.
            self.life_lost = False
            return self.frames, {"lives": self.lives}
        screen, info = self.env.reset(seed=seed, options=options)
        # No-op start, drawn from the game's own RNG (seeded by reset(seed)), not counted as agent steps.
        for _ in range(int(self.env.unwrapped.np_random.integers(0, self.noop_max + 1)) if self.noop_max else 0):
            screen, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                screen, info = self.env.reset()
        self.lives, self.life_lost = info["lives"], False
        self.game_return, self.game_length = 0.0, 0
        self.frames[:] = 0  # nothing stacked from the previous game
        return self._push(screen), info

    def step(self, action):
        if not 0 <= action < self.num_actions:
            action = 0  # NOOP: bounds-safe for garbage in the actions buffer, as the C envs are
        screen, reward, terminated, truncated, info = self.env.step(action)
        self.game_return += reward
        self.game_length += 1
        lives = info["lives"]
        if terminated or truncated:
            self.games += 1
            self.sum_return += self.game_return
            self.sum_length += self.game_length
        elif self.life_loss_terminal and lives < self.lives:
            terminated = self.life_lost = True
        self.lives = lives
        return self._push(screen), reward, terminated, truncated, info

    def pop_game_stats(self) -> np.ndarray:
        out = np.array([self.sum_return, self.sum_length, self.games], np.float64)
        self.games, self.sum_return, self.sum_length = 0, 0.0, 0
        return out


def game_seed(seed: int, index: int) -> int:
    """The seed of game `index` in an env object reset with `seed`: `seed` itself for game 0, so a single game
    is seeded exactly as ale-py's AtariEnv.reset(seed=seed); a hash of (seed, index) for the others, so the
    objects a vector backend seeds with seed + j never repeat each other's games (as puffer.h's puffer_seed)."""
    if index == 0:
        return seed
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint32)[0])


def _check_kwargs(config: dict, unknown: dict) -> None:
    if unknown:
        valid = ", ".join(f"{k}={v!r}" for k, v in Atari.config.items())
        raise ConfigError(f"unknown Atari kwarg(s) {', '.join(map(repr, unknown))}; valid kwargs and defaults: "
                          f"{valid}, render_mode=None")
    game = config["game"]
    known = roms.get_all_rom_ids()
    if game not in known:
        close = difflib.get_close_matches(str(game), known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"game={game!r}: ale-py has no such Atari game.{hint} Games: {', '.join(sorted(known))}")
    for name, low in (("num_envs", 1), ("frameskip", 1), ("frame_stack", 1), ("max_episode_frames", 0),
                      ("noop_max", 0)):
        value = config[name]
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if config["frame_stack"] > MAX_FRAME_STACK:
        raise ConfigError(f"frame_stack={config['frame_stack']} is more than {MAX_FRAME_STACK}; "
                          "use a recurrent policy instead")
    if not isinstance(config["life_loss_terminal"], (bool, np.bool_)):
        raise ConfigError(f"life_loss_terminal must be true or false, got {config['life_loss_terminal']!r}")
    if config["render_mode"] not in (None, "rgb_array"):
        raise ConfigError(f"render_mode={config['render_mode']!r}: Atari renders with render_mode='rgb_array' "
                          "(full RGB frames from render()); to watch or play a game use "
                          "`puffer-envs play atari:<game>`")


class Atari(PufferEnv):
    """`num_envs` copies of one Atari game, one agent each, stepped in this process.

    Each copy is an AtariGame emulated by puffer_core.emulation.GymnasiumPufferEnv on its own buffer row;
    reset(seed=s) seeds copy i with game_seed(s, i) (s for copy 0). render() returns copy 0's full RGB
    frame (210x160x3) when render_mode="rgb_array". Kwargs: game (an ale-py ROM id, e.g. "pong",
    "beam_rider"), num_envs, frameskip (4), frame_stack (1), life_loss_terminal (False),
    max_episode_frames (108000 emulator frames, as in ALE v5; 0: unlimited), noop_max (0: up to this
    many random NOOPs start each game).
    """

    log_fields = ("episode_return", "episode_length", "n")
    config = {"game": "pong", "num_envs": 1, "frameskip": 4, "frame_stack": 1, "life_loss_terminal": False,
              "max_episode_frames": 108_000, "noop_max": 0}

    def __init__(self, buffers=None, render_mode: str | None = None, **kwargs):
        config = {**self.config, "render_mode": render_mode}
        config.update((k, v) for k, v in kwargs.items() if k in self.config)
        _check_kwargs(config, {k: v for k, v in kwargs.items() if k not in self.config})
        self.game = config["game"]
        self.frameskip = int(config["frameskip"])
        self.render_mode = render_mode
        self.games = [AtariGame(self.game, self.frameskip, int(config["frame_stack"]),
                                bool(config["life_loss_terminal"]), int(config["max_episode_frames"]),
                                int(config["noop_max"]), render_mode if i == 0 else None)
                      for i in range(int(config["num_envs"]))]
        self.single_observation_space = self.games[0].observation_space
        self.single_action_space = self.games[0].action_space
        self.num_agents = len(self.games)
        super().__init__(buffers)
        self.emulated = [GymnasiumPufferEnv(g, buffers=self.buffers[i:i + 1]) for i, g in enumerate(self.games)]

    def _reset(self, seed):
        for i, env in enumerate(self.emulated):
            env.reset(None if seed is None else game_seed(seed, i))

    def _step(self):
        for env in self.emulated:
            env.step(env.actions)  # its actions are our buffer's row: no copy, no second check

    def pop_log_sums(self) -> np.ndarray:
        return np.sum([g.pop_game_stats() for g in self.games], axis=0)

    def action_meanings(self) -> list[str]:
        """ALE's names of the actions ("NOOP", "FIRE", "UPRIGHT", ...): `puffer-envs play` maps keys from them."""
        return self.games[0].unwrapped.get_action_meanings()

    def render(self):
        return self.games[0].render() if self.render_mode == "rgb_array" else None

    def close(self) -> None:
        for env in self.emulated:
            env.close()
