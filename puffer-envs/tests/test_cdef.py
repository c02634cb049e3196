"""The cdef generator: what it keeps from a header and what it leaves to the C compiler."""

from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces
from puffer_envs import CEnv, HeaderError, cdef

HEADERS = Path(__file__).parent / "headers"


def tricky():
    return cdef.generate((HEADERS / "tricky.h").read_text(), "Tricky")


def test_integer_constants_are_declared_and_the_rest_skipped():
    out = tricky()
    for name in ("GRID_W", "GRID_H", "MAX_UNITS", "NEG_ONE"):
        assert f"#define {name} ..." in out
    for skipped in ("SPEED", "NAME", "SQUARE", "TRICKY_H"):
        assert skipped not in out


def test_struct_blocks_keep_nesting_and_hand_array_sizes_to_the_compiler():
    out = tricky()
    assert "typedef enum {EMPTY, WALL, FOOD, ...} Cell;" in out
    assert "struct { unsigned char r, g, b; } color;" in out
    assert "Cell cells[...][...];" in out and "Unit units[...];" in out and "float hp[...];" in out
    assert "int bits[3];" in out, "plain numbers stay"
    assert "union { int* actions; float* continuous_actions; };" in out
    assert "typedef struct Tagged { int a; } Tagged;" in out
    assert "struct Plain { int b; };" in out and "typedef struct Plain Plain;" in out
    assert "typedef float vec2[2];" in out
    assert "void puffer_vec_log(Tricky* envs, int n, double* out);" in out


def test_comments_strings_and_function_bodies_are_not_declarations():
    out = tricky()
    assert "NotReal" not in out and "fake" not in out
    assert "inner" not in out and "helper" not in out
    assert "a brace in a comment" not in out
    assert out.index("} Log;") < out.index("} Unit;") < out.index("} Tricky;"), "header order is kept"


def test_strip_comments_keeps_lines_and_ignores_comment_markers_in_strings():
    text = 'int a; /* one\ntwo */ int b; // three\nchar* s = "// not /* a comment";\n'
    out = cdef.strip_comments(text)
    assert out.count("\n") == text.count("\n")
    assert "one" not in out and "three" not in out and "int b;" in out and 'char* s = "";' in out


@pytest.mark.parametrize("text, message", [
    ("typedef struct { float n; } Log;\ntypedef struct { Log log; } Env;\n", r"defines no `void c_step\(Env\* env\)`"),
    ("typedef struct { float n; } Log;\ntypedef struct { Log log; } Env;\nvoid c_step(Other* env) {}\n",
     r"c_step takes a Other\* but the env class says struct = 'Env'"),
    ("typedef struct { float n; } Log;\nvoid c_step(Env* env) {}\n", r"no `typedef struct \{...\} Env;`"),
    ("typedef struct { int x; } Env;\nvoid c_step(Env* env) {}\n", r"no `typedef struct \{...\} Log;`"),
])
def test_convention_errors(text, message):
    with pytest.raises(HeaderError, match=message):
        cdef.generate(text, "Env")


def test_the_plugins_own_includes_are_read(tmp_path, monkeypatch):
    """Types may live in a second header of the plugin (`#include "types.h"`)."""
    monkeypatch.setenv("PUFFER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "types.h").write_text("#define SLOTS 3\ntypedef struct { float episode_return; float n; } Log;\n"
                                      "typedef struct { int hp; } Slot;\n")
    (tmp_path / "game.h").write_text("""
#include "puffer.h"
#include "types.h"
typedef struct {
    Log log; float* observations; int* actions; float* rewards; unsigned char* terminals;
    unsigned char* truncations; uint64_t rng; Slot slots[SLOTS];
} Game;
void c_init(Game* env) { env->slots[SLOTS - 1].hp = 5; }
void c_reset(Game* env) { env->observations[0] = (float)env->slots[SLOTS - 1].hp; }
void c_step(Game* env) { env->rewards[0] = 1; env->terminals[0] = 0; env->truncations[0] = 0; }
void c_close(Game* env) { (void)env; }
""")

    class Game(CEnv):
        header = str(tmp_path / "game.h")
        struct = "Game"

        @classmethod
        def make_spaces(cls, config):
            return spaces.Box(0, 10, (1,), np.float32), spaces.Discrete(2)

    env = Game(num_envs=2)
    env.reset(seed=0)
    assert env.observations.tolist() == [[5.0], [5.0]] and env.lib.SLOTS == 3


LATIN1_GAME = b"""/* Jeu de d\xe9monstration: a Latin-1 \xe9 in a comment, as an editor on Windows saves it. */
#include "puffer.h"
// caf\xe9
typedef struct { float score; float n; } Log;
typedef struct {
    Log log; float* observations; int* actions; float* rewards; unsigned char* terminals;
    unsigned char* truncations; uint64_t rng;
} Game;
static const char* NAME = "d\xe9mo";
void c_init(Game* env) { (void)env; }
void c_reset(Game* env) { env->observations[0] = (float)(NAME[1] == (char)0xe9); }
void c_step(Game* env) { env->rewards[0] = 1; env->terminals[0] = 0; env->truncations[0] = 0; }
void c_close(Game* env) { (void)env; }
"""


def test_a_header_with_latin1_bytes_in_comments_and_strings_builds_as_gcc_reads_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PUFFER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "game.h").write_bytes(LATIN1_GAME)
    # the plugin's own included headers are read the same way
    (tmp_path / "top.h").write_bytes(b'/* r\xe9sum\xe9 */\n#include "game.h"\n')

    class Game(CEnv):
        header = str(tmp_path / "top.h")
        struct = "Game"

        @classmethod
        def make_spaces(cls, config):
            return spaces.Box(0, 1, (1,), np.float32), spaces.Discrete(2)

    env = Game(num_envs=2)
    env.reset(seed=0)
    env.step(np.zeros(2, np.int32))
    assert env.observations.tolist() == [[1.0], [1.0]]  # the string kept its byte: gcc saw the file as written
    assert env.log_fields == ("score", "n")
    env.close()


def test_a_non_utf8_byte_outside_comments_and_strings_is_a_header_error(tmp_path):
    (tmp_path / "game.h").write_bytes(LATIN1_GAME.replace(b"float score;", b"float sc\xf6re;"))
    with pytest.raises(HeaderError, match=r"byte that is not UTF-8 \(0xf6\) outside a comment or string literal, "
                                          r"in `typedef struct \{ float sc\xf6re; float n; \} Log;`: save the header"):
        cdef.generate(cdef.read_header(tmp_path / "game.h"), "Game", tmp_path)
