"""Compile an env header into a cffi extension on first use, cached on disk.

Plugins ship their C header as package data and never build anything at install time: local
packages cannot be build-time dependencies under pip's build isolation, and a plain-Python wheel
installs everywhere. The first `CEnv` made from a header compiles it (API mode, out of line) into
`$PUFFER_CACHE_DIR/<hash>/` (default `~/.cache/puffer/build/<hash>/`). The hash covers every
header in the plugin's folder, puffer.h, the compiler flags and the cffi and Python versions, so an
edited header rebuilds and an unchanged one loads in milliseconds. Compiling happens under a file
lock and ends with an atomic rename, so many worker processes starting at once build it once.

`PUFFER_SANITIZE=1` builds with AddressSanitizer and UBSan into a separate cache entry; Python
must then run with `LD_PRELOAD=$(gcc -print-file-name=libasan.so)`. `PUFFER_CFLAGS` adds compiler
flags (e.g. `-march=native` on a machine that builds for itself); `CC` picks the compiler.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cffi
from puffer_core.errors import PufferError

from . import cdef

INCLUDE_DIR = Path(__file__).parent / "include"

# -O2, no -march=native (the cache may be shared across machines of a cluster) and no -ffast-math:
# CartPole must match Gymnasium's arithmetic. -ffp-contract=off: no fused multiply-adds either.
# -fno-math-errno only stops libm calls from setting errno, which nothing reads.
OPT_FLAGS = ["-O2", "-ffp-contract=off", "-fno-math-errno"]
SANITIZE_FLAGS = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
COMMON_FLAGS = ["-fPIC", "-shared", "-Werror=implicit-function-declaration", "-Wno-unused-function"]


class BuildError(PufferError, RuntimeError):
    """An env header that does not compile, or no usable C compiler."""


@dataclass
class Library:
    """A compiled env header: the cffi `ffi` (types) and `lib` (functions and constants)."""

    ffi: object
    lib: object
    path: Path
    struct: str
    sanitize: bool


_loaded: dict[Path, Library] = {}


def sanitize_enabled() -> bool:
    return os.environ.get("PUFFER_SANITIZE", "").strip().lower() not in ("", "0", "false", "no", "off")


def cache_root() -> Path:
    root = os.environ.get("PUFFER_CACHE_DIR")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "puffer" / "build"


def get_include() -> str:
    """The folder holding puffer.h (for C tools outside the SDK's own builds)."""
    return str(INCLUDE_DIR)


def compiler() -> list[str]:
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shlex.split(cc)


def flags(sanitize: bool) -> list[str]:
    extra = ["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else []
    user = shlex.split(os.environ.get("PUFFER_CFLAGS", ""))
    return [*(SANITIZE_FLAGS if sanitize else OPT_FLAGS), *COMMON_FLAGS, *extra, *user]


def _sources(header: Path) -> list[Path]:
    """Every file whose change must trigger a rebuild: the plugin's headers and the SDK's."""
    return sorted(header.parent.glob("*.h")) + sorted(INCLUDE_DIR.glob("*.h"))


def cache_key(header: Path, struct: str, sanitize: bool) -> str:
    h = hashlib.sha256()
    for part in (header.name, struct, " ".join(compiler() + flags(sanitize)), cffi.__version__, sys.version,
                 sysconfig.get_config_var("EXT_SUFFIX") or "", sysconfig.get_platform()):
        h.update(part.encode() + b"\0")
    for path in _sources(header):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def module_name(header: Path, key: str) -> str:
    stem = re.sub(r"\W", "_", header.stem)
    return f"_puffer_{stem}_{key}"


def _target(header: str | os.PathLike, struct: str, sanitize: bool | None) -> tuple[Path, str, Path, bool]:
    """(header, module name, library path, sanitize) for a header and the current settings."""
    header = Path(header).resolve()
    if not header.is_file():
        raise BuildError(f"env header {header} does not exist: is it listed as package data (*.h) in the "
                         "plugin's pyproject.toml?")
    sanitize = sanitize_enabled() if sanitize is None else sanitize
    key = cache_key(header, struct, sanitize)
    name = module_name(header, key)
    return header, name, cache_root() / key / (name + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")), sanitize


def ensure_built(header: str | os.PathLike, struct: str, sanitize: bool | None = None) -> Path:
    """Compile `header` into the cache unless it is there already; return the library's path (no loading,
    so a sanitized build can be prepared without the ASan runtime)."""
    header, _, path, sanitize = _target(header, struct, sanitize)
    if not path.exists():
        compile_header(header, struct, sanitize, path)
    return path


def load(header: str | os.PathLike, struct: str, sanitize: bool | None = None) -> Library:
    """The compiled library for `header` (compiling it if the cache has none), loaded once per process."""
    header, name, path, sanitize = _target(header, struct, sanitize)
    if path in _loaded:
        return _loaded[path]
    if sanitize and "asan" not in os.environ.get("LD_PRELOAD", ""):
        # Loading an ASan-instrumented library into a plain Python aborts the process outright.
        raise BuildError("PUFFER_SANITIZE=1 builds need the ASan runtime loaded first: run Python with "
                         "LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0")
    if not path.exists():
        compile_header(header, struct, sanitize, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    _loaded[path] = Library(module.ffi, module.lib, path, struct, sanitize)
    return _loaded[path]


def compile_header(header: Path, struct: str, sanitize: bool, target: Path) -> None:
    """Generate the cdef, emit the C source and compile it into `target`, under a file lock."""
    lock_path = target.parent.parent / f"{target.parent.name}.lock"
    try:
        target.parent.parent.mkdir(parents=True, exist_ok=True)
        lock = open(lock_path, "w")
    except OSError as e:
        raise BuildError(f"cannot write the build cache {target.parent.parent} ({e.strerror}): set "
                         "PUFFER_CACHE_DIR to a writable folder") from e
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():  # another process built it while we waited
            return
        declarations = cdef.generate(cdef.read_header(header), struct, header.parent)
        ffi = cffi.FFI()
        try:
            ffi.cdef(declarations)
        except cffi.CDefError as e:
            numbered = "\n".join(f"{i + 1:4d}  {line}" for i, line in enumerate(declarations.splitlines()))
            raise BuildError(f"cffi could not read the declarations generated from {header}: {e}\n"
                             f"generated cdef:\n{numbered}") from e
        ffi.set_source(target.stem.split(".")[0], f"#include \"{header.name}\"", compiler_verbose=False)
        tmp = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent.parent))
        try:
            source = tmp / (target.name.split(".")[0] + ".c")
            ffi.emit_c_code(str(source))
            out = tmp / target.name
            command = [*compiler(), *flags(sanitize), f"-I{header.parent}", f"-I{INCLUDE_DIR}",
                       f"-I{sysconfig.get_paths()['include']}", str(source), "-o", str(out), "-lm"]
            try:
                result = subprocess.run(command, capture_output=True, text=True)
            except FileNotFoundError as e:
                raise BuildError(f"no C compiler found ({command[0]}): install gcc or set CC") from e
            if result.returncode != 0:
                raise BuildError(f"compiling {header} failed:\n$ {shlex.join(command)}\n"
                                 f"{result.stdout}{result.stderr}".rstrip())
            target.parent.mkdir(exist_ok=True)
            os.replace(out, target)  # atomic: readers see no file or a complete one
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
