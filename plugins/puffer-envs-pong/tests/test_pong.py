"""Pong's rules, checked in C through the env struct (env.envs[0]), plus the conformance kit."""

import numpy as np
import puffer_core
import pytest
from puffer_envs.testing import Conformance, check_final_observations, factory

NOOP, UP, DOWN = 0, 1, 2


def make(**kwargs):
    env = puffer_core.make("pong", **{"num_envs": 1, "frameskip": 1, **kwargs})
    env.reset(seed=0)
    return env


def step(env, action=NOOP):
    env.actions[:] = action
    env.step(env.actions)
    return float(env.rewards[0]), int(env.terminals[0]), int(env.truncations[0])


def place_ball(e, x, y, vx, vy):
    e.ball_x, e.ball_y, e.ball_vx, e.ball_vy = x, y, vx, vy


def test_ball_reflects_off_the_top_wall():
    env = make()
    e = env.envs[0]
    place_ball(e, 300.0, 2.0, 4.0, -5.0)
    assert step(env) == (0.0, 0, 0)
    assert e.ball_y == pytest.approx(3.0)  # 2 - 5 = -3, mirrored to 3
    assert e.ball_vy == 5.0 and e.ball_x == 304.0
    assert env.observations[0, 5] == pytest.approx(5.0 / e.bounce_speed)


def test_ball_reflects_off_the_bottom_wall():
    env = make()
    e = env.envs[0]
    place_ball(e, 300.0, e.height - e.ball_size - 1.0, 4.0, 3.0)
    step(env)
    assert e.ball_y == pytest.approx(e.height - e.ball_size - 2.0)
    assert e.ball_vy == -3.0


def test_missing_the_ball_costs_a_point_and_serves_again():
    env = make()
    e = env.envs[0]
    e.paddle_y = 0.0
    place_ball(e, e.right_face - 20.0, 400.0, 8.0, 0.0)  # far below the agent's paddle
    results = [step(env) for _ in range(10)]
    assert [r[0] for r in results].count(-1.0) == 1 and [r[0] for r in results].count(0.0) == 9
    assert all(r[1:] == (0, 0) for r in results)  # a point is not the end of the game
    assert (e.score, e.opponent_score) == (0, 1)
    assert env.observations[0, 7] == pytest.approx(1 / 21)
    # served again from the middle, and the game goes on
    assert abs(e.ball_x + e.ball_size / 2 - e.width / 2) < 10 * e.ball_max_speed


def test_steep_shot_beats_the_scripted_opponent():
    env = make()
    e = env.envs[0]
    e.opponent_y = 0.0
    place_ball(e, e.left_face + 30.0, 400.0, -8.0, 0.0)
    rewards = [step(env)[0] for _ in range(10)]
    assert rewards.count(1.0) == 1
    assert (e.score, e.opponent_score) == (1, 0)


def test_paddle_hit_returns_the_ball_with_an_angle_from_the_hit_point():
    vys = []
    for offset in (0.0, 20.0, 34.0):  # ball center below the paddle center by this much
        env = make()
        e = env.envs[0]
        e.paddle_y = 200.0
        center = e.paddle_y + e.paddle_height / 2 + offset
        place_ball(e, e.right_face - e.ball_size - 4.0, center - e.ball_size / 2, 8.0, 0.0)
        step(env)
        assert e.ball_vx == pytest.approx(-(8.0 + e.ball_speedup))  # returned, a little faster
        assert e.ball_x + e.ball_size <= e.right_face
        vys.append(e.ball_vy)
    assert vys[0] == pytest.approx(0.0, abs=1e-5)
    assert 0 < vys[1] < vys[2] <= e.bounce_speed  # further from the center: steeper, downwards


def test_scripted_opponent_tracks_the_ball_at_its_max_speed():
    env = make()
    e = env.envs[0]
    e.opponent_y = 0.0
    place_ball(e, 320.0, 300.0, 8.0, 0.0)
    step(env)
    assert e.opponent_y == e.opponent_speed  # moves toward the ball, capped
    for _ in range(100):
        place_ball(e, 320.0, 300.0, 0.0, 0.0)  # hold the ball still
        step(env)
    assert e.opponent_y + e.paddle_height / 2 == pytest.approx(300.0 + e.ball_size / 2)


def test_agent_paddle_moves_and_stops_at_the_walls():
    env = make(frameskip=3)
    e = env.envs[0]
    y = e.paddle_y
    step(env, UP)
    assert e.paddle_y == y - 3 * e.paddle_speed  # frameskip repeats the action
    for _ in range(100):
        step(env, DOWN)
    assert e.paddle_y == e.height - e.paddle_height
    assert env.observations[0, 0] == pytest.approx(1 - e.paddle_height / e.height)


