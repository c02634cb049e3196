"""Elo ratings of checkpoints for competitive envs (EnvSpec.team_size and EnvSpec.outcome_field).

Each env copy holds two teams of `team_size` agent rows: rows [0, team_size) are team 0, the next
team_size rows team 1. The env's Log field `outcome_field` is team 0's result per game (1 win, 0.5
draw, 0 loss). Every pair of players (each checkpoint, plus a uniformly random policy) plays
`games` games on each side; a game still running after `stall_limit` steps counts as a draw, and
games only count once finished. Ratings start at 1000; the random policy is the anchor and stays
at 1000. Each pairing's mean score s updates both players as one game with a fractional result,
R += K * (s - E) with E = 1 / (1 + 10 ** ((R_other - R) / 400)), over `passes` shuffled passes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import puffer_core
import torch
from puffer_core import buffers as buf
from puffer_core.errors import ConfigError

from . import checkpoint as ckpt
from . import config as cfg
from .acting import action_converter, make_vec
from .files import write_atomically
from .policy import make_policy, sample

ANCHOR = "random"
START = 1000.0


class Player:
    """A checkpoint's policy (or None: uniform random actions) acting for a fixed set of agent rows."""

    def __init__(self, name: str, agent, space, rows: np.ndarray, device, rng: np.random.Generator):
        self.name, self.agent, self.space, self.rows, self.device, self.rng = name, agent, space, rows, device, rng
        self.state = agent.initial_state(len(rows), device) if agent is not None and agent.recurrent else None
        self.to_env_actions = action_converter(space)

    @torch.no_grad()
    def act(self, observations: np.ndarray, starts: np.ndarray) -> np.ndarray:
        n = len(self.rows)
        if self.agent is None:
            low, high = buf.action_bounds(self.space) or (None, None)
            if low is None:
                return self.rng.uniform(self.space.low, self.space.high, (n, *self.space.shape)).astype(np.float32)
            return self.rng.integers(low, high + 1, (n, *buf.action_shape(self.space))).astype(np.int32)
        obs = torch.from_numpy(observations[self.rows]).to(self.device)
        if self.state is not None:
            keep = torch.from_numpy(1.0 - starts[self.rows].astype(np.float32)).to(self.device).unsqueeze(1)
            self.state = (self.state[0] * keep, self.state[1] * keep)
        logits, _, self.state = self.agent.step(obs, self.state)
        action, _ = sample(logits)
        return self.to_env_actions(action.cpu().numpy())


def play(vec, first: Player, second: Player, team_size: int, outcome_field: str, stall_limit: int,
         seed: int) -> tuple[float, float]:
    """`first` as team 0 against `second` as team 1 in every env copy, until each copy finished a game
    or stalled. Returns (team 0's summed score, games counted)."""
    per_copy = 2 * team_size
    copies = vec.num_agents // per_copy
    vec.reset(seed=seed)
    vec.log()
    fields = list(vec.log_fields)
    if outcome_field not in fields:
        raise ConfigError(f"the env's Log has no field {outcome_field!r} (EnvSpec.outcome_field); it has {fields}")
    finished = np.zeros(copies, bool)
    length = np.zeros(copies, np.int64)
    score = games = 0.0
    starts = np.ones(vec.num_agents, np.uint8)
    while True:
        actions = vec.actions
        actions[first.rows] = first.act(vec.observations, starts)
        actions[second.rows] = second.act(vec.observations, starts)
        vec.step(actions)
        starts = np.maximum(vec.terminals, vec.truncations)
        ended = starts[::per_copy].astype(bool)  # the copy's first row ends with the game
        length = np.where(ended, 0, length + 1)
        finished |= ended
        stalled = ~finished & (length >= stall_limit)
        if (finished | stalled).all():
            break
    stats = vec.log()
    if stats:
        score += stats[outcome_field] * stats["n"]
        games += stats["n"]
    draws = float(np.count_nonzero(~finished))  # stalled games: draws
    return score + 0.5 * draws, games + draws


def expected(r_a: float, r_b: float) -> float:
    return 1.0 / (1.0 + 10 ** ((r_b - r_a) / 400.0))


