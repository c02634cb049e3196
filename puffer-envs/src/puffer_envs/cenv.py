"""CEnv: the runtime class behind every C env. A plugin writes no binding code:

    class Pong(CEnv):
        header = "pong.h"                       # next to this module, shipped as package data
        struct = "Pong"                         # the env struct's typedef name
        config = {"frameskip": 1}               # config struct fields and their defaults

        @classmethod
        def make_spaces(cls, config):
            return spaces.Box(-1, 1, (8,), np.float32), spaces.Discrete(3)

`Pong(num_envs=4096, frameskip=4)` loads or compiles pong.h (build.py), checks every C type against the
spaces, points each of 4096 structs at its rows of the shared buffers, writes the config values into every
struct and calls c_init on each. reset/step/log/close call the SDK's vector loops (include/puffer_vec.h,
compiled with the header, which also keep final observations) with the GIL released. Data every env of a
process shares comes from the header's optional `c_shared_init` (puffer.h), called through `init_shared`.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from gymnasium import spaces
from puffer_core import logs
from puffer_core.env import PufferEnv, check_render_mode
from puffer_core.errors import ConfigError, PufferError, SpaceError, StateError, did_you_mean

from . import build
from .cdef import HeaderError

RESERVED_KWARGS = {"num_envs": 1, "render_mode": None, "buffers": None, "final_observations": False}
C_INT_MAX = 2**31 - 1
# Struct members the SDK points at buffer rows: (buffer, required).
BUFFER_MEMBERS = (("observations", True), ("actions", True), ("rewards", True), ("terminals", True),
                  ("truncations", True), ("masks", False), ("final_observations", False))
# final_observations is a member only of envs that reset their own agents (PUFFER_SELF_RESET, puffer.h).
C_SPELLING = {"uint8": "unsigned char", "int8": "char", "int16": "short", "int32": "int", "float32": "float",
              "float64": "double", "uint16": "unsigned short", "uint32": "unsigned int", "int64": "int64_t",
              "uint64": "uint64_t"}
# C types whose numpy dtype a cast of -1 cannot tell (plain char is signed on the platforms we build for).
FIXED_DTYPES = {"float": "f4", "double": "f8", "_Bool": "?", "bool": "?", "char": "i1"}


def scalar_dtype(ffi, ctype) -> np.dtype | None:
    """The numpy dtype with the same bits as a scalar C type (None for pointers, arrays, structs)."""
    if ctype.kind == "enum":
        return np.dtype(f"i{ffi.sizeof(ctype)}")
    if ctype.kind != "primitive":
        return None
    if ctype.cname in FIXED_DTYPES:
        return np.dtype(FIXED_DTYPES[ctype.cname])
    try:
        signed = int(ffi.cast(ctype, -1)) < 0
    except TypeError:  # wchar_t and friends
        return None
    return np.dtype(f"{'i' if signed else 'u'}{ffi.sizeof(ctype)}")


def c_name(dtype: np.dtype) -> str:
    return C_SPELLING.get(np.dtype(dtype).name, np.dtype(dtype).name)


def _fill(raw: np.ndarray, offset: int, dtype: np.dtype, values) -> None:
    """Write `values` (one per struct, or one for all) as `dtype` at byte `offset` of every struct row of `raw`."""
    raw[:, offset:offset + dtype.itemsize].view(dtype)[:, 0] = values


class CEnv(PufferEnv):
    header: str = ""  # path relative to the subclass's module (or absolute)
    struct: str = ""
    config: dict = {}
    renderer = None  # a Renderer class or "module:Class"; made on the first render()
    releases_gil = True
    supports_final_observations = True  # written by the SDK's step loop (puffer.h)

    # -- what subclasses provide ----------------------------------------------------------------
    @classmethod
    def check_config(cls, config: dict) -> None:
        """Raise ConfigError for config values the env cannot run with (each value already has the
        C field's type and range); called before make_spaces, so make_spaces may trust the config."""

    @classmethod
    def init_shared(cls, shared, ffi, lib):
        """Fill the data all envs of this process share (`shared`: the zeroed struct c_shared_init takes),
        once per process and library, before any c_init. Override it to set inputs first (and call
        super()); what it returns is kept alive with `shared`."""
        code = lib.c_shared_init(shared)
        if code:
            raise PufferError(f"{cls.__name__}: c_shared_init in {cls.header} failed with code {code}")

    @classmethod
    def make_spaces(cls, config: dict) -> tuple[spaces.Space, spaces.Space]:
        raise NotImplementedError(f"{cls.__name__} must define make_spaces(cls, config) -> (obs_space, act_space)")

    @classmethod
    def agents_per_env(cls, config: dict) -> int:
        return 1

    # -- the compiled library -------------------------------------------------------------------
    @classmethod
    def header_path(cls) -> Path:
        path = Path(cls.header)
        if not path.is_absolute():
            path = Path(sys.modules[cls.__module__].__file__).parent / path
        return path

    @classmethod
    def build(cls, sanitize: bool | None = None, load: bool = True):
        """This env's C library, compiled into the cache if needed: loaded (a build.Library), or with
        load=False only compiled (its path)."""
        if not cls.header or not cls.struct:
            raise HeaderError(f"{cls.__name__} must set the class attributes `header` (the .h file) and `struct`")
        return (build.load if load else build.ensure_built)(cls.header_path(), cls.struct, sanitize)

    # -- construction -------------------------------------------------------------------------
    def __init__(self, num_envs: int = 1, render_mode: str | None = None, buffers=None,
                 final_observations: bool = False, **kwargs):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or not 1 <= num_envs <= C_INT_MAX:
            raise ConfigError(f"num_envs must be a positive integer of at most {C_INT_MAX} (the vector loops count "
                              f"envs in a C int), got {num_envs!r}")
        check_render_mode(render_mode)
        library = self.build()
        self.ffi, self.lib = ffi, lib = library.ffi, library.lib
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self._renderer = self.envs = self._finalizer = None

        fields = dict(ffi.typeof(self.struct).fields)
        self.config = self._check_config(kwargs, fields)
        type(self).check_config(dict(self.config))
        self.single_observation_space, self.single_action_space = self.make_spaces(dict(self.config))
        self.agents_per_env = int(type(self).agents_per_env(dict(self.config)))  # an int on instances
        self.num_agents = self.num_envs * self.agents_per_env
        self.log_fields = self._check_log(fields)
        super().__init__(buffers, final_observations)
        self._check_obs_size()
        self._self_reset = bool(getattr(lib, "PUFFER_SELF_RESET", 0))
        self._check_buffer_members(fields)
        # What puffer_vec_step copies final observations into (NULL: off), and one env's observation bytes.
        final = self.final_observations
        self._final = ffi.NULL if final is None else ffi.cast("unsigned char*", final.ctypes.data)
        self._env_obs_bytes = self.observations.nbytes // self.num_envs

        # The structs are zeroed; write the buffer pointers and config values into all of them at once
        # through a byte view (setting thousands of structs one field at a time from Python is slow).
        self.envs = ffi.new(f"{self.struct}[]", self.num_envs)
        raw = np.frombuffer(ffi.buffer(self.envs), np.uint8).reshape(self.num_envs, ffi.sizeof(self.struct))
        for name, _ in BUFFER_MEMBERS:
            array = getattr(self, name)
            if name in fields and array is not None:  # final_observations off: the pointer stays NULL
                stride = array.nbytes // self.num_envs  # bytes of one env's rows
                addresses = array.ctypes.data + stride * np.arange(self.num_envs, dtype=np.uintp)
                _fill(raw, fields[name].offset, np.dtype(np.uintp), addresses)
        for key, value in self.config.items():
            _fill(raw, fields[key].offset, scalar_dtype(ffi, fields[key].type), value)
        self.shared = self._point_at_shared(fields, raw)
        self._reset_done = False
        lib.puffer_vec_init(self.envs, self.num_envs)
        # c_close on every env exactly once: at close() or garbage collection, whichever is first.
        self._finalizer = weakref.finalize(self, lib.puffer_vec_close, self.envs, self.num_envs)

    def _point_at_shared(self, fields: dict, raw: np.ndarray):
        """The process's shared data for this library (None without a c_shared_init), made on first use,
        and every struct's member pointing at it."""
        if not hasattr(self.lib, "c_shared_init"):
            return None
        pointer = self.ffi.typeof(self.lib.c_shared_init).args[0]
        members = [name for name, f in fields.items() if f.type is pointer]
        if len(members) != 1:
            raise HeaderError(f"struct {self.struct} in {self.header} needs exactly one `{pointer.cname}` member for "
                              f"the data c_shared_init fills; it has {len(members) or 'none'}: {members}")
        with _SHARED_LOCK:
            if self.lib not in _SHARED:
                shared = self.ffi.new(pointer)
                _SHARED[self.lib] = (shared, type(self).init_shared(shared, self.ffi, self.lib))
            shared = _SHARED[self.lib][0]
        _fill(raw, fields[members[0]].offset, np.dtype(np.uintp), int(self.ffi.cast("uintptr_t", shared)))
        return shared

    def _check_config(self, kwargs: dict, fields: dict) -> dict:
        cls, ffi = type(self), self.ffi
        for key, default in cls.config.items():
            if key in RESERVED_KWARGS or key in dict(BUFFER_MEMBERS) or key in ("log", "rng"):
                raise HeaderError(f"{cls.__name__}.config key {key!r} is reserved; rename the config field")
            if key not in fields:
                raise ConfigError(f"{cls.__name__}.config has {key!r}, which is not a field of struct {self.struct} "
                                  f"in {cls.header}: add `{type(default).__name__} {key};` to the struct or "
                                  "remove the key" + did_you_mean(key, [f for f in fields if f not in ("log", "rng")]))
            if scalar_dtype(ffi, fields[key].type) is None:
                raise HeaderError(f"{cls.__name__}.config key {key!r} is a `{fields[key].type.cname}` field; only "
                                  "scalar fields (ints, floats) can be config values")
            self._check_value(key, default, fields[key].type, "default")
        for key, value in kwargs.items():
            if key not in cls.config:
                raise ConfigError(f"{cls.__name__} has no config kwarg {key!r}.{did_you_mean(key, list(cls.config))} "
                                  f"Valid kwargs: {self._valid_kwargs()}")
            self._check_value(key, value, fields[key].type, "kwarg")
        return {**cls.config, **kwargs}

    def _check_value(self, key, value, ctype, what: str) -> None:
        dtype = scalar_dtype(self.ffi, ctype)
        problem = None
        if dtype.kind in "iub":
            if isinstance(value, (bool, np.bool_)):
                value = int(value)
            if not isinstance(value, (int, np.integer)):
                problem = "must be an integer"
            elif dtype.kind == "b" and value not in (0, 1):
                problem = "must be 0/1 or a bool"
            elif dtype.kind != "b" and not np.iinfo(dtype).min <= value <= np.iinfo(dtype).max:
                info = np.iinfo(dtype)
                problem = f"is out of range for the C type ({info.min}..{info.max})"
        else:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                problem = "must be a number"
            elif math.isnan(value):
                problem = "must not be NaN"
            elif math.isfinite(value) and abs(float(value)) > float(np.finfo(dtype).max):
                problem = f"is out of range for the C type (|x| <= {np.finfo(dtype).max:g})"
        if problem:
            where = f"{type(self).__name__}.config default" if what == "default" else "config kwarg"
            raise ConfigError(f"{where} {key}={value!r} ({type(value).__name__}) {problem}: the field is "
                              f"`{ctype.cname} {key}` in {type(self).__name__}'s header. "
                              f"Valid kwargs: {self._valid_kwargs()}")

    def _valid_kwargs(self) -> str:
        fields = dict(self.ffi.typeof(self.struct).fields)
        parts = [f"{k}={v!r}" for k, v in RESERVED_KWARGS.items()]
        parts += [f"{k}={v!r} ({fields[k].type.cname})" for k, v in type(self).config.items() if k in fields]
        return ", ".join(parts)

    def _check_log(self, fields: dict) -> tuple[str, ...]:
        ffi = self.ffi
        try:
            log = ffi.typeof("Log")
        except ffi.error as e:
            raise HeaderError(f"{self.header} declares no `Log` struct") from e
        if "log" not in fields or fields["log"].type is not log:
            raise HeaderError(f"struct {self.struct} needs a member `Log log;` (the log-struct ABI)")
        names = [name for name, _ in log.fields]
        bad = [f"{name} ({f.type.cname})" for name, f in log.fields if f.type.cname != "float"]
        if bad:
            raise HeaderError(f"Log fields must all be `float` (the log-struct ABI); in {self.header} these are not: "
                              f"{', '.join(bad)}")
        if not names or names[-1] != "n":
            raise HeaderError(f"the Log struct in {self.header} must end with `float n;` (episodes summed in); "
                              f"its fields are {names}")
        return logs.check_fields(names)

    def _check_obs_size(self) -> None:
        """A header may state its observation size as OBS_SIZE or <STRUCT>_OBS_SIZE; then it must agree."""
        per_agent = int(np.prod(self.observations.shape[1:], dtype=np.int64))
        for name in (f"{self.struct.upper()}_OBS_SIZE", "OBS_SIZE"):
            declared = getattr(self.lib, name, None)
            if isinstance(declared, int) and declared != per_agent:
                raise SpaceError(f"{self.header} declares {name} = {declared} but the observation space "
                                 f"{self.single_observation_space} has {per_agent} values per agent")

    def _check_buffer_members(self, fields: dict) -> None:
        """Every buffer member must be a pointer to the buffer's exact element type."""
        ffi = self.ffi
        for name, required in BUFFER_MEMBERS:
            # final_observations, when declared, has the observations' type, whether it is on or not.
            want = (self.observations if name == "final_observations" else getattr(self, name)).dtype
            if name == "final_observations" and (name in fields) != self._self_reset:
                raise HeaderError(f"struct {self.struct} in {self.header} "
                                  + (f"defines PUFFER_SELF_RESET but has no member `{c_name(want)}* {name};`: an "
                                     "env that resets its own agents writes their final observations there"
                                     if self._self_reset else
                                     f"has a member `{name}`, which only envs that define PUFFER_SELF_RESET "
                                     "declare: the SDK writes final observations for the others (puffer.h)"))
            if name not in fields:
                if required:
                    raise HeaderError(f"struct {self.struct} has no member `{name}`; the convention needs "
                                      f"`{c_name(want)}* {name};`")
                continue
            # An anonymous union may offer the same pointer under several types (e.g. `int* actions` for
            # Discrete and `float* continuous_actions` for Box): any member aliasing it may match.
            got = [(f.type, scalar_dtype(ffi, f.type.item)) for f in fields.values()
                   if f.offset == fields[name].offset and f.type.kind == "pointer"]
            if fields[name].type.kind != "pointer":
                raise HeaderError(f"struct member `{name}` is a `{fields[name].type.cname}`, not a pointer; declare "
                                  f"`{c_name(want)}* {name};`")
            if not any(dtype == want for _, dtype in got):
                declared = " / ".join(f"`{t.cname}`" for t, _ in got)
                raise SpaceError(f"{self.struct}.{name} is {declared} in {self.header} but the {name} buffer is "
                                 f"{want.name} (from the spaces {self.single_observation_space}, "
                                 f"{self.single_action_space}): declare it `{c_name(want)}* {name};` or fix the "
                                 "space's dtype")

    # -- the protocol ---------------------------------------------------------------------------
    def _reset(self, seed: int | None) -> None:
        # `seed` passed puffer_core.validate.seed in PufferEnv.reset: None or an int in 0..2**63-1, which C's
        # uint64 seed holds as is (nothing wraps).
        self._live()
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little")
        for written in (self.rewards, self.terminals, self.truncations):
            written[:] = 0
        self.lib.puffer_vec_reset(self.envs, self.num_envs, int(seed) & 0xFFFFFFFFFFFFFFFF, 0)
        self._reset_done = True

    def _step(self) -> None:
        if not self._reset_done:
            self._live()
            raise StateError(f"{type(self).__name__}.step() called before reset(): reset the env first")
        self.lib.puffer_vec_step(self.envs, self.num_envs, self._final, self._env_obs_bytes)

    # -- step serving: the threads backend's hand-off without the GIL (puffer_vec.h, "step serving") ----
    def _serve(self, gate: np.ndarray, spin: float, others: Sequence[CEnv] = ()) -> None:
        """Step this env, then each of `others` (envs of this class, as a thread's group), for each
        generation published on `gate` (int64[3]) until none comes for `spin` seconds or a negative
        one does. Runs in a helper thread, with the GIL released throughout."""
        group = [self, *others]
        for env in group:
            if type(env) is not type(self):
                raise TypeError(f"{type(self).__name__}._serve steps envs of its own class, not {type(env).__name__}")
            env._live()
        # The cdata pointers keep every env's array alive while C steps them.
        envs = self.ffi.new(f"{self.struct}*[]", [env.envs for env in group])
        sizes = self.ffi.new("int[]", [env.num_envs for env in group])
        finals = self.ffi.new("unsigned char*[]", [env._final for env in group])
        obs_bytes = self.ffi.new("size_t[]", [env._env_obs_bytes for env in group])
        self.lib.puffer_vec_serve(envs, sizes, finals, obs_bytes, len(group), self._gate(gate), int(spin * 1e9))

    def _open_gate(self, gate: np.ndarray, go: int) -> bool:
        """Publish generation `go` to the gate's server; False if none is serving (wake one then)."""
        return bool(self.lib.puffer_gate_open(self._gate(gate), go))

    def _wait_gate(self, gate: np.ndarray, go: int, spin: float, timeout: float | None) -> bool:
        """Wait (GIL released) until generation `go` is stepped; False after `timeout` seconds."""
        timeout_ns = -1 if timeout is None else int(timeout * 1e9)
        return bool(self.lib.puffer_gate_wait(self._gate(gate), go, int(spin * 1e9), timeout_ns))

    def _gate(self, gate: np.ndarray):
        if gate.dtype != np.int64 or gate.shape != (3,) or not gate.flags.c_contiguous:
            raise TypeError(f"a gate is a contiguous int64 array of 3, got {gate.dtype} {gate.shape}")
        return self.ffi.cast("int64_t*", gate.ctypes.data)

    def pop_log_sums(self) -> np.ndarray:
        out = np.zeros(len(self.log_fields), np.float64)
        if self.envs is not None:
            self.lib.puffer_vec_log(self.envs, self.num_envs, self.ffi.from_buffer("double[]", out))
        return out

    def render(self):
        """Draw env 0 with the class's renderer: a frame (H, W, 3) uint8 for "rgb_array", None for "human"."""
        if self.render_mode is None:
            return None
        self._live()
        if self._renderer is None:
            if self.renderer is None:
                raise PufferError(f"{type(self).__name__} has no renderer: set the class attribute `renderer` "
                                  "to a puffer_envs.render.Renderer subclass")
            from .render import resolve

            self._renderer = resolve(self.renderer)(self)
        return self._renderer.render(self)

    def close(self) -> None:
        if self._renderer is not None and hasattr(self._renderer, "close"):
            self._renderer.close()
        self._renderer = None
        self._reset_done = False
        if self._finalizer is not None:
            self._finalizer()

    def _live(self) -> None:
        if self._finalizer is None or not self._finalizer.alive:
            raise StateError(f"{type(self).__name__} is closed: make a new one")


# lib -> (its shared data, what init_shared returned): one per process and compiled library (the plain
# and the sanitizer builds of a header are two).
_SHARED: dict = {}
_SHARED_LOCK = threading.Lock()
