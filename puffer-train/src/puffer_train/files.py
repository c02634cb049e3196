"""Files written whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: str | Path, content: str | Callable[[BinaryIO], object]) -> Path:
    """Write `content` (text, or a function writing into the open binary file) to a temporary file beside
    `path`, then rename it over `path`: a reader, or a run killed mid-write, never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            if isinstance(content, str):
                f.write(content.encode())
            else:
                content(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
