"""MOBA rules checked in C through the env structs (env.envs[0]), the shared map, the renderer,
the policy, and the conformance kit."""

from pathlib import Path

import numpy as np
import puffer_core
import pytest
from puffer_envs.testing import Conformance

KIND_HERO, KIND_TOWER, KIND_NEUTRAL, KIND_CREEP = 0, 1, 2, 3
FIRST_TOWER, FIRST_NEUTRAL, FIRST_CREEP, UNITS = 10, 34, 106, 206
NOOP = [3, 3, 0, 0, 0, 0]
PLANE = 121
NEVER = 1 << 30


def make(**kwargs):
    kwargs = {"num_envs": 1, "randomize_start": 0, **kwargs}
    env = puffer_core.make("moba", **kwargs)
    env.reset(seed=0)
    return env


def step(env, actions=None):
    env.actions[:] = NOOP
    for agent, action in (actions or {}).items():
        env.actions[agent] = action
    env.step(env.actions)


def tile(u):
    return int(u.y), int(u.x)


def clear(env, keep_towers=True):
    """An empty map: no heroes (kept dead), creeps or neutrals (camps never respawn), no waves."""
    e = env.envs[0]
    for i in range(UNITS):
        u = e.units[i]
        if u.kind == KIND_TOWER and keep_towers:
            continue
        u.alive = 0
        u.respawn_t = NEVER
    for c in range(18):
        e.camp_timer[c] = NEVER
    e.wave_timer = NEVER
    e.rebuild_grid = 1


def place(env, index, y, x):
    u = env.envs[0].units[index]
    u.alive, u.y, u.x, u.respawn_t, u.target = 1, y + 0.5, x + 0.5, 0, -1
    env.envs[0].rebuild_grid = 1
    return u


def add_creep(env, team, lane, y, x, hp=360.0):
    """A melee creep in the first free creep slot (fields as moba.h's spawner sets them)."""
    e = env.envs[0]
    index = next(i for i in range(FIRST_CREEP, UNITS) if not e.units[i].alive)
    u = e.units[index]
    env.ffi.memmove(env.ffi.addressof(e.units, index), bytes(env.ffi.sizeof("Unit")), env.ffi.sizeof("Unit"))
    u.kind, u.team, u.lane, u.entity = KIND_CREEP, team, lane, 7
    u.hp = u.max_hp = hp
    u.damage, u.range, u.attack_period, u.speed = 14.0, 1, 3, 0.6
    u.camp = -1
    place(env, index, y, x)
    return index


def log(env):
    return dict(zip(env.log_fields, env.pop_log_sums()))


# -- the map --------------------------------------------------------------------------------------
def test_map_file_is_symmetric_for_the_two_teams():
    from puffer_envs_moba import map_text

    rows = map_text().split()
    assert len(rows) == 128 and all(len(r) == 128 for r in rows)

    def side_free(c):
        return c if c == "N" else c.upper()

    for y in range(128):
        for x in range(128):
            a, b = rows[y][x], rows[x][y]
            assert side_free(a) == side_free(b), (y, x, a, b)
            if a.isalpha() and a != "N" and y != x:
                assert a.isupper() != b.isupper(), (y, x)  # team letters swap sides
    counts = {c: sum(r.count(c) for r in rows) for c in "NTtAaFf"}
    assert counts == {"N": 18, "T": 11, "t": 11, "A": 1, "a": 1, "F": 1, "f": 1}
    from puffer_envs_moba.mapgen import generate

    assert generate() == rows  # map.txt is what the generator makes


def test_shared_map_tables_are_mirror_images():
    env = make()
    m = env.map
    terrain = np.frombuffer(env.ffi.buffer(m.terrain), np.uint8).reshape(128, 128)
    assert (terrain == terrain.T).all()
    goal = np.frombuffer(env.ffi.buffer(m.goal_dist), np.uint16).reshape(2, 128, 128)
    assert (goal[0] == goal[1].T).all()
    walkable = terrain != 1
    assert (goal[0][walkable] < 65535).all()  # every open tile reaches the enemy ancient
    for slot in range(12):  # Dire's towers are Radiant's, transposed, tier for tier
        assert (m.tower_y[12 + slot], m.tower_x[12 + slot]) == (m.tower_x[slot], m.tower_y[slot])
        assert m.tower_tier[12 + slot] == m.tower_tier[slot]
    assert [m.tower_tier[s] for s in range(12)] == [1, 2, 3] * 3 + [4, 4, 5]
    # The map is shared: a second env object points at the same one.
    other = make()
    assert env.envs[0].map == other.envs[0].map


