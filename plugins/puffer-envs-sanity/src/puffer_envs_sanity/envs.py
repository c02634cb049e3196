"""Sanity envs: tiny vectorized numpy PufferEnvs with known optimal returns.

Each one tests one capability of a trainer. All of them log `score`, normalized so that the optimal
policy scores 1.0, next to `episode_return`, `episode_length` and `n` (the log ABI).
`num_envs` copies run in one object, every episode auto-resets inside `step`, and `reset(seed)`
makes the whole run deterministic.
"""

from __future__ import annotations

import numpy as np
import puffer_core
from gymnasium import spaces
from puffer_core.env import check_render_mode
from puffer_core.errors import ConfigError, PufferError
from puffer_core.logs import LogAccumulator


def _reject_unknown(cls, unknown: dict) -> None:
    if unknown:
        import inspect

        valid = [p for p in inspect.signature(cls.__init__).parameters
                 if p not in ("self", "buffers", "render_mode", "unknown")]
        raise ConfigError(f"{cls.__name__} got unknown keyword argument(s) {', '.join(map(repr, unknown))}; "
                          f"valid: {', '.join(valid)}")


# Human play: the number keys 1..9, 0 name choices 0..9.
DIGITS = ("ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE", "ZERO")


def pressed_digit(pressed: set[str], choices: int) -> int | None:
    """The choice (0-based) of a number key among `pressed`, or None when none of 1..choices is pressed."""
    for i, key in enumerate(DIGITS[:choices]):
        if key in pressed:
            return i
    return None


class Rendered:
    """render() and close() for the sanity envs, as puffer_envs.CEnv does it: the class attribute `renderer`
    ("module:Class", a puffer_envs.render.Renderer subclass in render.py) is made on the first render() and
    draws row 0 from the env's Python state. raylib (puffer-envs[render]) is imported only then.

    Human play (`puffer-envs play sanity-<name>`) is turn-based: `keys_to_action` answers None until a key
    is pressed, and each press plays one step."""

    renderer: str | None = None
    render_mode: str | None = None
    _renderer = None

    def _set_render_mode(self, render_mode) -> None:
        self.render_mode = check_render_mode(render_mode)

    def render(self):
        """Draw env 0: an (H, W, 3) uint8 frame for "rgb_array", None for "human" (and without a render_mode)."""
        if self.render_mode is None:
            return None
        if self._renderer is None:
            try:
                from puffer_envs.render import resolve
            except ImportError as e:
                raise PufferError("rendering the sanity envs needs puffer-envs with raylib: "
                                  "pip install 'puffer-envs-sanity[render]'") from e
            self._renderer = resolve(self.renderer)(self)
        return self._renderer.render(self)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        super().close()


def _positive(name: str, value) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class SanityEnv(Rendered, puffer_core.PufferEnv):
    """Shared plumbing: spaces, buffers, seeding and the Log of finished episodes."""

    log_fields = ("score", "episode_return", "episode_length", "n")

    def __init__(self, observation_space, action_space, num_agents: int, buffers=None):
        self.single_observation_space = observation_space
        self.single_action_space = action_space
        self.num_agents = num_agents
        super().__init__(buffers)
        self.rng = np.random.default_rng()
        self.stats = LogAccumulator(self.log_fields)

    def _reset(self, seed):
        self.rng = np.random.default_rng(seed)
        self.truncations[:] = 0
        self.rewards[:] = 0
        self.terminals[:] = 0
        self._start(np.ones(self.num_envs, bool))

    def _start(self, envs: np.ndarray) -> None:
        """Begin new episodes in the envs selected by the boolean mask `envs` and write their observations."""
        raise NotImplementedError

    def _finish(self, done: np.ndarray, returns: np.ndarray, lengths, optimum: float) -> None:
        """Log the episodes of the envs in `done` (boolean) and restart them."""
        count = int(np.count_nonzero(done))
        if count:
            self.stats.add(count, score=returns[done] / optimum, episode_return=returns[done],
                           episode_length=np.broadcast_to(lengths, done.shape)[done])
            self._start(done)

    def pop_log_sums(self):
        return self.stats.pop()


