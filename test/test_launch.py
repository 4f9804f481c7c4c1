"""
The launch file, run by the real `ros2 launch` against the package as colcon installed it.

Needs the upstream ros2 and launch tools (launch, launch_ros and ros2cli): those of a sourced
ROS 2 install, or those scripts/setup.sh installs from ../shared/ros-cli-wheels. It also needs
artbot_bridge installed in AMENT_PREFIX_PATH, as under `colcon test` or with the install's
setup.bash sourced. Elsewhere (plain pytest from the source tree, a clone without the
wheelhouse) the tests are skipped with the reason, or fail when ARTBOT_REQUIRE_LAUNCH=1
(.ci/run). Each `ros2 launch` runs in its own process group, and every process of that group
is gone when its test ends; the ros2 daemon that the tests started is stopped after them.
"""

import importlib.util
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List, Optional

from harness import FAST, ROOT, wait_for
import pytest

LAUNCH_FILE = ('artbot_bridge', 'bridge.launch.py')
BOUND = 15.0  # seconds: the longest any one step may take


class Setup:
    """Where `ros2` and the installed package are, and the environment to run them in."""

    def __init__(self, ros2: str, prefix: str, env: Dict[str, str]) -> None:
        self.ros2 = ros2
        self.launch_file = str(Path(prefix, 'share', 'artbot_bridge', 'launch', LAUNCH_FILE[1]))
        self.env = env


def _find_setup() -> Setup:
    """Return the setup, or skip (fail under ARTBOT_REQUIRE_LAUNCH=1) naming what is missing."""
    problem = None
    # The venv's own ros2 first (the interpreter running the tests), then a sourced install's.
    ros2 = shutil.which('ros2', path=os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get('PATH', '')]))
    if importlib.util.find_spec('launch_ros') is None or ros2 is None:
        problem = ('the upstream ros2 and launch tools were not found (launch_ros and the ros2 '
                   'command): source a ROS 2 install, or let scripts/setup.sh install them from '
                   '../shared/ros-cli-wheels')
    else:
        from ament_index_python.packages import get_package_prefix, PackageNotFoundError
        try:
            prefix = get_package_prefix('artbot_bridge')
        except (PackageNotFoundError, OSError):  # OSError: AMENT_PREFIX_PATH unset
            problem = ('artbot_bridge is not installed in AMENT_PREFIX_PATH; run under '
                       '`colcon test` or source the setup.bash of the install')
        else:
            if not Path(prefix, 'share', *LAUNCH_FILE[:1], 'launch', LAUNCH_FILE[1]).is_file():
                problem = f'{prefix} has no launch/{LAUNCH_FILE[1]}; rebuild with colcon'
    if problem:
        if os.environ.get('ARTBOT_REQUIRE_LAUNCH') == '1':
            pytest.fail(f'{problem} (ARTBOT_REQUIRE_LAUNCH=1: the launch tests must run)',
                        pytrace=False)
        print(f'SKIPPED: {problem}')
        pytest.skip(problem)
    from artbot_bridge.core.env import ENV_OVERRIDES
    env = {key: value for key, value in os.environ.items() if key not in ENV_OVERRIDES}
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    if Path(sys.prefix, 'share', 'ament_index').is_dir() and sys.prefix not in prefixes:
        prefixes.append(sys.prefix)  # a venv of wheels: the prefix of its ROS packages
    env.update(
        AMENT_PREFIX_PATH=os.pathsep.join(prefixes),
        PATH=os.pathsep.join([str(Path(ros2).parent), os.environ.get('PATH', '')]),
        PYTHONUNBUFFERED='1',
        ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
        ROS_DOMAIN_ID=os.environ['ROS_DOMAIN_ID'])  # one per test run: conftest, test.sh
    return Setup(ros2, prefix, env)


def _daemon_running(setup: Setup) -> bool:
    """Return whether a ros2 daemon answers on the tests' domain."""
    status = subprocess.run([setup.ros2, 'daemon', 'status'], capture_output=True, text=True,
                            env=setup.env, timeout=BOUND, stdin=subprocess.DEVNULL)
    return 'is running' in status.stdout


@pytest.fixture(scope='module')
def setup() -> Iterator[Setup]:
    """Return the ros2 command and its environment, or skip; stop the daemon the tests start."""
    found = _find_setup()
    already = _daemon_running(found)
    yield found
    if not already:  # `ros2 param` and `ros2 topic` started one, which would outlive the run
        subprocess.run([found.ros2, 'daemon', 'stop'], capture_output=True, env=found.env,
                       timeout=BOUND, stdin=subprocess.DEVNULL)