def rate(results: dict[tuple[str, str], float], players: list[str], k: float, passes: int, seed: int) -> dict:
    """Elo from each pairing's mean score (a's view); the anchor never moves."""
    ratings = {p: START for p in players}
    pairs = list(results)
    rng = random.Random(seed)
    for _ in range(passes):
        rng.shuffle(pairs)
        for a, b in pairs:
            delta = k * (results[(a, b)] - expected(ratings[a], ratings[b]))
            if a != ANCHOR:
                ratings[a] += delta
            if b != ANCHOR:
                ratings[b] -= delta
    return ratings


def rate_checkpoints(env: str, directory, *, games: int = 20, k: float = 16.0, passes: int = 200,
                     stall_limit: int = 1000, seed: int = 0, layers=None, quiet: bool = False) -> dict:
    """Play every checkpoint in `directory` against every other and a random anchor; print and return
    {"ratings": {name: elo}, "results": [...]} and write it to `directory`/elo.json."""
    spec = puffer_core.get_spec(env)
    if spec.team_size < 1 or not spec.outcome_field:
        raise ConfigError(f"env {env!r} is not registered as competitive (its EnvSpec sets no team_size and "
                          "outcome_field), so its checkpoints cannot be rated")
    if games < 1 or k <= 0 or stall_limit < 1:
        raise ConfigError(f"elo needs games >= 1, k > 0 and stall_limit >= 1 (got {games}, {k}, {stall_limit})")
    directory = Path(directory)
    paths = sorted(directory.glob("*.pt")) if directory.is_dir() else []
    if not paths:
        raise ConfigError(f"no checkpoints (*.pt) in {directory}; pass the checkpoints folder of a run")
    data = {p.stem: ckpt.load(p, env) for p in paths}

    config = cfg.build([(next(iter(data.values()))["config"], f"checkpoint {paths[0]}"), *(layers or [])])
    config.vec = cfg.VecConfig()  # one env object in this process; games run in its copies
    overrides = {"num_envs": games} if "num_envs" in config.env else {}
    if not overrides:
        config.vec.num_env_objects = games
    device = torch.device("cpu")
    vec = make_vec(spec, config, seed, overrides)
    try:
        per_copy = 2 * spec.team_size
        if vec.num_agents % per_copy:
            raise ConfigError(f"env {env!r} has {vec.num_agents} agent rows, not a multiple of two teams of "
                              f"{spec.team_size} (EnvSpec.team_size)")
        team = (np.arange(vec.num_agents) % per_copy) < spec.team_size
        agents = {ANCHOR: None}
        for name, d in data.items():
            c = cfg.from_dict(d["config"])
            agent = make_policy(spec, vec.single_observation_space, vec.single_action_space, c.policy).to(device)
            ckpt.load_weights(agent, d, name)
            agent.eval()
            agents[name] = agent
        names = list(agents)
        # Its own stream: the envs seed numpy generators with small integers too, and the random player
        # must not replay their draws.
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xE10]))
        results, table = {}, []
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                score = count = 0.0
                for side, (x, y) in enumerate(((a, b), (b, a))):  # swap sides
                    first = Player(x, agents[x], vec.single_action_space, np.flatnonzero(team), device, rng)
                    second = Player(y, agents[y], vec.single_action_space, np.flatnonzero(~team), device, rng)
                    s, n = play(vec, first, second, spec.team_size, spec.outcome_field, stall_limit,
                                seed + 7919 * len(table) + side)
                    score += s if x == a else n - s
                    count += n
                if count:
                    results[(a, b)] = score / count
                table.append({"a": a, "b": b, "games": count, "score_a": score / count if count else None})
    finally:
        vec.close()
    ratings = rate(results, names, k, passes, seed)
    ranked = sorted(ratings.items(), key=lambda kv: -kv[1])
    out = {"env": env, "k": k, "games_per_side": games, "anchor": ANCHOR,
           "ratings": dict(ranked), "results": table}
    path = write_atomically(directory / "elo.json", json.dumps(out, indent=2))
    if not quiet:
        print(f"Elo for {env} ({len(names) - 1} checkpoints + random anchor at {START:.0f}, "
              f"{games} games per side per pairing, K={k:g})")
        for rank, (name, rating) in enumerate(ranked, 1):
            print(f"{rank:>3}  {rating:7.1f}  {name}")
        print(f"wrote {path}")
    return out