class Bandit(SanityEnv):
    """One-step contextual bandit: pick the arm the cue shows.

    One step: a one-hot cue shows which of `arms` arms pays 1. Random policy scores 1/arms."""

    renderer = "puffer_envs_sanity.render:BanditRenderer"

    def keys_to_action(self, pressed):
        """Number key k pulls arm k - 1."""
        return pressed_digit(pressed, self.arms)

    def __init__(self, num_envs: int = 1, arms: int = 4, render_mode=None, buffers=None, **unknown):
        _reject_unknown(type(self), unknown)
        self._set_render_mode(render_mode)
        self.num_envs = _positive("num_envs", num_envs)
        self.arms = _positive("arms", arms)
        super().__init__(spaces.Box(0, 1, (self.arms,), np.float32), spaces.Discrete(self.arms), self.num_envs,
                         buffers)
        self.cue = np.zeros(self.num_envs, np.int64)

    def _start(self, envs):
        self.cue[envs] = self.rng.integers(0, self.arms, int(np.count_nonzero(envs)))
        self.observations[envs] = 0
        self.observations[envs, self.cue[envs]] = 1

    def _step(self):
        reward = (self.actions == self.cue).astype(np.float32)
        self.rewards[:] = reward
        self.terminals[:] = 1
        self._finish(np.ones(self.num_envs, bool), reward, 1, optimum=1.0)


class Memory(SanityEnv):
    """Recall a cue shown at t=0 after a delay (needs an LSTM).

    A cue (one of `cues`) is shown at t=0, then `delay` blank steps follow; on the last of them a query
    flag is set and the action must name the cue (reward 1). Without memory the best score is 1/cues.

    Observation: one-hot cue (only at t=0), then a query flag (only at t=delay).
    """

    renderer = "puffer_envs_sanity.render:MemoryRenderer"

    def keys_to_action(self, pressed):
        """SPACE waits (action 0); number key k names cue k - 1 (it counts on the query step)."""
        return 0 if "SPACE" in pressed else pressed_digit(pressed, self.cues)

    def __init__(self, num_envs: int = 1, cues: int = 2, delay: int = 4, render_mode=None, buffers=None, **unknown):
        _reject_unknown(type(self), unknown)
        self._set_render_mode(render_mode)
        self.num_envs = _positive("num_envs", num_envs)
        self.cues = _positive("cues", cues)
        self.delay = _positive("delay", delay)
        super().__init__(spaces.Box(0, 1, (self.cues + 1,), np.float32), spaces.Discrete(self.cues),
                         self.num_envs, buffers)
        self.cue = np.zeros(self.num_envs, np.int64)
        self.t = np.zeros(self.num_envs, np.int64)

    def _start(self, envs):
        self.cue[envs] = self.rng.integers(0, self.cues, int(np.count_nonzero(envs)))
        self.t[envs] = 0
        self.observations[envs] = 0
        self.observations[envs, self.cue[envs]] = 1

    def _step(self):
        query = self.t == self.delay
        reward = (query & (self.actions == self.cue)).astype(np.float32)
        self.rewards[:] = reward
        self.terminals[:] = query
        self.t += 1
        self.observations[:] = 0
        self.observations[:, -1] = self.t == self.delay
        self._finish(query, reward, self.delay + 1, optimum=1.0)


