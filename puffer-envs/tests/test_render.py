"""Rendering and human play, for real: raylib draws into an X server (Xvfb when DISPLAY is unset)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from gymnasium import spaces
from puffer_core.errors import ConfigError, PufferError
from puffer_envs import play, render
from puffer_envs.play import Controls, parse

pytest.importorskip("pyray", reason="rendering needs the raylib extra: pip install 'puffer-envs[render]'")

PONG_COLORS = {"agent": (0, 255, 255), "opponent": (255, 64, 64), "ball": (255, 255, 255)}




def make_pong(**kwargs):
    import puffer_core

    return puffer_core.make("pong", **{"num_envs": 1, "frameskip": 1, **kwargs})


def color_at(frame, y, x):
    return tuple(int(c) for c in frame[int(y), int(x)])


def test_pong_rgb_array_frame_shows_the_game(puffer_display):
    env = make_pong(render_mode="rgb_array")
    try:
        env.reset(seed=3)
        e = env.envs[0]
        e.ball_x, e.ball_y, e.paddle_y, e.opponent_y = 300.0, 200.0, 100.0, 320.0
        frame = env.render()
        assert frame.shape == (int(e.height), int(e.width), 3) and frame.dtype == np.uint8

        # The pixels where the struct says the ball and paddles are have their colors.
        assert color_at(frame, e.ball_y + e.ball_size / 2, e.ball_x + e.ball_size / 2) == PONG_COLORS["ball"]
        assert color_at(frame, e.paddle_y + e.paddle_height / 2, e.right_face + e.paddle_width / 2) == \
            PONG_COLORS["agent"]
        assert color_at(frame, e.opponent_y + e.paddle_height / 2, e.left_face - e.paddle_width / 2) == \
            PONG_COLORS["opponent"]
        # ... and nowhere else: an agent-colored block exactly paddle-sized, at the paddle.
        agent = np.argwhere(np.all(frame == PONG_COLORS["agent"], axis=-1))
        assert agent.shape[0] == pytest.approx(e.paddle_width * e.paddle_height, rel=0.1)
        assert abs(agent[:, 0].mean() - (e.paddle_y + e.paddle_height / 2)) < 2
        assert color_at(frame, 450, 200) == render.Renderer.background[:3]  # empty field

        # Step: the ball moves and the next frame follows it.
        x0 = e.ball_x
        env.step(np.zeros(1, np.int32))
        assert e.ball_x != x0
        frame2 = env.render()
        ball = np.argwhere(np.all(frame2 == PONG_COLORS["ball"], axis=-1))
        # the ball is the only white block left of the score digits' row
        ball = ball[ball[:, 0] > 60]
        assert abs(ball[:, 1].mean() - (e.ball_x + e.ball_size / 2)) < 2
        assert abs(ball[:, 0].mean() - (e.ball_y + e.ball_size / 2)) < 2
    finally:
        env.close()


def test_image_view_scales_an_observation_up(puffer_display):
    image = np.zeros((2, 6, 8), np.uint8)  # channels first: two stacked grayscale frames
    image[0, 1, 2] = 200
    image[1, 4, 7] = 90
    with render.ImageView(image.shape, scale=4, render_mode="rgb_array") as view:
        frame = view.show(image)
    assert frame.shape == (6 * 4, 16 * 4, 3)  # frames side by side
    assert color_at(frame, 1 * 4 + 1, 2 * 4 + 2) == (200, 200, 200)
    assert color_at(frame, 4 * 4 + 2, (8 + 7) * 4 + 1) == (90, 90, 90)
    assert (frame > 0).any(axis=-1).sum() == 2 * 16  # two scaled-up pixels, nothing else

    planes = np.zeros((2, 3, 5), np.uint8)  # 0/1 planes (e.g. connect4) are stretched to white
    planes[1, 2, 0] = 1
    with render.ImageView(planes.shape, scale=2, high=1, render_mode="rgb_array") as view:
        frame = view.show(planes)
    assert color_at(frame, 2 * 2, 5 * 2) == (255, 255, 255) and frame.sum() == 255 * 3 * 4


def test_vector_view_draws_one_bar_per_value(puffer_display):
    space = spaces.Box(-1, 1, (3,), np.float32)
    with render.VectorView(space, render_mode="rgb_array") as view:
        empty = view.show(np.zeros(3, np.float32))
        full = view.show(np.array([1.0, -1.0, 0.5], np.float32))
    assert (full != empty).any()


def test_one_window_at_a_time(puffer_display):
    with render.ImageView((4, 4), render_mode="rgb_array"):
        with pytest.raises(PufferError, match="one window"):
            render.ImageView((4, 4), render_mode="rgb_array")
    with render.ImageView((4, 4), render_mode="rgb_array") as view:  # reopening after close works
        assert view.show(np.full((4, 4), 7, np.uint8)).max() == 7


def test_no_display_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(PufferError, match="xvfb-run"):
        render.ImageView((4, 4), render_mode="rgb_array")


def test_bad_render_mode_is_a_clear_error():
    with pytest.raises(ConfigError, match="render_mode"):
        render.Renderer(render_mode="ascii")


class KeyEnv:
    single_action_space = spaces.Discrete(5)
    keymap = {"UP": 1, "DOWN": 2, ("UP", "SPACE"): 3, "key_a": 4}


def test_keymap_picks_the_most_specific_held_keys():
    controls = Controls(KeyEnv(), "keys")
    assert controls(set()) == 0
    assert controls({"UP"}) == 1
    assert controls({"UP", "SPACE"}) == 3
    assert controls({"SPACE", "DOWN"}) == 2
    assert controls({"A"}) == 4


def test_keymap_errors_are_clear():
    class NoKeys:
        single_action_space = spaces.Discrete(3)

    class BadKey(KeyEnv):
        keymap = {"UPP": 1}

    class BadAction(KeyEnv):
        keymap = {"UP": 9}

    class Multi:
        single_action_space = spaces.MultiDiscrete([3, 3])
        keymap = {"UP": 1}

    with pytest.raises(PufferError, match="neither `keymap`.*nor action_meanings"):
        Controls(NoKeys(), "nokeys")
    with pytest.raises(ConfigError, match="unknown key 'UPP'"):
        Controls(BadKey(), "bad")
    with pytest.raises(ConfigError, match="outside Discrete"):
        Controls(BadAction(), "bad")
    with pytest.raises(PufferError, match="keys_to_action"):
        Controls(Multi(), "multi")


def test_keymap_from_ale_action_meanings():
    class Ale:
        single_action_space = spaces.Discrete(7)

        def action_meanings(self):
            return ["NOOP", "FIRE", "UP", "RIGHT", "UPRIGHT", "UPFIRE", "RESET"]

    controls = Controls(Ale(), "ale")
    assert controls(set()) == 0
    assert controls({"SPACE"}) == 1
    assert controls({"UP", "RIGHT"}) == 4
    assert controls({"UP", "SPACE"}) == 5
    assert controls({"RIGHT", "LEFT"}) == 3
    assert "RESET" not in controls.help()


def test_keys_to_action_hook_wins_over_keymap():
    class Multi:
        single_action_space = spaces.MultiDiscrete([3, 2])

        def keys_to_action(self, pressed):
            return np.array([1 if "LEFT" in pressed else 0, int("SPACE" in pressed)])

    controls = Controls(Multi(), "multi")
    assert controls({"LEFT", "SPACE"}).tolist() == [1, 1]


def test_play_arguments():
    args, kwargs = parse(["pong", "--fps", "30", "--env.frameskip", "1", "--env.max-score=3", "--env.mode", "x"])
    assert (args.name, args.fps, args.agent_view) == ("pong", 30, False)
    assert kwargs == {"frameskip": 1, "max_score": 3, "mode": "x"}
    with pytest.raises(SystemExit):
        parse(["pong", "--bogus"])


@pytest.mark.parametrize("extra", [[], ["--agent-view"]], ids=["game", "agent-view"])
def test_play_pong_starts_and_quits(puffer_display, extra):
    command = [sys.executable, "-m", "puffer_envs.cli", "play", "pong", "--max-steps", "40", "--fps", "1000",
               "--env.max-score", "1", *extra]
    env = {**os.environ, "DISPLAY": puffer_display}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "played 40 steps" in done.stdout


def test_play_emulated_atari_from_its_action_meanings(puffer_display):
    pytest.importorskip("puffer_envs_atari")
    command = [sys.executable, "-m", "puffer_envs.cli", "play", "atari:breakout", "--max-steps", "20", "--fps", "1000"]
    env = {**os.environ, "DISPLAY": puffer_display}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SPACE=1" in done.stdout  # FIRE
    assert "played 20 steps" in done.stdout


def test_play_without_keymap_is_a_clear_error(puffer_display):
    code = ("import sys, numpy as np; from gymnasium import spaces; import puffer_core\n"
            "from puffer_core import PufferEnv, EnvSpec\n"
            "class NoKeys(PufferEnv):\n"
            "    single_observation_space = spaces.Box(0, 1, (2,), np.float32)\n"
            "    single_action_space = spaces.Discrete(2)\n"
            "    num_agents = 1\n"
            "    def __init__(self, num_envs=1, render_mode=None, buffers=None): super().__init__(buffers)\n"
            "    def _reset(self, seed): pass\n"
            "puffer_core.register(EnvSpec(name='nokeys', make=NoKeys))\n"
            "from puffer_envs.play import main\n"
            "sys.exit(main(['nokeys']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "cannot be played by hand" in done.stderr


def capture_made_envs(monkeypatch) -> list:
    import puffer_core

    made, real_make = [], puffer_core.make
    monkeypatch.setattr(puffer_core, "make", lambda *a, **k: made.append(real_make(*a, **k)) or made[-1])
    return made


def test_play_feeds_held_keys_to_the_env(puffer_display, monkeypatch, capsys):
    made = capture_made_envs(monkeypatch)
    monkeypatch.setattr(render, "pressed_keys", lambda: {"UP"})
    assert play.main(["pong", "--max-steps", "30", "--fps", "1000", "--env.frameskip", "1"]) == 0
    e = made[0].envs[0]
    assert e.paddle_y == 0.0  # UP held for 30 steps of 8 pixels: the paddle is at the top
    assert "played 30 steps" in capsys.readouterr().out


def test_turn_based_play_moves_once_per_key_press(puffer_display, monkeypatch, capsys):
    from puffer_envs_pong import Pong

    # A turn-based env answers None while no key is held; holding a key must not repeat the move.
    monkeypatch.setattr(Pong, "keys_to_action", lambda self, pressed: 1 if "UP" in pressed else None, raising=False)
    frames = iter([set()] * 2 + [{"UP"}] * 10 + [set()] * 2 + [{"UP"}] * 3)

    def keys():
        try:
            return next(frames)
        except StopIteration:
            raise KeyboardInterrupt from None  # quits play like Ctrl+C

    monkeypatch.setattr(render, "pressed_keys", keys)
    assert play.main(["pong", "--fps", "1000", "--env.frameskip", "1"]) == 0
    assert "played 2 steps" in capsys.readouterr().out
