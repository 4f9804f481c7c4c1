"""The ament pep257 docstring check, as in every ROS 2 Python package."""

from pathlib import Path

from ament_pep257.main import main
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257() -> None:
    rc = main(argv=[str(ROOT / path) for path in ('artbot_bridge', 'bench', 'launch', 'test')])
    assert rc == 0, 'Found code style errors / warnings'
