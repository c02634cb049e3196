"""Emulation: Gymnasium and PettingZoo envs as PufferEnvs, flattening, and PufferEnvs as Gymnasium VectorEnvs."""

import gymnasium
import numpy as np
import puffer_core
import pytest
from gymnasium import spaces
from pettingzoo import ParallelEnv
from puffer_core.emulation import (
    GymnasiumPufferEnv,
    PettingZooPufferEnv,
    VectorEnvAdapter,
    flat_action_space,
    flat_observation_space,
    unflatten,
)

# -- exact trajectories against Gymnasium -----------------------------------------------------------

def gymnasium_trajectories(env_kwargs, seed, actions):
    """What plain Gymnasium produces: env i reset with seed + i, then reset with no seed after each episode
    (the observation recorded at an episode's end is the next episode's first, as Puffer writes it)."""
    num_steps, num_envs = actions.shape
    obs = np.zeros((num_steps + 1, num_envs, 4), np.float32)
    rewards = np.zeros((num_steps, num_envs), np.float32)
    terms = np.zeros((num_steps, num_envs), bool)
    truncs = np.zeros((num_steps, num_envs), bool)
    returns = []
    for i in range(num_envs):
        env = gymnasium.make("CartPole-v1", **env_kwargs)
        obs[0, i], _ = env.reset(seed=seed + i)
        ret = 0.0
        for t in range(num_steps):
            o, r, term, trunc, _ = env.step(int(actions[t, i]))
            ret += r
            if term or trunc:
                returns.append(ret)
                ret = 0.0
                o, _ = env.reset()
            obs[t + 1, i], rewards[t, i], terms[t, i], truncs[t, i] = o, r, term, trunc
        env.close()
    return obs, rewards, terms, truncs, returns


def puffer_trajectories(vec, actions):
    num_steps, num_envs = actions.shape
    obs = np.zeros((num_steps + 1, num_envs, 4), np.float32)
    rewards = np.zeros((num_steps, num_envs), np.float32)
    terms = np.zeros((num_steps, num_envs), bool)
    truncs = np.zeros((num_steps, num_envs), bool)
    obs[0] = vec.reset()[0]
    for t in range(num_steps):
        o, r, term, trunc, _ = vec.step(actions[t])
        obs[t + 1], rewards[t], terms[t], truncs[t] = o, r, term, trunc
    return obs, rewards, terms, truncs


@pytest.mark.parametrize("backend, workers", [("serial", None), ("multiprocessing", 2)])
@pytest.mark.parametrize("env_kwargs", [{}, {"max_episode_steps": 15}], ids=["default", "truncating"])
def test_emulated_cartpole_matches_gymnasium_exactly(backend, workers, env_kwargs):
    seed, num_envs, num_steps = 123, 8, 300
    actions = np.random.default_rng(0).integers(0, 2, (num_steps, num_envs)).astype(np.int32)
    vec = puffer_core.vector.make("gym:CartPole-v1", backend=backend, num_env_objects=num_envs, num_workers=workers,
                                  seed=seed, env_kwargs=env_kwargs)
    try:
        got = puffer_trajectories(vec, actions)
        log = vec.log()
    finally:
        vec.close()
    *want, returns = gymnasium_trajectories(env_kwargs, seed, actions)
    for name, a, b in zip(("observations", "rewards", "terminations", "truncations"), got, want):
        assert np.array_equal(a, b), f"{name} differ from Gymnasium's"
    assert want[2].sum() > num_envs, "the test must cover several episodes per env"
    if env_kwargs:
        assert want[3].sum() > 0, "the truncating case must truncate"
    assert log["n"] == len(returns)
    assert log["episode_return"] == pytest.approx(np.mean(returns))
    assert log["episode_length"] == pytest.approx(np.mean(returns))  # CartPole: reward 1 per step