@pytest.mark.parametrize("damage", ["truncated", "asymmetric"])
def test_an_invalid_map_file_is_a_clear_error(monkeypatch, damage):
    import puffer_envs.cenv
    import puffer_envs_moba as pkg
    from puffer_core.errors import PufferError

    rows = pkg.map_text().split()
    if damage == "truncated":
        rows = rows[:100]
    else:  # a wall on one side of the diagonal only
        rows[40] = rows[40][:30] + "#" + rows[40][31:]
    monkeypatch.setattr(puffer_envs.cenv, "_SHARED", {})  # a fresh process's shared data
    monkeypatch.setattr(pkg, "map_text", lambda: "\n".join(rows) + "\n")
    with pytest.raises(PufferError, match="not a valid map"):
        pkg.Moba(num_envs=1)


def test_both_teams_see_the_same_game_from_their_side():
    env = make()
    for t in range(40):  # heroes idle at their fountains while the first creep wave walks out
        step(env)
        obs = env.observations
        for role in range(5):
            radiant, dire = obs[role].copy(), obs[5 + role].copy()
            assert radiant[4 * PLANE + 8] == 0 and dire[4 * PLANE + 8] == 255  # the team byte
            radiant[4 * PLANE + 8] = dire[4 * PLANE + 8] = 0
            assert (radiant == dire).all(), f"step {t}, role {role}"


def test_crop_shows_units_in_each_teams_frame():
    env = make()
    clear(env)
    e = env.envs[0]
    place(env, 0, 64, 63)  # Radiant support at the crop center (5, 5)
    place(env, 5, 40, 90)  # Dire support, far away
    creep = add_creep(env, team=1, lane=1, y=62, x=64)  # 2 up, 1 right of the Radiant hero
    e.units[creep].hp = 180.0
    e.units[creep].stun_t = 5  # stays put this step
    step(env)
    obs = env.observations[0]
    cell = (5 - 2) * 11 + (5 + 1)
    assert obs[cell] == 7 and obs[PLANE + cell] == 127 and obs[2 * PLANE + cell] == 255  # creep, half hp, enemy
    assert obs[5 * 11 + 5] == 2 and obs[2 * PLANE + 5 * 11 + 5] == 170  # itself: a support hero, ally
    assert obs[3 * PLANE + 5 * 11 + 5] == 85  # standing on a lane
    # Dire sees its world transposed: a Radiant creep 2 right and 1 up of the Dire hero shows up
    # 2 down and 1 left, as it would for Radiant in the mirrored position.
    e.units[creep].alive = 0
    place(env, 5, 63, 64)
    mirror = add_creep(env, team=0, lane=1, y=63 - 1, x=64 + 2)
    e.units[mirror].stun_t = 5
    e.units[0].alive = 0
    e.rebuild_grid = 1
    step(env)
    dire = env.observations[5]
    cell = (5 + 2) * 11 + (5 - 1)
    assert e.units[mirror].alive and dire[cell] == 7 and dire[2 * PLANE + cell] == 255


# -- rules ------------------------------------------------------------------------------------------
def test_tower_kills_a_lone_creep():
    env = make()
    clear(env)
    e = env.envs[0]
    tower = e.units[FIRST_TOWER]  # Radiant top tier-1
    ty, tx = tile(tower)
    creep = add_creep(env, team=1, lane=0, y=ty, x=tx - 2)
    steps = 0
    while e.units[creep].alive and steps < 40:
        step(env)
        steps += 1
    assert not e.units[creep].alive, "the tower did not kill the creep"
    assert steps < 30  # 360 hp at 90 per tower shot every 5 steps
    assert tower.alive and 0 < tower.hp < tower.max_hp  # the creep hit back before dying


