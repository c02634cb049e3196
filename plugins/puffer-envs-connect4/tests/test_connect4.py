"""Connect Four's rules checked in C by setting boards through env.envs[i], a full-game comparison
against a plain numpy referee, the scripted opponents, self-play masks, rendering and conformance."""


import numpy as np
import puffer_core
import pytest
from puffer_core.errors import ConfigError
from puffer_envs.testing import Conformance, check_final_observations, factory

ROWS, COLS = 6, 7


def make(**kwargs):
    env = puffer_core.make("connect4", **{"num_envs": 1, "opponent": 0, "agent_side": 1, **kwargs})
    env.reset(seed=0)
    return env


def set_board(e, rows, to_move=0):
    """Load a board drawn top row first ('X' side 0, 'O' side 1, '.' empty) into the struct."""
    pieces, heights = [0, 0], [0] * COLS
    for r, line in enumerate(rows):
        for c, ch in enumerate(line.replace(" ", "")):
            if ch in "XO":
                pieces["XO".index(ch)] |= 1 << (7 * c + (ROWS - 1 - r))
                heights[c] += 1
    e.pieces[0], e.pieces[1] = pieces
    for c in range(COLS):
        e.heights[c] = heights[c]
    e.plies = sum(heights)
    e.to_move = to_move


def board_of(e):
    """The struct's board as a (6, 7) array, top row first: 1 side 0, 2 side 1."""
    out = np.zeros((ROWS, COLS), int)
    for side in (0, 1):
        bits = int(e.pieces[side])
        for c in range(COLS):
            for r in range(ROWS):
                if bits >> (7 * c + r) & 1:
                    out[ROWS - 1 - r, c] = side + 1
    return out


def step(env, *actions):
    env.actions[:] = actions
    env.step(env.actions)
    return list(env.rewards), list(env.terminals)


WINS = {  # the agent (X) completes four by playing column 3
    "horizontal": ["......."] * 4 + ["OOO....", "XXX.O.."],
    "vertical": ["......."] * 2 + ["...X...", "...XO..", "...XO..", "...OX.."],
    "diagonal_up": ["......."] * 2 + ["......."] + ["..XO...", ".XOO...", "XOOXX.."],
    "diagonal_down": ["......."] * 2 + ["......."] + ["...OX..", "...OOX.", "O.XXOOX"],
}


@pytest.mark.parametrize("direction", WINS)
def test_four_in_a_row_wins_in_every_direction(direction):
    env = make()
    e = env.envs[0]
    set_board(e, WINS[direction])
    assert step(env, 3) == ([1.0], [1])
    assert board_of(e).sum() == 0  # a new game started (the agent moves first)
    log = env.log()
    assert (log["win"], log["loss"], log["score"], log["episode_return"], log["n"]) == (1, 0, 1, 1, 1)


def test_pieces_across_a_column_boundary_are_not_four_in_a_row():
    env = make(opponent=0)
    e = env.envs[0]
    # X on the top three cells of column 0 and the bottom two of column 1: five bits in a row but
    # for the empty sentinel bit between the columns, and no line on the board.
    set_board(e, ["X......", "X......", "X......", "O......", "X......", "OX....."])
    assert step(env, 1) == ([0.0], [0])


def test_one_ply_opponent_blocks_and_takes_wins():
    env = make(opponent=1)
    e = env.envs[0]
    set_board(e, ["......."] * 5 + ["OXXX..."])  # X threatens column 4
    step(env, 6)  # the agent plays elsewhere
    assert board_of(e)[5, 4] == 2  # blocked
    set_board(e, ["......."] * 4 + ["XX.....", "OOO.XX."])
    assert step(env, 6) == ([-1.0], [1])  # the opponent wins at column 3 instead of blocking
    assert env.log()["loss"] == 1


def test_random_opponent_does_not_always_block():
    env = make(opponent=0, num_envs=256)
    for i in range(256):
        set_board(env.envs[i], ["......."] * 5 + ["OXXX..."])
    env.actions[:] = 6
    env.step(env.actions)
    blocked = sum(board_of(env.envs[i])[5, 4] == 2 for i in range(256))
    assert 10 < blocked < 80  # about 1 in 7


