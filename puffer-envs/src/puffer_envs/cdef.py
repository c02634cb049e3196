"""cffi declarations generated from an env header, so that no plugin writes binding code.

From the header text we keep what Python needs to see: the integer `#define` constants, the
`typedef struct/union/enum` blocks (Log, the env struct and whatever they nest), other plain
typedefs, and the prototypes of the SDK's vector loops (include/puffer_vec.h). cffi runs in API mode, so whatever
the C compiler knows better is left to it: array sizes that are not plain numbers become `[...]`,
`#define` values become `...`, enum values become `...`. cffi then checks every declared field's
offset and size against the compiled struct, so a parser mistake is a build error, never a
silently wrong layout.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from puffer_core.errors import PufferError

# The functions of include/puffer_vec.h, for the struct {S}.
VEC_PROTOTYPES = """\
void puffer_vec_init({S}* envs, int n);
void puffer_vec_reset({S}* envs, int n, uint64_t seed, uint64_t first_index);
void puffer_vec_step({S}* envs, int n, unsigned char* final_observations, size_t env_obs_bytes);
void puffer_vec_close({S}* envs, int n);
void puffer_vec_log({S}* envs, int n, double* out);
void puffer_vec_serve({S}** groups, const int* sizes, unsigned char** finals, const size_t* obs_bytes, int count,
                      int64_t* gate, int64_t spin_ns);
