"""raylib drawing of one Connect Four board (env 0) from its bitboards."""

from __future__ import annotations

from puffer_envs.render import Renderer

CELL = 80
COLORS = [(220, 60, 60, 255), (240, 200, 40, 255)]  # side 0 (the agent / row 0), side 1
BOARD = (30, 60, 160, 255)
HOLE = (10, 20, 40, 255)


class Connect4Renderer(Renderer):
    width, height = 7 * CELL, 6 * CELL + 70
    fps = 10
    title = "Puffer Connect Four"

    def draw(self, env):
        rl = self.rl
        e = env.envs[0]
        pieces = (int(e.pieces[0]), int(e.pieces[1]))
        self.rect(0, 0, 7 * CELL, 6 * CELL, BOARD)
        for col in range(7):
            for row in range(6):  # row 0 at the bottom, as in the bitboard
                bit = 1 << (7 * col + row)
                color = COLORS[0] if pieces[0] & bit else COLORS[1] if pieces[1] & bit else HOLE
                center = rl.Vector2(col * CELL + CELL / 2, (5 - row) * CELL + CELL / 2)
                rl.draw_circle_v(center, CELL * 0.4, color)
            self.text(str(col + 1), col * CELL + CELL / 2, 6 * CELL + 6, 20, center=True)
        if e.last_column >= 0:
            self.rect(e.last_column * CELL + 10, 6 * CELL + 30, CELL - 20, 4, COLORS[1 - e.to_move])
        self.text(f"red: agent   yellow: {'agent 2' if e.two_player else f'opponent {e.opponent}'}   "
                  f"to move: {'red' if e.to_move == 0 else 'yellow'}", 8, 6 * CELL + 44, 16)
