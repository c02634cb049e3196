"""Atari through ale-py and emulation: observations, frameskip, life-loss terminals, stacking, seeding."""

import numpy as np
import puffer_core
import pytest
from puffer_core.errors import ConfigError
from puffer_envs.testing import Conformance


class TestAtariConformance(Conformance):
    env = "atari:pong"  # (Breakout's screen stands still until FIRE, so its no-op starts look alike)
    kwargs = {"num_envs": 2, "noop_max": 30}  # no-op starts: without them ALE ignores the seed
    steps = 128
    soak_steps = 2_000  # ALE emulates ~10k frames/s: keep the soak short


def screens(env):
    """What ALE itself shows each game right now, grayscale and sliced 2x."""
    return np.stack([g.unwrapped.ale.getScreenGrayscale()[::2, ::2] for g in env.games])


def test_registered_games():
    names = puffer_core.list_envs()
    for game in ("atari:pong", "atari:breakout", "atari:beam_rider"):
        assert game in names and names[game].distribution == "puffer-envs-atari"
    env = puffer_core.make("atari:beam_rider")
    assert env.single_action_space.n == 9 and env.num_agents == 1
    env.close()


def test_observations_are_ale_screens_grayscale_sliced_uint8():
    env = puffer_core.make("atari:pong", num_envs=2)
    assert env.single_observation_space.shape == (1, 105, 80) and env.single_observation_space.dtype == np.uint8
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 1, 105, 80) and obs.dtype == np.uint8
    rng = np.random.default_rng(0)
    for _ in range(30):
        obs, rewards, terminals, truncations, _ = env.step(rng.integers(0, 6, 2))
        assert np.array_equal(obs[:, 0], screens(env))
    assert obs.std() > 0, "a blank screen is no observation"
    env.close()


@pytest.mark.parametrize("frameskip", [1, 4])
def test_frameskip_runs_inside_ale(frameskip):
    env = puffer_core.make("atari:pong", frameskip=frameskip)
    env.reset(seed=1)
    for _ in range(10):
        env.step(np.array([0]))
    assert env.games[0].unwrapped.ale.getEpisodeFrameNumber() == 10 * frameskip
    env.close()


def test_same_seed_same_games():
    actions = np.random.default_rng(3).integers(0, 4, (40, 2))
    a, b = puffer_core.make("atari:breakout", num_envs=2), puffer_core.make("atari:breakout", num_envs=2)
    a.reset(seed=7)
    b.reset(seed=7)
    for t in range(40):
        a.step(actions[t])
        b.step(actions[t])
        assert np.array_equal(a.observations, b.observations), "no sticky actions: a seed fixes the games"
    for env in (a, b):
        env.close()


def test_game_seeds_never_repeat_across_env_objects():
    from puffer_envs_atari.atari import game_seed

    # Vector backends seed env object j with seed + j; its games must not replay another object's.
    seeds = [game_seed(100 + j, i) for j in range(8) for i in range(16)]
    assert len(set(seeds)) == len(seeds) and game_seed(100, 0) == 100


def play_breakout(env, steps, rng):
    """Random Breakout play that keeps pressing FIRE (action 1) so balls are served and lives are lost."""
    history = []
    for _ in range(steps):
        action = 1 if rng.random() < 0.3 else rng.integers(2, 4)
        env.step(np.array([action]))
        game = env.games[0]
        history.append((bool(env.terminals[0]), game.lives, game.unwrapped.ale.getEpisodeFrameNumber()))
    return history


def test_life_loss_is_a_terminal_and_the_game_goes_on():
    env = puffer_core.make("atari:breakout", life_loss_terminal=True)
    env.reset(seed=0)
    history = play_breakout(env, 600, np.random.default_rng(0))
    first = next(t for t, (terminal, _, _) in enumerate(history) if terminal)
    assert history[first][1] == 4, "the first terminal is the first lost life (Breakout starts with 5)"
    # The next step continues the same game: one life fewer, frame counter still running.
    assert history[first + 1][1] == 4 and history[first + 1][2] == history[first][2] + 4
    assert np.array_equal(env.observations[0, 0], screens(env)[0])
    terminals = sum(terminal for terminal, _, _ in history)
    assert terminals >= 2
    log = env.log()
    games = int(log.get("n", 0))
    assert terminals > games, "lives are terminals, but log() counts whole games"
    env.close()


