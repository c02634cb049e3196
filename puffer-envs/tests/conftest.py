import subprocess
import sys

import pytest


@pytest.fixture
def pytester_subprocess(tmp_path):
    """Run a test file's source through pytest in a fresh interpreter (-v), returning the result."""
    def run(source: str, *args: str) -> subprocess.CompletedProcess:
        path = tmp_path / "test_generated.py"
        path.write_text(source)
        return subprocess.run([sys.executable, "-m", "pytest", str(path), "-v", "-p", "no:cacheprovider", *args],
                              capture_output=True, text=True, cwd=tmp_path, timeout=300)

    return run