@pytest.mark.parametrize("depth", [3, 4])
def test_negamax_opponent_sets_up_a_double_threat(depth):
    """X . O O . . X at the bottom: only column 4 gives O two winning cells at once."""
    env = make(opponent=depth, num_envs=16)
    for i in range(16):
        set_board(env.envs[i], ["......."] * 5 + ["X.OO..X"])
    env.actions[:] = 0  # X stacks on column 0, which changes nothing
    env.step(env.actions)
    assert all(board_of(env.envs[i])[5, 4] == 2 for i in range(16))
    env.actions[:] = 1  # block one side ...
    env.step(env.actions)
    assert list(env.rewards) == [-1.0] * 16  # ... and lose on the other
    assert env.log()["loss"] == 1.0


def test_negamax_opponent_blocks_too():
    env = make(opponent=2)
    e = env.envs[0]
    set_board(e, ["......."] * 5 + ["OXXX..."])
    step(env, 6)
    assert board_of(e)[5, 4] == 2


@pytest.mark.parametrize("bad", [0, 7, -1, 2**31 - 1, -(2**31)])
def test_illegal_move_loses_at_once(bad):
    env = make(opponent=1)
    e = env.envs[0]
    set_board(e, ["X......", "O......", "X......", "O......", "X......", "O......"])
    assert step(env, bad) == ([-1.0], [1])
    log = env.log()
    assert (log["illegal_moves"], log["loss"], log["win"], log["episode_length"]) == (1, 1, 0, 1)


def test_filling_the_board_without_four_is_a_draw():
    env = make(opponent=1)
    e = env.envs[0]
    set_board(e, ["OO.OXXX", "XOXOOOX", "XXOOXXO", "OXXXOOX", "OXOOOXO", "XOXXXOO"])
    assert step(env, 2) == ([0.0], [1])
    log = env.log()
    assert (log["draw"], log["score"], log["episode_return"]) == (1, 0.5, 0.0)


def test_observation_is_from_the_agents_side():
    env = make(agent_side=2)  # the opponent starts: one of its pieces is on the board
    obs = env.observations[0]
    assert obs.shape == (2, ROWS, COLS) and obs[0].sum() == 0 and obs[1].sum() == 1
    assert obs[1, 5].sum() == 1  # on the bottom row
    col = int(np.argmax(obs[1, 5]))
    step(env, col)  # stack on it
    assert obs[0, 4, col] == 1 and obs[1].sum() == 2


def test_alternating_sides():
    env = make(agent_side=3, opponent=1)
    e = env.envs[0]
    starters = []
    for _ in range(6):
        starters.append(e.starter)
        set_board(e, ["......."] * 5 + ["XXX...."])
        step(env, 3)  # win, new game
    assert starters[1:] == [1, 0, 1, 0, 1] or starters[1:] == [0, 1, 0, 1, 0]
    assert starters[0] != starters[1]


def wins_at(board, r, c):
    """True if the piece at (r, c) is part of four in a row (counted along each of the 4 lines)."""
    p = board[r, c]
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        count = 1
        for sign in (1, -1):
            rr, cc = r + sign * dr, c + sign * dc
            while 0 <= rr < ROWS and 0 <= cc < COLS and board[rr, cc] == p:
                count += 1
                rr, cc = rr + sign * dr, cc + sign * dc
        if count >= 4:
            return True
    return False