class Continuous(SanityEnv):
    """Box actions: move a point onto a target (a displacement per step, clipped to [-1, 1]).

    Observation: [x, y, target_x, target_y]; both start uniform in [-0.5, 0.5]^2, so one step can reach
    the target. Each of the `steps` steps pays 1 - min(distance, 1); the optimum (reach it on the first
    step, then stay) scores 1.0.
    """

    renderer = "puffer_envs_sanity.render:ContinuousRenderer"
    key_step = 0.25  # human play: one arrow key press moves this far

    def keys_to_action(self, pressed):
        """Arrow keys move the point a quarter of the way across the start square; SPACE stays."""
        dx = ("RIGHT" in pressed) - ("LEFT" in pressed)
        dy = ("UP" in pressed) - ("DOWN" in pressed)
        if not (dx or dy or "SPACE" in pressed):
            return None
        return np.array([dx, dy], np.float32) * self.key_step

    def __init__(self, num_envs: int = 1, steps: int = 4, render_mode=None, buffers=None, **unknown):
        _reject_unknown(type(self), unknown)
        self._set_render_mode(render_mode)
        self.num_envs = _positive("num_envs", num_envs)
        self.steps = _positive("steps", steps)
        super().__init__(spaces.Box(-1, 1, (4,), np.float32), spaces.Box(-1, 1, (2,), np.float32),
                         self.num_envs, buffers)
        self.pos = np.zeros((self.num_envs, 2), np.float32)
        self.target = np.zeros((self.num_envs, 2), np.float32)
        self.t = np.zeros(self.num_envs, np.int64)
        self.ret = np.zeros(self.num_envs, np.float32)

    def _start(self, envs):
        count = int(np.count_nonzero(envs))
        self.pos[envs] = self.rng.uniform(-0.5, 0.5, (count, 2))
        self.target[envs] = self.rng.uniform(-0.5, 0.5, (count, 2))
        self.t[envs] = 0
        self.ret[envs] = 0
        self._observe()

    def _observe(self):
        self.observations[:, :2] = self.pos
        self.observations[:, 2:] = self.target

    def _step(self):
        # Bounds-safe for any action value: NaN counts as no move, infinities as full steps.
        move = np.clip(np.nan_to_num(self.actions, nan=0.0, posinf=1.0, neginf=-1.0), -1, 1)
        self.pos[:] = np.clip(self.pos + move, -1, 1)
        distance = np.linalg.norm(self.pos - self.target, axis=1)
        reward = 1 - np.minimum(distance, 1)
        self.rewards[:] = reward
        self.ret += reward
        self.t += 1
        done = self.t >= self.steps
        self.terminals[:] = done
        self._observe()
        self._finish(done, self.ret.copy(), self.steps, optimum=float(self.steps))


class CuePair(SanityEnv):
    """Two agents per env (rows 2e and 2e+1) see one shared cue and their role (agent 0 or 1):
    what Coop and Duel share. Subclasses set the rewards in _step."""

    def keys_to_action(self, pressed):
        """Number key k plays action k - 1 as agent 0 (in play, agent 1 always plays 0)."""
        return pressed_digit(pressed, self.n_actions)

    def __init__(self, num_envs: int = 1, actions: int = 4, render_mode=None, buffers=None, **unknown):
        _reject_unknown(type(self), unknown)
        self._set_render_mode(render_mode)
        self.num_envs = _positive("num_envs", num_envs)
        self.n_actions = _positive("actions", actions)
        self.agents_per_env = 2
        super().__init__(spaces.Box(0, 1, (2 + self.n_actions,), np.float32), spaces.Discrete(self.n_actions),
                         2 * self.num_envs, buffers)
        self.cue = np.zeros(self.num_envs, np.int64)
        self.role = np.tile(np.eye(2, dtype=np.float32), (self.num_envs, 1))  # agent 0 / agent 1 of each env

    def _start(self, envs):
        self.cue[envs] = self.rng.integers(0, self.n_actions, int(np.count_nonzero(envs)))
        rows = np.repeat(envs, 2)
        self.observations[rows] = 0
        self.observations[rows, :2] = self.role[rows]
        self.observations[rows, 2 + np.repeat(self.cue[envs], 2)] = 1


class Coop(CuePair):
    """Two agents per env paid for matching actions (multi-agent rows).

    Two agents per env (rows 2e and 2e+1) both see a shared cue and their role, and are both paid 1
    when their actions match. Random play scores 1/actions; agents that agree on a convention score 1."""

    renderer = "puffer_envs_sanity.render:CoopRenderer"

    def _step(self):
        actions = self.actions.reshape(self.num_envs, 2)
        reward = (actions[:, 0] == actions[:, 1]).astype(np.float32)
        self.rewards[:] = np.repeat(reward, 2)
        self.terminals[:] = 1
        self._finish(np.ones(self.num_envs, bool), reward, 1, optimum=1.0)


