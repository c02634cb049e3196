"""Registers `{{ cookiecutter.name }}` with Puffer (entry point group `puffer` in pyproject.toml)."""

from importlib.resources import files

from puffer_core import EnvSpec, hookimpl


@hookimpl
def puffer_envs():
    return [EnvSpec(
        name="{{ cookiecutter.name }}",
        make="{{ cookiecutter.package }}:{{ cookiecutter.class_name }}",
        default_kwargs={"num_envs": 256},
        config=files(__package__).joinpath("config.toml").read_text(),
        description={{ cookiecutter._description_py }},
    )]
