"""Pong drawn with raylib from the C struct's fields (env.envs[0])."""

from puffer_envs.render import Renderer

FIELD_LINES = (50, 80, 80, 255)
OPPONENT = (255, 64, 64, 255)  # scripted paddle, left
AGENT = (0, 255, 255, 255)  # agent paddle, right
BALL = (255, 255, 255, 255)
SCORE = (0, 187, 187, 255)


class PongRenderer(Renderer):
    title = "Puffer Pong"

    def __init__(self, env, **kwargs):
        e = env.envs[0]
        super().__init__(env, width=int(e.width), height=int(e.height), **kwargs)

    def draw(self, env) -> None:
        e = env.envs[0]
        # Field: border and a dashed center line.
        self.rl.draw_rectangle_lines(0, 0, self.width, self.height, FIELD_LINES)
        for y in range(0, self.height, 24):
            self.rect(self.width / 2 - 2, y + 6, 4, 12, FIELD_LINES)
        # Paddles sit just behind their faces (see c_init in pong.h).
        self.rect(e.left_face - e.paddle_width, e.opponent_y, e.paddle_width, e.paddle_height, OPPONENT)
        self.rect(e.right_face, e.paddle_y, e.paddle_width, e.paddle_height, AGENT)
        self.rect(e.ball_x, e.ball_y, e.ball_size, e.ball_size, BALL)
        self.text(str(e.opponent_score), self.width / 2 - 60, 16, 40, SCORE, center=True)
        self.text(str(e.score), self.width / 2 + 60, 16, 40, SCORE, center=True)
