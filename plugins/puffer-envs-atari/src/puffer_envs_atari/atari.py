"""Atari 2600 games through ale-py and puffer_core.emulation, with the preprocessing that trains well:

- frameskip inside ALE (default 4: one agent step = 4 emulator frames, rewards summed),
- no sticky actions (repeat_action_probability = 0),
- grayscale screens downscaled 2x by slicing (210x160 -> 105x80, no interpolation),
- optional terminal on life loss (the game itself goes on: the next "episode" starts where it stopped),
- optional frame stacking; observations are uint8, channels first: (frame_stack, 105, 80).

`log()` reports whole games (all lives), whatever `life_loss_terminal` says: `episode_return` is the
game's score, `episode_length` its agent steps.
"""

from __future__ import annotations

import difflib

import gymnasium
import numpy as np
from ale_py import AtariEnv, roms
from gymnasium import spaces
from puffer_core import PufferEnv
from puffer_core.emulation import GymnasiumPufferEnv
from puffer_core.errors import ConfigError

MAX_FRAME_STACK = 16


class AtariGame(gymnasium.Wrapper):
    """One ALE game with the preprocessing above, as a Gymnasium env (emulated by Atari below)."""

    def __init__(self, game: str, frameskip: int = 4, frame_stack: int = 1, life_loss_terminal: bool = False,
                 max_episode_frames: int = 108_000, render_mode: str | None = None):
        super().__init__(AtariEnv(game=game, obs_type="grayscale", frameskip=frameskip,
                                  repeat_action_probability=0.0, max_num_frames_per_episode=max_episode_frames,
                                  render_mode=render_mode))
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
        self.lives, self.life_lost = info["lives"], False
        self.game_return, self.game_length = 0.0, 0
        self.frames[:] = 0  # nothing stacked from the previous game
        return self._push(screen), info

    def step(self, action):
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


def _check_kwargs(game, num_envs, frameskip, frame_stack, max_episode_frames, render_mode) -> None:
    known = roms.get_all_rom_ids()
    if game not in known:
        close = difflib.get_close_matches(str(game), known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"ale-py has no Atari game {game!r}.{hint} Games: {', '.join(sorted(known))}")
    for name, value, low in (("num_envs", num_envs, 1), ("frameskip", frameskip, 1), ("frame_stack", frame_stack, 1),
                             ("max_episode_frames", max_episode_frames, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if frame_stack > MAX_FRAME_STACK:
        raise ConfigError(f"frame_stack={frame_stack} is more than {MAX_FRAME_STACK}; use a recurrent policy instead")
    if render_mode not in (None, "rgb_array"):
        raise ConfigError(f"render_mode={render_mode!r}: Atari renders with render_mode='rgb_array' (full RGB "
                          "frames from render()); to watch or play a game use `puffer-envs play atari:<game>`")


class Atari(PufferEnv):
    """`num_envs` copies of one Atari game, one agent each, stepped in this process.

    Each copy is an AtariGame emulated by puffer_core.emulation.GymnasiumPufferEnv on its own buffer row;
    reset(seed=s) seeds copy i with game_seed(s, i) (s for copy 0). render() returns copy 0's full RGB
    frame (210x160x3) when render_mode="rgb_array". Kwargs: game (an ale-py ROM id, e.g. "pong",
    "beam_rider"), num_envs, frameskip (4), frame_stack (1), life_loss_terminal (False),
    max_episode_frames (108000 emulator frames, as in ALE v5; 0: unlimited).
    """

    log_fields = ("episode_return", "episode_length", "n")

    def __init__(self, game: str = "pong", num_envs: int = 1, frameskip: int = 4, frame_stack: int = 1,
                 life_loss_terminal: bool = False, max_episode_frames: int = 108_000,
                 render_mode: str | None = None, buffers=None):
        _check_kwargs(game, num_envs, frameskip, frame_stack, max_episode_frames, render_mode)
        self.game = game
        self.frameskip = frameskip
        self.render_mode = render_mode
        self.games = [AtariGame(game, frameskip, frame_stack, bool(life_loss_terminal), max_episode_frames,
                                render_mode if i == 0 else None) for i in range(num_envs)]
        self.single_observation_space = self.games[0].observation_space
        self.single_action_space = self.games[0].action_space
        self.num_agents = num_envs
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

    def render(self):
        return self.games[0].render() if self.render_mode == "rgb_array" else None

    def close(self) -> None:
        for env in self.emulated:
            env.close()
