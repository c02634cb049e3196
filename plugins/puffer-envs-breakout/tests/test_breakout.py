"""Breakout's rules checked in C through the env struct (env.envs[0]), rendering, and the conformance kit."""


import numpy as np
import puffer_core
import pytest
from puffer_envs.testing import Conformance, check_final_observations, check_nan_action_means_zero, factory

NOOP, LEFT, RIGHT = 0, 1, 2
COLS, ROWS = 18, 6
BRICK_W, BRICK_H, BRICK_TOP = 32.0, 12.0, 70.0
PADDLE_Y, BALL = 310.0, 8.0
ROW_POINTS = [7, 7, 4, 4, 1, 1]  # top row first


def make(**kwargs):
    env = puffer_core.make("breakout", **{"num_envs": 1, "frameskip": 1, **kwargs})
    env.reset(seed=0)
    return env


def step(env, action=NOOP):
    env.actions[:] = action
    env.step(env.actions)
    return float(env.rewards[0]), int(env.terminals[0]), int(env.truncations[0])


def place_ball(e, x, y, vx, vy):
    e.ball_x, e.ball_y, e.ball_vx, e.ball_vy = x, y, vx, vy
    e.ball_speed = float(np.hypot(vx, vy))


def aim_up_at(env, row, col, speed=3.0):
    """Clear the bricks below (row, col) and put the ball just under that brick, moving straight up."""
    e = env.envs[0]
    for r in range(row + 1, ROWS):
        if e.bricks[r * COLS + col]:
            e.bricks[r * COLS + col] = 0
            e.bricks_left -= 1
    place_ball(e, col * BRICK_W + 12.0, BRICK_TOP + (row + 1) * BRICK_H + 1.0, 0.0, -speed)


@pytest.mark.parametrize("row", range(ROWS))
def test_each_row_scores_like_the_atari_game(row):
    env = make()
    e = env.envs[0]
    aim_up_at(env, row, col=5)
    left = e.bricks_left
    reward, term, trunc = step(env)
    assert (reward, term, trunc) == (ROW_POINTS[row], 0, 0)
    assert e.bricks[row * COLS + 5] == 0 and e.bricks_left == left - 1
    assert e.ball_vy > 0  # bounced back down
    assert e.score == ROW_POINTS[row]
    assert env.observations[0, 6 + row * COLS + 5] == 0.0
    assert env.observations[0, 6:].sum() == e.bricks_left


def test_ball_speeds_up_after_4_and_12_hits_and_on_orange_and_red():
    env = make()
    e = env.envs[0]
    aim_up_at(env, 5, col=0)
    step(env)
    assert e.ball_speed == pytest.approx(3.0)  # first hit of a blue brick: no speed-up
    e.hits = 3
    aim_up_at(env, 5, col=1)
    step(env)
    assert e.hits == 4 and e.ball_speed == pytest.approx(4.0)
    e.hits = 11
    aim_up_at(env, 5, col=2, speed=4.0)
    step(env)
    assert e.ball_speed == pytest.approx(5.0)
    aim_up_at(env, 1, col=3, speed=5.0)  # orange
    step(env)
    assert e.hit_orange == 1 and e.ball_speed == pytest.approx(6.0)
    aim_up_at(env, 1, col=4, speed=6.0)  # orange again: spent
    step(env)
    assert e.ball_speed == pytest.approx(6.0)
    aim_up_at(env, 0, col=6, speed=6.0)  # red
    step(env)
    assert e.hit_red == 1 and e.ball_speed == pytest.approx(7.0)
    assert np.hypot(e.ball_vx, e.ball_vy) == pytest.approx(7.0)
    assert np.abs(env.observations[0, 4:6]).max() <= 1.0


def test_losing_the_ball_costs_a_life_and_serves_at_base_speed():
    env = make()
    e = env.envs[0]
    e.paddle_x = 0.0
    e.hits, e.hit_red = 20, 1
    place_ball(e, 400.0, 325.0, 0.0, 6.0)
    assert step(env) == (0.0, 0, 0)
    assert e.lives == 4 and e.lives_lost == 1
    assert e.ball_speed == pytest.approx(3.0) and e.ball_vy > 0 and e.hits == 0 and e.hit_red == 0
    assert e.ball_y < BRICK_TOP + ROWS * BRICK_H + 40  # served again under the wall