class Launch:
    """`ros2 launch artbot_bridge bridge.launch.py ARGS` in a process group of its own."""

    def __init__(self, setup: Setup, workdir: Path, args: List[str],
                 options: Optional[List[str]] = None, launch_file: Optional[str] = None) -> None:
        self.log_path = workdir / 'launch.log'
        # Every process of this launch inherits the mark, even one that left the group.
        self.mark = f'{os.getpid()}-{id(self)}-{time.monotonic()}'
        env = dict(setup.env, ROS_LOG_DIR=str(workdir / 'ros_log'), ARTBOT_TEST_LAUNCH=self.mark)
        with open(self.log_path, 'wb') as log:
            self.process = subprocess.Popen(
                [setup.ros2, 'launch', *(options or []),
                 *([launch_file] if launch_file else LAUNCH_FILE), *args],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                cwd=str(workdir), start_new_session=True, preexec_fn=_default_sigint())
        self.pgid = self.process.pid  # a new session: its leader's pid is the group's id
        self.started = time.monotonic()

    def output(self) -> str:
        """Return everything the launch and the bridge printed so far."""
        return self.log_path.read_text(errors='replace')

    def wait(self, timeout: float = BOUND) -> int:
        """Return the launch's exit code; fail with its output if it is still running."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f'ros2 launch still runs after {timeout} s:\n'
                                 f'{self.output()}') from None

    def signal_group(self, signum: int) -> None:
        """Signal every process of the group, as ctrl-c in a terminal or systemd's stop does."""
        os.killpg(self.pgid, signum)

    def group(self) -> List[Any]:
        """Return the live processes of the group or marked by this launch (not zombies)."""
        import psutil
        alive = []
        for proc in psutil.process_iter(['status']):
            try:
                if proc.info['status'] != psutil.STATUS_ZOMBIE and (
                        os.getpgid(proc.pid) == self.pgid
                        or proc.environ().get('ARTBOT_TEST_LAUNCH') == self.mark):
                    alive.append(proc)
            except (OSError, psutil.Error):
                pass
        return alive

    def bridge(self, other_than: Optional[int] = None) -> Any:
        """Return the bridge process (the launch's child), waiting for it to start."""
        import psutil
        launch = psutil.Process(self.process.pid)

        def child() -> Any:
            for proc in launch.children():
                try:
                    if proc.pid != other_than and proc.status() != psutil.STATUS_ZOMBIE:
                        return proc
                except psutil.NoSuchProcess:
                    pass
            return None
        return wait_for(child, BOUND, 'the bridge process', self.output)

    def close(self) -> None:
        """Stop whatever of the launch still runs: SIGINT, then SIGKILL; reap the launch."""
        import psutil
        for signum, grace in ((signal.SIGINT, 5.0), (signal.SIGKILL, 5.0)):
            left = self.group()
            if not left:
                break
            try:
                self.signal_group(signum)
            except ProcessLookupError:
                pass  # no process left in the group; one that left it may still run
            for proc in left:
                try:
                    if os.getpgid(proc.pid) != self.pgid:
                        proc.send_signal(signum)
                except (OSError, psutil.Error):
                    pass
            deadline = time.monotonic() + grace
            while self.group() and time.monotonic() < deadline:
                time.sleep(0.05)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass


def _default_sigint() -> Any:
    """Return a preexec_fn that undoes an inherited SIG_IGN of SIGINT, if there is one."""
    # A shell that starts a job in the background without job control ignores SIGINT in it,
    # and an ignored signal stays ignored across exec: then `ros2 launch` would never see it.
    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
        return None
    return lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def launch(setup: Setup, tmp_path: Path) -> Iterator[Any]:
    """Return a starter of `ros2 launch` processes; each is stopped, all its group gone."""
    started: List[Launch] = []

    def start(*args: str, options: Optional[List[str]] = None,
              launch_file: Optional[str] = None) -> Launch:
        workdir = tmp_path / f'launch{len(started)}'
        workdir.mkdir()
        started.append(Launch(setup, workdir, list(args), options, launch_file))
        return started[-1]

    yield start
    for each in started:
        each.close()
        assert not each.group(), f'left running: {each.group()}'