def test_hero_levels_up_from_xp():
    env = make()
    clear(env)
    e = env.envs[0]
    hero = place(env, 0, 64, 63)  # Radiant support on the mid lane, away from towers
    before = (hero.max_hp, hero.max_mana, hero.damage)
    hero.xp = 90.0
    creep = add_creep(env, team=1, lane=1, y=63, x=64, hp=5.0)
    step(env, {0: [3, 3, 1, 0, 0, 0]})  # attack the nearest enemy
    assert not e.units[creep].alive
    assert hero.level == 2 and hero.xp == pytest.approx(30.0)  # 90 + 40 - 100 needed for level 2
    assert (hero.max_hp, hero.max_mana, hero.damage) == pytest.approx((before[0] + 40, before[1] + 28,
                                                                       before[2] + 2))
    assert env.rewards[0] == pytest.approx(e.reward_xp * 40.0)
    assert env.observations[0, 4 * PLANE + 2] == 2 * 255 // 30


def test_skill_costs_mana_and_goes_on_cooldown():
    env = make()
    clear(env)
    e = env.envs[0]
    burst = place(env, 2, 64, 63)  # Radiant burst; W is a stun bolt (70 mana, 30 steps, range 6)
    enemy = place(env, 7, 64, 67)  # Dire burst, 4 tiles away
    burst.mana = 100.0
    hp = enemy.hp
    step(env, {2: [3, 3, 0, 0, 1, 0]})
    assert burst.mana == pytest.approx(100.0 + burst.mana_regen - 70.0)
    assert burst.cd[1] == 30
    assert enemy.stun_t in (11, 12) and enemy.hp < hp - 30
    assert e.stats[2].w == 1
    w = 4 * PLANE + 11
    assert env.observations[2, w + 1] == 255 and env.observations[2, w + 4] == 0  # cooling down, not castable
    burst.mana = burst.max_mana
    step(env, {2: [3, 3, 0, 0, 1, 0]})  # on cooldown: nothing happens
    assert burst.cd[1] == 29 and e.stats[2].w == 1
    assert burst.mana == pytest.approx(burst.max_mana)


def test_destroyed_ancient_ends_the_game_for_the_right_winner():
    env = make()
    e = env.envs[0]
    log(env)
    ancient = e.units[FIRST_TOWER + 23]  # Dire's
    assert ancient.tier == 5 and ancient.team == 1
    carry = e.units[4]  # Radiant carry, range 4
    hp = ancient.hp
    ay, ax = tile(ancient)
    carry.alive = 0
    carry.mana = carry.max_mana
    place(env, 4, ay + 2, ax)
    step(env, {4: [3, 3, 2, 0, 0, 0]})
    assert ancient.hp == hp, "the ancient must be invulnerable while Dire's base towers stand"
    for base in (FIRST_TOWER + 21, FIRST_TOWER + 22):
        e.units[base].alive = 0
    ancient.hp = 1.0
    e.rebuild_grid = 1
    for _ in range(5):  # the carry's attack comes off cooldown
        step(env, {4: [3, 3, 2, 0, 0, 0]})
        if env.terminals.any():
            break
    assert env.terminals.all() and not env.truncations.any()  # terminal for all ten agents
    assert (env.rewards[:5] > 4).all() and (env.rewards[5:] < -4).all()
    stats = log(env)
    assert stats["n"] == 1 and stats["radiant_win"] == 1 and stats["dire_win"] == 0 and stats["timeout"] == 0
    assert stats["radiant_towers_taken"] == 1  # the ancient (base towers were removed by hand)
    assert ancient.alive and ancient.hp == ancient.max_hp and e.winner == -1  # a new game started
    step(env)
    assert not env.terminals.any()


