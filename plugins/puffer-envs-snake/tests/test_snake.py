"""Snake's rules checked in C by setting up worlds through env.envs[0] (grid and ring buffers), the
observation crop against a numpy reference, rendering, and the conformance kit."""


import numpy as np
import puffer_core
import pytest
from puffer_core.errors import ConfigError
from puffer_envs.testing import Conformance, check_final_observations, factory
from puffer_envs_snake import BODY, CORPSE, EMPTY, FOOD, HEAD, OWN_BODY, OWN_HEAD, WALL

UP, DOWN, LEFT, RIGHT = range(4)
SMALL = {"num_envs": 1, "width": 20, "height": 12, "num_snakes": 2, "num_food": 0, "vision": 2,
         "max_snake_length": 10, "reward_food": 0.5, "reward_corpse": 0.25, "reward_death": -1.0}


class World:
    """Test access to env 0's padded grid and snakes, in unpadded (row, col) coordinates."""

    def __init__(self, **kwargs):
        self.env = puffer_core.make("snake", **{**SMALL, **kwargs})
        self.env.reset(seed=0)
        self.e = self.env.envs[0]
        c = self.env.config
        self.v, self.w, self.h, self.max_len = c["vision"], c["width"], c["height"], c["max_snake_length"]
        self.stride = self.w + 2 * self.v
        size = (self.h + 2 * self.v) * self.stride
        self.padded = np.frombuffer(self.env.ffi.buffer(self.e.grid, size), np.uint8).reshape(-1, self.stride)
        self.grid = self.padded[self.v:self.v + self.h, self.v:self.v + self.w]  # a writable view
        self.clear()

    def clear(self):
        """Empty the world and park every snake as a length-1 snake in the top row, facing down."""
        self.grid[:] = EMPTY
        self.e.food = 0
        for i in range(self.env.config["num_snakes"]):
            self.put(i, [(0, 2 * i)], DOWN)

    def cell(self, r, c):
        return (r + self.v) * self.stride + c + self.v

    def rc(self, cell):
        return cell // self.stride - self.v, cell % self.stride - self.v

    def body(self, i):
        """Snake i's cells, head first."""
        return [self.rc(self.e.body[i * self.max_len + (self.e.head[i] - k) % self.max_len])
                for k in range(self.e.length[i])]

    def put(self, i, cells, direction):
        """Place snake i on `cells` (head first), removing it from where it was."""
        if self.e.length[i]:
            for r, c in self.body(i):
                self.grid[r, c] = EMPTY
        for k, (r, c) in enumerate(reversed(cells)):  # the ring holds the tail first, the head last
            self.e.body[i * self.max_len + k] = self.cell(r, c)
            self.grid[r, c] = BODY
        self.grid[cells[0]] = HEAD
        self.e.head[i], self.e.length[i], self.e.direction[i] = len(cells) - 1, len(cells), direction

    def food(self, r, c):
        self.grid[r, c] = FOOD
        self.e.food += 1

    def step(self, *actions):
        self.env.actions[:] = actions
        self.env.step(self.env.actions)
        return list(self.env.rewards), list(self.env.terminals)


def test_eating_food_grows_the_snake_and_food_respawns():
    w = World(num_food=1)
    w.clear()
    w.put(0, [(5, 5), (5, 4)], RIGHT)
    w.food(5, 6)
    rewards, terms = w.step(RIGHT, DOWN)
    assert rewards[0] == 0.5 and terms == [0, 0]
    assert w.body(0) == [(5, 6), (5, 5), (5, 4)]
    assert w.grid[5, 6] == HEAD and w.grid[5, 5] == BODY and w.grid[5, 4] == BODY
    assert w.e.food == 1 and np.count_nonzero(w.grid == FOOD) == 1  # a new piece somewhere else


def test_moving_keeps_the_length_and_frees_the_tail():
    w = World()
    w.put(0, [(5, 5), (5, 4), (5, 3)], RIGHT)
    assert w.step(DOWN, DOWN) == ([0.0, 0.0], [0, 0])
    assert w.body(0) == [(6, 5), (5, 5), (5, 4)]
    assert w.grid[5, 3] == EMPTY