def params_file(tmp_path: Path, **params: Any) -> str:
    """Write a parameters file for the bridge under any name and namespace; return its path."""
    path = tmp_path / f'params{len(list(tmp_path.glob("params*")))}.yaml'
    path.write_text(json.dumps({'/**': {'ros__parameters': {**FAST, **params}}}))  # JSON is YAML
    return str(path)


def connected(hub: Any, run: Launch, agent_id: str, count: int = 1) -> Dict[str, Any]:
    """Wait for the agent's `count`-th connect; fail with what the launch printed."""
    try:
        return hub.wait_connected(agent_id, count=count, timeout=BOUND)
    except AssertionError as err:
        raise AssertionError(f'{err}\nros2 launch printed:\n{run.output()}') from None


def disconnects(hub: Any, agent_id: str) -> List[Any]:
    """Return the close codes of the agent's disconnects, in order."""
    return [event.get('close_code') for event in hub.events('disconnect', agent_id=agent_id)]


# -- the tests ------------------------------------------------------------------------------

def test_launch_connects_and_ctrl_c_closes_cleanly(hub, launch, setup):
    """hub_url and agent_id given on the command line override the installed params file."""
    run = launch(f'hub_url:={hub.url}', 'agent_id:=launch-bot', 'log_level:=debug')
    connected(hub, run, 'launch-bot')
    # They reach the bridge on its command line, after the params file: no file of their own.
    words = run.bridge().cmdline()
    files = [words[i + 1] for i, word in enumerate(words) if word == '--params-file']
    installed = str(Path(setup.launch_file).parent.parent / 'config' / 'bridge.yaml')
    assert files == [installed], words
    assert words[words.index(installed) + 1:][:4] == [
        '-p', f"hub_url:='{hub.url}'", '-p', "agent_id:='launch-bot'"], words
    run.signal_group(signal.SIGINT)
    assert run.wait() == 0, run.output()
    assert disconnects(hub, 'launch-bot') == [1001], hub.events()[-5:]
    assert '[DEBUG]' in run.output()  # log_level reached the node's ROS logger
    assert '\x1b[' not in run.output()  # no terminal colour codes in a log


def test_print_shows_the_bridge_node(launch):
    run = launch(options=['--print'])
    assert run.wait() == 0, run.output()
    assert "ExecInPkg(pkg='artbot_bridge', exec='bridge')" in run.output(), run.output()
    assert 'OnProcessExit' in run.output(), run.output()


INCLUDING = """
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource


def generate_launch_description():
    return LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource({bridge!r}),
        launch_arguments={{'hub_url': '', 'agent_id': '', 'params_file': {params!r}}}.items())])
"""


@pytest.mark.parametrize('how', ['not given', 'given empty'])
def test_empty_arguments_leave_the_params_file_values(hub, launch, setup, tmp_path, how):
    params = params_file(tmp_path, hub_url=hub.url, agent_id='from-file')
    if how == 'not given':
        run = launch('params_file:=' + params)
    else:  # `ros2 launch` refuses `hub_url:=`; an including launch file can pass ''
        including = tmp_path / 'robot.launch.py'
        including.write_text(INCLUDING.format(bridge=setup.launch_file, params=params))
        run = launch(launch_file=str(including))
    connected(hub, run, 'from-file')
    run.signal_group(signal.SIGINT)
    assert run.wait() == 0, run.output()


def test_a_bad_parameter_ends_the_launch_non_zero(launch, tmp_path):
    run = launch('params_file:=' + params_file(tmp_path, hub_url='http://127.0.0.1:9',
                                               heartbeat_interval=-1.0))
    code = run.wait()
    output = run.output()
    assert code != 0, output
    assert 'exit code 2' in output and 'artbot_bridge exited with code 2' in output, output
    assert "invalid parameter 'heartbeat_interval'" in output, output
    assert time.monotonic() - run.started < 10.0, output


def test_a_missing_params_file_ends_the_launch_with_one_line(launch, tmp_path):
    missing = str(tmp_path / 'nope.yaml')
    run = launch('params_file:=' + missing)
    code = run.wait()
    output = run.output()
    assert code != 0, output
    errors = [line for line in output.splitlines() if '[ERROR]' in line]
    assert len(errors) == 1 and f"params_file '{missing}' is not a file" in errors[0], output
    assert 'process started' not in output, output  # the bridge never ran