def test_time_limit_truncates_and_more_towers_win():
    env = make(max_steps=50)
    for _ in range(50):
        step(env)
    assert env.truncations.all() and not env.terminals.any()
    stats = log(env)
    assert stats["n"] == 1 and stats["radiant_win"] == 0.5 and stats["timeout"] == 1 and stats["game_length"] == 50
    e = env.envs[0]
    for _ in range(49):
        step(env)
    e.towers_taken[1] = 1  # Dire took a tower
    e.units[FIRST_TOWER + 12].hp -= 1000  # Radiant hurt a Dire tower more, but that comes second
    step(env)
    stats = log(env)
    assert env.truncations.all() and stats["n"] == 1 and stats["radiant_win"] == 0 and stats["dire_win"] == 1
    for _ in range(49):
        step(env)
    e.units[FIRST_TOWER + 12].hp -= 10  # towers even: tower damage decides
    step(env)
    assert log(env)["radiant_win"] == 1


def test_tower_shoots_creeps_first_unless_a_hero_attacks_a_hero_under_it():
    env = make()
    clear(env)
    e = env.envs[0]
    tower = e.units[FIRST_TOWER]  # Radiant top tier-1
    ty, tx = tile(tower)
    creep = add_creep(env, team=1, lane=0, y=ty - 2, x=tx - 2)
    victim = place(env, 0, ty + 2, tx - 2)
    place(env, 9, ty + 4, tx - 2)  # Dire carry, range 4, also in the tower's range
    victim.hp = victim.max_hp = 5000.0
    step(env)
    assert tower.target == creep  # creeps before heroes
    step(env, {9: [3, 3, 2, 0, 0, 0]})  # the Dire carry shoots the Radiant hero under the tower
    assert victim.hp < victim.max_hp
    assert tower.target == 9


def test_hero_dies_and_respawns_at_its_fountain():
    env = make()
    e = env.envs[0]
    hero = e.units[0]
    hero.hp = 1.0
    hero.level = 3
    fy, fx = env.map.fountain_y[0], env.map.fountain_x[0]
    cy, cx = env.map.camp_y[0], env.map.camp_x[0]
    place(env, 0, cy, cx)  # in the middle of a camp (its 4 neutrals stand on the diagonals): attack it
    for _ in range(10):
        step(env, {0: [3, 3, 1, 0, 0, 0]})
        if not hero.alive:
            break
    assert not hero.alive and e.stats[0].deaths == 1
    assert env.rewards[0] <= e.reward_death + 0.1
    assert hero.respawn_t == 20 + 2 * 3 - 1 or hero.respawn_t == 20 + 2 * 3
    for _ in range(30):
        step(env)
    assert hero.alive and hero.hp == hero.max_hp
    assert max(abs(int(hero.y) - fy), abs(int(hero.x) - fx)) <= 6


def test_creep_waves_spawn_and_walk_their_lanes():
    env = make()
    e, m = env.envs[0], env.map
    step(env)  # tick 1: the first wave
    creeps = [i for i in range(FIRST_CREEP, UNITS) if e.units[i].alive]
    assert len(creeps) == 24  # 4 per lane per team
    start = {}
    for i in creeps:
        u = e.units[i]
        assert max(abs(int(u.y) - m.spawn_y[u.team][u.lane]), abs(int(u.x) - m.spawn_x[u.team][u.lane])) <= 3
        start[i] = m.lane_dist[u.team][u.lane][int(u.y) * 128 + int(u.x)]
    for _ in range(60):
        step(env)
    for i in creeps:
        u = e.units[i]
        y, x = tile(u)
        assert u.alive
        assert m.lane[y * 128 + x] == u.lane + 1 or m.terrain[y * 128 + x] == 4  # on its lane (or still in base)
        assert m.lane_dist[u.team][u.lane][y * 128 + x] < start[i] - 20  # and walking it toward the enemy
    for _ in range(e.wave_period - 60):
        step(env)
    fresh = [u for u in (e.units[i] for i in range(FIRST_CREEP, UNITS)) if u.alive and max(
        abs(int(u.y) - m.spawn_y[u.team][u.lane]), abs(int(u.x) - m.spawn_x[u.team][u.lane])) <= 3]
    assert len(fresh) == 24  # the second wave