def test_turning_back_onto_the_neck_keeps_going():
    w = World()
    w.put(0, [(5, 5), (5, 4)], RIGHT)
    w.step(LEFT, DOWN)
    assert w.body(0)[0] == (5, 6)
    for bad in (4, -1, 2**31 - 1):  # out-of-range actions keep the direction too
        w.step(bad, DOWN)
    assert w.body(0)[0] == (5, 9)


def test_hitting_the_wall_kills_logs_and_respawns():
    w = World()
    w.put(0, [(0, 10), (1, 10), (2, 10)], UP)
    w.e.episode_length[0] = 6
    w.e.episode_return[0] = 1.0
    rewards, terms = w.step(UP, DOWN)
    assert rewards[0] == -1.0 and terms == [1, 0]
    assert w.e.length[0] == 1 and w.body(0)[0] not in [(0, 10), (1, 10), (2, 10)]
    assert w.env.observations[0, 2, 2] == OWN_HEAD
    # Every other cell from the head became corpse.
    assert [int(w.grid[r, 10]) for r in range(3)] == [CORPSE, EMPTY, CORPSE]
    assert w.env.log() == {"score": 3.0, "episode_return": 0.0, "episode_length": 7.0, "n": 1.0}
    assert w.step(DOWN, DOWN)[1] == [0, 0]


def test_running_into_its_own_body_kills():
    w = World()
    w.put(0, [(5, 5), (5, 6), (6, 6), (6, 5), (6, 4)], LEFT)
    rewards, terms = w.step(DOWN, DOWN)  # (6, 5) is its own body
    assert rewards[0] == -1.0 and terms[0] == 1


def test_following_its_own_tail_is_allowed():
    w = World()
    w.put(0, [(5, 5), (5, 6), (6, 6), (6, 5)], LEFT)  # a 2x2 loop: the tail (6, 5) is under the head
    assert w.step(DOWN, DOWN) == ([0.0, 0.0], [0, 0])
    assert w.body(0) == [(6, 5), (5, 5), (5, 6), (6, 6)]


def test_hitting_another_snake_kills_and_its_corpse_feeds_the_other():
    w = World()
    w.put(0, [(5, 8), (5, 7), (5, 6), (5, 5)], RIGHT)
    w.put(1, [(4, 7), (3, 7), (2, 7), (1, 7)], DOWN)  # heading into snake 0's body
    rewards, terms = w.step(RIGHT, DOWN)
    assert (rewards, terms) == ([0.0, -1.0], [0, 1])
    assert [int(w.grid[r, 7]) for r in (4, 3, 2, 1)] == [CORPSE, EMPTY, CORPSE, EMPTY]
    # Snake 0, now at (5, 9), goes up and left twice to the corpse at (4, 7).
    w.put(1, [(11, 0)], RIGHT)  # out of the way, wherever it respawned
    w.step(UP, RIGHT)
    w.step(LEFT, RIGHT)
    rewards, _ = w.step(LEFT, RIGHT)
    assert rewards[0] == 0.25 and w.e.length[0] == 5 and w.body(0)[0] == (4, 7)


def test_no_corpse_when_disabled():
    w = World(leave_corpse_on_death=0)
    w.put(0, [(0, 10), (1, 10), (2, 10)], UP)
    w.step(UP, DOWN)
    assert not (w.grid == CORPSE).any()


def test_a_full_length_snake_eats_without_growing():
    w = World(max_snake_length=3)
    w.put(0, [(5, 5), (5, 4), (5, 3)], RIGHT)
    w.food(5, 6)
    rewards, _ = w.step(RIGHT, DOWN)
    assert rewards[0] == 0.5 and w.body(0) == [(5, 6), (5, 5), (5, 4)]


def test_crop_contents():
    w = World()
    w.put(0, [(1, 1), (1, 2), (2, 2)], LEFT)  # next to the top-left corner
    w.put(1, [(2, 3), (3, 3)], UP)
    w.food(0, 0)
    w.grid[2, 1] = CORPSE
    w.step(UP, RIGHT)  # snake 0: (0, 1); snake 1: (2, 4)
    expected = np.array([  # rows -2..2, columns -1..3
        [WALL, WALL, WALL, WALL, WALL],
        [WALL, WALL, WALL, WALL, WALL],
        [WALL, FOOD, OWN_HEAD, EMPTY, EMPTY],
        [WALL, EMPTY, OWN_BODY, OWN_BODY, EMPTY],
        [WALL, EMPTY, CORPSE, EMPTY, BODY],
    ])
    assert w.body(0) == [(0, 1), (1, 1), (1, 2)] and w.body(1) == [(2, 4), (2, 3)]
    np.testing.assert_array_equal(w.env.observations[0], expected)
    # Snake 1 (rows 0..4, columns 2..6) sees itself as own and snake 0 as another snake.
    obs1 = w.env.observations[1]
    assert obs1[2, 2] == OWN_HEAD and obs1[2, 1] == OWN_BODY
    assert obs1[1, 0] == BODY and obs1[2, 0] == EMPTY and obs1[0, 0] == EMPTY
    assert np.count_nonzero(obs1 >= OWN_BODY) == 2


