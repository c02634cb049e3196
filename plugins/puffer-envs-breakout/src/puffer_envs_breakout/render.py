"""raylib drawing of Breakout from the env struct's fields (env 0)."""

from __future__ import annotations

from puffer_envs.render import Renderer

# Atari brick colors, top row first: red, orange, yellow, green, aqua, blue.
ROW_COLORS = [(200, 72, 72, 255), (198, 108, 58, 255), (180, 122, 48, 255),
              (162, 162, 42, 255), (72, 160, 72, 255), (66, 72, 200, 255)]
COLS, ROWS = 18, 6
BRICK_W, BRICK_H, BRICK_TOP = 32, 12, 70
PADDLE_Y, PADDLE_H, BALL = 310, 8, 8
PLAYFIELD_W, PLAYFIELD_H = 576, 330


class BreakoutRenderer(Renderer):
    width, height = PLAYFIELD_W, PLAYFIELD_H + 40  # a strip below for score and lives
    fps = 15
    title = "Puffer Breakout"
    background = (0, 0, 0, 255)

    def draw(self, env):
        e = env.envs[0]
        for b in range(COLS * ROWS):
            if e.bricks[b]:
                row, col = divmod(b, COLS)
                self.rect(col * BRICK_W + 1, BRICK_TOP + row * BRICK_H + 1, BRICK_W - 2, BRICK_H - 2, ROW_COLORS[row])
        self.rect(e.paddle_x, PADDLE_Y, e.paddle_w, PADDLE_H, ROW_COLORS[0])
        self.rect(e.ball_x, e.ball_y, BALL, BALL, (236, 236, 236, 255))
        self.rect(0, PLAYFIELD_H, PLAYFIELD_W, 2, (142, 142, 142, 255))
        self.text(f"score {e.score}   lives {e.lives}   wall {e.wall + 1}", 8, PLAYFIELD_H + 10, 20)
