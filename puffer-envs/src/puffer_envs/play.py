"""`puffer-envs play <name>`: play an env yourself with the keyboard ("nobody ever played the game
their agent learned" is how physics bugs survive).

    puffer-envs play pong [--fps N] [--seed S] [--agent-view] [--max-steps N] [--env.frameskip 1 ...]

Keys come from the env class:
- `keymap`: {key: action} for Discrete actions, a key being a raylib key name ("UP", "SPACE", "W")
  or a tuple of names held together (("UP", "SPACE"): UPFIRE). The entry with the most keys all
  held wins; nothing held plays `default_action` (0 unless the env says otherwise).
- `keys_to_action(pressed: set[str]) -> action`: any action space (MultiDiscrete, Box), given the
  names of the keys held; may be a method, so it can depend on the env instance (e.g. a game's
  action set). Returning None means "no move yet": the env is turn-based, nothing is stepped, and
  from then on each key press (not each frame it is held) plays one move.

- `action_meanings`: ALE-style action names (a list, or a method returning one), e.g. emulated
  Atari games: "UP", "LEFT", "FIRE", "UPRIGHTFIRE", ... become a keymap of arrow keys and SPACE
  for FIRE, combinations as key tuples; NOOP (or action 0) is the default.

The game is drawn by the env's `renderer`, or, for envs without one, from `env.render()` frames in
rgb_array mode. `--agent-view` shows the observation instead: image observations scaled up,
others as one bar per value.
"""

from __future__ import annotations

import argparse
import inspect
import sys

import numpy as np
from gymnasium import spaces
from puffer_core.errors import ConfigError, PufferError
from puffer_core.flags import Parser

from . import render

ALE_KEYS = (("UP", "UP"), ("DOWN", "DOWN"), ("RIGHT", "RIGHT"), ("LEFT", "LEFT"), ("FIRE", "SPACE"))


def keymap_from_action_meanings(meanings: list[str]) -> dict:
    """{keys: action} for ALE-style action names: arrows for directions, SPACE for FIRE."""
    keymap = {}
    for action, meaning in enumerate(meanings):
        rest, keys = str(meaning).upper(), []
        for part, key in ALE_KEYS:
            if part in rest:
                keys.append(key)
                rest = rest.replace(part, "", 1)
        if keys and not rest:  # names made of other words (NOOP, RESET, ...) get no key
            keymap[tuple(keys) if len(keys) > 1 else keys[0]] = action
    return keymap


def no_controls(name: str) -> PufferError:
    return PufferError(f"env {name!r} cannot be played by hand: its class defines neither `keymap` "
                       "(e.g. keymap = {'UP': 1, 'DOWN': 2}), nor keys_to_action(pressed) -> action, "
                       "nor action_meanings")


class Controls:
    """Turns the set of held keys into agent 0's action."""

    def __init__(self, env, name: str):
        self.space = env.single_action_space
        self.function = getattr(env, "keys_to_action", None)
        keymap = getattr(env, "keymap", None)
        self.default = getattr(env, "default_action", 0)
        meanings = getattr(env, "action_meanings", None)
        if not keymap and meanings is not None:
            meanings = list(meanings() if callable(meanings) else meanings)
            keymap = keymap_from_action_meanings(meanings)
            self.default = meanings.index("NOOP") if "NOOP" in meanings else self.default
        if self.function is None and not keymap:
            raise no_controls(name)
        self.entries: list[tuple[frozenset[str], object]] = []
        self.described = "keys: see the env's keys_to_action"
        if self.function is None:
            if not isinstance(self.space, spaces.Discrete):
                raise PufferError(f"env {name!r} has a {type(self.space).__name__} action space: a keymap covers "
                                  "Discrete actions only; define keys_to_action(pressed) -> action instead")
            for keys, action in keymap.items():
                names = (keys,) if isinstance(keys, str | int) else tuple(keys)
                for key in names:
                    render.key_code(key)  # unknown key names fail here, before the window opens
                if not self.space.contains(np.int64(action)):
                    raise ConfigError(f"keymap of {name!r} maps {keys!r} to action {action!r}, outside {self.space}")
                self.entries.append((frozenset(str(k).upper().removeprefix("KEY_") for k in names), action))
            self.described = "keys: " + ", ".join(f"{'+'.join(sorted(k))}={a}" for k, a in self.entries)
            # Most specific first: ("UP", "SPACE") beats "UP" when both are held.
            self.entries.sort(key=lambda entry: -len(entry[0]))

    def __call__(self, pressed: set[str]):
        if self.function is not None:
            return self.function(pressed)
        for keys, action in self.entries:
            if keys <= pressed:
                return action
        return self.default

    def help(self) -> str:
        return self.described