def test_neutral_camps_respawn_when_cleared():
    env = make(camp_respawn=25)
    e = env.envs[0]
    camp = [FIRST_NEUTRAL + k for k in range(4)]
    assert all(e.units[i].alive and e.units[i].camp == 0 for i in camp)
    for i in camp:
        e.units[i].alive = 0
    e.rebuild_grid = 1
    step(env)
    assert e.camp_alive[0] == 0 and 0 < e.camp_timer[0] <= 25
    for _ in range(25):
        step(env)
    assert e.camp_alive[0] == 4 and all(e.units[i].alive for i in camp)
    cy, cx = env.map.camp_y[0], env.map.camp_x[0]
    assert all(max(abs(int(e.units[i].y) - cy), abs(int(e.units[i].x) - cx)) <= 3 for i in camp)


def test_scripted_opponents_push_and_fight():
    env = make(script_opponents=1, num_envs=2)
    assert env.num_agents == 10 and env.observations.shape == (10, 510)
    e, m = env.envs[0], env.map

    lanes = [2, 1, 0, 0, 2]  # by role: support bot, assassin mid, burst and tank top, carry bot

    def progress():  # distance left along each hero's lane
        return [m.lane_dist[1][lanes[h - 5]][int(e.units[h].y) * 128 + int(e.units[h].x)] for h in range(5, 10)]

    start = progress()
    best = list(start)
    for _ in range(400):
        step(env)
        best = [min(a, b) for a, b in zip(best, progress())]
    assert all(b < a - 40 for a, b in zip(start, best)), (start, best)  # each went out along its lane
    assert sum(e.stats[h].damage for h in range(5, 10)) > 0  # and fought what it met
    assert sum(e.stats[h].q + e.stats[h].w + e.stats[h].e for h in range(5, 10)) > 0


def test_games_desynchronize_at_reset():
    env = puffer_core.make("moba", num_envs=16)
    env.reset(seed=0)
    ticks = {env.envs[i].tick for i in range(16)}
    assert len(ticks) > 8


def test_threads_backend_shares_one_map():
    vec = puffer_core.vector.make("moba", backend="threads", num_env_objects=2, num_workers=2, seed=0,
                                  env_kwargs={"num_envs": 2})
    try:
        vec.async_reset(0)
        vec.recv()
        for _ in range(20):
            vec.actions[:] = NOOP
            vec.send(vec.actions)
            vec.recv()
        assert vec.num_agents == 40 and vec.observations[:, 4 * PLANE].all()  # every hero sees its health
        # One map per process, however many env objects: every game of every group points at it.
        games = [env.envs[i] for group in vec.groups for env in group for i in range(env.num_envs)]
        assert len(games) == 4 and len({g.map for g in games}) == 1
    finally:
        vec.close()


# -- the renderer and the policy ----------------------------------------------------------------------