def reference_crop(w, env_index, i):
    """The observation of snake i computed in numpy from the grid and ring buffers."""
    e = w.env.envs[env_index]
    v = w.v
    padded = np.frombuffer(w.env.ffi.buffer(e.grid, (w.h + 2 * v) * w.stride), np.uint8).reshape(-1, w.stride)
    cells = [e.body[i * w.max_len + (e.head[i] - k) % w.max_len] for k in range(e.length[i])]
    hr, hc = divmod(cells[0], w.stride)
    crop = padded[hr - v:hr + v + 1, hc - v:hc + v + 1].copy()
    for cell in cells[1:]:
        r, c = divmod(cell, w.stride)
        if abs(r - hr) <= v and abs(c - hc) <= v:
            crop[r - hr + v, c - hc + v] = OWN_BODY
    crop[v, v] = OWN_HEAD
    return crop


@pytest.mark.parametrize("vision", [3, 5])  # 5: the 16-byte row copy path
def test_random_play_crops_match_a_numpy_reference(vision):
    w = World(num_envs=2, width=24, height=16, num_snakes=12, num_food=20, vision=vision, max_snake_length=30)
    w.env.reset(seed=5)
    rng = np.random.default_rng(0)
    deaths = eaten = 0
    for t in range(400):
        w.env.actions[:] = rng.integers(0, 4, w.env.num_agents)
        w.env.step(w.env.actions)
        deaths += int(w.env.terminals.sum())
        eaten += int((w.env.rewards > 0).sum())
        if t % 40 == 0:
            for env_index in range(2):
                for i in range(12):
                    np.testing.assert_array_equal(w.env.observations[env_index * 12 + i],
                                                  reference_crop(w, env_index, i))
        for env_index in range(2):  # the grid holds exactly one head per snake and num_food food
            e = w.env.envs[env_index]
            padded = np.frombuffer(w.env.ffi.buffer(e.grid, (w.h + 2 * vision) * w.stride), np.uint8)
            assert np.count_nonzero(padded == HEAD) == 12
            assert np.count_nonzero(padded == FOOD) == e.food == 20
            assert np.count_nonzero(padded == BODY) == sum(e.length[i] - 1 for i in range(12))
    assert deaths > 50 and eaten > 20
    log = w.env.log()
    assert log["n"] == deaths and log["score"] >= 1.0


def test_grid_too_small_is_a_clear_error():
    with pytest.raises(ConfigError, match="enlarge the grid"):
        puffer_core.make("snake", num_envs=1, width=10, height=10, num_snakes=10, max_snake_length=20, num_food=0)
    with pytest.raises(ConfigError, match="vision"):
        puffer_core.make("snake", num_envs=1, vision=0)


def test_keyboard_keeps_the_direction_when_no_key_is_held():
    w = World()
    assert w.env.keymap["UP"] == UP and w.env.keymap["RIGHT"] == RIGHT
    w.e.direction[0] = LEFT
    assert w.env.keys_to_action(set()) == LEFT
    assert w.env.keys_to_action({"DOWN"}) == DOWN