def test_namespace_puts_the_topics_under_it(hub, launch, setup):
    run = launch(f'hub_url:={hub.url}', 'agent_id:=ns-bot', 'namespace:=robot1')
    connected(hub, run, 'ns-bot')
    echo = subprocess.run(
        [setup.ros2, 'topic', 'echo', '--once', '--no-daemon', '--timeout', '10',
         '--qos-durability', 'transient_local', '--qos-reliability', 'reliable',
         '/robot1/artbot_bridge/hub_connected',
         'std_msgs/msg/Bool'],
        capture_output=True, text=True, env=setup.env, timeout=BOUND, stdin=subprocess.DEVNULL)
    assert 'data: true' in echo.stdout, (echo.returncode, echo.stdout, echo.stderr)


@pytest.mark.parametrize('target', ['launch process', 'process group'])
def test_sigterm_never_leaves_the_bridge_running(hub, launch, target):
    """
    SIGTERM kills `ros2 launch` at once (upstream: it leaves its children running).

    The bridge runs under `setpriv --pdeathsig TERM`: when its launch dies, it gets SIGTERM
    and closes its link (1001). With the whole group signalled (systemd's default), it gets
    SIGTERM directly.
    """
    run = launch(f'hub_url:={hub.url}', 'agent_id:=term-bot')
    connected(hub, run, 'term-bot')
    if target == 'launch process':
        run.process.send_signal(signal.SIGTERM)
    else:
        run.signal_group(signal.SIGTERM)
    run.wait()
    wait_for(lambda: not run.group(), BOUND, 'every process of the launch to end', run.group)
    assert disconnects(hub, 'term-bot') == [1001], hub.events()[-5:]


def test_respawn_starts_the_bridge_again_after_the_delay(hub, launch):
    run = launch(f'hub_url:={hub.url}', 'agent_id:=respawn-bot', 'respawn:=true',
                 'respawn_delay:=1.0')  # not the launch file's default, 2.0
    connected(hub, run, 'respawn-bot')
    crashed = run.bridge()
    crashed.kill()  # a crash: exit -9, which without respawn ends the launch
    killed = time.monotonic()
    run.bridge(other_than=crashed.pid)  # polled every 20 ms
    assert 1.0 <= time.monotonic() - killed < 1.9, run.output()
    connected(hub, run, 'respawn-bot', count=2)
    assert run.process.poll() is None, run.output()
    run.signal_group(signal.SIGINT)
    assert run.wait() == 0, run.output()
    assert run.output().count('process started') == 2, run.output()


def cli(setup: Setup, *args: str) -> subprocess.CompletedProcess:
    """Run one `ros2` command as a user would, bounded in time; return what it printed."""
    return subprocess.run([setup.ros2, *args], capture_output=True, text=True, env=setup.env,
                          timeout=BOUND, stdin=subprocess.DEVNULL)


def until_cli(setup: Setup, check: Any, *args: str) -> str:
    """Run a `ros2` command until `check(stdout)` holds (discovery takes a moment)."""
    seen: List[str] = []

    def attempt() -> bool:
        done = cli(setup, *args)
        seen[:] = [done.stdout + done.stderr]
        return done.returncode == 0 and check(done.stdout)
    wait_for(attempt, BOUND, f'`ros2 {" ".join(args)}`', lambda: seen)
    return seen[0]


def test_ros2_param_get_dump_and_describe_show_what_the_bridge_runs_with(hub, launch, setup):
    run = launch(f'hub_url:={hub.url}', 'agent_id:=param-bot')  # the installed params file
    connected(hub, run, 'param-bot')
    sources = until_cli(setup, lambda out: 'oak_camera' in out,
                        'param', 'get', '/artbot_bridge', 'status_sources')
    assert 'battery' in sources and 'workspace_state' in sources, sources
    dump = until_cli(setup, lambda out: 'hub_url' in out, 'param', 'dump', '/artbot_bridge')
    assert 'ros__parameters: {}' not in dump and 'agent_id: param-bot' in dump, dump
    assert 'workspace_state.map' in dump or 'map:' in dump, dump
    described = until_cli(setup, lambda out: 'Read only: true' in out,
                          'param', 'describe', '/artbot_bridge', 'heartbeat_interval')
    assert 'Min value: 0.1' in described and 'Max value: 3600.0' in described, described


def test_ros2_topic_echo_shows_each_frame_the_hub_gets(hub, launch, setup, tmp_path):
    run = launch('params_file:=' + params_file(tmp_path, hub_url=hub.url, agent_id='echo-bot'))
    connected(hub, run, 'echo-bot')
    for topic, kind in (('heartbeat', 'heartbeat'), ('robot_status', 'robot_status')):
        shown = until_cli(setup, lambda out: f'"type":"{kind}"' in out,
                          'topic', 'echo', '--once', '--no-daemon', '--timeout', '12',
                          '--field', 'data', f'/artbot_bridge/{topic}', 'std_msgs/msg/String')
        assert '"agent_id":"echo-bot"' in shown, shown


