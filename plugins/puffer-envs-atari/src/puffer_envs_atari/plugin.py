"""Registers `atari:<game>` for several Atari 2600 games with Puffer (entry point group `puffer`)."""

from importlib.resources import files

from puffer_core import EnvSpec, hookimpl

# ale-py ROM ids; any other ROM id works as puffer_core.make("atari:pong", game="<id>").
GAMES = ("pong", "breakout", "beam_rider", "space_invaders", "seaquest", "qbert", "enduro", "ms_pacman",
         "asteroids", "freeway")


@hookimpl
def puffer_envs():
    config = files(__package__).joinpath("config.toml").read_text()
    return [EnvSpec(
        name=f"atari:{game}",
        make="puffer_envs_atari:Atari",
        default_kwargs={"game": game},
        config=config,
        description=f"Atari 2600 {game} (ale-py): frameskip 4, no sticky actions, grayscale 105x80 uint8",
    ) for game in GAMES]