def test_self_play_matches_a_numpy_referee():
    """Random two-player games, mostly legal moves, checked move by move against a plain referee."""
    n = 32
    env = puffer_core.make("connect4-selfplay", num_envs=n, agent_side=1)
    env.reset(seed=2)
    rng = np.random.default_rng(2)
    boards = np.zeros((n, ROWS, COLS), int)
    to_move = np.zeros(n, int)
    results = {"win": 0, "loss": 0, "draw": 0, "illegal": 0}
    for _ in range(1000):
        actions = rng.integers(0, COLS, 2 * n)
        legal = boards[:, 0, :] == 0
        for i in range(n):  # the mover plays a legal column 97% of the time
            if rng.random() < 0.97:
                actions[2 * i + to_move[i]] = rng.choice(np.flatnonzero(legal[i]))
        env.actions[:] = actions
        env.step(env.actions)
        for i in range(n):
            side, col = to_move[i], actions[2 * i + to_move[i]]
            assert env.masks[2 * i + side] == 0 or env.terminals[2 * i]  # turns alternate
            rewards = env.rewards[2 * i:2 * i + 2]
            if not legal[i, col]:
                outcome, results["illegal"] = -1.0, results["illegal"] + 1
            else:
                row = ROWS - 1 - int((boards[i, :, col] > 0).sum())
                boards[i, row, col] = side + 1
                outcome = 1.0 if wins_at(boards[i], row, col) else (0.0 if (boards[i] > 0).all() else None)
            if outcome is None:
                assert env.terminals[2 * i] == 0 and tuple(rewards) == (0, 0)
                to_move[i] = 1 - side
            else:
                assert tuple(env.terminals[2 * i:2 * i + 2]) == (1, 1)
                mover, other = (outcome, -outcome)
                assert rewards[side] == mover and rewards[1 - side] == other
                results["win" if rewards[0] > 0 else "loss" if rewards[0] < 0 else "draw"] += 1
                boards[i] = 0
                to_move[i] = 0  # agent_side=1: row 0 always starts
        # Each agent row sees the board from its own side; masks mark the side to move.
        for k in (0, 1):
            assert (env.observations[k::2, 0] == (boards == k + 1)).all()
            assert (env.observations[k::2, 1] == (boards == 2 - k)).all()
            assert (env.masks[k::2] == (to_move == k)).all()
    log = env.log()
    assert log["n"] == results["win"] + results["loss"] + results["draw"] > 200
    assert log["win"] == pytest.approx(results["win"] / log["n"])
    assert log["illegal_moves"] == pytest.approx(results["illegal"] / log["n"])
    assert log["score"] == pytest.approx((results["win"] + 0.5 * results["draw"]) / log["n"])


def test_self_play_ignores_the_waiting_side():
    env = puffer_core.make("connect4-selfplay", num_envs=1, agent_side=1)
    env.reset(seed=0)
    assert list(env.masks) == [1, 0]
    assert step(env, 3, 99) == ([0.0, 0.0], [0, 0])  # row 1's garbage is not its move
    assert list(env.masks) == [0, 1]
    assert step(env, -5, 3) == ([0.0, 0.0], [0, 0])
    assert board_of(env.envs[0])[4:, 3].tolist() == [2, 1]


def test_stronger_opponents_beat_a_random_agent_more_often():
    rates = []
    for opponent in (0, 1, 2):
        env = make(opponent=opponent, agent_side=0, num_envs=64)
        env.reset(seed=4)
        rng = np.random.default_rng(4)
        for _ in range(400):
            legal = env.observations[:, :, 0, :].sum(1) == 0  # top cell empty
            env.actions[:] = [rng.choice(np.flatnonzero(row)) for row in legal]
            env.step(env.actions)
        log = env.log()
        assert log["illegal_moves"] == 0 and log["n"] > 500
        rates.append(log["win"])
    assert 0.4 < rates[0] < 0.6 and rates[1] < 0.1 and rates[2] < 0.1


def test_bad_config_is_a_clear_error():
    with pytest.raises(ConfigError, match="agent_side"):
        puffer_core.make("connect4", num_envs=1, agent_side=5)
    with pytest.raises(ConfigError, match="negamax depth"):
        puffer_core.make("connect4", num_envs=1, opponent=12)


def test_keyboard_play_keys():
    env = make()
    assert env.keymap["ONE"] == 0 and env.keymap["SEVEN"] == 6
    assert env.keys_to_action({"FOUR"}) == 3
    assert env.keys_to_action(set()) is None  # wait for a key


def test_selfplay_spec_names_its_outcome_field():
    spec = puffer_core.registry.get_spec("connect4-selfplay")
    env = puffer_core.make("connect4-selfplay", num_envs=2)
    assert spec.team_size == 1 and spec.outcome_field in env.log_fields
    assert env.num_agents == 4