def test_accepts_an_env_instance_and_rejects_other_things():
    env = GymnasiumPufferEnv(gymnasium.make("CartPole-v1"))
    obs, _ = env.reset(seed=3)
    assert obs.shape == (1, 4) and obs.dtype == np.float32
    with pytest.raises(puffer_core.ConfigError, match="gymnasium.Env"):
        GymnasiumPufferEnv("CartPole-v1")
    with pytest.raises(puffer_core.ConfigError, match="returned int"):
        GymnasiumPufferEnv(lambda: 3)


def test_unknown_gymnasium_kwargs_are_config_errors():
    with pytest.raises(puffer_core.ConfigError, match="'gravity'"):
        puffer_core.make("gym:CartPole-v1", gravity=3.0)


def test_bad_actions_are_clear_errors():
    env = puffer_core.make("gym:CartPole-v1")
    env.reset(seed=0)
    with pytest.raises(puffer_core.ActionError, match="outside"):
        env.step(np.array([2]))
    with pytest.raises(puffer_core.ActionError, match="shape"):
        env.step(np.array([0, 1]))
    with pytest.raises(puffer_core.ActionError, match="integers"):
        env.step(np.array([0.5]))


# -- structured spaces ------------------------------------------------------------------------------

OBS_SPACE = spaces.Dict({
    "image": spaces.Box(0, 255, (3, 2), np.uint8),
    "pos": spaces.Box(-1.0, 1.0, (2,), np.float64),
    "inventory": spaces.Tuple((spaces.Discrete(5, start=1), spaces.MultiBinary(3), spaces.MultiDiscrete([4, 6]))),
})
ACT_SPACE = spaces.Dict({"move": spaces.Discrete(4), "aux": spaces.Tuple((spaces.MultiDiscrete([3, 2]),
                                                                          spaces.Discrete(2, start=-1)))})


class StructuredEnv(gymnasium.Env):
    """Random structured observations; remembers what it received; episodes of 3 steps; odd infos."""

    observation_space = OBS_SPACE
    action_space = ACT_SPACE

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.observation_space.seed(seed)
        self.t, self.received, self.sent = 0, [], []
        return self._obs(), {"name": "structured", "level": 2}

    def _obs(self):
        self.sent.append(self.observation_space.sample())
        return self.sent[-1]

    def step(self, action):
        self.received.append(action)
        self.t += 1
        info = {"text": "hello", "score": 1.5, "flags": np.array([1, 0]), "obj": object(), "nested": {"a": 1, "b": "x"}}
        return self._obs(), float(self.t), self.t % 3 == 0, False, info


