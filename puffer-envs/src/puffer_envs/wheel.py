"""Wheel-build helper: a C plugin's wheel carries its compiled env extensions, so installing it needs no
compiler. A plugin's whole build script (`setup.py`; README: "Publishing a plugin"):

    from puffer_envs.wheel import setup

    setup()

Every env header under `src/` (one that defines `c_step(<Struct>* env)`) is compiled by the runtime cache's
function and flags (`build.compile_module`) into `_puffer_<stem>_<prebuilt key>.abi3.so` beside it, with its
manifest; `build.load` uses it only while its key matches the installed header and SDK. cffi builds against
Python's stable ABI, so one wheel serves every Python from 3.11 on. Editable installs (`pip install -e`)
build nothing: the header is compiled on first use and rebuilt whenever it changes.
"""

from __future__ import annotations

from pathlib import Path

import setuptools
from setuptools.command.build_ext import build_ext

from . import build, cdef

# cffi's generated code defines Py_LIMITED_API without a version (the 3.2 stable ABI), so the floor
# is the oldest Python the plugins support.
ABI3_TAG = "cp311"


class EnvExtension(setuptools.Extension):
    """One env header compiled into a cffi extension module of the package that holds it."""

    def __init__(self, package: str, header: Path, struct: str):
        self.header, self.struct = header.resolve(), struct
        self.module = build.module_name(self.header, build.prebuilt_key(self.header, struct))
        super().__init__(f"{package}.{self.module}", sources=[], py_limited_api=True)


class BuildEnvExtensions(build_ext):
    """build_ext that compiles each EnvExtension with the SDK's compiler command (not distutils')."""

    def run(self):
        if getattr(self, "editable_mode", False) or self.inplace:
            return  # editable install: compile on first use, from the working tree's header
        super().run()

    def build_extension(self, ext):
        if not isinstance(ext, EnvExtension):
            return super().build_extension(ext)
        out = Path(self.get_ext_fullpath(ext.name))
        out.parent.mkdir(parents=True, exist_ok=True)
        for old in out.parent.glob(f"{ext.module.rsplit('_', 1)[0]}_*"):  # a reused build/ folder's older keys
            old.unlink()
        work = Path(self.build_temp)
        work.mkdir(parents=True, exist_ok=True)
        build.compile_module(ext.header, ext.struct, ext.module, out, sanitize=False, workdir=work)

    def get_outputs(self):
        return [*super().get_outputs(), *(str(build.manifest_path(Path(p))) for p in super().get_outputs())]


def env_headers(src: Path) -> list[tuple[str, Path, str]]:
    """(package, header, struct) for every env header under `src` (helper headers without
    c_step are included by an env header and need no module of their own)."""
    found = []
    for header in sorted(src.rglob("*.h")):
        struct = cdef.env_struct(cdef.strip_comments(header.read_text(errors="replace")))
        if struct:  # the package is the header's folder under src
            found.append((".".join(header.parent.relative_to(src).parts), header, struct))
    return found


def extensions(src: str | Path = "src") -> list[EnvExtension]:
    return [EnvExtension(package, header, struct) for package, header, struct in env_headers(Path(src))]


def setup(src: str | Path = "src", **kwargs) -> None:
    """setuptools.setup() with the plugin's env extensions (metadata stays in pyproject.toml)."""
    exts = extensions(src)
    if not exts:
        raise build.BuildError(f"no env header (a .h defining c_step) under {Path(src).resolve()}: "
                               "a pure-Python plugin needs no setup.py")
    options = kwargs.pop("options", {})
    options.setdefault("bdist_wheel", {}).setdefault("py_limited_api", ABI3_TAG)
    setuptools.setup(ext_modules=exts, cmdclass={"build_ext": BuildEnvExtensions, **kwargs.pop("cmdclass", {})},
                     options=options, **kwargs)
