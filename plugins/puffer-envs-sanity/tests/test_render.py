"""The sanity envs' raylib renderers and human play, for real (Xvfb when DISPLAY is unset)."""

import os
import subprocess
import sys

import numpy as np
import puffer_core
import pytest
from puffer_core.errors import ConfigError

pytest.importorskip("pyray", reason="rendering needs the raylib extra: pip install 'puffer-envs-sanity[render]'")
pytest.importorskip("puffer_envs", reason="rendering needs puffer-envs: pip install 'puffer-envs-sanity[render]'")

from puffer_envs_sanity import render  # noqa: E402  (needs puffer_envs)

NAMES = ["bandit", "memory", "continuous", "coop", "multidiscrete", "dict", "duel"]


def make(name, **kwargs):
    if name != "dict":  # the emulated Gymnasium env is one copy, without num_envs
        kwargs.setdefault("num_envs", 1)
    return puffer_core.make(f"sanity-{name}", **kwargs)


def color_at(frame, y, x):
    return (*(int(c) for c in frame[int(y), int(x)]), 255)


def box_fill(frame, renderer, n, i, y):
    """Color inside box i of a row (a corner, away from the number drawn in the middle)."""
    x, y, _, _ = renderer.box_rect(n, i, y)
    return color_at(frame, y + 4, x + 4)


def box_outline(frame, renderer, n, i, y):
    """Color of the outline drawn around box i when it is the marked choice."""
    x, y, _, h = renderer.box_rect(n, i, y)
    return color_at(frame, y + h / 2, x - 2)


@pytest.mark.parametrize("name", NAMES)
def test_every_env_renders_a_frame(puffer_display, name):
    env = make(name, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        first = env.render()
        assert first.shape == (480, 640, 3) and first.dtype == np.uint8
        assert len(np.unique(first.reshape(-1, 3), axis=0)) > 2  # background, boxes, text at least
        actions = np.stack([env.single_action_space.sample() for _ in range(env.num_agents)])
        env.step(actions)
        assert (env.render() != first).any()  # a new cue, a marked choice, a moved point...
    finally:
        env.close()


def test_no_render_mode_draws_nothing_and_a_bad_one_is_an_error():
    env = make("bandit")
    assert env.render() is None
    with pytest.raises(ConfigError, match="render_mode"):
        make("bandit", render_mode="ascii")


def test_bandit_frame_shows_the_cue_and_the_last_pull(puffer_display):
    env = make("bandit", arms=5, render_mode="rgb_array")
    try:
        env.reset(seed=1)
        frame = env.render()
        view, cue = env._renderer, int(env.cue[0])
        assert [box_fill(frame, view, 5, i, 110) for i in range(5)] == \
            [render.CUE if i == cue else render.BOX for i in range(5)]
        assert all(box_outline(frame, view, 5, i, 260) == (*render.Renderer.background[:3], 255)
                   for i in range(5))  # nothing pulled yet

        env.step(np.array([cue]))  # right: the pulled arm is outlined green
        frame = env.render()
        assert box_outline(frame, view, 5, cue, 260) == render.RIGHT
        wrong = (int(env.cue[0]) + 1) % 5
        env.step(np.array([wrong]))
        frame = env.render()
        assert box_outline(frame, view, 5, wrong, 260) == render.WRONG
        assert box_fill(frame, view, 5, int(env.cue[0]), 110) == render.CUE  # the next cue
    finally:
        env.close()


def test_continuous_frame_puts_point_and_target_where_they_are(puffer_display):
    env = make("continuous", render_mode="rgb_array")
    try:
        env.reset(seed=0)
        env.pos[0], env.target[0] = (-0.6, 0.4), (0.5, -0.3)
        frame = env.render()
        view = env._renderer
        assert color_at(frame, *view.to_screen(0.5, -0.3)[::-1]) == render.TARGET
        assert color_at(frame, *view.to_screen(-0.6, 0.4)[::-1]) == render.POINT
        assert color_at(frame, *view.to_screen(0.0, 0.8)[::-1]) != render.TARGET

        env.step(np.array([[1.0, 0.0]], np.float32))  # the point moves right by 1
        frame = env.render()
        assert color_at(frame, *view.to_screen(0.4, 0.4)[::-1]) == render.POINT
        assert color_at(frame, *view.to_screen(-0.6, 0.4)[::-1]) != render.POINT
    finally:
        env.close()


def test_memory_frame_hides_the_cue_after_t0(puffer_display):
    env = make("memory", cues=3, delay=2, render_mode="rgb_array")
    try:
        env.reset(seed=2)
        cue = int(env.cue[0])
        frame = env.render()
        view = env._renderer
        assert box_fill(frame, view, 3, cue, 110) == render.CUE
        env.step(np.array([0]))
        frame = env.render()
        assert all(box_fill(frame, view, 3, i, 110) == render.BOX for i in range(3))
        env.step(np.array([0]))
        env.step(np.array([cue]))  # the query step: answered right, and a new episode shows its cue
        frame = env.render()
        assert box_outline(frame, view, 3, cue, 310) == render.RIGHT
        assert box_fill(frame, view, 3, int(env.cue[0]), 110) == render.CUE
    finally:
        env.close()


def test_duel_frame_colors_winner_and_loser(puffer_display):
    env = make("duel", render_mode="rgb_array")
    try:
        env.reset(seed=3)
        cue = int(env.cue[0])
        wrong = (cue + 1) % 4
        env.step(np.array([wrong, cue]))  # player 1 alone names the cue
        frame = env.render()
        view = env._renderer
        assert box_outline(frame, view, 4, wrong, 220) == render.WRONG
        assert box_outline(frame, view, 4, cue, 330) == render.RIGHT
    finally:
        env.close()


def test_keys_to_action():
    bandit, continuous, multi = make("bandit"), make("continuous"), make("multidiscrete")
    assert bandit.keys_to_action(set()) is None
    assert bandit.keys_to_action({"THREE"}) == 2
    assert bandit.keys_to_action({"FIVE"}) is None  # 4 arms
    assert continuous.keys_to_action(set()) is None
    assert continuous.keys_to_action({"UP", "LEFT"}).tolist() == [-0.25, 0.25]
    assert continuous.keys_to_action({"SPACE"}).tolist() == [0.0, 0.0]
    # MultiDiscrete([2, 3, 4]): one number key per component, the step comes with the last one.
    assert multi.keys_to_action({"TWO"}) is None
    assert multi.keys_to_action({"FOUR"}) is None  # out of range for component 1: ignored
    assert multi.keys_to_action({"THREE"}) is None
    assert multi.keys_to_action({"FOUR"}).tolist() == [1, 2, 3]
    assert multi.typed == []


# The sanity envs are turn-based: play waits for key presses, so the child process gets a scripted
# keyboard (a press every other frame) and otherwise runs the real CLI with a real window.
PLAY = """
import sys
from puffer_envs import cli, render
frames = iter(range(10**6))
render.pressed_keys = lambda: {{"ONE", "UP", "SPACE"}} if next(frames) % 2 else set()
sys.exit(cli.main(["play", "sanity-{name}", "--max-steps", "20", "--fps", "1000"]))
"""


@pytest.mark.parametrize("name", ["bandit", "continuous", "multidiscrete"])
def test_play_runs_with_a_keyboard(puffer_display, name):
    env = {**os.environ, "DISPLAY": puffer_display}
    done = subprocess.run([sys.executable, "-c", PLAY.format(name=name)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "played 20 steps" in done.stdout
    if name == "bandit":
        assert "20 episodes finished" in done.stdout  # one step each
