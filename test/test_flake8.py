"""The ament flake8 check, as in every ROS 2 Python package."""

from pathlib import Path

from ament_flake8.main import main_with_errors
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ['artbot_bridge', 'bench', 'launch', 'test', 'setup.py']


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8() -> None:
    rc, errors = main_with_errors(argv=[str(ROOT / path) for path in CHECKED])
    assert rc == 0, f'Found {len(errors)} code style errors / warnings:\n' + '\n'.join(errors)
