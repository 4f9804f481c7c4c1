"""
The local hub's dashboard in headless Chromium, fed by the real bridge and the demo robot.

Needs Debian's chromium and chromedriver (scripts/browser.sh installs them) and selenium. Where
they are missing the tests are skipped, or fail when ARTBOT_REQUIRE_BROWSER=1. A screenshot of
the live page goes to tmp_path and, when ARTBOT_SCREENSHOT names a file, there too.
"""

import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional
import urllib.parse
import urllib.request

from harness import FAST, HubHarness, ROOT
import pytest

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the fixture skips (or fails) with the reason
    webdriver = None

pytestmark = pytest.mark.browser

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
CHROMIUM_FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
                  '--no-first-run', '--disable-background-networking',
                  '--disable-component-update', '--disable-sync', '--window-size=1280,900']
AGENT = 'dash-create3'
LIVE_BATTERY = re.compile(r'\d+(\.\d+)?%')
EVIL_ID = '<img src=x onerror="window.__pwned=1">'
EVIL_HTML = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
# What markup injected into the page would leave: the flag, elements, a second script.
INJECTED = ('return [typeof window.__pwned, document.querySelectorAll('
            '"img, iframe, object, embed, #robots script").length, document.scripts.length]')


# -- fixtures --------------------------------------------------------------------------------

def _require_browser() -> None:
    """Skip, or fail under ARTBOT_REQUIRE_BROWSER=1, when the browser cannot run here."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        problem = f'{" and ".join(missing)} not installed; run scripts/browser.sh'
    elif webdriver is None:
        problem = 'selenium is not installed; pip install "selenium>=4.10" (scripts/setup.sh)'
    else:
        return
    if os.environ.get('ARTBOT_REQUIRE_BROWSER') == '1':
        pytest.fail(f'{problem} (ARTBOT_REQUIRE_BROWSER=1: the browser tests must run)',
                    pytrace=False)
    print(f'SKIPPED: {problem}')
    pytest.skip(problem)


@pytest.fixture(scope='module')
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Return headless Chromium with a fresh profile (no Selenium Manager, no downloads)."""
    _require_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f'--user-data-dir={tmp_path_factory.mktemp("chromium-profile")}')
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(15)
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope='module')
def demo_robot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen]:
    """Run the simulated Create 3 (docked, charging from 50 %) for the module's tests."""
    log_path = tmp_path_factory.mktemp('demo-robot') / 'demo_robot.log'
    env = dict(os.environ, PYTHONUNBUFFERED='1', PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    with open(log_path, 'wb') as log:
        process = subprocess.Popen(
            [sys.executable, '-m', 'artbot_bridge.demo_robot', '--ros-args',
             '-p', 'start_percentage:=0.5'],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def bridge_params(hub: HubHarness) -> Dict[str, Any]:
    """Return config/bridge.yaml's parameters (commands, status sources), fast and local."""
    yaml = pytest.importorskip('yaml')
    config = yaml.safe_load(Path(ROOT, 'config', 'bridge.yaml').read_text())
    section = config.get('/**') or config['artbot_bridge']  # any node name, or the node's
    return {**section['ros__parameters'], **FAST,
            'hub_url': hub.url, 'agent_id': AGENT, 'heartbeat_interval': 1.0,
            'monitor_interval': 1.0, 'hub_log_level': 'info'}


# -- the page --------------------------------------------------------------------------------

class Dashboard:
    """The dashboard page in the browser, read through its data-testid attributes."""

    def __init__(self, driver: Any, url: str) -> None:
        self.driver = driver
        driver.get(url)

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        """Wait until `condition()` is truthy; fail naming `what` and showing the page."""
        def check(_: Any) -> Any:
            try:
                return condition()
            except StaleElementReferenceException:
                return None
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(check)
        except TimeoutException:
            page = self.driver.find_element(By.TAG_NAME, 'body').text
            raise AssertionError(f'timed out after {timeout} s waiting for {what}; '
                                 f'the page shows:\n{page[:3000]}') from None

    def card(self, robot_id: str) -> Optional[Any]:
        """Return the robot's card, found by its data-robot-id attribute (never a selector)."""
        for card in self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="robot-card"]'):
            if card.get_attribute('data-robot-id') == robot_id:
                return card
        return None

    def wait_card(self, robot_id: str, status: str = 'online') -> Any:
        """Wait for the robot's card to show `status`; return the card."""
        return self.wait(lambda: (card := self.card(robot_id)) is not None
                         and text(card, 'robot-status') == status and card,
                         f'the card of {robot_id!r} showing {status}')

    def response(self, card: Any, command_id: str) -> Optional[Any]:
        """Return the card's entry for a command id."""
        for entry in all_of(card, 'response'):
            if entry.get_attribute('data-command-id') == command_id:
                return entry
        return None

    def wait_answered(self, card: Any, command_id: str) -> Any:
        """Wait for the command's entry to show its response; return the entry."""
        return self.wait(lambda: (entry := self.response(card, command_id)) is not None
                         and entry.get_attribute('data-state') in ('ok', 'failed') and entry,
                         f'the response to {command_id}')

    def connection(self) -> str:
        """Return the page's socket state: connecting, connected, disconnected, ..."""
        return self.driver.find_element(By.ID, 'connection').get_attribute('data-state')

    def screenshot(self, path: Path) -> None:
        """Save a PNG of the whole page to `path`, and to $ARTBOT_SCREENSHOT when set."""
        size = self.driver.get_window_size()
        height = self.driver.execute_script(
            'return document.documentElement.scrollHeight + outerHeight - innerHeight')
        self.driver.set_window_size(size['width'], min(max(height, size['height']), 2400))
        try:
            assert self.driver.save_screenshot(str(path)), path
        finally:
            self.driver.set_window_size(size['width'], size['height'])
        extra = os.environ.get('ARTBOT_SCREENSHOT')
        if extra:
            Path(extra).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, extra)


