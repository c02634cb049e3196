"""Find, verify and load an env header's cffi extension: prebuilt in the plugin's wheel, or compiled on
first use into a cache on disk.

A wheel's extension (built by `puffer_envs.wheel` with the same flags) is `_puffer_<stem>_<prebuilt key>.abi3.so`
beside the header. The key hashes the plugin's headers, puffer.h, the struct name and the flags, so an edited
header, another SDK's puffer.h, `PUFFER_SANITIZE=1` or `PUFFER_CFLAGS` fall back to the cache
(`PUFFER_PREBUILT=0` forces it).

The cache entry `$PUFFER_CACHE_DIR/<hash>/` (default `~/.cache/puffer/build/<hash>/`) hashes the same plus the
compiler and the cffi and Python versions. It is compiled under a file lock in a `build-<hash>-*` folder and
renamed into place, so workers starting at once build it once and nobody sees half an entry (the next build
removes the folders of killed ones).

Every library has a manifest (`<module>.json`: size and sha256 at build time), checked before `dlopen` because a
truncated file would kill the process with SIGBUS; a damaged entry is rebuilt with a `BuildCacheWarning`.
`PUFFER_SANITIZE=1` builds with AddressSanitizer and UBSan into a separate entry (Python then needs
`LD_PRELOAD=$(gcc -print-file-name=libasan.so)`); `PUFFER_CFLAGS` adds flags; `CC` picks the compiler.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
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


class BuildCacheWarning(RuntimeWarning):
    """A damaged library (cache entry or prebuilt) was found and is being replaced by a fresh build."""


@dataclass
class Library:
    """A compiled env header: the cffi `ffi` (types) and `lib` (functions and constants)."""

    ffi: object
    lib: object
    path: Path
    struct: str
    sanitize: bool
    prebuilt: bool = False


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
    return shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")


def flags(sanitize: bool) -> list[str]:
    extra = ["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else []
    user = shlex.split(os.environ.get("PUFFER_CFLAGS", ""))
    return [*(SANITIZE_FLAGS if sanitize else OPT_FLAGS), *COMMON_FLAGS, *extra, *user]


def _sources(header: Path) -> list[Path]:
    """Every file whose change must trigger a rebuild: the plugin's headers and the SDK's."""
    return sorted(header.parent.glob("*.h")) + sorted(INCLUDE_DIR.glob("*.h"))


def prebuilt_enabled() -> bool:
    return os.environ.get("PUFFER_PREBUILT", "").strip().lower() not in ("0", "false", "no", "off")


def _key(header: Path, *parts: str) -> str:
    """A hash of the header's name, `parts` and every source file (_sources)."""
    h = hashlib.sha256()
    for part in (header.name, *parts):
        h.update(part.encode() + b"\0")
    for path in _sources(header):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def prebuilt_key(header: Path, struct: str) -> str:
    """What a wheel's prebuilt extension must match: the sources and the SDK's default flags. The Python
    and cffi versions are left out on purpose: the extension uses the stable ABI (abi3)."""
    return _key(header, struct, " ".join([*OPT_FLAGS, *COMMON_FLAGS]))


def cache_key(header: Path, struct: str, sanitize: bool) -> str:
    return _key(header, struct, " ".join(compiler() + flags(sanitize)), cffi.__version__, sys.version,
                sysconfig.get_config_var("EXT_SUFFIX") or "", sysconfig.get_platform())


def module_name(header: Path, key: str) -> str:
    stem = re.sub(r"\W", "_", header.stem)
    return f"_puffer_{stem}_{key}"


def ext_suffix() -> str:
    return sysconfig.get_config_var("EXT_SUFFIX") or ".so"


def manifest_path(library: Path) -> Path:
    """`<module>.json` beside `<module><ext suffix>`."""
    return library.with_name(library.name.split(".")[0] + ".json")