int puffer_gate_open(int64_t* gate, int64_t go);
int puffer_gate_wait(int64_t* gate, int64_t go, int64_t spin_ns, int64_t timeout_ns);
"""

_LITERALS_AND_COMMENTS = re.compile(
    r'(?P<str>"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\')|(?P<comment>/\*.*?\*/|//[^\n]*)', re.S)
_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)(\(?)(.*)$", re.M)
_DIRECTIVE = re.compile(r"^[ \t]*#.*$", re.M)
_INT_LITERAL = re.compile(r"(0[xX][0-9a-fA-F]+|\d+)[uUlL]*")
_INT_EXPR_TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|[A-Za-z_]\w*|<<|>>|[-+*/%()|&^~])")
_BLOCK_START = re.compile(r"\b(typedef\s+)?(struct|union|enum)\b(\s+\w+)?\s*\{")
_ARRAY_SIZE = re.compile(r"\[([^\[\]]*)\]")
_LOCAL_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"[^\n]*', re.M)
_C_STEP = re.compile(r"\bvoid\s+c_step\s*\(\s*(\w+)\s*\*")
_C_SHARED_INIT = re.compile(r"\bint\s+c_shared_init\s*\(\s*(\w+)\s*\*")


class HeaderError(PufferError, TypeError):
    """An env header that breaks the C env convention (puffer.h) or that cffi cannot declare."""


def read_header(path: Path) -> str:
    """A header's text as gcc reads it: UTF-8, where other bytes (a Latin-1 `é` in a comment, say) do not stop
    it. They are kept as lone surrogates (errors="surrogateescape"), so comments and string literals may hold
    any bytes; `generate` refuses them anywhere else, as gcc would."""
    return Path(path).read_bytes().decode("utf-8", errors="surrogateescape")


def _check_bytes(code: str) -> None:
    """Non-UTF-8 bytes left in the code once comments and literals are blanked: a HeaderError quoting the line."""
    for line in code.splitlines():
        bad = [c for c in line if "\udc80" <= c <= "\udcff"]
        if bad:
            shown = line.encode("utf-8", "surrogateescape").decode("latin-1").strip()
            raise HeaderError(f"the header has a byte that is not UTF-8 (0x{ord(bad[0]) - 0xDC00:02x}) outside a "
                              f"comment or string literal, in `{shown}`: save the header as UTF-8")


def strip_comments(text: str) -> str:
    """Comments out (newlines kept, so line numbers survive), string and char literals blanked."""
    def repl(m):
        if m.group("comment"):
            return "\n" * m.group(0).count("\n") or " "
        return '""' if m.group(0).startswith('"') else "' '"

    return _LITERALS_AND_COMMENTS.sub(repl, text.replace("\\\n", " "))


def _is_int_expr(value: str, known: set[str]) -> bool:
    """True for a constant integer expression over literals and already-known integer constants."""
    pos = 0
    value = value.strip()
    while pos < len(value):
        m = _INT_EXPR_TOKEN.match(value, pos)
        if not m:
            return False
        token = m.group(1)
        if (token[0].isalpha() or token[0] == "_") and token not in known:
            return False
        pos = m.end()
    return bool(value)


def _defines(text: str) -> list[str]:
    known: set[str] = set()
    out = []
    for name, paren, value in _DEFINE.findall(text):
        if paren or not value.strip() or name.startswith("_"):
            continue  # function-like macros, include guards, reserved names
        if _is_int_expr(value, known):
            known.add(name)
            out.append(f"#define {name} ...")
    return out


def _sized_arrays(decl: str) -> str:
    """`float x[N]` -> `float x[...]` unless the size is a plain number; cffi API mode fills it in."""
    def repl(m):
        size = m.group(1).strip()
        return m.group(0) if _INT_LITERAL.fullmatch(size) else "[...]"

    return _ARRAY_SIZE.sub(repl, decl)


def _enum_body(body: str) -> str:
    """Enumerator names only, then `...`: the compiler supplies the values."""
    names = [item.split("=")[0].strip() for item in body.split(",")]
    return ", ".join([n for n in names if n] + ["..."])


def _top_level_blocks(text: str):
    """(kind, declaration) of each top-level typedef/struct/union/enum block, and of plain typedefs."""
    depth_at = [0, *itertools.accumulate((ch == "{") - (ch == "}") for ch in text)]  # brace depth before each char
    pos = 0
    while True:
        m = _BLOCK_START.search(text, pos)
        t = re.compile(r"\btypedef\b").search(text, pos)
        if t and (not m or t.start() < m.start()) and not _BLOCK_START.match(text, t.start()):
            # A typedef without a body, e.g. `typedef struct Foo Foo;` or `typedef float vec2[2];`
            end = text.index(";", t.start())
            if depth_at[t.start()] == 0 and "(" not in text[t.start():end]:
                yield "typedef", text[t.start():end + 1]
            pos = end + 1
            continue
        if not m:
            return
        open_pos = m.end() - 1
        inside = depth_at[open_pos] + 1
        close = next((i for i in range(open_pos, len(text)) if text[i] == "}" and depth_at[i] == inside), None)
        if close is None:
            raise HeaderError("unbalanced braces in the header")
        end = text.index(";", close)
        if depth_at[m.start()] == 0:
            head, body, tail = text[m.start():open_pos], text[open_pos + 1:close], text[close + 1:end]
            kind = m.group(2)
            body = _enum_body(body) if kind == "enum" else _sized_arrays(body)
            if kind == "enum" or m.group(1) or "(" not in tail:  # skip `struct Foo {...} f(void) {` oddities
                yield kind, f"{head.strip()} {{{body}}}{_sized_arrays(tail)};"
        pos = end + 1


def inline_includes(text: str, directory: Path | None, seen: set | None = None) -> str:
    """Replace `#include "x.h"` of the plugin's own headers by their text (puffer.h is the SDK's)."""
    if directory is None:
        return text
    seen = set() if seen is None else seen

    def repl(m):
        path = (directory / m.group(1)).resolve()
        if m.group(1) == "puffer.h" or not path.is_file() or path in seen:
            return ""
        seen.add(path)
        return inline_includes(read_header(path), path.parent, seen)

    return _LOCAL_INCLUDE.sub(repl, text)


def env_struct(code: str) -> str | None:
    """The struct an env header's c_step takes (None for a helper header without c_step); `code` has its
    comments stripped."""
    found = _C_STEP.findall(code)
    return found[-1] if found else None


def generate(header_text: str, struct: str, directory: Path | None = None) -> str:
    """The cffi cdef for `struct` declared in `header_text`; with `directory`, the plugin's own headers
    that it includes (`#include "types.h"`) are read too."""
    text = strip_comments(inline_includes(header_text, directory))
    _check_bytes(text)
    defines = _defines(text)
    code = _DIRECTIVE.sub("", text)
    blocks = [decl for _, decl in _top_level_blocks(code)]
    stepped = env_struct(code)
    if stepped is None:
        raise HeaderError(f"the header defines no `void c_step({struct}* env)`: an env header defines c_init, "
                          "c_reset, c_step and c_close (puffer.h)")
    if stepped != struct:
        raise HeaderError(f"the header's c_step takes a {stepped}* but the env class says struct = {struct!r}: "
                          "make them agree")
    if not re.search(rf"\b{re.escape(struct)}\s*;", "\n".join(blocks)):
        raise HeaderError(f"no `typedef struct {{...}} {struct};` found in the header")
    if not re.search(r"}\s*Log\s*;", "\n".join(blocks)):
        raise HeaderError("no `typedef struct {...} Log;` found in the header: every env declares a Log of float "
                          "fields with `n` last (the log-struct ABI)")
    # The optional hook that fills the data every env of a process shares (cenv.CEnv.init_shared).
    shared = [f"int c_shared_init({t}* shared);" for t in _C_SHARED_INIT.findall(code)[-1:]]
    return "\n".join([*defines, *blocks, VEC_PROTOTYPES.format(S=struct), *shared])