def test_last_life_ends_the_episode_and_logs_it():
    env = make()
    e = env.envs[0]
    aim_up_at(env, 2, col=9)
    step(env)  # 4 points
    e.lives, e.lives_lost = 1, 4
    e.paddle_x = 0.0
    place_ball(e, 400.0, 328.0, 0.0, 3.0)
    assert step(env) == (0.0, 1, 0)
    assert e.lives == 5 and e.score == 0 and e.bricks_left == COLS * ROWS  # the next game started
    log = env.log()
    assert log == {"score": 4.0, "episode_return": 4.0, "episode_length": 2.0, "lives_lost": 5.0, "n": 1.0}
    assert env.log() == {}


def test_paddle_halves_after_the_ball_reaches_the_top_wall():
    env = make()
    e = env.envs[0]
    e.paddle_x = 100.0
    center = e.paddle_x + e.paddle_w / 2
    place_ball(e, 200.0, 2.0, 0.0, -3.0)  # above the wall, as if it broke through
    step(env)
    assert e.shrunk == 1 and e.paddle_w == pytest.approx(31.0)
    assert e.paddle_x + e.paddle_w / 2 == pytest.approx(center)
    assert e.ball_vy > 0
    assert env.observations[0, 1] == pytest.approx(0.5)
    place_ball(e, 200.0, 2.0, 0.0, -3.0)  # once only
    step(env)
    assert e.paddle_w == pytest.approx(31.0)


def test_paddle_bounce_angle_depends_on_the_hit_point():
    vxs = []
    for offset in (0.0, 15.0, 30.0):
        env = make()
        e = env.envs[0]
        e.paddle_x = 200.0
        center = e.paddle_x + e.paddle_w / 2 + offset
        place_ball(e, center - BALL / 2, PADDLE_Y - BALL - 1.0, 0.0, 3.0)
        step(env)
        assert e.ball_vy < 0 and np.hypot(e.ball_vx, e.ball_vy) == pytest.approx(3.0)
        vxs.append(e.ball_vx)
    assert vxs[0] == pytest.approx(0.0, abs=1e-5) and 0 < vxs[1] < vxs[2]


def test_clearing_the_first_wall_brings_the_second_and_the_second_ends_the_game():
    env = make()
    e = env.envs[0]
    e.shrunk, e.paddle_w, e.paddle_x = 1, 31.0, 560.0  # a shrunk paddle at the right wall
    for wall in (0, 1):
        for b in range(COLS * ROWS):
            e.bricks[b] = 0
        e.bricks[5 * COLS + 7] = 1
        e.bricks_left = 1
        e.wall = wall
        place_ball(e, 7 * BRICK_W + 12.0, BRICK_TOP + ROWS * BRICK_H + 1.0, 0.0, -3.0)
        reward, term, _ = step(env)
        assert reward == 1.0
        if wall == 0:
            assert term == 0 and e.wall == 1 and e.bricks_left == COLS * ROWS
            assert e.shrunk == 0 and e.paddle_w == 62.0 and e.paddle_x == 576.0 - 62.0  # full size, on the field
        else:
            assert term == 1 and e.wall == 0  # game over, and a fresh game began
    assert env.log()["n"] == 1


def test_paddle_moves_and_frameskip_repeats_the_action():
    env = make(frameskip=3)
    e = env.envs[0]
    e.paddle_x = 200.0
    step(env, LEFT)
    assert e.paddle_x == pytest.approx(200.0 - 3 * 8.0)
    step(env, RIGHT)
    assert e.paddle_x == pytest.approx(200.0)
    for bad in (3, -1, 2**31 - 1, -(2**31)):  # anything else is noop
        step(env, bad)
        assert e.paddle_x == pytest.approx(200.0)
    for _ in range(40):
        step(env, RIGHT)
    assert e.paddle_x == pytest.approx(576.0 - e.paddle_w)


def test_continuous_paddle_velocity():
    env = make(continuous=1)
    assert env.actions.dtype == np.float32 and env.single_action_space.shape == (1,)
    e = env.envs[0]
    e.paddle_x = 200.0
    step(env, 0.5)
    assert e.paddle_x == pytest.approx(204.0)
    step(env, -5.0)  # clipped to -1
    assert e.paddle_x == pytest.approx(196.0)
    step(env, np.nan)
    assert e.paddle_x == pytest.approx(196.0)


def test_truncation_at_max_steps():
    env = make(max_steps=5)
    e = env.envs[0]
    results = []
    for _ in range(5):
        e.paddle_x = e.ball_x - 20.0  # keep the ball in play
        results.append(step(env))
    assert results[-1][1:] == (0, 1) and all(r[1:] == (0, 0) for r in results[:-1])
    assert env.log()["episode_length"] == 5


def test_parallel_copies_start_desynchronized():
    env = puffer_core.make("breakout", num_envs=64)
    env.reset(seed=3)
    assert len({env.envs[i].ball_x for i in range(64)}) > 60
    assert len({env.envs[i].paddle_x for i in range(64)}) > 60