def write_manifest(library: Path, **info) -> Path:
    """Record the library's size and sha256 (checked by `verify` before every dlopen)."""
    data = library.read_bytes()
    record = {"file": library.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **info}
    path = manifest_path(library)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def verify(library: Path) -> str | None:
    """None if `library` is exactly what its manifest recorded at build time, else what is wrong.
    Reads the file before dlopen ever maps it: a truncated mapping is a SIGBUS, not an exception."""
    try:
        record = json.loads(manifest_path(library).read_text())
        size, digest = int(record["size"]), str(record["sha256"])
    except FileNotFoundError:
        return "it has no manifest; an older puffer-envs may have built it"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"its manifest is unreadable ({e})"
    try:
        data = library.read_bytes()
    except OSError as e:
        return f"it cannot be read ({e.strerror or e})"
    if len(data) != size:
        return f"it has {len(data)} bytes, {size} were recorded at build time"
    if hashlib.sha256(data).hexdigest() != digest:
        return "its sha256 differs from the one recorded at build time"
    return None


@dataclass
class Target:
    """Where the library for a header and the current settings comes from."""

    header: Path
    struct: str
    sanitize: bool
    path: Path  # cache entry
    prebuilt: Path | None  # a verified prebuilt extension that matches the header, if any
    why_not_prebuilt: str  # when prebuilt is None: why (for `puffer-envs list`)


def find_prebuilt(header: Path, struct: str) -> tuple[Path | None, str]:
    """The wheel's extension for this header, verified, or (None, the reason there is none)."""
    name = module_name(header, prebuilt_key(header, struct))
    for suffix in (ext_suffix(), ".abi3.so"):
        path = header.parent / (name + suffix)
        if path.is_file():
            problem = verify(path)
            if problem is None:
                return path, ""
            warnings.warn(f"puffer: the prebuilt extension {path} is damaged ({problem}); using the compile "
                          "cache instead (reinstall the plugin to repair it)", BuildCacheWarning, stacklevel=3)
            return None, f"prebuilt extension damaged ({problem})"
    if any(header.parent.glob(module_name(header, "*") + ".json")):
        return None, "prebuilt extension does not match the header"
    return None, "no prebuilt extension"


def locate(header: str | os.PathLike, struct: str, sanitize: bool | None = None) -> Target:
    """Where the library for `header` comes from under the current settings (nothing is compiled)."""
    header = Path(header).resolve()
    if not header.is_file():
        raise BuildError(f"env header {header} does not exist: is it listed as package data (*.h) in the "
                         "plugin's pyproject.toml?")
    sanitize = sanitize_enabled() if sanitize is None else sanitize
    key = cache_key(header, struct, sanitize)
    prebuilt, why = None, ""
    if sanitize:
        why = "PUFFER_SANITIZE=1"
    elif os.environ.get("PUFFER_CFLAGS", "").strip():
        why = "PUFFER_CFLAGS is set"
    elif not prebuilt_enabled():
        why = "PUFFER_PREBUILT=0"
    else:
        prebuilt, why = find_prebuilt(header, struct)
    path = cache_root() / key / (module_name(header, key) + ext_suffix())
    return Target(header, struct, sanitize, path, prebuilt, why)


def _cached(t: Target) -> Path:
    """The verified cache entry for `t`, compiled (or rebuilt, if damaged) when needed."""
    if t.path.exists():
        problem = verify(t.path)
        if problem is None:
            return t.path
        warnings.warn(f"puffer: the cached build {t.path} is damaged ({problem}); rebuilding it",
                      BuildCacheWarning, stacklevel=3)
    compile_header(t.header, t.struct, t.sanitize, t.path)
    return t.path


def ensure_built(header: str | os.PathLike, struct: str, sanitize: bool | None = None) -> Path:
    """The library's path, compiled into the cache unless a matching prebuilt extension or a good cache
    entry exists (no loading, so a sanitized build can be prepared without the ASan runtime)."""
    t = locate(header, struct, sanitize)
    return t.prebuilt or _cached(t)