# The README's command, as printed: no --once, no type (the daemon's graph knows it), and the
# QoS of the latched topic, without which an echo that started before it discovered the bridge
# prints nothing until the state changes.
README_ECHO = ('topic', 'echo', '--qos-durability', 'transient_local', '--qos-reliability',
               'reliable', '/artbot_bridge/hub_connected')


def test_the_readme_s_hub_connected_echo_prints_the_latched_state(hub, launch, setup, tmp_path):
    readme = ROOT / 'README.md'
    if readme.is_file():  # the source tree: the test runs what the README prints
        assert 'ros2 ' + ' '.join(README_ECHO) in readme.read_text(), 'README changed'
    run = launch(f'hub_url:={hub.url}', 'agent_id:=latched-bot')
    connected(hub, run, 'latched-bot')  # `data: true` was published once, before the echo
    log = tmp_path / 'echo.log'
    echo: Any = None
    ended: List[str] = []  # what earlier attempts printed

    def shows_true() -> bool:
        nonlocal echo
        if echo is None or echo.poll() is not None:  # a first ros2 may not know the type yet
            if echo is not None:
                ended.append(log.read_text())
            with open(log, 'wb') as out:
                echo = subprocess.Popen([setup.ros2, *README_ECHO], stdout=out,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=setup.env, start_new_session=True)
        return 'data: true' in log.read_text()
    try:
        wait_for(shows_true, BOUND, '`ros2 ' + ' '.join(README_ECHO) + '` to print data: true',
                 lambda: ended + [log.read_text()])
    finally:
        if echo is not None and echo.poll() is None:
            os.killpg(echo.pid, signal.SIGINT)  # ctrl-c, as a user ends it
            try:
                echo.wait(BOUND)
            except subprocess.TimeoutExpired:
                os.killpg(echo.pid, signal.SIGKILL)
                echo.wait(5)
    assert 'data: false' not in log.read_text(), log.read_text()


def _init_is_a_context_manager() -> bool:
    import rclpy
    return hasattr(rclpy, 'InitContextManager')


@pytest.mark.skipif(not _init_is_a_context_manager(),
                    reason='ros2service 0.36.1 uses `with rclpy.init()`, which this rclpy '
                           '(Jazzy, Humble) does not have')
def test_ros2_service_call_on_each_bridge_service(hub, launch, setup):
    run = launch(f'hub_url:={hub.url}', 'agent_id:=srv-bot')
    connected(hub, run, 'srv-bot')
    status = until_cli(setup, lambda out: 'success=True' in out, 'service', 'call',
                       '/artbot_bridge/get_status', 'std_srvs/srv/Trigger')
    assert 'connected' in status, status
    paused = until_cli(setup, lambda out: 'telemetry paused' in out, 'service', 'call',
                       '/artbot_bridge/set_telemetry', 'std_srvs/srv/SetBool', '{data: false}')
    assert 'success=True' in paused, paused
    until_cli(setup, lambda out: 'reconnecting' in out, 'service', 'call',
              '/artbot_bridge/reconnect', 'std_srvs/srv/Trigger')
    connected(hub, run, 'srv-bot', count=2)


TWO_BRIDGES = """
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource


def generate_launch_description():
    return LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource({bridge!r}),
        launch_arguments={{'namespace': namespace, 'hub_url': {hub!r}}}.items())
        for namespace in ('robot1', 'robot2')])
"""


def test_two_bridges_in_one_launch_get_distinct_agent_ids(hub, launch, setup, tmp_path):
    import socket
    two = tmp_path / 'two.launch.py'
    two.write_text(TWO_BRIDGES.format(bridge=setup.launch_file, hub=hub.url))
    run = launch(launch_file=str(two))
    for namespace in ('robot1', 'robot2'):  # the installed params file has agent_id: ''
        connected(hub, run, f'{socket.gethostname()}-{namespace}')
    sources = until_cli(setup, lambda out: 'oak_camera' in out,
                        'param', 'get', '/robot2/artbot_bridge', 'status_sources')
    assert 'battery' in sources, sources  # the installed params file applies in a namespace
    run.signal_group(signal.SIGINT)
    assert run.wait() == 0, run.output()
