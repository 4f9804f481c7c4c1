"""Hostile input and secrets: each is one clear line, never a crash, a hang or a leaked token."""

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import os
import subprocess
import threading
import time
from typing import Dict, Iterator, List, Tuple

from artbot_bridge.core.errors import brief
from artbot_bridge.core.link import describe
from artbot_bridge.core.settings import Settings
from harness import BridgeProcess, FAST, free_port, wait_for
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

SECRET = 's3cr3t-hostile-token'
DEEP = '{"a": ' * 1000 + '1' + '}' * 1000
# Only the agent socket's handshake is scripted: no dashboard feed is opened, where there is one.
NO_FEED = {'delivery_proof': 'pong'} if 'delivery_proof' in Settings.model_fields else {}
NGINX_502 = ('<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n'
             '<center><h1>502 Bad Gateway</h1></center>\r\n'
             '<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n')


# -- a scripted peer: answers registration and the handshake as a test says -----------------


class ScriptedHub:
    """An HTTP server on loopback answering POST and GET with a scripted status and body."""

    def __init__(self, post: Tuple[int, str], get: Tuple[int, str] = (404, '')) -> None:
        script = {'POST': post, 'GET': get}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'  # websockets reads no other answer to its handshake

            def answer(self) -> None:
                length = int(self.headers.get('Content-Length') or 0)
                self.rfile.read(length)
                status, body = script[self.command]
                # `{headers}`: the request's headers echoed, as some error pages do.
                data = body.replace('{headers}', str(self.headers)).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'text/html')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = answer  # noqa: N815 - http.server's names

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[List[ScriptedHub]]:
    """Return a list that the test appends its ScriptedHub to; each is closed after."""
    hubs: List[ScriptedHub] = []
    yield hubs
    for hub in hubs:
        hub.close()


def last_errors(arrays: List, agent_id: str) -> List[str]:
    """Return every non-empty last_error the agent's /diagnostics showed."""
    found = []
    for array in list(arrays):
        for status in array.status:
            values = {kv.key: kv.value for kv in status.values}
            if status.hardware_id == agent_id and values.get('last_error'):
                found.append(values['last_error'])
    return found


def refused_at_startup(params: Dict, ros_args: Tuple[str, ...] = ()) -> str:
    """Start a bridge that must stop at once with exit 2 and one line; return that line."""
    bridge = BridgeProcess({**FAST, 'hub_url': 'http://127.0.0.1:9', **params}, None, ros_args)
    try:
        try:
            code = bridge.wait(15)
        except subprocess.TimeoutExpired:
            raise AssertionError(f'still running after 15 s: {bridge.output()[-500:]}') from None
        output = bridge.output()
        errors = [line for line in output.splitlines() if line.startswith('artbot_bridge:')]
        assert code == 2 and len(errors) == 1, output
        assert 'Traceback' not in output and SECRET not in output, output
        return errors[0]
    finally:
        bridge.close()


# -- a ~/events line nested 1,000 deep ------------------------------------------------------


def test_a_deeply_nested_event_leaves_the_bridge_up_and_connected(hub, start_bridge, ros):
    from std_msgs.msg import String
    bridge = start_bridge({'hub_url': hub.url, 'agent_id': 'bot-deep'})
    hub.wait_connected('bot-deep')
    events = ros.node.create_publisher(String, '/artbot_bridge/events', 10)
    wait_for(lambda: events.get_subscription_count() > 0, 10, 'the ~/events subscription')
    events.publish(String(data=DEEP))

    def logs() -> List[str]:
        return [m['data']['message'] for m in hub.messages('bot-deep', 'log_entry')]

    def after_it_arrived() -> bool:
        if not bridge.alive():
            raise AssertionError(f'the bridge ended: {bridge.output()[-2000:]}')
        if 'after the deep one' not in logs():
            events.publish(String(data='after the deep one'))
            return False
        return True

    wait_for(after_it_arrived, 15, 'a line sent after the deep one', logs)
    assert any(line.startswith('{"a": {"a": ') for line in logs())  # forwarded as text
    assert bridge.alive() and 'Traceback' not in bridge.output(), bridge.output()
    assert len(hub.events('connect', agent_id='bot-deep')) == 1
    assert not hub.events('disconnect', agent_id='bot-deep')


def test_on_event_takes_json_nested_beyond_the_recursion_limit():
    from artbot_bridge.ros.logs import LogForwarder
    from std_msgs.msg import String
    sent: List[Dict] = []
    logs = LogForwarder(lambda level, message, **extra: sent.append({'level': level}),
                        'info', 'artbot_bridge')
    for depth in (1000, 100_000):
        logs.on_event(String(data='{"a": ' * depth + '1' + '}' * depth))
    assert [entry['level'] for entry in sent] == ['info', 'info']