def assert_leaves_equal(got, want):
    if isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            assert_leaves_equal(got[key], want[key])
    elif isinstance(want, tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_leaves_equal(g, w)
    else:
        assert np.array_equal(np.asarray(got), np.asarray(want, dtype=np.float32)), (got, want)


def test_structured_observations_flatten_and_unflatten_round_trip():
    env = GymnasiumPufferEnv(StructuredEnv)
    space = env.single_observation_space
    assert space.dtype == np.float32 and space.shape == (6 + 2 + 1 + 3 + 2,)  # a float part makes it float32
    obs, infos = env.reset(seed=0)
    assert infos == {"level": 2}
    rows = [obs.copy()]
    for _ in range(5):
        rows.append(env.step(env.single_action_space.sample()[None])[0].copy())
    batch = np.concatenate(rows)
    parts = unflatten(batch, env.original_observation_space)
    assert parts["image"].shape == (6, 3, 2) and parts["inventory"][0].shape == (6,)
    assert np.shares_memory(parts["image"], batch) and np.shares_memory(parts["inventory"][2], batch)
    # Episodes are 3 steps: rows 3 and 6 are new episodes' first observations, and each step sent one obs.
    sent = env.env.unwrapped.sent  # the current episode's observations (steps 4, 5 and its reset)
    for i, want in enumerate(sent):
        assert_leaves_equal(unflatten(batch[3 + i], env.original_observation_space), want)
    assert space.contains(batch[0])


def test_unflatten_works_on_torch_tensors_for_policies():
    torch = pytest.importorskip("torch")
    env = GymnasiumPufferEnv(StructuredEnv)
    obs, _ = env.reset(seed=0)
    batch = np.repeat(obs, 4, axis=0)
    parts = unflatten(torch.from_numpy(batch), env.original_observation_space)
    want = unflatten(batch, env.original_observation_space)
    assert parts["image"].shape == (4, 3, 2) and parts["inventory"][0].shape == (4,)
    assert np.array_equal(parts["inventory"][2].numpy(), want["inventory"][2])


def test_structured_actions_are_one_multidiscrete_unflattened_for_the_env():
    env = GymnasiumPufferEnv(StructuredEnv)
    # Dict keys in the space's order (gymnasium sorts a plain dict's keys): aux, then move.
    assert env.single_action_space == spaces.MultiDiscrete([3, 2, 2, 4], start=[0, 0, -1, 0])
    env.reset(seed=0)
    env.step(np.array([[2, 1, -1, 3]]))
    got = env.env.unwrapped.received[-1]
    assert got["move"] == 3 and isinstance(got["move"], np.integer)
    assert np.array_equal(got["aux"][0], [2, 1]) and got["aux"][1] == -1
    assert got in env.original_action_space
    with pytest.raises(puffer_core.ActionError, match="outside"):
        env.step(np.array([[2, 1, 1, 3]]))  # the third part is Discrete(2, start=-1): -1 or 0


class DiscreteEnv(gymnasium.Env):
    """Checks every action the way Gymnasium's own envs do (action_space.contains) and remembers it."""

    observation_space = spaces.Box(0, 1, (1,), np.float32)

    def __init__(self, dtype):
        self.action_space = spaces.Discrete(3, start=-1, dtype=dtype)
        self.received = []

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        assert self.action_space.contains(action), f"{action!r} ({type(action)}) invalid"
        self.received.append(action)
        return np.zeros(1, np.float32), 0.0, False, False, {}


@pytest.mark.parametrize("dtype", [np.int64, np.int8])
def test_discrete_actions_reach_the_env_as_numpy_integers_its_space_contains(dtype):
    env = GymnasiumPufferEnv(lambda: DiscreteEnv(dtype))
    env.reset(seed=0)
    for action in (-1, 0, 1):
        env.step(np.array([action]))
    received = env.env.received
    assert received == [-1, 0, 1]  # not views of the action buffer, which would all read 1 now
    assert all(isinstance(a, np.integer) and np.can_cast(a.dtype, dtype) for a in received)


def test_non_numeric_infos_are_dropped():
    env = GymnasiumPufferEnv(StructuredEnv)
    env.reset(seed=1)
    _, _, _, _, infos = env.step(np.array([[0, 0, 0, 0]]))
    assert set(infos) == {"score", "flags", "nested"} and infos["nested"] == {"a": 1}


def test_episode_stats_are_logged():
    env = GymnasiumPufferEnv(StructuredEnv)
    env.reset(seed=0)
    assert env.log() == {}
    for _ in range(7):  # two 3-step episodes of return 1 + 2 + 3
        env.step(np.zeros((1, 4), np.int32))
    assert env.log() == {"episode_return": 6.0, "episode_length": 3.0, "n": 2.0}


@pytest.mark.parametrize("space, dtype, shape", [
    (spaces.Box(-1, 1, (2, 3), np.float64), np.float32, (2, 3)),
    (spaces.Box(0, 255, (4, 4), np.uint8), np.uint8, (4, 4)),
    (spaces.Box(-100, 100, (3,), np.int64), np.int8, (3,)),
    (spaces.Box(0, 1, (3,), np.bool_), np.uint8, (3,)),
    (spaces.Discrete(300), np.int16, (1,)),
    (spaces.MultiDiscrete([2, 70000]), np.int32, (2,)),
    (spaces.Tuple((spaces.Discrete(3), spaces.MultiBinary(4))), np.uint8, (5,)),
    (spaces.Dict({"a": spaces.Discrete(3, start=-2), "b": spaces.Box(0, 9, (2,), np.int32)}), np.int8, (3,)),
    (spaces.Dict({"a": spaces.Discrete(3), "b": spaces.Box(0, 1, (2,), np.float32)}), np.float32, (3,)),
])
def test_observation_dtype_rules(space, dtype, shape):
    flat = flat_observation_space(space)
    assert flat.dtype == dtype and flat.shape == shape
    puffer_core.buffers.allocate(flat, spaces.Discrete(2), 2)  # the buffers accept it


def test_float64_box_observations_are_cast_to_float32():
    class Float64Env(StructuredEnv):
        observation_space = spaces.Box(-1e40, 1e40, (2,), np.float64)

        def _obs(self):
            return np.array([0.1, 2e30])

    env = GymnasiumPufferEnv(Float64Env)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs[0].tolist() == [np.float32(0.1), np.float32(2e30)]
    assert env.single_observation_space.high[0] == np.inf


def test_unrepresentable_spaces_are_clear_errors():
    with pytest.raises(puffer_core.SpaceError, match=r"Text space at \['name'\]"):
        flat_observation_space(spaces.Dict({"name": spaces.Text(5)}))
    with pytest.raises(puffer_core.SpaceError, match="Box"):
        flat_action_space(spaces.Dict({"move": spaces.Discrete(3), "force": spaces.Box(-1, 1, (2,))}))


# -- PettingZoo ---------------------------------------------------------------------------------------

class TagEnv(ParallelEnv):
    """A tiny PettingZoo ParallelEnv: "hunter" and "runner" play until step 6; "runner" is caught at step 3;
    "late" spawns at step 2. Observations are Dict spaces; rewards are the step number."""

    metadata = {"name": "tag_v0"}
    possible_agents = ["hunter", "runner", "late"]
    render_mode = None

    def __init__(self):
        self._obs_space = spaces.Dict({"xy": spaces.Box(0, 10, (2,), np.int32), "id": spaces.Discrete(3)})
        self._act_space = spaces.Discrete(4)
        self.agents = []

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def _obs(self, agent):
        return {"xy": np.array([self.t, self.possible_agents.index(agent)], np.int32),
                "id": self.possible_agents.index(agent)}

    def reset(self, seed=None, options=None):
        self.t, self.agents, self.received = 0, ["hunter", "runner"], []
        return {a: self._obs(a) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        assert set(actions) == set(self.agents), "actions only for live agents"
        self.received.append(dict(actions))
        self.t += 1
        acting = list(self.agents)
        terms = {a: a == "runner" and self.t == 3 for a in acting}
        truncs = {a: self.t == 6 for a in acting}
        if self.t == 2:
            acting.append("late")
            terms["late"] = truncs["late"] = False
        obs = {a: self._obs(a) for a in acting}
        rewards = {a: float(self.t) for a in acting}
        infos = {a: {"label": "x", "t": self.t} for a in acting}
        self.agents = [a for a in acting if not (terms[a] or truncs[a])]
        return obs, rewards, terms, truncs, infos

    def close(self):
        pass


def test_tag_env_is_a_valid_pettingzoo_parallel_env():
    from pettingzoo.test import parallel_api_test

    parallel_api_test(TagEnv(), num_cycles=20)


def test_pettingzoo_rows_masks_and_auto_reset():
    env = PettingZooPufferEnv(TagEnv)
    assert env.num_agents == 3 and env.single_observation_space.dtype == np.uint8
    obs, _ = env.reset(seed=0)
    assert env.masks.tolist() == [1, 1, 0] and not obs[2].any()
    actions = np.array([1, 2, 3], np.int32)
    history = []
    for _ in range(7):
        obs, rewards, terms, truncs, infos = env.step(actions)
        history.append((obs.copy(), rewards.copy(), terms.copy(), truncs.copy(), env.masks.copy()))
    masks = [h[4].tolist() for h in history]
    assert masks == [[1, 1, 0], [1, 1, 1], [1, 1, 1], [1, 0, 1], [1, 0, 1], [1, 1, 1], [1, 1, 0]]
    # Step 3: the runner is caught (terminal, reward 3), then its row is zeroed while the others play on.
    obs3, rewards3, terms3, _, _ = history[2]
    assert terms3.tolist() == [0, 1, 0] and rewards3.tolist() == [3, 3, 3]
    assert unflatten(obs3, env.original_observation_space)["xy"][1].tolist() == [3, 1]
    obs4, rewards4, terms4, _, _ = history[3]
    assert not obs4[1].any() and rewards4[1] == 0 and terms4[1] == 0
    # Step 6 truncates everyone still playing, and the row already holds the new episode's first obs.
    obs6, rewards6, _, truncs6, masks6 = history[5]
    assert truncs6.tolist() == [1, 0, 1] and rewards6.tolist() == [6, 0, 6]
    assert masks6.tolist() == [1, 1, 1], "the new episode's agents are live; 'late' reported its final step"
    assert unflatten(obs6, env.original_observation_space)["xy"][:2].tolist() == [[0, 0], [0, 1]]
    assert not obs6[2].any(), "'late' is not in the new episode"
    # Actions went only to live agents.
    assert env.env.received[-1] == {"hunter": 1, "runner": 2}
    # Per-agent episodes: runner 1+2+3, hunter 1+...+6, late (spawned at step 2) 2+...+6.
    log = env.log()
    assert log["n"] == 3 and log["episode_return"] == pytest.approx((6 + 21 + 20) / 3)
    assert log["episode_length"] == pytest.approx((3 + 6 + 5) / 3)


def test_pettingzoo_agents_must_share_spaces():
    class Mixed(TagEnv):
        def action_space(self, agent):
            return spaces.Discrete(4 if agent == "hunter" else 5)

    with pytest.raises(puffer_core.SpaceError, match="different action space"):
        PettingZooPufferEnv(Mixed)


def test_pettingzoo_agents_outside_possible_agents_are_a_clear_error():
    class Stranger(TagEnv):
        def reset(self, seed=None, options=None):
            obs, infos = super().reset(seed, options)
            self.agents.append("stranger")
            return obs, infos

    env = PettingZooPufferEnv(Stranger)
    env.reset(seed=0)
    with pytest.raises(puffer_core.SpaceError, match="'stranger' is live but not in the env's possible_agents"):
        env.step(np.zeros(3, np.int32))


def test_pettingzoo_through_the_serial_backend():
    make = lambda buffers=None: PettingZooPufferEnv(TagEnv, buffers=buffers)
    vec = puffer_core.vector.make(make, num_env_objects=2, seed=0)
    vec.reset()
    assert vec.masks.tolist() == [1, 1, 0, 1, 1, 0]
    vec.step(np.zeros(6, np.int32))
    vec.step(np.zeros(6, np.int32))
    assert vec.masks.tolist() == [1] * 6
    assert vec.rewards.tolist() == [2.0] * 6


# -- PufferEnv -> gymnasium.vector.VectorEnv ---------------------------------------------------------

def check_vector_env(venv, num_steps=200, seed=0):
    """Gymnasium 1.4 ships no checker for vector envs; these are the checks its own test-suite applies to
    SyncVectorEnv/AsyncVectorEnv (tests/vector/test_vector_env.py, test_autoreset_mode.py): batched spaces,
    samples from action_space accepted, observations inside observation_space, array shapes and dtypes,
    info dicts, seeded determinism, returned data not overwritten by later steps, autoreset metadata."""
    from gymnasium.vector import AutoresetMode, VectorEnv
    from gymnasium.vector.utils import batch_space

    n = venv.num_envs
    assert isinstance(venv, VectorEnv)
    assert venv.observation_space == batch_space(venv.single_observation_space, n)
    assert venv.action_space == batch_space(venv.single_action_space, n)
    assert isinstance(venv.metadata["autoreset_mode"], AutoresetMode)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP

    obs, info = venv.reset(seed=seed)
    assert obs in venv.observation_space and isinstance(info, dict)
    first = obs.copy()
    assert np.array_equal(venv.reset(seed=seed)[0], first), "reset(seed) must be deterministic"
    venv.action_space.seed(seed)
    trajectory = [first]
    for _ in range(num_steps):
        actions = venv.action_space.sample()
        obs, rewards, terms, truncs, info = venv.step(actions)
        assert obs in venv.observation_space
        assert rewards.shape == (n,) and np.issubdtype(rewards.dtype, np.floating)
        assert terms.shape == truncs.shape == (n,) and terms.dtype == truncs.dtype == np.bool_
        assert isinstance(info, dict)
        trajectory.append(obs)
    assert not all(np.array_equal(a, b) for a, b in zip(trajectory, trajectory[1:])), "observations never change"
    assert np.array_equal(trajectory[0], first), "a later step overwrote an observation already returned"
    # Same seed, same actions: same trajectory.
    venv.reset(seed=seed)
    venv.action_space.seed(seed)
    for want in trajectory[1:]:
        assert np.array_equal(venv.step(venv.action_space.sample())[0], want)


def test_numpy_cartpole_as_a_gymnasium_vector_env(numpy_cartpole):
    venv = VectorEnvAdapter(numpy_cartpole.NumpyCartPole(num_envs=5))
    assert venv.num_envs == 5 and venv.single_observation_space.shape == (4,)
    check_vector_env(venv)
    venv.close()


def test_emulated_cartpole_as_a_gymnasium_vector_env_equals_sync_vector_env():
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    venv = VectorEnvAdapter(puffer_core.vector.make("gym:CartPole-v1", num_env_objects=4))
    check_vector_env(venv)
    # Puffer's auto-reset is Gymnasium's SAME_STEP mode: identical trajectories for the same seed and actions.
    sync = SyncVectorEnv([lambda: gymnasium.make("CartPole-v1")] * 4, autoreset_mode=AutoresetMode.SAME_STEP)
    assert venv.observation_space == sync.observation_space and venv.action_space == sync.action_space
    assert np.array_equal(venv.reset(seed=5)[0], sync.reset(seed=5)[0])
    sync.action_space.seed(0)
    for _ in range(300):
        actions = sync.action_space.sample()
        got, want = venv.step(actions), sync.step(actions)
        for a, b in zip(got[:4], want[:4]):
            assert np.array_equal(a, b)
    sync.close()
    venv.close()


def test_pettingzoo_env_as_a_gymnasium_vector_env():
    venv = VectorEnvAdapter(PettingZooPufferEnv(TagEnv))
    assert venv.num_envs == 3
    check_vector_env(venv, num_steps=20)
    venv.close()


def test_gymnasium_vector_wrappers_work_on_the_adapter():
    venv = VectorEnvAdapter(puffer_core.vector.make("gym:CartPole-v1", num_env_objects=3, seed=1))
    stats = gymnasium.wrappers.vector.RecordEpisodeStatistics(venv)
    stats.reset(seed=1)
    for _ in range(200):
        stats.step(stats.action_space.sample())
    puffer_log = venv.env.log()
    assert len(stats.return_queue) == puffer_log["n"] > 0
    assert np.mean(stats.return_queue) == pytest.approx(puffer_log["episode_return"])
    with pytest.raises(puffer_core.ConfigError, match="one int"):
        venv.reset(seed=[1, 2, 3])
    venv.close()
