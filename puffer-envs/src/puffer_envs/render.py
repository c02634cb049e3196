"""Rendering with raylib (the `pyray` API), all drawing in Python from the env struct's fields.

An env names its renderer with the class attribute `renderer` (a class or "module:Class");
`env.render()` makes it once as `Renderer(env)` and calls `renderer.render(env)`. A renderer
subclass only implements `draw(self, env)`, reading `env.envs[0]` through cffi:

    class PongRenderer(Renderer):
        width, height = 640, 480

        def draw(self, env):
            e = env.envs[0]
            rl.draw_rectangle_rec(rl.Rectangle(e.ball_x, e.ball_y, 10, 10), WHITE)

render_mode "human" opens a window at a low target FPS and returns None; "rgb_array" draws into an
offscreen render texture of a hidden window and returns an (H, W, 3) uint8 array. raylib's desktop
build needs an X server either way: on a headless machine run under Xvfb (`xvfb-run`).
raylib has one window per process, so one renderer is open at a time.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import select
import shutil
import subprocess
import sys
import time

import numpy as np
from puffer_core.env import check_render_mode
from puffer_core.errors import ConfigError, PufferError

_open: Renderer | None = None  # the renderer that owns raylib's one window


def raylib():
    """(pyray, ffi), importing raylib quietly; a clear error when the extra is not installed."""
    logging.getLogger("raylib").setLevel(logging.ERROR)  # it logs a banner at import
    try:
        import pyray
        from raylib import ffi
    except ImportError as e:
        raise PufferError("rendering needs raylib: pip install 'puffer-envs[render]'") from e
    return pyray, ffi


def resolve(renderer):
    """A renderer class from a class or a "module:Class" string."""
    if isinstance(renderer, str):
        from puffer_core.registry import load_object

        return load_object(renderer)
    return renderer


class Renderer:
    """One raylib window (visible for "human", hidden for "rgb_array") that draws an env."""

    width = 640
    height = 480
    fps = 60  # target FPS in human mode: slow enough to watch
    title = "Puffer"
    background = (6, 24, 24, 255)
    text_color = (220, 220, 220, 255)

    def __init__(self, env=None, render_mode: str | None = None, width: int | None = None,
                 height: int | None = None, fps: int | None = None, title: str | None = None):
        global _open
        mode = render_mode or getattr(env, "render_mode", None) or "human"
        self.render_mode = check_render_mode(mode)
        self.width, self.height = int(width or self.width), int(height or self.height)
        self.fps = int(fps or self.fps)
        self.title = title or (f"Puffer: {type(env).__name__}" if env is not None else self.title)
        self.overlay: list[str] = []  # text lines drawn over the frame (play shows stats here)
        self.closed = False  # set when the user closes the window
        self.rl, self.ffi = raylib()
        rl = self.rl

        if _open is not None and not _open.closed:
            raise PufferError("raylib allows one window per process and another renderer still has it open: "
                              "close that env (or renderer) first")
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise PufferError("rendering needs a display and DISPLAY is not set: on a headless machine run "
                              "under a virtual X server, e.g. `xvfb-run -a <command>`")
        rl.set_trace_log_level(rl.TraceLogLevel.LOG_WARNING)
        flags = rl.ConfigFlags.FLAG_WINDOW_HIDDEN if mode == "rgb_array" else 0
        # An X server started without -noreset resets when its last client leaves, and a window opened
        # right then fails: try again briefly before giving up.
        for attempt in range(5):
            rl.set_config_flags(flags)
            rl.init_window(self.width, self.height, self.title)
            if rl.is_window_ready():
                break
            time.sleep(0.1 * (attempt + 1))
        if not rl.is_window_ready():
            raise PufferError(f"raylib could not open a {self.width}x{self.height} window on display "
                              f"{os.environ.get('DISPLAY')!r}: is the X server running?")
        rl.set_exit_key(rl.KeyboardKey.KEY_ESCAPE)
        # rgb_array frames are produced as fast as asked; human frames are paced to be watchable.
        rl.set_target_fps(self.fps if mode == "human" else 0)
        self.target = rl.load_render_texture(self.width, self.height) if mode == "rgb_array" else None
        _open = self

    # -- for subclasses ---------------------------------------------------------------------------
    def draw(self, env) -> None:
        """Draw one frame of `env` (between raylib's begin and end calls)."""
        raise NotImplementedError(f"{type(self).__name__} must implement draw(self, env)")

    # -- the frame --------------------------------------------------------------------------------
    def render(self, env):
        """Draw `env`: None in human mode (also once the window is closed), an (H, W, 3) uint8
        array in rgb_array mode."""
        rl = self.rl
        if self.closed:
            return None
        if self.render_mode == "human":
            if rl.window_should_close():  # the close button or Escape
                self.close()
                return None
            rl.begin_drawing()
            self._frame(env)
            rl.end_drawing()  # swaps buffers, polls input, waits for the target FPS
            return None
        rl.begin_texture_mode(self.target)
        self._frame(env)
        rl.end_texture_mode()
        return self._read_target()

    def _frame(self, env) -> None:
        self.rl.clear_background(self.background)
        self.draw(env)
        for i, line in enumerate(self.overlay):
            self.rl.draw_text(line, 8, self.height - 20 * (len(self.overlay) - i), 16, self.text_color)

    def _read_target(self) -> np.ndarray:
        rl = self.rl
        image = rl.load_image_from_texture(self.target.texture)
        try:
            if image.format != rl.PixelFormat.PIXELFORMAT_UNCOMPRESSED_R8G8B8A8:
                raise PufferError(f"raylib returned a frame in pixel format {image.format}, expected RGBA8")
            size = image.width * image.height * 4
            pixels = np.frombuffer(self.ffi.buffer(image.data, size), np.uint8)
            # OpenGL textures are stored bottom row first.
            return pixels.reshape(image.height, image.width, 4)[::-1, :, :3].copy()
        finally:
            rl.unload_image(image)

    def close(self) -> None:
        global _open
        if self.closed:
            return
        self.closed = True
        if self.target is not None:
            self.rl.unload_render_texture(self.target)
            self.target = None
        self.rl.close_window()
        if _open is self:
            _open = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- drawing helpers ------------------------------------------------------------------------
    def rect(self, x: float, y: float, w: float, h: float, color) -> None:
        self.rl.draw_rectangle_rec(self.rl.Rectangle(float(x), float(y), float(w), float(h)), color)

    def text(self, text: str, x: float, y: float, size: int = 20, color=None, center: bool = False) -> None:
        if center:
            x -= self.rl.measure_text(text, size) / 2
        self.rl.draw_text(text, int(x), int(y), size, color or self.text_color)


class ImageView(Renderer):
    """Shows a uint8 image scaled up: a frame from `env.render()` or an image observation.

    Accepts (H, W) grayscale, (H, W, C) with C in 1, 3, 4, and channels-first (C, H, W) with C up to
    4 (C == 3 as RGB, other C side by side, e.g. stacked grayscale frames). Values up to `high` map
    to black..white."""

    def __init__(self, shape: tuple[int, ...], scale: int | None = None, high: int = 255, **kwargs):
        h, w = self._planes(np.zeros(tuple(shape), np.uint8)).shape[:2]
        # Small-valued images (ids, 0/1 planes) are stretched so that `high` shows as white.
        self.lut = np.minimum(np.arange(256) * (255.0 / max(1, min(int(high), 255))), 255).astype(np.uint8)
        # By default small images are scaled up to about 500 pixels on their longer side.
        self.scale = max(1, 500 // max(h, w, 1)) if scale is None else scale
        super().__init__(width=w * self.scale, height=h * self.scale, **kwargs)
        rl = self.rl
        self.rgba = np.zeros((h, w, 4), np.uint8)
        self.rgba[..., 3] = 255
        blank = rl.gen_image_color(w, h, rl.BLACK)
        self.texture = rl.load_texture_from_image(blank)
        rl.unload_image(blank)
        self.image: np.ndarray | None = None

    @staticmethod
    def _planes(image: np.ndarray) -> np.ndarray:
        """The image as (H, W) or (H, W, 3 or 4) (what is shown, so its shape is the view's)."""
        shape = image.shape
        if image.ndim == 3 and shape[2] not in (1, 3, 4) and shape[0] <= 4:  # channels first
            image = image.transpose(1, 2, 0) if shape[0] == 3 else np.concatenate(list(image), axis=1)
        elif image.ndim == 3 and shape[2] == 1:
            image = image[..., 0]
        elif image.ndim != 2 and not (image.ndim == 3 and shape[2] in (3, 4)):
            raise ConfigError(f"cannot show an array of shape {shape} as an image: expected (H, W), (H, W, C) or "
                              "(C, H, W) with C <= 4")
        return image

    def to_rgba(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.dtype != np.uint8:
            raise ConfigError(f"ImageView shows uint8 images, got dtype {image.dtype}")
        image = self.lut[self._planes(image)]
        self.rgba[..., :3] = image[..., None] if image.ndim == 2 else image[..., :3]
        return self.rgba

    def show(self, image: np.ndarray):
        self.image = image
        return self.render(None)

    def draw(self, env) -> None:
        if self.image is None:
            return
        rgba = self.to_rgba(self.image)
        self.rl.update_texture(self.texture, self.ffi.cast("void *", rgba.ctypes.data))
        self.rl.draw_texture_ex(self.texture, self.rl.Vector2(0, 0), 0.0, float(self.scale), self.rl.WHITE)

    def close(self) -> None:
        if not self.closed:
            self.rl.unload_texture(self.texture)
        super().close()


class VectorView(Renderer):
    """Shows a flat observation as one labelled bar per value, scaled by the space's bounds."""

    def __init__(self, space, **kwargs):
        self.size = min(int(np.prod(space.shape)), 64)  # beyond that a bar chart says nothing
        low = np.broadcast_to(getattr(space, "low", -1.0), space.shape).reshape(-1)[: self.size].astype(np.float64)
        high = np.broadcast_to(getattr(space, "high", 1.0), space.shape).reshape(-1)[: self.size].astype(np.float64)
        finite = np.isfinite(low) & np.isfinite(high) & (high > low)
        self.low = np.where(finite, low, -1.0)
        self.high = np.where(finite, high, 1.0)
        self.values: np.ndarray | None = None
        super().__init__(width=480, height=max(120, 24 * self.size + 60), **kwargs)

    def show(self, values: np.ndarray):
        self.values = np.asarray(values).reshape(-1)[: self.size]
        return self.render(None)

    def draw(self, env) -> None:
        if self.values is None:
            return
        left, span = 120, self.width - 140
        for i, v in enumerate(self.values.astype(np.float64)):
            y = 10 + 24 * i
            # The bar spans from 0 to the value, both as fractions of the bounds.
            a, b = sorted(float(np.clip((x - self.low[i]) / (self.high[i] - self.low[i]), 0.0, 1.0)) for x in (0.0, v))
            self.rect(left, y, span, 18, (40, 60, 60, 255))
            self.rect(left + a * span, y, max((b - a) * span, 2.0), 18, (0, 187, 187, 255))
            self.text(f"{i}: {v:+.3f}", 8, y, 16)


# -- keyboard state for human play (needs an open window: raylib polls input when a frame ends) ------
_SKIP_KEYS = {"KEY_NULL", "KEY_BACK", "KEY_MENU", "KEY_VOLUME_UP", "KEY_VOLUME_DOWN"}  # Android-only codes


@functools.cache
def key_codes() -> dict[str, int]:
    """Key name (as in raylib without KEY_, e.g. "UP", "SPACE", "W") -> raylib key code."""
    rl, _ = raylib()
    return {k[4:]: int(getattr(rl.KeyboardKey, k)) for k in dir(rl.KeyboardKey)
            if k.startswith("KEY_") and k not in _SKIP_KEYS}


def key_code(key: str | int) -> int:
    """raylib key code of a key name ("UP", "KEY_UP", "w") or a code."""
    if isinstance(key, int):
        return key
    codes = key_codes()
    name = str(key).upper().removeprefix("KEY_")
    if name not in codes:
        raise ConfigError(f"unknown key {key!r}; use raylib key names such as UP, DOWN, LEFT, RIGHT, SPACE, "
                          "W, A, S, D, ENTER, LEFT_SHIFT")
    return codes[name]


def pressed_keys() -> set[str]:
    """Names of the keys held down now (e.g. {"UP", "SPACE"})."""
    rl, _ = raylib()
    return {name for name, code in key_codes().items() if rl.is_key_down(code)}


# -- a virtual display for headless machines (tests, CI) -------------------------------------------
@contextlib.contextmanager
def virtual_display(timeout: float = 10.0):
    """Start `Xvfb` on a free display number and set DISPLAY while inside; yields the display (":N").

    Raises FileNotFoundError when Xvfb is not installed (Debian: apt-get install xvfb)."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise FileNotFoundError("Xvfb is not installed (Debian/Ubuntu: apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    # -displayfd: Xvfb picks a free display itself and writes its number once it accepts clients.
    proc = subprocess.Popen([xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp",
                             "-noreset"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    previous = os.environ.get("DISPLAY")
    try:
        number = b""
        deadline = time.monotonic() + timeout
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(read_fd, 16) if ready else b""
            if not chunk:
                raise PufferError(f"Xvfb did not start within {timeout:.0f}s (exit code {proc.poll()})")
            number += chunk
        display = f":{int(number)}"
        os.environ["DISPLAY"] = display
        yield display
    finally:
        os.close(read_fd)
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