def test_any_action_value_is_safe():
    env = make()
    e = env.envs[0]
    y = e.paddle_y
    for bad in (3, -1, 2**31 - 1, -(2**31)):
        env.actions[:] = bad  # the zero-copy path skips validation: C must cope
        env.step(env.actions)
        assert e.paddle_y == y


def test_reaching_max_score_ends_the_episode_and_logs_it():
    env = make(max_score=3)
    e = env.envs[0]
    e.score, e.opponent_score = 2, 1
    e.opponent_y = 0.0
    place_ball(e, e.left_face + 10.0, 400.0, -8.0, 0.0)
    results = [step(env) for _ in range(10)]
    assert (1.0, 1, 0) in results
    end = results.index((1.0, 1, 0))
    assert all(r == (0.0, 0, 0) for r in results[:end])
    assert (e.score, e.opponent_score) == (0, 0)  # the next game started
    assert env.observations[0, 6] == 0.0
    log = env.log()
    assert log["n"] == 1
    assert (log["score"], log["opponent_score"], log["episode_return"]) == (3, 1, 2)
    assert log["win_fraction"] == pytest.approx(0.75)
    assert log["wins"] == 1
    assert log["episode_length"] == end + 1
    assert env.log() == {}  # popped


def test_truncation_at_max_steps():
    env = make(max_steps=5)
    results = [step(env) for _ in range(5)]
    assert results[-1][1:] == (0, 1) and all(r[1:] == (0, 0) for r in results[:-1])
    log = env.log()
    assert log["n"] == 1 and log["episode_length"] == 5 and log["wins"] == 0


def test_parallel_copies_serve_differently():
    env = puffer_core.make("pong", num_envs=64)
    env.reset(seed=7)
    vx = [env.envs[i].ball_vx for i in range(64)]
    vy = [env.envs[i].ball_vy for i in range(64)]
    assert 0 < sum(v > 0 for v in vx) < 64
    assert len(set(vy)) > 50
    assert np.abs(env.observations[:, 5]).max() <= 0.5


def test_random_play_loses_to_the_opponent():
    """The scripted opponent returns most balls: a random agent loses almost every point."""
    env = puffer_core.make("pong", num_envs=64, max_score=5)
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    logs = []
    for _ in range(3000):
        env.actions[:] = rng.integers(0, 3, 64)
        env.step(env.actions)
        assert np.all(np.abs(env.observations) <= 1.0)
        log = env.log()
        if log:
            logs.append(log)
    n = sum(log["n"] for log in logs)
    assert n > 20
    win_fraction = sum(log["win_fraction"] * log["n"] for log in logs) / n
    assert 0.0 < win_fraction < 0.4



SENTINEL = 7.0  # outside the observation space: a row the env wrote can never still hold it


@pytest.mark.soak  # random play with final observations on: also run under the sanitizers
def test_final_observations_in_random_play():
    """Short episodes, checked against the same episodes under a later time limit (puffer_envs.testing)."""
    check_final_observations(factory("pong"), {"num_envs": 64, "max_score": 3, "max_steps": 60}, steps=60, seed=5,
                             longer={"max_steps": 10_000})


def test_final_observation_of_a_won_game_shows_the_final_score_and_the_ball_out():
    env = make(max_score=3, final_observations=True)
    e = env.envs[0]
    e.score, e.opponent_score = 2, 1
    e.paddle_y, e.opponent_y = 100.0, 0.0
    place_ball(e, -5.0, 400.0, -8.0, 0.0)  # past the scripted paddle: out on this frame
    env.final_observations[:] = SENTINEL
    assert step(env) == (1.0, 1, 0)
    half_h = e.height / 2
    want = [(100.0 + 30.0) / half_h - 1,  # the agent did not move (noop)
            (e.opponent_speed + 30.0) / half_h - 1,  # the opponent chased the ball for one frame
            -1.0,  # the ball past the left edge (clamped)
            (400.0 + 5.0) / half_h - 1, -8.0 / e.ball_max_speed, 0.0,
            1.0, 1 / 3]  # 3 of 3 points, 1 of 3 for the opponent
    assert env.final_observations[0].tolist() == pytest.approx(want, rel=1e-6, abs=1e-6)
    assert env.observations[0, 6] == env.observations[0, 7] == 0.0  # while the env already serves a new game


class TestPongConformance(Conformance):
    env = "pong"
    kwargs = {"num_envs": 8}
    soak_steps = 100_000
