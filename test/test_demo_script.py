"""`make demo` stops whole, and in order, on Ctrl-C and on SIGTERM, even when they come twice."""

import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
from typing import List

from harness import free_port, wait_for
import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.ros  # the demo runs the bridge and the demo robot


def _default_sigint() -> None:
    """Let the demo see SIGINT: a background job of a non-interactive shell ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(shutil.which('make') is None, reason='no make on this machine')
@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=['ctrl-c', 'sigterm'])
def test_the_demo_stops_every_process_it_started(signum: int, tmp_path: Path) -> None:
    """
    Signal make's process group twice, as an impatient Ctrl-C Ctrl-C or `kill -- -PGID` does.

    The second signal comes while the script stops the bridge; it must not cut the cleanup
    short and leave the hub and the robot running (and the demo's port taken).
    """
    log_path = tmp_path / 'demo.log'
    env = dict(os.environ, DEMO_PORT=str(free_port()), DEMO_AGENT_ID='demo-stop-test',
               DEMO_PYTHON=sys.executable, PYTHONUNBUFFERED='1')
    with open(log_path, 'wb') as log:
        make = subprocess.Popen(['make', '--no-print-directory', '-C', str(ROOT), 'demo'],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True, preexec_fn=_default_sigint)
    started: List[psutil.Process] = []
    try:
        wait_for(lambda: 'connected to' in log_path.read_text(errors='replace'), 60,
                 'the bridge to connect', lambda: log_path.read_text(errors='replace')[-2000:])
        started = psutil.Process(make.pid).children(recursive=True)
        assert len(started) >= 4, started  # the script, the hub, the robot, the bridge
        os.killpg(make.pid, signum)
        wait_for(lambda: 'shutting down' in log_path.read_text(errors='replace'), 10,
                 'the bridge to stop')
        os.killpg(make.pid, signum)
        make.wait(30)
        gone, alive = psutil.wait_procs(started, timeout=15)
        output = log_path.read_text(errors='replace')
        assert not alive, f'left running: {[p.cmdline() for p in alive]}\n{output[-2000:]}'
        assert 'demo stopped' in output.splitlines()[-2:], output[-2000:]  # make's own is last
        bridge_end = output.index('shutting down')
        assert output.index('disconnect {"close_code": 1001', bridge_end) < \
            output.index('hub: hub_stopped'), output[-2000:]
    finally:
        for process in started:
            if process.is_running():
                process.kill()
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
