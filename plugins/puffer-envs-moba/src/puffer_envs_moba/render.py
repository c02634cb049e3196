"""The whole 128x128 map drawn with raylib from the C structs (env.envs[0] and the shared map)."""

from __future__ import annotations

import numpy as np
from puffer_envs.render import Renderer

TILE = 6  # pixels per tile
HEADER = 28  # text bar above the map
# Terrain colors by TER_* code (floor, wall, river, lane, base); bases are tinted by side below.
TERRAIN = np.array([(38, 66, 38), (14, 30, 18), (40, 90, 150), (118, 104, 78), (0, 0, 0)], np.uint8)
RADIANT_BASE = (46, 96, 62)
DIRE_BASE = (100, 46, 42)
TEAM = ((40, 220, 90, 255), (235, 60, 50, 255), (230, 200, 60, 255))  # radiant, dire, neutral
CREEP = ((120, 240, 150, 255), (250, 140, 120, 255))
HEALTH_BACK = (30, 30, 30, 255)
HEALTH = (60, 230, 60, 255)
PLAYER = (255, 255, 0, 255)
ROLE_LETTERS = "SABTC"  # support, assassin, burst, tank, carry
KIND_HERO, KIND_TOWER, KIND_NEUTRAL, KIND_CREEP = 0, 1, 2, 3


def terrain_image(env) -> np.ndarray:
    """(128, 128, 4) RGBA of the map's terrain, bases tinted by their side."""
    size = 128
    terrain = np.frombuffer(env.ffi.buffer(env.map.terrain), np.uint8).reshape(size, size)
    rgba = np.full((size, size, 4), 255, np.uint8)
    rgba[..., :3] = TERRAIN[terrain]
    ys, xs = np.mgrid[0:size, 0:size]
    base = terrain == 4
    rgba[base & (ys > xs), :3] = RADIANT_BASE
    rgba[base & (ys <= xs), :3] = DIRE_BASE
    return rgba


class MobaRenderer(Renderer):
    title = "Puffer MOBA"
    fps = 20

    def __init__(self, env, **kwargs):
        super().__init__(env, width=128 * TILE, height=128 * TILE + HEADER, **kwargs)
        rl = self.rl
        self.rgba = np.ascontiguousarray(terrain_image(env))
        image = rl.gen_image_color(128, 128, rl.BLACK)
        self.texture = rl.load_texture_from_image(image)
        rl.unload_image(image)
        rl.update_texture(self.texture, self.ffi.cast("void *", self.rgba.ctypes.data))

    def bar(self, x: float, y: float, width: float, frac: float) -> None:
        self.rect(x, y, width, 2, HEALTH_BACK)
        self.rect(x, y, width * max(0.0, min(1.0, frac)), 2, HEALTH)

    def draw(self, env) -> None:
        rl = self.rl
        e = env.envs[0]
        rl.draw_texture_ex(self.texture, rl.Vector2(0, HEADER), 0.0, float(TILE), rl.WHITE)
        heroes = []
        for i in range(206):
            u = e.units[i]
            if not u.alive:
                continue
            x, y = u.x * TILE, u.y * TILE + HEADER
            frac = u.hp / u.max_hp if u.max_hp > 0 else 0.0
            if u.kind == KIND_HERO:
                heroes.append((i, u, x, y, frac))  # drawn last, on top
            elif u.kind == KIND_TOWER:
                size = 16 if u.tier == 5 else 10
                self.rect(x - size / 2, y - size / 2, size, size, TEAM[u.team])
                rl.draw_rectangle_lines(int(x - size / 2), int(y - size / 2), size, size, (0, 0, 0, 255))
                self.bar(x - size / 2, y - size / 2 - 4, size, frac)
            elif u.kind == KIND_CREEP:
                self.rect(x - 2, y - 2, 4, 4, CREEP[u.team])
            else:
                self.rect(x - 2, y - 2, 4, 4, TEAM[2])
        for i, u, x, y, frac in heroes:
            if i == 0:  # agent 0: the hero a human plays
                rl.draw_circle_lines(int(x), int(y), 9.0, PLAYER)
            rl.draw_circle(int(x), int(y), 6.0, TEAM[u.team])
            rl.draw_circle_lines(int(x), int(y), 6.0, (255, 255, 255, 255))
            self.text(ROLE_LETTERS[u.role], x - 3, y - 4, 10, (0, 0, 0, 255))
            self.bar(x - 7, y - 10, 14, frac)
        levels = " ".join(str(e.units[h].level) for h in range(10))
        self.text(f"t {e.tick}  towers taken R {e.towers_taken[0]} D {e.towers_taken[1]}  levels {levels}",
                  8, 6, 16)

    def close(self) -> None:
        if not self.closed:
            self.rl.unload_texture(self.texture)
        super().close()
