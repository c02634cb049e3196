"""raylib renderers of the sanity envs, drawing row 0 (agent 0) from the envs' Python state.

Choices are drawn as rows of numbered boxes (the number is the key that plays it in
`puffer-envs play`): the cue the agent sees is filled, the choice of the step that just ended an
episode is outlined, green when it paid and red when it did not. The one-step envs start a new
episode right after each step, so the cue shown is already the next one.
"""

from __future__ import annotations

import numpy as np
from puffer_envs.render import Renderer

BOX = (40, 60, 60, 255)
CUE = (0, 187, 187, 255)
RIGHT = (0, 200, 80, 255)  # a choice that paid
WRONG = (230, 60, 60, 255)  # a choice that did not
DRAW = (200, 200, 80, 255)  # neither (a drawn duel)
TYPED = (255, 200, 0, 255)  # human play: a component answered, step not played yet
CHOSEN = (255, 255, 255, 255)  # a choice whose own payoff is not known (multidiscrete pays per action)
POINT = (0, 255, 255, 255)
TARGET = (255, 140, 0, 255)
FIELD = (50, 80, 80, 255)


def paid_color(reward: float):
    return RIGHT if reward > 0 else WRONG


class SanityRenderer(Renderer):
    """Shared layout: a title line, then rows of choice boxes."""

    width, height = 640, 480
    name = "sanity"
    goal = ""
    box = 56  # largest box side; rows of many choices get smaller boxes
    gap = 8

    def __init__(self, env, **kwargs):
        kwargs.setdefault("title", f"Puffer {self.name}")
        super().__init__(env, **kwargs)

    def draw(self, env) -> None:
        self.text(f"{self.name}: {self.goal}", 16, 12, 20)
        self.draw_state(env)

    def draw_state(self, env) -> None:
        raise NotImplementedError

    @staticmethod
    def ended(env) -> bool:
        """The last step ended row 0's episode: its choice and reward are the ones to show."""
        return bool(env.terminals[0])

    # -- rows of choices --------------------------------------------------------------------------
    def box_rect(self, n: int, i: int, y: float) -> tuple[float, float, float, float]:
        """(x, y, w, h) of box i of a centered row of n boxes whose top is at y."""
        size = min(self.box, (self.width - 40) // n - self.gap)
        left = (self.width - n * (size + self.gap) + self.gap) / 2
        return left + i * (size + self.gap), y, size, size

    def row(self, label: str, y: float, n: int, fill: int | None = None, mark: int | None = None,
            mark_color=RIGHT, hidden: bool = False) -> None:
        """n numbered boxes under `label`: box `fill` in the cue color, box `mark` outlined in `mark_color`;
        `hidden` shows them blank (what the agent cannot see)."""
        self.text(label, 20, y - 24, 18)
        for i in range(n):
            x, y0, w, h = self.box_rect(n, i, y)
            self.rect(x, y0, w, h, CUE if i == fill else BOX)
            if w >= 16:
                self.text("?" if hidden else str((i + 1) % 10 if i < 10 else ""), x + w / 2, y0 + h / 2 - 9, 18,
                          center=True)
            if i == mark:
                self.rl.draw_rectangle_lines_ex(self.rl.Rectangle(x - 4, y0 - 4, w + 8, h + 8), 4, mark_color)


class BanditRenderer(SanityRenderer):
    name, goal = "sanity-bandit", "pull the arm the cue shows"

    def draw_state(self, env) -> None:
        self.row("cue (the observation)", 110, env.arms, fill=int(env.cue[0]))
        ended = self.ended(env)
        last, reward = int(env.actions[0]), float(env.rewards[0])
        self.row("last pull", 260, env.arms, mark=last if ended else None, mark_color=paid_color(reward))
        if ended:
            self.text(f"arm {last + 1}: reward {reward:g}", 20, 350, 20, paid_color(reward))


class MemoryRenderer(SanityRenderer):
    name, goal = "sanity-memory", "remember the cue, name it when asked"

    def draw_state(self, env) -> None:
        t, delay = int(env.t[0]), env.delay
        # The agent sees the cue at t=0 only: hide it afterwards, as its observation does.
        self.row("cue (shown at t=0 only)", 110, env.cues, fill=int(env.cue[0]) if t == 0 else None,
                 hidden=t > 0)
        self.text(f"t = {t} of {delay}", 20, 200, 20)
        for i in range(delay + 1):  # one tick per step, the query step last
            self.rect(140 + i * 30, 200, 24, 20, CUE if i <= t else BOX)
        if t == delay:
            self.text("QUERY: name the cue now", 20, 236, 20, TARGET)
        else:
            self.text(f"answer in {delay - t} step{'s' * (delay - t != 1)} (SPACE waits)", 20, 236, 20)
        ended = self.ended(env)
        reward = float(env.rewards[0])
        self.row("last answer", 310, env.cues, mark=int(env.actions[0]) if ended else None,
                 mark_color=paid_color(reward))


class ContinuousRenderer(SanityRenderer):
    name, goal = "sanity-continuous", "move the point onto the target"
    side = 400  # the [-1, 1]^2 square in pixels
    top = 48

    def to_screen(self, x: float, y: float) -> tuple[float, float]:
        """Pixel of world (x, y); y points up."""
        left = (self.width - self.side) / 2
        return left + (x + 1) / 2 * self.side, self.top + (1 - y) / 2 * self.side

    def draw_state(self, env) -> None:
        rl = self.rl
        x0, y0 = self.to_screen(-1, 1)
        rl.draw_rectangle_lines(int(x0), int(y0), self.side, self.side, FIELD)
        sx, sy = self.to_screen(-0.5, 0.5)  # where points and targets start
        rl.draw_rectangle_lines(int(sx), int(sy), self.side // 2, self.side // 2, BOX)
        tx, ty = self.to_screen(*env.target[0])
        px, py = self.to_screen(*env.pos[0])
        rl.draw_circle(int(tx), int(ty), 14, TARGET)
        rl.draw_circle(int(px), int(py), 8, POINT)
        distance = float(np.linalg.norm(env.pos[0] - env.target[0]))
        self.text(f"step {int(env.t[0])} of {env.steps}   distance {distance:.2f}   reward {env.rewards[0]:.2f}",
                  20, self.top + self.side + 6, 18)


class PairRenderer(SanityRenderer):
    """Two agents per env (rows 0 and 1) who both see the cue."""

    labels = ("agent 0", "agent 1")

    def draw_state(self, env) -> None:
        self.row("cue (both see it)", 100, env.n_actions, fill=int(env.cue[0]))
        ended = self.ended(env)
        for agent, label in enumerate(self.labels):
            reward = float(env.rewards[agent])
            self.row(f"{label}: last choice", 220 + 110 * agent, env.n_actions,
                     mark=int(env.actions[agent]) if ended else None, mark_color=self.color(reward))
        if ended:
            self.text(self.result(float(env.rewards[0])), 20, 420, 20)

    def color(self, reward: float):
        return paid_color(reward)

    def result(self, reward: float) -> str:
        raise NotImplementedError


class CoopRenderer(PairRenderer):
    name, goal = "sanity-coop", "both agents pick the same action"

    def result(self, reward: float) -> str:
        return "matched: both paid 1" if reward > 0 else "no match: 0 each"


class DuelRenderer(PairRenderer):
    name, goal = "sanity-duel", "be the only one to name the cue"
    labels = ("player 0", "player 1")

    def color(self, reward: float):
        return RIGHT if reward > 0 else WRONG if reward < 0 else DRAW

    def result(self, reward: float) -> str:
        return "player 0 wins" if reward > 0 else "player 1 wins" if reward < 0 else "draw"


class MultiDiscreteRenderer(SanityRenderer):
    name, goal = "sanity-multidiscrete", "match the cue of every component"

    def draw_state(self, env) -> None:
        ended = self.ended(env)
        typed = getattr(env, "typed", [])  # components answered in human play, step not played yet
        spacing = min(110, (self.height - 150) // len(env.nvec))
        for i, n in enumerate(env.nvec):
            if i < len(typed):
                mark, color = typed[i], TYPED
            else:
                mark, color = (int(env.actions[0, i]) if ended else None), CHOSEN
            self.row(f"component {i}: cue and last choice", 80 + spacing * i, int(n), fill=int(env.cue[0, i]),
                     mark=mark, mark_color=color)
        if ended:
            reward = float(env.rewards[0])
            self.text(f"last reward {reward:.2f} ({round(reward * len(env.nvec))} of {len(env.nvec)} matched)",
                      20, self.height - 56, 20, paid_color(reward))


class DictRenderer(SanityRenderer):
    name, goal = "sanity-dict", "name the cue, ignore the noise"

    def draw_state(self, env) -> None:
        game = env.env  # the Gymnasium env behind the emulation
        cues = int(game.action_space.n)
        self.row('obs["cue"]', 100, cues, fill=int(game.cue))
        self.text('obs["noise"]', 20, 186, 18)
        for i, v in enumerate(game.noise):  # one bar per value in [-1, 1], zero in the middle
            y, mid, span = 212 + 30 * i, self.width / 2, 200
            self.rect(mid - span, y, 2 * span, 20, BOX)
            self.rect(min(mid, mid + v * span), y, max(abs(v) * span, 2), 20, DRAW)
        ended = self.ended(env)
        reward = float(env.rewards[0])
        self.row("last answer", 340, cues, mark=int(env.actions[0]) if ended else None, mark_color=paid_color(reward))