def test_rgb_array_frame_draws_the_grid(puffer_display):
    from puffer_envs_snake.render import PALETTE, PLAYER

    w = World(render_mode="rgb_array")
    try:
        w.put(0, [(5, 5), (5, 4)], RIGHT)
        w.put(1, [(8, 10), (8, 11)], LEFT)
        w.food(2, 3)
        frame = w.env.render()
        scale = min(1280 // 20, 720 // 12, 16)
        assert frame.dtype == np.uint8 and frame.shape == (12 * scale, 20 * scale, 3)

        def at(r, c):
            return tuple(frame[r * scale + scale // 2, c * scale + scale // 2])

        assert at(5, 5) == tuple(PLAYER[:3]) and at(5, 4) == tuple(PLAYER[:3])
        assert at(8, 10) == tuple(PALETTE[HEAD][:3]) and at(8, 11) == tuple(PALETTE[BODY][:3])
        assert at(2, 3) == tuple(PALETTE[FOOD][:3]) and at(0, 19) == tuple(PALETTE[EMPTY][:3])
    finally:
        w.env.close()


class TestSnakeConformance(Conformance):
    env = "snake"
    kwargs = {"num_envs": 2, "width": 48, "height": 32, "num_snakes": 16, "num_food": 32, "max_snake_length": 40}
    soak_steps = 200_000


def test_policy_one_hot_encodes_the_cell_codes():
    torch = pytest.importorskip("torch")
    from puffer_envs_snake.policy import CODES, Policy

    w = World(num_envs=2, num_snakes=3, vision=5, width=30, height=20)
    policy = Policy(w.env.single_observation_space, w.env.single_action_space, hidden_size=32)
    obs = torch.from_numpy(w.env.observations.copy())
    logits, value = policy.decode_actions(policy.encode_observations(obs))
    assert logits.shape == (6, 4) and value.shape == (6, 1)
    seen = []
    policy.encoder[0][0].register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    policy.encode_observations(obs)
    onehot = seen[0]  # (agents, CODES, side, side): one channel per cell code
    assert onehot.shape == (6, CODES, 11, 11) and torch.all(onehot.sum(1) == 1)
    assert torch.equal(onehot.argmax(1), obs.long())


SENTINEL = 99  # no cell code: a final-observations row still holding it was not written


@pytest.mark.parametrize("vision", [2, 5])  # 5: the 16-byte row copy path, at the grid's corner
def test_final_observation_is_the_view_at_death_in_a_corner(vision):
    w = World(vision=vision, final_observations=True)
    w.put(1, [(8, 8)], DOWN)
    w.put(0, [(0, 0), (0, 1), (0, 2)], LEFT)  # heads out of the grid's top-left corner
    at_death = reference_crop(w, 0, 0)  # nothing moves before snake 0 and there is no food: this is its view
    w.env.final_observations[:] = SENTINEL
    rewards, terms = w.step(LEFT, DOWN)
    assert terms == [1, 0]
    final = w.env.final_observations
    np.testing.assert_array_equal(final[0], at_death)
    assert (final[0][:vision] == WALL).all() and (final[0][:, :vision] == WALL).all()  # outside the grid
    assert final[0][vision, vision + 1] == OWN_BODY and final[0][vision, vision + 2] == OWN_BODY
    assert np.count_nonzero(w.env.observations[0] == OWN_BODY) == 0  # the respawned snake has length 1
    assert (final[1] == SENTINEL).all()  # snake 1 lives on: its row is untouched


def test_final_observation_sees_the_snakes_that_moved_before_it():
    w = World(final_observations=True)
    w.put(0, [(5, 5), (5, 4)], RIGHT)  # moves first, onto (5, 6) ...
    w.put(1, [(6, 6), (7, 6)], UP)     # ... where snake 1 then runs into its head
    before = w.env.observations[1].copy()
    scene = World()  # the world as snake 1 meets it: snake 0 already moved, snake 1 not yet dead
    scene.put(0, [(5, 6), (5, 5)], RIGHT)
    scene.put(1, [(6, 6), (7, 6)], UP)
    w.env.final_observations[:] = SENTINEL
    rewards, terms = w.step(RIGHT, UP)
    assert terms == [0, 1]
    final = w.env.final_observations[1]
    np.testing.assert_array_equal(final, reference_crop(scene, 0, 1))
    assert final[1, 2] == HEAD and final[1, 1] == BODY and final[3, 2] == OWN_BODY  # v = 2: head at [2, 2]
    assert not np.array_equal(final, before)  # not the start of the step's view either
    assert (w.env.final_observations[0] == SENTINEL).all()


def test_final_observations_in_random_play():
    kwargs = {"num_envs": 2, "width": 24, "height": 16, "num_snakes": 12, "num_food": 20, "vision": 3,
                 "max_snake_length": 30}
    check_final_observations(factory("snake"), kwargs, steps=300, seed=4, min_ends=30)