def test_random_play_scores_and_loses_all_lives():
    env = puffer_core.make("breakout", num_envs=32)
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(1500):
        env.actions[:] = rng.integers(0, 3, 32)
        env.step(env.actions)
    log = env.log()
    assert log["n"] > 50 and log["lives_lost"] == 5.0
    assert 0.2 < log["score"] < 20 and log["score"] == log["episode_return"]


def test_keyboard_controls():
    env = make()
    assert env.keymap["LEFT"] == LEFT and env.keymap["RIGHT"] == RIGHT
    assert env.keys_to_action({"LEFT"}) == LEFT and env.keys_to_action(set()) == NOOP
    cont = make(continuous=1)
    assert cont.keys_to_action({"RIGHT"})[0] == 1.0




def test_rgb_array_frame_draws_the_struct(puffer_display):
    from puffer_envs_breakout.render import ROW_COLORS

    env = make(render_mode="rgb_array")
    try:
        e = env.envs[0]
        e.paddle_x = 100.0
        place_ball(e, 300.0, 200.0, 0.0, 3.0)
        e.bricks[0] = 0  # top-left brick gone
        frame = env.render()
        assert frame.dtype == np.uint8 and frame.shape == (370, 576, 3)
        assert tuple(frame[204, 304]) == (236, 236, 236)  # ball
        assert tuple(frame[314, 130]) == ROW_COLORS[0][:3]  # paddle
        assert tuple(frame[76, 16 + 32]) == ROW_COLORS[0][:3]  # red brick 1
        assert tuple(frame[76, 16]) == (0, 0, 0)  # brick 0 is gone
        assert tuple(frame[70 + 5 * 12 + 6, 48]) == ROW_COLORS[5][:3]  # blue row
        assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 6
    finally:
        env.close()



SENTINEL = 7.0  # outside the observation space: a row the env wrote can never still hold it


@pytest.mark.soak  # random play with final observations on: also run under the sanitizers
def test_final_observations_in_random_play():
    """Short episodes, checked against the same episodes under a later time limit (puffer_envs.testing)."""
    check_final_observations(factory("breakout"), {"num_envs": 64, "max_steps": 100}, steps=100, seed=5,
                             longer={"max_steps": 10_000})


def test_final_observation_of_a_cleared_second_wall_is_the_empty_wall():
    """The same last brick broken on the first wall (a new wall comes, play goes on) and on the second
    (game over): the two steps end in the same state but for the bricks, so the game over's final
    observation is the other's observation with every brick gone."""
    observations = []
    for wall in (0, 1):
        env = make(final_observations=True)
        e = env.envs[0]
        e.paddle_x = 100.0
        for b in range(COLS * ROWS):
            e.bricks[b] = 0
        e.bricks[5 * COLS + 7] = 1
        e.bricks_left = 1
        e.wall = wall
        place_ball(e, 7 * BRICK_W + 12.0, BRICK_TOP + ROWS * BRICK_H + 1.0, 0.0, -3.0)
        env.final_observations[:] = SENTINEL
        assert step(env) == (1.0, wall, 0)
        observations.append((env.observations[0].copy(), env.final_observations[0].copy()))
    (going_on, unwritten), (reset, final) = observations
    assert (unwritten == SENTINEL).all()
    np.testing.assert_array_equal(final[:6], going_on[:6])
    assert (final[6:] == 0).all() and (going_on[6:] == 1).all() and (reset[6:] == 1).all()


def test_final_observation_of_the_last_lost_ball():
    env = make(final_observations=True)
    e = env.envs[0]
    e.lives = 1
    e.paddle_x = 0.0
    place_ball(e, 400.0, 328.0, 0.0, 3.0)  # far from the paddle: lost on this tick
    assert step(env) == (0.0, 1, 0)
    want = [31.0 / 576.0, 1.0, 404.0 / 576.0, 1.0, 0.0, 3.0 / 7.0] + [1.0] * (COLS * ROWS)  # ball below y = 1
    assert env.final_observations[0].tolist() == pytest.approx(want, rel=1e-6, abs=1e-6)
    assert env.observations[0, 3] < 0.6  # while the env already served the next game's ball



def test_a_nan_continuous_action_means_zero():
    check_nan_action_means_zero(factory("breakout"), {"num_envs": 4, "continuous": 1})

class TestBreakoutConformance(Conformance):
    env = "breakout"
    kwargs = {"num_envs": 8}
    soak_steps = 100_000


class TestBreakoutContinuousConformance(Conformance):
    env = "breakout"
    kwargs = {"num_envs": 8, "continuous": 1}
    soak_steps = 100_000
