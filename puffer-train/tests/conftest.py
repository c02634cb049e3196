import pytest


@pytest.fixture
def quick(tmp_path):
    """Common keyword arguments for short, quiet training runs inside tmp_path."""
    def make(**train):
        return {"quiet": True, "train": {"data_dir": str(tmp_path / "runs"), "dashboard": False, **train}}
    return make