def test_rgb_array_frame_draws_the_board(puffer_display):
    from puffer_envs_connect4.render import CELL, COLORS, HOLE

    env = make(render_mode="rgb_array")
    try:
        set_board(env.envs[0], ["......."] * 4 + ["...O...", "X..XO.."])
        frame = env.render()
        assert frame.dtype == np.uint8 and frame.shape == (6 * CELL + 70, 7 * CELL, 3)

        def at(r, c):  # r: row from the top
            return tuple(frame[r * CELL + CELL // 2, c * CELL + CELL // 2])

        assert at(5, 0) == COLORS[0][:3] and at(5, 3) == COLORS[0][:3]
        assert at(5, 4) == COLORS[1][:3] and at(4, 3) == COLORS[1][:3]
        assert at(0, 0) == HOLE[:3] and at(5, 6) == HOLE[:3]
    finally:
        env.close()


class TestConnect4Conformance(Conformance):
    env = "connect4"
    kwargs = {"num_envs": 8}
    soak_steps = 100_000


class TestConnect4NegamaxConformance(Conformance):
    env = "connect4"
    kwargs = {"num_envs": 4, "opponent": 3}
    soak_steps = 20_000


class TestConnect4SelfPlayConformance(Conformance):
    env = "connect4-selfplay"
    kwargs = {"num_envs": 8}
    soak_steps = 100_000


SENTINEL = 9  # observations are 0/1: a final-observations row still holding 9 was not written


def planes(rows, viewer=0):
    """The (2, 6, 7) observation of a board drawn as in set_board, from side `viewer`'s view."""
    board = np.array([list(line.replace(" ", "")) for line in rows])
    own, other = "XO"[viewer], "XO"[1 - viewer]
    return np.stack([board == own, board == other]).astype(np.uint8)


@pytest.mark.parametrize("direction", WINS)
def test_final_observation_shows_the_winning_four(direction):
    env = make(final_observations=True)
    set_board(env.envs[0], WINS[direction])
    env.final_observations[:] = SENTINEL
    assert step(env, 3) == ([1.0], [1])
    want = [list(line) for line in WINS[direction]]
    want[max(r for r in range(ROWS) if want[r][3] == ".")][3] = "X"  # the winning piece
    np.testing.assert_array_equal(env.final_observations[0], planes(["".join(r) for r in want]))
    assert env.observations[0].sum() == 0  # the step's own observation is the new, empty game


def test_final_observation_shows_the_opponents_winning_move_and_the_full_board():
    env = make(opponent=1, final_observations=True)
    set_board(env.envs[0], ["......."] * 4 + ["XX.....", "OOO.XX."])
    env.final_observations[:] = SENTINEL
    assert step(env, 6) == ([-1.0], [1])  # the opponent completes its four at column 3
    np.testing.assert_array_equal(env.final_observations[0],
                                  planes(["......."] * 4 + ["XX.....", "OOOOXXX"]))
    set_board(env.envs[0], ["OO.OXXX", "XOXOOOX", "XXOOXXO", "OXXXOOX", "OXOOOXO", "XOXXXOO"])
    assert step(env, 2) == ([0.0], [1])  # the draw: the last empty cell filled
    assert env.final_observations[0].sum() == ROWS * COLS
    assert env.final_observations[0][0, 0, 2] == 1


def test_final_observation_after_an_illegal_move_is_the_board_it_was_refused_on():
    env = make(opponent=1, final_observations=True)
    board = ["X......", "O......", "X......", "O......", "X......", "O......"]
    set_board(env.envs[0], board)
    assert step(env, 0) == ([-1.0], [1])
    np.testing.assert_array_equal(env.final_observations[0], planes(board))


def test_self_play_final_observations_are_each_sides_view_and_written_only_at_game_ends():
    env = puffer_core.make("connect4-selfplay", num_envs=1, agent_side=1, final_observations=True)
    env.reset(seed=0)
    board = ["......."] * 5 + ["XXX.OOO"]
    env.final_observations[:] = SENTINEL
    set_board(env.envs[0], board, to_move=1)
    assert step(env, 0, 0) == ([0.0, 0.0], [0, 0])  # O stacks on column 0: no game end, rows untouched
    assert (env.final_observations == SENTINEL).all()
    board = ["......."] * 4 + ["O......", "XXX.OOO"]
    assert step(env, 3, 0) == ([1.0, -1.0], [1, 1])  # X wins
    board[5] = "XXXXOOO"
    np.testing.assert_array_equal(env.final_observations[0], planes(board, viewer=0))
    np.testing.assert_array_equal(env.final_observations[1], planes(board, viewer=1))


def test_final_observations_in_random_play():
    kwargs = {"num_envs": 8, "opponent": 1, "agent_side": 0}
    check_final_observations(factory("connect4"), kwargs, steps=300, seed=4, min_ends=30)