@pytest.mark.parametrize('choice', ['single', 'events'])
def test_the_spin_survives_a_callback_that_raises_and_ends_at_shutdown(choice):
    import rclpy
    from artbot_bridge.ros.spin import EventsExecutor, make_executor, Spinner
    from std_msgs.msg import String
    if choice == 'events' and EventsExecutor is None:
        pytest.skip('this rclpy has no EventsExecutor')
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('artbot_bridge_spin_test', context=context)
    lines: List[str] = []
    spinner = Spinner(make_executor(choice, context), lines.append, context.ok)
    got: List[str] = []

    def callback(msg: String) -> None:
        got.append(msg.data)
        if msg.data.startswith('raise'):
            raise RecursionError('maximum recursion depth exceeded')

    try:
        node.create_subscription(String, 'spin_test', callback, 10)
        publisher = node.create_publisher(String, 'spin_test', 10)
        spinner.executor.add_node(node)
        spinner.start()
        for n in range(3):
            publisher.publish(String(data=f'raise {n}'))
            wait_for(lambda: f'raise {n}' in got, 5, f'the raising callback #{n}', lambda: got)
        wait_for(lambda: 'fine' in got or publisher.publish(String(data='fine')), 5,
                 'a callback after the errors', lambda: got)
        assert spinner.alive(), lines
        assert lines and all('\n' not in line for line in lines), lines
        assert 'RecursionError: maximum recursion depth exceeded' in lines[0], lines
        context.try_shutdown()  # rclpy's own shutdown still ends the spin
        wait_for(lambda: not spinner.alive(), 5, 'the spin to end at shutdown')
    finally:
        spinner.stop()
        spinner.executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        context.try_shutdown()


# -- hub_token_file: only a regular file, bounded ------------------------------------------


@pytest.mark.parametrize('kind', ['/dev/zero', 'fifo', 'directory', 'over 64 KiB'])
def test_a_token_file_that_is_not_a_small_regular_file_is_refused_at_once(tmp_path, kind):
    path = {'/dev/zero': '/dev/zero', 'fifo': str(tmp_path / 'fifo'),
            'directory': str(tmp_path), 'over 64 KiB': str(tmp_path / 'big')}[kind]
    if kind == 'fifo':
        os.mkfifo(path)
    if kind == 'over 64 KiB':
        (tmp_path / 'big').write_text(SECRET * 4000)
    line = refused_at_startup({'hub_token_file': path})
    assert "'hub_token_file'" in line and repr(path) in line, line


# -- hub_url: never shown with its secrets; refused when it cannot work --------------------


@pytest.mark.parametrize('url,problem', [
    (f'http://user:{SECRET}@127.0.0.1:8000', 'user name'),
    (f'http://:{SECRET}@127.0.0.1:8000', 'user name'),
    (f'http://127.0.0.1:8000/?token={SECRET}', 'query'),
    (f'http://127.0.0.1:8000/hub?a=1&key={SECRET}#x', 'query'),
    (f'http://127.0.0.1:8000/#{SECRET}', 'fragment'),
    (f'ftp://user:{SECRET}@hub:21', 'expected http'),
    (f'http://user:{SECRET}@127.0.0.1:99999', 'bad port'),
])
def test_a_refused_hub_url_never_shows_its_password_or_query(url, problem):
    line = refused_at_startup({'hub_url': url})
    assert "'hub_url'" in line and problem in line, line


def test_true_for_a_number_on_the_command_line_is_refused():
    line = refused_at_startup({}, ('-p', 'ping_interval:=true'))
    assert "'ping_interval'" in line and 'not a boolean' in line, line


# -- error pages: one short line, without the token -----------------------------------------


def test_an_nginx_502_page_is_one_short_line(start_bridge, scripted, ros):
    from diagnostic_msgs.msg import DiagnosticArray
    hub = ScriptedHub(post=(502, NGINX_502))
    scripted.append(hub)
    diagnostics = ros.collect(DiagnosticArray, '/diagnostics')
    bridge = start_bridge({'hub_url': hub.url, 'agent_id': 'bot-502'})
    wait_for(lambda: bridge.output().count('hub link down') >= 2, 15, 'two warnings',
             bridge.output)
    wait_for(lambda: last_errors(diagnostics, 'bot-502'), 15, 'a last_error in /diagnostics')
    output = bridge.output()
    assert all(line.startswith('[') for line in output.splitlines() if line), output
    assert 'registration refused: HTTP 502: 502 Bad Gateway' in output, output
    assert 'nginx/' not in output and '<' not in output, output
    for error in last_errors(diagnostics, 'bot-502'):
        assert error == 'registration refused: HTTP 502: 502 Bad Gateway', error