def parser(cls, argv: list[str]) -> Parser:
    """The options of play; with the env's class, its config types the --env flags."""
    p = Parser("puffer-envs play", "puffer-envs play <name> [--fps N] [--seed S] [--agent-view] [--max-steps N] "
               "[--env.<kwarg> VALUE ...]", "Play an env with the keyboard.")
    p.add_argument("name", nargs="?", help="registered env name, e.g. pong")
    p.add_argument("--fps", type=int, metavar="N", help="agent steps per second (default: 60 / frameskip)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="reset seed (default 0)")
    p.add_argument("--agent-view", action="store_true", help="show the observation as the agent sees it")
    p.add_argument("--max-steps", type=int, default=0, metavar="N", help="quit after this many steps (0: when closed)")
    p.add_env_options(argv, getattr(cls, "config", None))
    return p


def parse(argv: list[str]) -> tuple[argparse.Namespace, dict]:
    """(options, env kwargs) of `puffer-envs play` argv."""
    import puffer_core

    name = parser(None, argv).parse_known_args(argv)[0].name  # the env's class types its --env flags
    p = parser(puffer_core.get_spec(name).factory() if name else None, argv)
    args, flags = p.parse(argv)
    if args.name is None:
        p.error("the env's name is required, e.g. puffer-envs play pong")
    if args.fps is not None and args.fps < 1:
        p.error("--fps must be at least 1")
    return args, flags.get("env", {})


def stats_lines(steps: int, episodes: int, ret: float, last: dict) -> list[str]:
    lines = [f"step {steps}  episodes {episodes}  return {ret:+.1f}"]
    if last:
        items = [f"{k} {v:.3g}" for k, v in last.items() if k != "n"]
        lines += ["last: " + "  ".join(items[i:i + 4]) for i in range(0, len(items), 4)]
    return lines


def own_kwargs(factory, **wanted) -> dict:
    """The wanted kwargs the factory names as parameters, plus render_mode when it takes **kwargs
    (Gymnasium ids do); a factory that does not name num_envs makes one copy by default."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return wanted
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return {k: v for k, v in wanted.items()
            if k in params or (var_kw and k == "render_mode" and v is not None)}


def main(argv: list[str] | None = None) -> int:
    import puffer_core

    args, kwargs = parse(list(sys.argv[1:] if argv is None else argv))
    cls = puffer_core.get_spec(args.name).factory()
    if isinstance(cls, type) and not any(hasattr(cls, a) for a in ("keymap", "keys_to_action", "action_meanings")):
        raise no_controls(args.name)  # before anything is built
    has_renderer = getattr(cls, "renderer", None) is not None
    mode = None if args.agent_view else ("human" if has_renderer else "rgb_array")
    env = puffer_core.make(args.name, **{**own_kwargs(cls, num_envs=1, render_mode=mode), **kwargs})
    view = None
    try:
        controls = Controls(env, args.name)
        env.reset(seed=args.seed)
        frameskip = kwargs.get("frameskip", (getattr(env, "config", None) or {}).get("frameskip", 1))
        fps = args.fps or max(1, round(60 / max(int(frameskip), 1)))
        title = f"puffer-envs play {args.name}"
        if args.agent_view:
            shape = env.single_observation_space.shape
            image_like = env.observations.dtype == np.uint8 and len(shape) in (2, 3)
            high = getattr(env.single_observation_space, "high", np.array(255))
            view = (render.ImageView(shape, high=int(np.max(high)), fps=fps, title=title) if image_like
                    else render.VectorView(env.single_observation_space, fps=fps, title=title))
            show = lambda: view.show(env.observations[0])
        elif has_renderer:
            view = render.resolve(cls.renderer)(env, fps=fps, title=title)
            show = lambda: view.render(env)
        else:
            frame = env.render()
            if not isinstance(frame, np.ndarray):
                raise PufferError(f"env {args.name!r} has no renderer and render() in rgb_array mode returned "
                                  f"{type(frame).__name__}, not a frame: it cannot be shown")
            view = render.ImageView(frame.shape, fps=fps, title=title)
            show = lambda: view.show(env.render())
        print(f"playing {args.name} at {fps} steps/s; {controls.help()}; Escape quits", flush=True)

        actions = np.full_like(env.actions, controls.default)
        steps = episodes = 0
        episode_return, last = 0.0, {}
        previous, turn_based = set(), False
        try:
            while not (args.max_steps and steps >= args.max_steps):
                view.overlay = stats_lines(steps, episodes, episode_return, last)
                show()
                if view.closed:
                    break
                held = render.pressed_keys()
                # Turn-based envs answer None while no key is held: there each key press plays one move.
                action = controls(held - previous if turn_based else held)
                previous = held
                if action is None:
                    turn_based = True
                    continue
                actions[0] = action
                env.step(actions)
                steps += 1
                episode_return += float(env.rewards[0])
                if env.terminals[0] or env.truncations[0]:
                    episodes += 1
                    episode_return = 0.0
                    last = env.log() or last
        except KeyboardInterrupt:  # Ctrl+C in the terminal quits like Escape
            pass
        print(f"played {steps} steps, {episodes} episodes finished" +
              (": " + ", ".join(f"{k}={v:.3g}" for k, v in last.items()) if last else ""), flush=True)
    finally:
        if view is not None:
            view.close()
        env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