def one(scope: Any, testid: str) -> Any:
    """Return the first element with this data-testid inside `scope`."""
    return scope.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def all_of(scope: Any, testid: str) -> List[Any]:
    """Return every element with this data-testid inside `scope`."""
    return scope.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def text(scope: Any, testid: str) -> str:
    """Return the visible text of the first element with this data-testid."""
    return one(scope, testid).text


def button(card: Any, action: str) -> Any:
    """Return the card's command button for `action`."""
    for candidate in all_of(card, 'command-button'):
        if candidate.get_attribute('data-action') == action:
            return candidate
    raise AssertionError(f'no {action!r} button; buttons: '
                         f'{[b.text for b in all_of(card, "command-button")]}')


def click_command(page: Dashboard, hub: HubHarness, card: Any, robot_id: str,
                  action: str) -> str:
    """Click the command button and return the command id the hub sent."""
    before = len(hub.events('command_sent', agent_id=robot_id))
    button(card, action).click()
    sent = page.wait(lambda: hub.events('command_sent', agent_id=robot_id)[before:],
                     f'the hub sending {action}')
    return sent[0]['command']['command_id']


def post_json(url: str, body: Dict[str, Any]) -> Dict[str, Any]:
    """POST a JSON body and return the JSON answer."""
    request = urllib.request.Request(url, json.dumps(body).encode(), method='POST',
                                     headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


# What the real hub's robot card (RobotCard.vue) shows, by the page's data-testid.
HUB_CARD = ('metric-battery', 'metric-cpu-temp', 'metric-memory', 'card-oak', 'card-create3',
            'card-workspace', 'card-uptime', 'card-location')


def js_text(value: Any) -> str:
    """Return JavaScript's String(value) for a JSON scalar."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_uptime(seconds: Any) -> str:
    """Return RobotCard.vue's formatUptime(seconds) for a number or nothing."""
    if not seconds:
        return '0m'
    hours, minutes = int(seconds // 3600), int(seconds % 3600 // 60)
    return f'{hours}h {minutes}m' if hours > 0 else f'{minutes}m'


def hub_card(record: Dict[str, Any]) -> Dict[str, str]:
    """Return what RobotCard.vue shows for a robot record: its keys, its `|| 0` fallbacks."""
    def or0(key: str) -> str:
        return js_text(record.get(key) or 0)
    return {
        'metric-battery': f'{or0("battery_level")}%',
        'metric-cpu-temp': f'{or0("cpu_usage")}% / {or0("temperature")}°C',
        'metric-memory': f'{or0("memory_usage")}%',
        'card-oak': 'OAK' if record.get('oak_camera_connected') else 'No OAK',
        'card-create3': 'Create3' if record.get('create3_connected') else 'No Create3',
        'card-workspace': 'Running' if record.get('workspace_status') == 'running' else 'Stopped',
        'card-uptime': format_uptime(record.get('uptime_seconds')),
        'card-location': js_text(record.get('location') or 'Unknown'),
    }


def shown_card(card: Any) -> Dict[str, str]:
    """Return the page's hub-card texts."""
    return {testid: text(card, testid) for testid in HUB_CARD}


# -- tests -----------------------------------------------------------------------------------

def test_page_and_api_index_are_served(browser, hub):
    with urllib.request.urlopen(hub.url + '/api', timeout=5) as answer:
        assert 'POST /api/robots/{id}/command' in answer.read().decode()
    with urllib.request.urlopen(hub.url + '/', timeout=5) as answer:
        assert answer.headers['Content-Type'].startswith('text/html')
        assert "script-src 'self'" in answer.headers['Content-Security-Policy']
    page = Dashboard(browser, hub.url)
    page.wait(lambda: page.connection() == 'connected', 'the page connected')
    assert text(browser, 'empty').startswith('No robots yet')


def test_robot_card_is_live(browser, demo_robot, hub, start_bridge):
    start_bridge(bridge_params(hub))
    page = Dashboard(browser, hub.url)
    card = page.wait_card(AGENT)

    def record() -> Dict[str, Any]:
        return dict(hub.hub.robots.get(AGENT) or {})

    # The card shows the hub's record as the hub's own card would, the demo robot's battery too.
    page.wait(lambda: record().get('battery_level') not in (None, 100)
              and shown_card(card) == hub_card(record()),
              "the demo robot's battery level, shown as the hub's card shows it")
    beats, batteries = set(), set()

    def moving() -> bool:
        beats.add(card.get_attribute('data-last-heartbeat'))
        batteries.add(text(card, 'metric-battery'))
        return len(beats) >= 3 and len(batteries) >= 2

    page.wait(moving, 'three heartbeats and a changing battery level')
    assert re.fullmatch(r'[\d.]+% / [\d.]+°C', text(card, 'metric-cpu-temp'))
    assert re.fullmatch(r'[\d.]+%', text(card, 'metric-memory'))
    assert text(card, 'card-create3') == 'Create3'  # the battery topic is fresh
    assert re.fullmatch(r'heartbeat \d+ s ago', text(card, 'heartbeat-age'))
    assert not one(card, 'zombie-note').is_displayed()
    # The rows are drawn anew with every update: read them whole, again if one was replaced.
    sources = page.wait(lambda: {s.find_element(By.CSS_SELECTOR, '.source-name').text: s.text
                                 for s in all_of(card, 'source')}, 'the source rows')
    assert {'battery', 'dock_state', 'workspace_state', 'odom'} <= set(sources), sources.keys()
    assert '/battery_state' in sources['battery']
    assert 'voltage' in sources['battery']
    page.wait(lambda: int(one(card, 'spark-cpu').get_attribute('data-points')) >= 2
              and int(one(card, 'spark-battery').get_attribute('data-points')) >= 2,
              'two points in each sparkline')
    assert one(card, 'spark-cpu').find_element(By.CSS_SELECTOR, '.line').get_attribute('d')


def test_commands_answered_with_latency_then_screenshot(browser, demo_robot, hub, start_bridge,
                                                        tmp_path):
    start_bridge(bridge_params(hub))
    page = Dashboard(browser, hub.url)
    card = page.wait_card(AGENT)
    page.wait(lambda: hub.hub.robots[AGENT].get('battery_level') not in (None, 100)
              and LIVE_BATTERY.fullmatch(text(card, 'metric-battery')),
              'the bridge and the demo robot discovering each other')
    expected = {'ping', 'status', 'get_logs', 'reconnect', 'dock', 'undock',
                'start_workspace', 'stop_workspace'}
    assert expected <= {b.get_attribute('data-action') for b in all_of(card, 'command-button')}

    for action in ('ping', 'undock', 'dock'):
        command_id = click_command(page, hub, card, AGENT, action)
        entry = page.wait_answered(card, command_id)
        assert re.fullmatch(r'\d+ ms', text(entry, 'response-latency')), entry.text
        assert text(entry, 'response-command-id') == command_id
        if action == 'ping':
            assert entry.get_attribute('data-state') == 'ok'
            assert text(entry, 'response-message') == 'pong'
        else:  # the robot's own service: docked or undocked, either way an answer
            assert text(entry, 'response-message') in (
                'docked', 'undocked', 'already docked', 'already undocked'), entry.text

    # The free-form box: invalid JSON is refused on the page, valid JSON is sent.
    form = one(card, 'command-form')
    sent = len(hub.events('command_sent'))
    one(form, 'command-action').send_keys('get_logs')
    one(form, 'command-params').send_keys('{"lines": ')
    one(form, 'command-send').click()
    page.wait(lambda: 'not valid JSON' in text(card, 'command-error'), 'the JSON error')
    assert len(hub.events('command_sent')) == sent
    one(form, 'command-params').send_keys('5}')
    one(form, 'command-send').click()
    page.wait(lambda: len(hub.events('command_sent')) > sent, 'get_logs sent')
    entry = page.wait_answered(card, hub.events('command_sent')[-1]['command']['command_id'])
    assert entry.get_attribute('data-state') == 'ok'
    assert re.fullmatch(r'\d+ ms', text(entry, 'response-latency')), entry.text
    assert not one(card, 'command-error').is_displayed()

    # A command from elsewhere (curl, another page) is listed too, with no latency.
    answer = post_json(f'{hub.url}/api/robots/{AGENT}/command', {'action': 'status'})
    entry = page.wait_answered(card, answer['command_id'])
    assert text(entry, 'response-latency') == 'latency unknown'

    # The demo robot logs each service call; the bridge forwards /rosout at info.
    page.wait(lambda: any(': ' in line.text for line in all_of(card, 'log-line')),
              'a log line from the demo robot')
    select = one(card, 'log-filter')
    select.find_element(By.CSS_SELECTOR, 'option[value="error"]').click()
    page.wait(lambda: all(line.is_displayed() == (line.get_attribute('data-level') == 'error')
                          for line in all_of(card, 'log-line')),
              'only error lines shown by the error filter')
    select.find_element(By.CSS_SELECTOR, 'option[value="all"]').click()
    page.wait(lambda: all(line.is_displayed() for line in all_of(card, 'log-line')),
              'every line shown again')
    page.wait(lambda: int(one(card, 'spark-battery').get_attribute('data-points')) >= 5,
              'five points in the battery sparkline')
    page.screenshot(tmp_path / 'dashboard.png')


def test_page_reconnects_after_hub_restart(browser, demo_robot, hub, start_bridge):
    start_bridge(bridge_params(hub))
    page = Dashboard(browser, hub.url)
    card = page.wait_card(AGENT)
    page.wait(lambda: page.connection() == 'connected', 'the page connected')
    assert one(browser, 'reconnects').get_attribute('data-count') == '0'

    hub.stop()
    page.wait(lambda: page.connection() == 'disconnected'
              and 'disconnected' in text(browser, 'connection-text'), 'disconnected shown')
    stopped_at = time.time()
    hub.start()
    page.wait(lambda: page.connection() == 'connected'
              and one(browser, 'reconnects').get_attribute('data-count') == '1',
              'the page reconnected')
    assert 'reconnected 1 time' in text(browser, 'reconnects')
    page.wait(lambda: text(card, 'robot-status') == 'online'
              and float(card.get_attribute('data-last-heartbeat') or 0) > stopped_at,
              'the robot back online with a fresh heartbeat')


class FakeAgent:
    """An agent (by default a hostile one) on the hub's own loop: aiohttp client, no bridge."""

    def __init__(self, hub: HubHarness, agent_id: str, hostname: str = EVIL_HTML,
                 capabilities: Optional[List[str]] = None) -> None:
        import aiohttp
        from yarl import URL
        self.hub = hub
        self.agent_id = agent_id
        path = '/ws/agent/' + urllib.parse.quote(agent_id, safe='')
        capabilities = [EVIL_HTML, 'ping'] if capabilities is None else capabilities

        async def open_() -> Any:
            session = aiohttp.ClientSession()
            async with session.post(hub.url + '/api/agents/register', json={
                    'agent_id': agent_id, 'hostname': hostname, 'ip_address': hostname,
                    'system_info': {'platform': hostname, 'bridge_version': hostname},
                    'robot_info': {'capabilities': capabilities}}) as answer:
                assert answer.status == 200, await answer.text()
            return session, await session.ws_connect(URL(hub.url + path, encoded=True))

        self.session, self.ws = hub.loop.run(open_(), timeout=10)

    def send(self, kind: str, **fields: Any) -> None:
        """Send one message of the agent protocol."""
        message = {'type': kind, 'agent_id': self.agent_id, **fields}
        self.hub.loop.run(self.ws.send_str(json.dumps(message)), timeout=5)

    def receive(self) -> Dict[str, Any]:
        """Return the next command the hub sends."""
        return self.hub.loop.run(self.ws.receive_json(timeout=10), timeout=15)

    def close(self) -> None:
        """Close the socket and the session."""
        async def close() -> None:
            await self.ws.close()
            await self.session.close()
        self.hub.loop.run(close(), timeout=10)


def test_hostile_fields_are_shown_as_text(browser, hub):
    page = Dashboard(browser, hub.url)
    page.wait(lambda: page.connection() == 'connected', 'the page connected')
    agent = FakeAgent(hub, EVIL_ID)
    try:
        assert hub.events('connect')[-1]['agent_id'] == EVIL_ID  # the path, decoded
        assert hub.events('connect')[-1]['registered']
        agent.send('heartbeat', data={'cpu_percent': 12.5, 'memory_percent': 40.0,
                                      'uptime': 5, EVIL_HTML: EVIL_HTML})  # dropped by the hub
        agent.send('robot_status', data={
            'status': 'online', 'name': EVIL_HTML, 'location': EVIL_HTML, EVIL_HTML: EVIL_HTML,
            'constructor': EVIL_HTML, '__proto__': EVIL_HTML, 'sources': {EVIL_HTML: {
                'topic': EVIL_HTML, 'type': EVIL_HTML, 'stale': True, 'age_s': 3.0, 'count': 1,
                'data': {EVIL_HTML: EVIL_HTML}}}})
        agent.send('log_entry', data={'level': 'toString', 'message': EVIL_HTML,
                                      'time': EVIL_HTML, 'logger': EVIL_HTML})
        card = page.wait_card(EVIL_ID)
        page.wait(lambda: [m.text for m in all_of(card, 'log-message')] == [EVIL_HTML],
                  'the hostile log line as text')
        assert EVIL_HTML in text(card, 'log-line')  # the logger's name, too
        assert text(card, 'robot-id') == EVIL_ID
        page.wait(lambda: text(card, 'card-name') == EVIL_HTML, 'the hostile name as text')
        assert text(card, 'card-avatar') == EVIL_HTML[-3:]  # the hub card's name.slice(-3)
        assert text(card, 'card-location') == EVIL_HTML
        assert text(card, 'metric-battery') == '100%'  # the registration default, kept
        assert text(card, 'metric-cpu-temp') == '12.5% / 25°C'
        source = one(card, 'source')
        assert source.get_attribute('data-stale') == 'true' and EVIL_HTML in source.text
        facts = one(card, 'facts')
        keys = [key.text for key in facts.find_elements(By.TAG_NAME, 'dt')]
        assert EVIL_HTML in keys and 'constructor' in keys and '__proto__' in keys
        assert EVIL_HTML in facts.text and EVIL_HTML in text(card, 'robot-host')

        # A hostile capability is a button; its command is answered with HTML in the data.
        button(card, EVIL_HTML).click()
        command = agent.receive()
        assert command['action'] == EVIL_HTML
        agent.send('command_response', command_id=command['command_id'], success=False,
                   data={'message': EVIL_HTML, 'result': {'html': EVIL_HTML}})
        entry = page.wait_answered(card, command['command_id'])
        assert text(entry, 'response-message') == EVIL_HTML
        assert re.fullmatch(r'\d+ ms', text(entry, 'response-latency'))
        shown = json.loads(one(entry, 'response-data').get_attribute('textContent'))
        assert shown == {'message': EVIL_HTML, 'result': {'html': EVIL_HTML}}

        assert browser.execute_script(INJECTED) == ['undefined', 0, 1]
    finally:
        agent.close()
    # Offline now: the hub refuses the command and the page shows its detail.
    card = page.wait_card(EVIL_ID, 'offline')
    button(card, 'ping').click()
    page.wait(lambda: 'HTTP 400' in text(card, 'command-error'), 'the refusal shown')
    assert f'Robot {EVIL_ID} is not online' in text(card, 'command-error')
    assert browser.execute_script(INJECTED) == ['undefined', 0, 1]


def test_card_reads_the_keys_the_hub_card_reads(browser, hub):
    """The hub card panel reads RobotCard.vue's keys: heartbeat-only keys never reach it."""
    page = Dashboard(browser, hub.url)
    page.wait(lambda: page.connection() == 'connected', 'the page connected')
    agent = FakeAgent(hub, 'card-bot', hostname='card-pi', capabilities=['ping'])
    try:
        card = page.wait_card('card-bot')
        defaults = {'metric-battery': '100%', 'metric-cpu-temp': '0% / 25°C',
                    'metric-memory': '0%', 'card-oak': 'No OAK', 'card-create3': 'No Create3',
                    'card-workspace': 'Stopped', 'card-uptime': '0m', 'card-location': 'Museum'}
        page.wait(lambda: shown_card(card) == defaults, 'the registration defaults')
        assert (text(card, 'card-name'), text(card, 'card-avatar')) == ('card-pi', '-pi')

        # The heartbeat writes oak_connected, workspace_running and uptime: the card reads
        # oak_camera_connected, workspace_status and uptime_seconds, so these stay put.
        agent.send('heartbeat', data={'cpu_percent': 12.5, 'memory_percent': 33.1,
                                      'temperature': 47.3, 'battery_level': 15,
                                      'create3_connected': True, 'oak_connected': True,
                                      'workspace_running': True, 'uptime': 5000})
        after_heartbeat = {**defaults, 'metric-battery': '15%',
                           'metric-cpu-temp': '12.5% / 47.3°C', 'metric-memory': '33.1%',
                           'card-create3': 'Create3'}
        page.wait(lambda: shown_card(card) == after_heartbeat, 'the heartbeat on the card')
        assert shown_card(card) == hub_card(hub.hub.robots['card-bot'])
        battery = one(card, 'card-battery').get_attribute('class').split()
        assert 'low' in battery and 'critical' not in battery
        assert card.get_attribute('data-low-battery') == 'false'  # `battery`, not battery_level
        assert not one(card, 'hub-start').get_attribute('disabled')

        # Only robot_status can set the card's own keys.
        agent.send('robot_status', data={'oak_camera_connected': True, 'battery_level': 5,
                                         'workspace_status': 'running', 'battery': 10,
                                         'uptime_seconds': 3725, 'location': 'Hall 2'})
        after_status = {**after_heartbeat, 'metric-battery': '5%', 'card-oak': 'OAK',
                        'card-workspace': 'Running', 'card-uptime': '1h 2m',
                        'card-location': 'Hall 2'}
        page.wait(lambda: shown_card(card) == after_status, 'the robot_status on the card')
        assert 'critical' in one(card, 'card-battery').get_attribute('class').split()
        assert card.get_attribute('data-low-battery') == 'true'
        assert one(card, 'hub-start').get_attribute('disabled')  # the workspace is running

        # The hub card's buttons call the hub's own endpoints.
        one(card, 'hub-stop').click()
        command = agent.receive()
        assert command['action'] == 'stop_workspace'
        agent.send('command_response', command_id=command['command_id'], success=True,
                   data={'message': 'stopped'})
        page.wait_answered(card, command['command_id'])

        # A null kills the hub's reader: still online, the null shown as the card shows it.
        agent.send('heartbeat', data={'cpu_percent': None})
        page.wait(lambda: one(card, 'zombie-note').is_displayed(), 'the zombie note')
        assert 'TypeError' in text(card, 'zombie-note')
        assert text(card, 'robot-status') == 'online'
        page.wait(lambda: text(card, 'metric-cpu-temp') == '0% / 47.3°C', 'cpu_usage null as 0')
        button(card, 'ping').click()
        page.wait(lambda: 'HTTP 500' in text(card, 'command-error'), 'the lost command')
        assert 'Failed to send command to robot card-bot' in text(card, 'command-error')
    finally:
        agent.close()