def test_a_401_that_echoes_the_token_never_shows_it(start_bridge, scripted, ros):
    from diagnostic_msgs.msg import DiagnosticArray
    hub = ScriptedHub(post=(401, f'bad token {SECRET} in:\n{{headers}}'))
    scripted.append(hub)
    diagnostics = ros.collect(DiagnosticArray, '/diagnostics')
    bridge = start_bridge({'hub_url': hub.url, 'agent_id': 'bot-echo'}, {'HUB_TOKEN': SECRET})
    wait_for(lambda: 'the hub refused this agent' in bridge.output(), 15, 'the refusal',
             bridge.output)
    wait_for(lambda: last_errors(diagnostics, 'bot-echo'), 15, 'a last_error in /diagnostics')
    shown = bridge.output() + repr(list(diagnostics))
    assert 'registration refused: HTTP 401: bad token *** in: Host: 127.0.0.1' in shown, shown
    assert SECRET not in shown


def test_a_refused_handshake_is_one_short_line_without_the_token(start_bridge, scripted, ros):
    from diagnostic_msgs.msg import DiagnosticArray
    page = ('<html><head><title>Forbidden by policy</title></head>'
            '<body><pre>{headers}</pre></body></html>')
    hub = ScriptedHub(post=(200, '{}'), get=(403, page))
    scripted.append(hub)
    diagnostics = ros.collect(DiagnosticArray, '/diagnostics')
    bridge = start_bridge({'hub_url': hub.url, 'agent_id': 'bot-ws403', **NO_FEED},
                          {'HUB_TOKEN': SECRET})
    wait_for(lambda: 'the hub refused this agent' in bridge.output(), 15, 'the refusal',
             bridge.output)
    wait_for(lambda: last_errors(diagnostics, 'bot-ws403'), 15, 'a last_error in /diagnostics')
    shown = bridge.output() + repr(list(diagnostics))
    assert 'HTTP 403: Forbidden by policy' in shown, shown
    assert SECRET not in shown and '<' not in bridge.output(), shown


# -- the shortening itself (pure) -----------------------------------------------------------


def test_brief_keeps_a_title_or_the_first_words_and_hides_the_token():
    assert brief(NGINX_502.encode()) == '502 Bad Gateway'
    assert brief(b'{"detail": "not authenticated"}') == 'not authenticated'
    assert brief(b'') == ''
    words = brief(b'  one\n\ttwo \x1b[31m three ' + b'word ' * 100)
    assert words.startswith('one two ?[31m three word') and len(words) <= 120, words
    echoed = f'bad token {SECRET}; Authorization: Bearer {SECRET}'.encode()
    assert brief(echoed, (SECRET,)) == 'bad token ***; Authorization: Bearer ***'
    assert SECRET not in brief(f'Authorization: Bearer {SECRET}'.encode())  # the token unknown
    assert brief(f'token={SECRET}'.encode()) == 'token=***'
    cut = ('x' * 115 + SECRET).encode()  # a token cut in half at the limit still goes
    assert SECRET[:4] not in brief(cut, (SECRET,)), brief(cut, (SECRET,))


def test_describe_shortens_a_handshake_refusal_and_keeps_one_line():
    body = f'<title>Denied</title>Authorization: Bearer {SECRET}'.encode()
    err = InvalidStatus(Response(403, 'Forbidden', Headers(), body))
    assert describe(err) == 'InvalidStatus: server rejected WebSocket connection: HTTP 403: ' \
                            'Denied'
    assert describe(InvalidStatus(Response(502, 'Bad Gateway', Headers(),
                                           bytearray(NGINX_502.encode())))) == \
        'InvalidStatus: server rejected WebSocket connection: HTTP 502: 502 Bad Gateway'
    assert describe(OSError('two\nlines')) == 'OSError: two lines'
    assert SECRET not in describe(ConnectionError(f'Bearer {SECRET}'))


def test_reconnect_spam_never_dials_faster_than_the_initial_delay(start_bridge, ros):
    """~/reconnect 200 times in 2 s against a hub that is down: attempts stay 0.5 s apart."""
    from std_srvs.srv import Trigger
    from test_ros_side import call
    port = free_port()  # nothing listens: every attempt fails at once
    bridge = start_bridge({'hub_url': f'http://127.0.0.1:{port}', 'agent_id': 'bot-spam',
                           'reconnect_initial_delay': 0.5, 'reconnect_max_delay': 30.0})
    client = ros.node.create_client(Trigger, '/artbot_bridge/reconnect')
    assert client.wait_for_service(timeout_sec=20)
    before = json.loads(call(ros, Trigger, '/artbot_bridge/get_status',
                             Trigger.Request()).message)['link']['attempts']
    started = time.monotonic()
    futures = []
    while time.monotonic() - started < 2.0:
        futures.append(client.call_async(Trigger.Request()))
        time.sleep(0.01)
    wait_for(lambda: all(f.done() for f in futures), 20, 'every reconnect answered')
    took = time.monotonic() - started
    after = json.loads(call(ros, Trigger, '/artbot_bridge/get_status',
                            Trigger.Request()).message)['link']['attempts']
    rate = (after - before) / took
    print(f'\nreconnect spam: {len(futures)} requests in {took:.1f} s, '
          f'{after - before} attempts ({rate:.1f} per second)')
    assert rate <= 1 / 0.5 + 0.5, rate
    assert bridge.alive()
