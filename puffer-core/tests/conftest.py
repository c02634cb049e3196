import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"
# Worker processes import test envs by module name (numpy_cartpole, slow_env): appended, so they shadow nothing.
for _path in (str(EXAMPLES), str(HERE)):
    if _path not in sys.path:
        sys.path.append(_path)


def load_example(name: str):
    """Import examples/<name>.py as a module (examples are scripts, not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # picklable by reference for worker processes
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def numpy_cartpole():
    return load_example("numpy_cartpole")
