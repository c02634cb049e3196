"""Draws the grid with raylib from env.envs[0]'s fields (puffer_envs.render.Renderer)."""

from puffer_envs.render import Renderer

GRID = (40, 60, 60, 255)
AGENT = (0, 187, 187, 255)
TARGET = (230, 180, 100, 255)
CELL = 48


class {{ cookiecutter.class_name }}Renderer(Renderer):
    title = "{{ cookiecutter.class_name }}"
    fps = 8

    def __init__(self, env, **kwargs):
        size = env.envs[0].size
        super().__init__(env, width=size * CELL, height=size * CELL, **kwargs)

    def draw(self, env) -> None:
        e = env.envs[0]
        for i in range(e.size + 1):
            self.rect(i * CELL, 0, 1, e.size * CELL, GRID)
            self.rect(0, i * CELL, e.size * CELL, 1, GRID)
        self.rect(e.target_x * CELL + 4, e.target_y * CELL + 4, CELL - 8, CELL - 8, TARGET)
        self.rect(e.agent_x * CELL + 10, e.agent_y * CELL + 10, CELL - 20, CELL - 20, AGENT)