def save_png(path: Path, frame: np.ndarray) -> None:
    import struct
    import zlib

    h, w, _ = frame.shape
    raw = b"".join(b"\x00" + frame[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_rgb_array_frame_shows_the_map_bases_and_units(puffer_display, tmp_path):
    from puffer_envs_moba.render import DIRE_BASE, HEADER, RADIANT_BASE, TEAM, TILE

    env = make(render_mode="rgb_array")
    try:
        for _ in range(120):
            step(env)
        frame = env.render()
        save_png(tmp_path / "moba.png", frame)
        assert frame.shape == (128 * TILE + HEADER, 128 * TILE, 3) and frame.dtype == np.uint8

        def pixel(y, x):  # center of a tile
            return tuple(frame[HEADER + y * TILE + TILE // 2, x * TILE + TILE // 2])

        assert pixel(103, 3) == RADIANT_BASE and pixel(3, 103) == DIRE_BASE
        e = env.envs[0]
        for index in (FIRST_TOWER + 11, FIRST_TOWER + 23):  # both ancients
            u = e.units[index]
            assert pixel(int(u.y), int(u.x)) == TEAM[u.team][:3]
        colors = {tuple(c) for c in frame.reshape(-1, 3)[:: 7]}
        assert TEAM[0][:3] in colors and TEAM[1][:3] in colors and TEAM[2][:3] in colors  # heroes, neutrals
    finally:
        env.close()


def test_keys_to_action_moves_attacks_and_casts():
    env = make()
    assert list(env.keys_to_action(set())) == NOOP
    assert list(env.keys_to_action({"UP", "RIGHT", "SPACE", "Q", "E"})) == [0, 6, 1, 1, 0, 1]
    assert list(env.keys_to_action({"DOWN", "H", "W"})) == [6, 3, 2, 0, 1, 0]


def test_policy_forward():
    torch = pytest.importorskip("torch")
    from puffer_envs_moba.policy import Policy

    env = make()
    policy = Policy(env.single_observation_space, env.single_action_space, hidden_size=64)
    hidden = policy.encode_observations(torch.from_numpy(env.observations))
    logits, value = policy.decode_actions(hidden)
    assert hidden.shape == (10, 64) and value.shape == (10, 1)
    assert [tuple(x.shape) for x in logits] == [(10, n) for n in (7, 7, 3, 2, 2, 2)]
    spec = puffer_core.registry.get_spec("moba")
    assert spec.team_size == 5 and spec.outcome_field in env.log_fields
    assert spec.policy == "puffer_envs_moba.policy:Policy"


# -- the conformance kit ---------------------------------------------------------------------------
class TestMobaConformance(Conformance):
    env = "moba"
    kwargs = {"num_envs": 4}
    soak_steps = 100_000


class TestScriptedMobaConformance(Conformance):
    env = "moba"
    kwargs = {"num_envs": 4, "script_opponents": 1, "max_steps": 300}
    soak_steps = 100_000


# -- final observations ---------------------------------------------------------------------------
SELF = 4 * PLANE  # the self features after the four crop planes
SENTINEL = 77


def test_time_limit_final_observations_are_the_last_state_of_the_game():
    """A twin with no time limit plays the same game on: its observation at the limit's step is what
    the final observation must be, but for the time channel (self feature 22: tick / max_steps)."""
    env = make(max_steps=50, final_observations=True)
    twin = make(max_steps=10**6)
    plain = make(max_steps=50)  # final observations off: the same game, byte for byte
    env.final_observations[:] = SENTINEL
    for t in range(50):
        step(env)
        step(twin)
        step(plain)
        for a, b in [(env.observations, plain.observations), (env.rewards, plain.rewards),
                     (env.truncations, plain.truncations)]:
            np.testing.assert_array_equal(a, b)
        assert env.truncations.all() == (t == 49)
        if t < 49:
            assert (env.final_observations == SENTINEL).all()  # nothing ended: rows untouched
    time = SELF + 22
    others = np.arange(env.observations.shape[1]) != time
    np.testing.assert_array_equal(env.final_observations[:, others], twin.observations[:, others])
    assert (env.final_observations[:, time] == 255).all()  # the game's last tick
    assert (env.observations[:, time] == 0).all() and not np.array_equal(env.final_observations, env.observations)


def test_destroyed_ancient_final_observations_show_where_the_game_ended():
    env = make(final_observations=True)
    e = env.envs[0]
    ancient = e.units[FIRST_TOWER + 23]
    for base in (FIRST_TOWER + 21, FIRST_TOWER + 22):
        e.units[base].alive = 0
    ancient.hp = 1.0
    ay, ax = tile(ancient)
    carry = e.units[4]
    carry.mana = carry.max_mana
    place(env, 4, ay + 2, ax)
    env.final_observations[:] = SENTINEL
    for _ in range(5):
        step(env, {4: [3, 3, 2, 0, 0, 0]})
        if env.terminals.any():
            break
        assert (env.final_observations == SENTINEL).all()
    assert env.terminals.all()
    final, now = env.final_observations[4], env.observations[4]
    assert (final[SELF + 9], final[SELF + 10]) == (2 * (ay + 2), 2 * ax)  # by the ancient (Radiant frame)
    assert (now[SELF + 9], now[SELF + 10]) != (final[SELF + 9], final[SELF + 10])  # back at the fountain
    assert final[5 * 11 + 5] == 2 + 4  # the crop centres on the carry (ENT_HERO + ROLE_CARRY)
    assert (env.final_observations != SENTINEL).any(axis=1).all()  # every agent row written