def load(header: str | os.PathLike, struct: str, sanitize: bool | None = None) -> Library:
    """The library for `header`: the wheel's prebuilt extension when it matches, else the compile cache
    (compiling it if needed); loaded once per process."""
    t = locate(header, struct, sanitize)
    if t.sanitize and "asan" not in os.environ.get("LD_PRELOAD", ""):
        # Loading an ASan-instrumented library into a plain Python aborts the process outright.
        raise BuildError("PUFFER_SANITIZE=1 builds need the ASan runtime loaded first: run Python with "
                         "LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0")
    for path in (t.prebuilt, t.path):
        if path in _loaded:
            return _loaded[path]
    path = t.prebuilt or _cached(t)
    name = path.name.split(".")[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    _loaded[path] = Library(module.ffi, module.lib, path, struct, t.sanitize, prebuilt=path == t.prebuilt)
    return _loaded[path]


def compile_module(header: Path, struct: str, name: str, out: Path, sanitize: bool, workdir: Path) -> Path:
    """Generate the cdef and C source for `header` and compile them into the extension module `name` at
    `out`, with its manifest beside it. Used by the cache and by wheel builds alike (same flags)."""
    declarations = cdef.generate(cdef.read_header(header), struct, header.parent)
    ffi = cffi.FFI()
    try:
        ffi.cdef(declarations)
    except cffi.CDefError as e:
        numbered = "\n".join(f"{i + 1:4d}  {line}" for i, line in enumerate(declarations.splitlines()))
        raise BuildError(f"cffi could not read the declarations generated from {header}: {e}\n"
                         f"generated cdef:\n{numbered}") from e
    # The env's header, then the SDK's loops instantiated for its struct (one translation unit, so c_step
    # inlines into the step loop).
    source_text = f'#include "{header.name}"\n#define PUFFER_ENV {struct}\n#include "puffer_vec.h"\n'
    ffi.set_source(name, source_text, compiler_verbose=False)
    source = workdir / (name + ".c")
    ffi.emit_c_code(str(source))
    command = [*compiler(), *flags(sanitize), f"-I{header.parent}", f"-I{INCLUDE_DIR}",
               f"-I{sysconfig.get_paths()['include']}", str(source), "-o", str(out), "-lm"]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise BuildError(f"no C compiler found ({command[0]}): install gcc or set CC") from e
    if result.returncode != 0:
        raise BuildError(f"compiling {header} failed:\n$ {shlex.join(command)}\n"
                         f"{result.stdout}{result.stderr}".rstrip())
    write_manifest(out, module=name, header=header.name, struct=struct, sanitize=sanitize,
                   flags=flags(sanitize), cffi=cffi.__version__)
    return out


# A temporary build folder this old whose key nobody holds the lock of is left over from a killed build;
# one with no key in its name (older SDKs) is only removed once it is this old.
STALE_BUILD_SECONDS = 600


def _lock_is_free(lock_path: Path) -> bool:
    """True when nobody holds the build lock at `lock_path` (so no build of that key is running)."""
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True  # closing releases it


def clean_stale_builds(root: Path, own_key: str) -> list[Path]:
    """Remove the `build-<key>-*` folders of builds that are gone: their key's lock is free, or it is our
    own key, whose lock the caller holds. Returns what it removed."""
    removed = []
    for tmp in root.glob("build-*"):
        parts = tmp.name.split("-")
        key = parts[1] if len(parts) == 3 else None
        try:
            if not tmp.is_dir():
                continue
            if key is None:
                stale = time.time() - tmp.stat().st_mtime > STALE_BUILD_SECONDS
            else:
                stale = key == own_key or _lock_is_free(root / f"{key}.lock")
        except OSError:
            continue
        if stale:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def compile_header(header: Path, struct: str, sanitize: bool, target: Path) -> None:
    """Compile `header` into the cache entry `target` (its folder holds the library and its manifest),
    under the entry's file lock, replacing a damaged entry; the entry appears by one atomic rename."""
    root, key = target.parent.parent, target.parent.name
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = open(root / f"{key}.lock", "w")
    except OSError as e:
        raise BuildError(f"cannot write the build cache {root} ({e.strerror}): set "
                         "PUFFER_CACHE_DIR to a writable folder") from e
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists() and verify(target) is None:  # another process built it while we waited
            return
        clean_stale_builds(root, key)
        tmp = Path(tempfile.mkdtemp(prefix=f"build-{key}-", dir=root))
        try:
            entry = tmp / key
            entry.mkdir()
            compile_module(header, struct, target.name.split(".")[0], entry / target.name, sanitize, tmp)
            (tmp / (target.name.split(".")[0] + ".c")).unlink(missing_ok=True)
            if target.parent.exists():  # a damaged entry: nobody loads it (it fails verify), so drop it
                shutil.rmtree(target.parent)
            os.rename(entry, target.parent)  # atomic: readers see no entry or a complete one
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
