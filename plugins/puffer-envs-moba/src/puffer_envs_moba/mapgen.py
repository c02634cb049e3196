"""Generates map.txt, the 128x128 DOTA-style map the C game parses once per process.

    python -m puffer_envs_moba.mapgen > src/puffer_envs_moba/map.txt

Radiant's base is in the bottom-left corner, Dire's in the top-right. The map is symmetric under
transposition ((y, x) -> (x, y)), which swaps the two teams and maps every lane onto itself, so the
game looks the same to both sides. Legend (also in README.md):

    #  wall            .  jungle floor     ~  river           +  base floor
    1  top lane        2  mid lane         3  bot lane        N  neutral camp (4 neutrals)
    A  Radiant ancient T  Radiant tower    F  Radiant fountain (heroes spawn here)
    X  Radiant top creep spawn  Y  mid  Z  bot
    and the same in lower case for Dire (a, t, f, x, y, z).
"""

from __future__ import annotations

import random

SIZE = 128

# Radiant's half (below the main diagonal, y > x); Dire's is the transpose.
RADIANT_TOWERS = [
    (40, 10), (66, 10), (95, 10),      # top lane: tier 1, 2, 3
    (78, 52), (88, 42), (96, 34),      # mid lane
    (117, 80), (117, 56), (117, 33),   # bot lane
    (108, 17), (111, 20),              # base (tier 4), guarding the ancient
]
RADIANT_ANCIENT = (113, 14)
RADIANT_FOUNTAIN = (122, 5)
RADIANT_SPAWNS = {"X": (101, 7), "Y": (102, 25), "Z": (119, 26)}  # top, mid, bot lane creep spawns
RADIANT_CAMPS = [(45, 20), (62, 18), (80, 28), (58, 36), (94, 48), (110, 62), (96, 72), (108, 92), (86, 60)]


def in_base(y: int, x: int) -> bool:
    """Radiant's base: the walled bottom-left corner."""
    return y >= 100 and x <= 27


def lane_of(y: int, x: int) -> str | None:
    """Lane id at a tile in Radiant's half (the transpose gives Dire's half)."""
    if 6 <= x <= 9 and 6 <= y <= 104:
        return "1"
    if 118 <= y <= 121 and 23 <= x <= 121:
        return "3"
    if abs(y + x - 127) <= 2 and 23 <= x <= 104:
        return "2"
    return None


def generate(seed: int = 7) -> list[str]:
    grid = [["." for _ in range(SIZE)] for _ in range(SIZE)]
    for y in range(SIZE):
        for x in range(SIZE):
            if y < 2 or x < 2 or y >= SIZE - 2 or x >= SIZE - 2:
                grid[y][x] = "#"
                continue
            if y < x:
                continue  # filled by the transpose below
            if in_base(y, x):
                # A wall ring around the base with openings where the lanes leave it.
                grid[y][x] = "#" if (y <= 100 or x >= 26) else "+"
            if abs(y - x) <= 1:
                grid[y][x] = "~"
            lane = lane_of(y, x)
            if lane:
                grid[y][x] = lane
    # Jungle walls: seeded rectangles away from lanes, river, bases and camps.
    rng = random.Random(seed)
    clear = set()
    for cy, cx in RADIANT_CAMPS + RADIANT_TOWERS:
        clear |= {(cy + dy, cx + dx) for dy in range(-3, 4) for dx in range(-3, 4)}

    def free(y, x):
        if not (2 < y < SIZE - 3 and 2 < x < SIZE - 3) or y - x < 4 or (y, x) in clear:
            return False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                cell = grid[y + dy][x + dx]
                if cell in "123~+" or in_base(y + dy, x + dx):
                    return False
        return True

    for _ in range(400):
        h, w = rng.randint(2, 5), rng.randint(2, 6)
        y, x = rng.randint(12, 116), rng.randint(12, 110)
        cells = [(y + i, x + j) for i in range(h) for j in range(w)]
        if all(free(cy, cx) for cy, cx in cells):
            for cy, cx in cells:
                grid[cy][cx] = "#"
    marks = [(p, "T") for p in RADIANT_TOWERS] + [(p, "N") for p in RADIANT_CAMPS]
    marks += [(RADIANT_ANCIENT, "A"), (RADIANT_FOUNTAIN, "F")] + [(p, c) for c, p in RADIANT_SPAWNS.items()]
    for (y, x), c in marks:
        grid[y][x] = c
    # Dire's half is the transpose of Radiant's, with team letters in lower case.
    for y in range(SIZE):
        for x in range(y + 1, SIZE):
            c = grid[x][y]
            grid[y][x] = c.lower() if c.isalpha() and c != "N" else c
    # Floor that the fountain cannot reach becomes wall (no unreachable pockets).
    fy, fx = RADIANT_FOUNTAIN
    seen, stack = {(fy, fx)}, [(fy, fx)]
    while stack:
        y, x = stack.pop()
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            q = (y + dy, x + dx)
            if q not in seen and grid[q[0]][q[1]] != "#":
                seen.add(q)
                stack.append(q)
    for y in range(SIZE):
        for x in range(SIZE):
            if grid[y][x] != "#" and (y, x) not in seen:
                grid[y][x] = "#"
    return ["".join(row) for row in grid]


if __name__ == "__main__":
    print("\n".join(generate()))