class MultiDiscreteCue(SanityEnv):
    """MultiDiscrete actions matching a cue per component.

    One step: a cue per component of a MultiDiscrete(nvec) action (concatenated one-hots); each
    matched component pays 1/len(nvec)."""

    renderer = "puffer_envs_sanity.render:MultiDiscreteRenderer"

    def keys_to_action(self, pressed):
        """Number keys answer the components in order; the step is played once every component has one."""
        if not hasattr(self, "typed"):
            self.typed = []  # human play: the components answered so far (the renderer shows them)
        choice = pressed_digit(pressed, int(self.nvec[len(self.typed)]))
        if choice is None:
            return None
        self.typed.append(choice)
        if len(self.typed) < len(self.nvec):
            return None
        action, self.typed = np.array(self.typed, np.int64), []
        return action

    def __init__(self, num_envs: int = 1, nvec: tuple[int, ...] = (2, 3, 4), render_mode=None, buffers=None, **unknown):
        _reject_unknown(type(self), unknown)
        self._set_render_mode(render_mode)
        self.num_envs = _positive("num_envs", num_envs)
        if not isinstance(nvec, (list, tuple, np.ndarray)):
            raise ConfigError(f"nvec must be a list of component sizes, e.g. [2, 3, 4], got {nvec!r}")
        self.nvec = np.array([_positive("nvec entries", v) for v in nvec], np.int64)
        if len(self.nvec) == 0:
            raise ConfigError("nvec must list at least one component size, e.g. [2, 3, 4]")
        self.offsets = np.concatenate([[0], np.cumsum(self.nvec)[:-1]])
        super().__init__(spaces.Box(0, 1, (int(self.nvec.sum()),), np.float32), spaces.MultiDiscrete(self.nvec),
                         self.num_envs, buffers)
        self.cue = np.zeros((self.num_envs, len(self.nvec)), np.int64)

    def _start(self, envs):
        count = int(np.count_nonzero(envs))
        self.cue[envs] = (self.rng.random((count, len(self.nvec))) * self.nvec).astype(np.int64)
        self.observations[envs] = 0
        rows = np.flatnonzero(envs)[:, None]
        self.observations[rows, self.offsets + self.cue[envs]] = 1

    def _step(self):
        reward = (self.actions == self.cue).mean(axis=1).astype(np.float32)
        self.rewards[:] = reward
        self.terminals[:] = 1
        self._finish(np.ones(self.num_envs, bool), reward, 1, optimum=1.0)


class Duel(CuePair):
    """Two-player toy for Elo: whoever alone names the shared cue wins.

    Two agents per env (rows 2e, 2e+1; team_size 1) see the same cue. The one that names it wins (+1,
    the other -1) unless both or neither do (a draw, 0 each).

    Log (row 0's view): `outcome` 1 win / 0.5 draw / 0 loss, and `score` = outcome as well. A trained
    policy beats a random one (1 - 1/actions of the games) and draws the rest."""

    log_fields = ("score", "outcome", "episode_return", "episode_length", "n")
    team_size = 1  # for Elo: agents per team, and the Log field with the first team's outcome
    outcome_field = "outcome"
    renderer = "puffer_envs_sanity.render:DuelRenderer"

    def _step(self):
        right = self.actions.reshape(self.num_envs, 2) == self.cue[:, None]
        first = right[:, 0].astype(np.float32) - right[:, 1]  # +1 row 0 wins, -1 row 1 wins, 0 draw
        self.rewards[0::2] = first
        self.rewards[1::2] = -first
        self.terminals[:] = 1
        outcome = (first + 1) / 2
        done = np.ones(self.num_envs, bool)
        self.stats.add(self.num_envs, score=outcome, outcome=outcome, episode_return=first,
                       episode_length=np.ones(self.num_envs))
        self._start(done)