def test_without_life_loss_terminal_only_the_game_end_is_terminal():
    env = puffer_core.make("atari:breakout")
    env.reset(seed=0)
    history = play_breakout(env, 300, np.random.default_rng(0))
    lost = [t for t in range(1, len(history)) if history[t][1] < history[t - 1][1] and not history[t][0]]
    assert lost, "the test must lose a life without a terminal"
    terminals = sum(terminal for terminal, _, _ in history)
    assert terminals == env.log().get("n", 0), "every terminal is a whole game's end"
    env.close()


def test_frame_stacking_shifts_frames_oldest_first():
    env = puffer_core.make("atari:pong", frame_stack=4)
    assert env.single_observation_space.shape == (4, 105, 80)
    obs, _ = env.reset(seed=0)
    assert not obs[0, :3].any() and obs[0, 3].any(), "after reset only the newest frame is filled"
    previous = obs.copy()
    for _ in range(20):
        obs, *_ = env.step(np.array([2]))
        assert np.array_equal(obs[0, :3], previous[0, 1:])
        assert np.array_equal(obs[0, 3], screens(env)[0])
        previous = obs.copy()
    env.close()


def test_noop_starts_follow_the_seed():
    def first_frames(seed):
        env = puffer_core.make("atari:breakout", num_envs=3, noop_max=30)
        env.reset(seed=seed)
        counts = [g.unwrapped.ale.getEpisodeFrameNumber() // 4 for g in env.games]
        env.close()
        return counts

    counts = first_frames(3)
    assert counts == first_frames(3) and counts != first_frames(4)
    assert len(set(counts)) > 1 and max(counts) <= 30


def test_out_of_range_actions_in_the_buffer_play_noop():
    env = puffer_core.make("atari:pong", num_envs=2)
    reference = puffer_core.make("atari:pong", num_envs=2)
    env.reset(seed=0)
    reference.reset(seed=0)
    for _ in range(10):
        env.actions[:] = [255, -7]  # past validation, as a buggy trainer could write them
        env.step(env.actions)
        reference.step(np.zeros(2, np.int32))
    assert np.array_equal(env.observations, reference.observations)
    with pytest.raises(puffer_core.ActionError, match="outside"):
        env.step(np.array([6, 0]))
    env.close()
    reference.close()


def test_action_meanings_for_human_play():
    from puffer_envs.play import Controls

    env = puffer_core.make("atari:pong")
    assert env.action_meanings() == ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]
    controls = Controls(env, "atari:pong")
    assert controls({"RIGHT", "SPACE"}) == 4 and controls(set()) == 0
    env.close()


def test_render_returns_the_full_rgb_frame():
    env = puffer_core.make("atari:pong", num_envs=2, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (210, 160, 3) and frame.dtype == np.uint8
    env.close()
    assert puffer_core.make("atari:pong").render() is None


@pytest.mark.parametrize("kwargs, message", [
    ({"game": "pongg"}, "Did you mean pong"),
    ({"frame_skip": 4}, "unknown Atari kwarg.*'frame_skip'.*frameskip=4"),
    ({"life_loss_terminal": "yes"}, "life_loss_terminal"),
    ({"noop_max": -1}, "noop_max"),
    ({"frame_stack": 0}, "frame_stack must be an integer >= 1"),
    ({"frame_stack": 32}, "recurrent"),
    ({"frameskip": 2.5}, "frameskip"),
    ({"num_envs": 0}, "num_envs"),
    ({"render_mode": "human"}, "puffer-envs play"),
])
def test_bad_kwargs_are_clear_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        puffer_core.make("atari:pong", **kwargs)


def test_multiprocessing_backend_matches_single_games():
    # Env object j of a vector backend is seeded seed + j; with one game per object, game j is seeded seed + j.
    actions = np.random.default_rng(5).integers(0, 4, (10, 4)).astype(np.int32)
    vec = puffer_core.vector.make("atari:breakout", backend="multiprocessing", num_env_objects=4, num_workers=2,
                                  seed=11)
    singles = [puffer_core.make("atari:breakout") for _ in range(4)]
    try:
        obs = vec.reset()[0]
        for j, env in enumerate(singles):
            assert np.array_equal(obs[j], env.reset(seed=11 + j)[0][0])
        for t in range(10):
            obs = vec.step(actions[t])[0]
            for j, env in enumerate(singles):
                assert np.array_equal(obs[j], env.step(actions[t, j:j + 1])[0][0])
    finally:
        vec.close()
        for env in singles:
            env.close()


def test_training_config_parses():
    config = puffer_core.get_spec("atari:pong").training_config()
    assert config["env"]["life_loss_terminal"] is True and config["policy"]["recurrent"] is True
    env = puffer_core.make("atari:pong", **config["env"])
    assert env.num_agents == config["env"]["num_envs"]
    env.close()
