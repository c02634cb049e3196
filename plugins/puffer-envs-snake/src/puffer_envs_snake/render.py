"""raylib drawing of one Snake world (env 0) from its grid, through a texture updated each frame."""

from __future__ import annotations

import numpy as np
from puffer_envs.render import Renderer

# Cell code -> RGBA: empty, food, corpse, wall, body, head (codes of snake.h's grid).
PALETTE = np.array([[6, 24, 24, 255], [0, 200, 80, 255], [150, 110, 40, 255], [90, 90, 90, 255],
                    [0, 140, 200, 255], [230, 230, 230, 255]], np.uint8)
PLAYER = np.array([230, 70, 70, 255], np.uint8)  # snake 0, the one `puffer-envs play` steers


class SnakeRenderer(Renderer):
    fps = 10
    title = "Puffer Snake"

    def __init__(self, env, **kwargs):
        config = env.config
        self.grid_w, self.grid_h, self.vision = config["width"], config["height"], config["vision"]
        self.scale = max(1, min(1280 // self.grid_w, 720 // self.grid_h, 16))
        kwargs.setdefault("width", self.grid_w * self.scale)
        kwargs.setdefault("height", self.grid_h * self.scale)
        super().__init__(env, **kwargs)
        rl = self.rl
        self.rgba = np.zeros((self.grid_h, self.grid_w, 4), np.uint8)
        blank = rl.gen_image_color(self.grid_w, self.grid_h, rl.BLACK)
        self.texture = rl.load_texture_from_image(blank)
        rl.unload_image(blank)

    def draw(self, env):
        e = env.envs[0]
        v, stride = self.vision, self.grid_w + 2 * self.vision
        padded = np.frombuffer(env.ffi.buffer(e.grid, (self.grid_h + 2 * v) * stride), np.uint8)
        grid = padded.reshape(self.grid_h + 2 * v, stride)[v:v + self.grid_h, v:v + self.grid_w]
        self.rgba[:] = PALETTE[np.minimum(grid, len(PALETTE) - 1)]
        # Snake 0 in its own color: walk its ring buffer of padded cell indices from the head.
        length, max_len = e.length[0], env.config["max_snake_length"]
        for k in range(length):
            cell = e.body[(e.head[0] - k) % max_len]
            self.rgba[cell // stride - v, cell % stride - v] = PLAYER
        rl = self.rl
        rl.update_texture(self.texture, self.ffi.cast("void *", self.rgba.ctypes.data))
        rl.draw_texture_ex(self.texture, rl.Vector2(0, 0), 0.0, float(self.scale), rl.WHITE)

    def close(self):
        if not self.closed:
            self.rl.unload_texture(self.texture)
        super().close()
