"""Pure tests of the hub link's state machine (core/link.py): no ROS, no sockets, no clock."""

import json

from artbot_bridge.core.backoff import Backoff, MAX_DOUBLINGS, PENALIZED_FAILURES
from artbot_bridge.core.link import Action, classify, describe, Link, LinkState, LinkStats
from artbot_bridge.core.link import RegistrationError, rejected_status, Step, Verdict
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, InvalidMessage, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

INITIAL, CAP, RESET_AFTER = 0.5, 4.0, 10.0
WORDS = ['starting', 'registering', 'connecting', 'connected', 'waiting', 'refused', 'stopped']


class LegacyInvalidStatusCode(Exception):
    """Like the legacy websockets InvalidStatusCode: the status is on the error itself."""

    def __init__(self, status_code):
        super().__init__(f'server rejected WebSocket connection: HTTP {status_code}')
        self.status_code = status_code


def refused(status, detail='bad token'):
    return RegistrationError(f'registration refused: HTTP {status} {detail}', status)


def handshake_refused(status):
    return InvalidStatus(Response(status, 'Refused', Headers(), b''))


def make_link(rand=lambda: 0.0, **kwargs):
    return Link(Backoff(INITIAL, CAP, RESET_AFTER, jitter=0.25, rand=rand), **kwargs)


def fail(link, err, lived=0.0):
    """Run one attempt that ends with `err` (None: a socket that closed) and return the step."""
    link.attempt()
    if err is None:
        link.registered()
        link.connected()
    else:
        link.failed(err)
    return link.closed(lived)


def reach(state):
    """Return a link brought to `state` through the transitions the driver calls."""
    link = make_link()
    if state is not LinkState.STARTING:
        link.attempt()
    if state in (LinkState.CONNECTING, LinkState.CONNECTED):
        link.registered()
    if state is LinkState.CONNECTED:
        link.connected()
    if state in (LinkState.WAITING, LinkState.REFUSED):
        link.failed(refused(401) if state is LinkState.REFUSED else OSError('unreachable'))
        link.closed(0.0)
    if state is LinkState.STOPPED:
        link.stop()
        link.closed(0.0)
    assert link.state is state
    return link


# -- states -------------------------------------------------------------------------------


def test_the_states_keep_their_words():
    assert [state.value for state in LinkState] == WORDS
    for state in LinkState:
        assert state == state.value and LinkState(state.value) is state
        assert str(state) == f'{state}' == '%s' % state == state.value
        assert json.dumps({'state': state}) == f'{{"state": "{state.value}"}}'


def test_the_snapshot_has_the_state_as_a_plain_string():
    stats = LinkStats(state=LinkState.REFUSED, url='ws://hub/ws/agent/bot')
    snapshot = stats.snapshot()
    assert type(snapshot['state']) is str and snapshot['state'] == 'refused'
    assert json.loads(json.dumps(snapshot))['state'] == 'refused'
    assert snapshot['url'] == 'ws://hub/ws/agent/bot'


def test_a_new_link_is_starting_and_keeps_the_stats_it_is_given():
    stats = LinkStats(url='ws://hub')
    link = make_link(stats=stats)
    assert link.stats is stats and link.state is LinkState.STARTING
    assert not link.stopping and not link.redial_now
    assert (stats.attempts, stats.connects, stats.reconnects, stats.last_error) == (0, 0, 0, '')


def test_an_attempt_registers_then_connects_and_counts():
    link = make_link()
    for attempt in (1, 2):
        link.attempt()
        assert link.state is LinkState.REGISTERING and link.stats.attempts == attempt
        link.registered()
        assert link.state is LinkState.CONNECTING
        link.connected()
        assert link.state is LinkState.CONNECTED
        assert (link.stats.connects, link.stats.reconnects) == (attempt, attempt - 1)
        assert link.closed(1.0).action is Action.RETRY
    fail(link, OSError('refused'))
    assert (link.stats.attempts, link.stats.connects, link.stats.reconnects) == (3, 2, 1)


# -- classification -----------------------------------------------------------------------


@pytest.mark.parametrize('err,verdict', [
    (refused(401), Verdict.RETRY_AT_MAX),
    (refused(403), Verdict.RETRY_AT_MAX),
    (handshake_refused(401), Verdict.RETRY_AT_MAX),
    (handshake_refused(403), Verdict.RETRY_AT_MAX),
    (LegacyInvalidStatusCode(401), Verdict.RETRY_AT_MAX),
    (LegacyInvalidStatusCode(403), Verdict.RETRY_AT_MAX),
    (refused(302, 'a redirect'), Verdict.RETRY),
    (refused(400), Verdict.RETRY),
    (refused(404), Verdict.RETRY),
    (refused(422), Verdict.RETRY),
    (refused(500), Verdict.RETRY),
    (refused(503), Verdict.RETRY),
    (handshake_refused(404), Verdict.RETRY),
    (handshake_refused(500), Verdict.RETRY),
    (LegacyInvalidStatusCode(502), Verdict.RETRY),
    (RegistrationError('registration took longer than open_timeout (1 s)'), Verdict.RETRY),
    (RegistrationError('registration failed: ConnectionRefusedError'), Verdict.RETRY),
    (OSError('network is unreachable'), Verdict.RETRY),
    (ConnectionRefusedError(111, 'Connect call failed'), Verdict.RETRY),
    (TimeoutError('timed out during opening handshake'), Verdict.RETRY),
    (InvalidMessage('did not receive a valid HTTP response'), Verdict.RETRY),
    (ConnectionClosedError(Close(1011, 'boom'), None), Verdict.RETRY),
    (ValueError('anything else'), Verdict.RETRY),
])
def test_classify(err, verdict):
    assert classify(err) is verdict
    link = make_link()
    link.attempt()
    assert link.failed(err) is verdict


def test_nothing_is_fatal_today():
    errors = [refused(status) for status in (None, 301, 401, 403, 404, 500)]
    errors += [handshake_refused(403), OSError(), TimeoutError(), Exception()]
    assert Verdict.FATAL not in {classify(err) for err in errors}


@pytest.mark.parametrize('err,status', [
    (refused(401), 401), (RegistrationError('no answer'), None), (handshake_refused(403), 403),
    (LegacyInvalidStatusCode(500), 500), (OSError('down'), None), (TimeoutError(), None),
])
def test_rejected_status(err, status):
    assert rejected_status(err) == status


def test_describe_keeps_a_registration_error_s_own_words_and_names_other_types():
    assert describe(refused(401)) == 'registration refused: HTTP 401 bad token'
    assert describe(OSError('down')) == 'OSError: down'
    assert describe(TimeoutError()) == 'TimeoutError: '
    assert describe(handshake_refused(403)) == \
        'InvalidStatus: server rejected WebSocket connection: HTTP 403'


# -- waits --------------------------------------------------------------------------------


def test_a_failure_waits_the_backoff_delay_and_is_logged_every_time():
    link = make_link()
    for _ in range(3):
        step = fail(link, OSError('down'))
        assert step.action is Action.RETRY and step.log
        assert link.state is LinkState.WAITING and link.stats.last_error == 'OSError: down'


def test_the_backoff_grows_to_the_cap():
    link = make_link()
    delays = [fail(link, OSError('down')).delay for _ in range(7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_jitter_takes_up_to_a_quarter_off_but_never_below_the_initial_delay():
    link = make_link(rand=lambda: 1.0)
    delays = [fail(link, OSError('down')).delay for _ in range(5)]
    assert delays == [0.5, 0.75, 1.5, 3.0, 3.0]
    half = make_link(rand=lambda: 0.5)
    assert [fail(half, OSError('down')).delay for _ in range(3)] == [0.5, 0.875, 1.75]


def test_a_handshake_closed_at_once_still_waits_and_grows():
    link = make_link()
    steps = [fail(link, None, lived=0.01) for _ in range(3)]
    assert [step.delay for step in steps] == [0.5, 1.0, 2.0]
    assert all(step.action is Action.RETRY and step.log for step in steps)
    assert link.state is LinkState.WAITING


def test_a_connection_that_lived_starts_the_backoff_again():
    link = make_link()
    for _ in range(4):
        fail(link, OSError('down'))
    assert fail(link, None, lived=RESET_AFTER - 0.1).delay == CAP  # not long enough
    assert fail(link, None, lived=RESET_AFTER).delay == INITIAL
    assert fail(link, OSError('down')).delay == 2 * INITIAL
    assert fail(link, ConnectionClosedError(None, None), lived=60.0).delay == INITIAL


def test_a_refusal_waits_the_maximum_and_is_logged_once_per_distinct_error():
    link = make_link()
    assert fail(link, refused(401)) == Step(Action.REFUSED, CAP, True)
    assert link.state is LinkState.REFUSED
    assert fail(link, refused(401)) == Step(Action.REFUSED, CAP, False)
    assert fail(link, handshake_refused(403)) == Step(Action.REFUSED, CAP, True)
    assert fail(link, handshake_refused(403)) == Step(Action.REFUSED, CAP, False)
    assert fail(link, refused(401)) == Step(Action.REFUSED, CAP, True)
    assert link.refusal_logged == 'registration refused: HTTP 401 bad token'


def test_a_failure_between_refusals_does_not_make_the_refusal_news_again():
    link = make_link()
    assert fail(link, refused(403)).log
    assert fail(link, OSError('down')).action is Action.RETRY
    assert not fail(link, refused(403)).log


def test_a_connection_makes_the_same_refusal_news_again():
    link = make_link()
    assert fail(link, refused(401)).log
    assert fail(link, None, lived=1.0).action is Action.RETRY
    assert link.refusal_logged == ''
    assert fail(link, refused(401)) == Step(Action.REFUSED, CAP, True)


def test_after_a_refusal_every_wait_is_the_maximum_until_a_connection_lived():
    assert PENALIZED_FAILURES >= MAX_DOUBLINGS
    link = make_link()
    fail(link, refused(401))
    assert link.backoff.failures == PENALIZED_FAILURES
    assert fail(link, OSError('down')) == Step(Action.RETRY, CAP, True)
    assert fail(link, None, lived=0.01).delay == CAP
    assert fail(link, None, lived=RESET_AFTER).delay == INITIAL


def test_each_attempt_starts_without_the_verdict_of_the_last():
    link = make_link()
    fail(link, refused(401))
    assert fail(link, None, lived=1.0).action is Action.RETRY
    assert link.state is LinkState.WAITING


# -- the hub's close ----------------------------------------------------------------------


def test_a_close_by_the_hub_is_the_last_error():
    link = reach(LinkState.CONNECTED)
    link.hub_closed(1011, 'boom')
    assert link.stats.last_error == 'closed by hub: code 1011 boom'
    link.hub_closed(1000, '')
    assert link.stats.last_error == 'closed by hub: code 1000'
    link.hub_closed(None, 'no close frame')
    assert link.stats.last_error == 'closed by hub: code 1000'
    assert link.closed(0.2) == Step(Action.RETRY, INITIAL, True)


def test_an_error_after_the_close_replaces_it():
    link = reach(LinkState.CONNECTED)
    link.hub_closed(1011, 'boom')
    link.failed(ConnectionClosedError(Close(1011, 'boom'), None))
    assert link.stats.last_error.startswith('ConnectionClosedError: received 1011')


# -- redial -------------------------------------------------------------------------------


def test_a_redial_when_connected_closes_the_socket_and_dials_again_at_once():
    link = make_link()
    for _ in range(3):
        fail(link, OSError('down'))
    link.attempt()
    link.registered()
    link.connected()
    link.stats.last_error = 'OSError: down'
    assert link.redial() is True and link.redial_now
    assert link.backoff.failures == 0
    link.hub_closed(1000, 'reconnect requested')  # its own close: no error
    assert link.stats.last_error == 'OSError: down'
    assert link.closed(2.0) == Step(Action.REDIAL)
    assert not link.redial_now and link.state is LinkState.CONNECTED
    assert link.backoff.failures == 0  # no failure counted
    assert fail(link, OSError('down')).delay == INITIAL


@pytest.mark.parametrize('err', [
    ConnectionClosedError(Close(1000, 'reconnect requested'), None), refused(401),
])
def test_a_redial_skips_the_wait_whatever_the_socket_ended_with(err):
    link = reach(LinkState.CONNECTED)
    assert link.redial()
    link.failed(err)
    assert link.closed(0.0) == Step(Action.REDIAL)
    assert link.state is LinkState.CONNECTED


@pytest.mark.parametrize('state', [LinkState.STARTING, LinkState.REGISTERING,
                                   LinkState.CONNECTING, LinkState.WAITING, LinkState.REFUSED])
def test_a_redial_when_not_connected_only_starts_the_backoff_again(state):
    link = reach(state)
    link.backoff.failures = 5
    assert link.redial() is False
    assert not link.redial_now and link.state is state and link.backoff.failures == 0
    assert fail(link, OSError('down')) == Step(Action.RETRY, INITIAL, True)


# -- stop ---------------------------------------------------------------------------------


@pytest.mark.parametrize('state', list(LinkState))
def test_stop_from_every_state(state):
    link = reach(state)
    failures, last_error = link.backoff.failures, link.stats.last_error
    cancel = link.stop()
    assert cancel is (state in (LinkState.REGISTERING, LinkState.CONNECTING))
    assert link.stopping and link.state is state  # shown until run() ends
    link.hub_closed(1001, 'bridge shutting down')  # its own close: no error
    assert link.stats.last_error == last_error
    assert link.closed(1.0) == Step(Action.STOP)
    assert link.state is LinkState.STOPPED and link.backoff.failures == failures
    assert link.stop() is False  # safe to call twice


@pytest.mark.parametrize('state', [LinkState.STARTING, LinkState.WAITING, LinkState.REFUSED])
def test_stop_during_a_wait_ends_run(state):
    link = reach(state)
    assert link.stop() is False
    link.stopped()
    assert link.state is LinkState.STOPPED


@pytest.mark.parametrize('err', [None, refused(403), OSError('down')])
def test_stop_comes_before_a_redial_and_any_error(err):
    link = reach(LinkState.CONNECTED)
    link.redial()
    link.stop()
    if err is not None:
        link.failed(err)
    assert link.closed(0.0) == Step(Action.STOP)
    assert link.state is LinkState.STOPPED


# -- fatal --------------------------------------------------------------------------------


def test_a_fatal_verdict_ends_the_link():
    link = make_link(classify=lambda err: Verdict.FATAL)
    link.attempt()
    assert link.failed(OSError('gone for good')) is Verdict.FATAL
    assert link.closed(0.0) == Step(Action.FAIL)
    assert link.state is LinkState.STOPPED and link.backoff.failures == 0


def test_stop_comes_before_a_fatal_verdict():
    link = make_link(classify=lambda err: Verdict.FATAL)
    link.attempt()
    link.stop()
    link.failed(OSError('gone for good'))
    assert link.closed(0.0) == Step(Action.STOP)


def restarting_link(rand: float = 0.0) -> Link:
    """Return a connected link whose hub has just closed its socket to restart (code 1012)."""
    link = Link(Backoff(0.5, 30.0, 10.0, rand=lambda: rand))
    link.attempt()
    link.registered()
    link.connected()
    link.hub_closed(1012, 'service restart', now=100.0)
    return link


def test_a_hub_that_closed_to_restart_is_dialled_on_the_restart_schedule():
    link = restarting_link()
    delays = [link.closed(5.0, now=100.0).delay]
    for second in range(1, 8):  # each attempt refused while the hub is down
        link.attempt()
        link.failed(ConnectionRefusedError('refused'))
        delays.append(link.closed(0.0, now=100.0 + second).delay)
    assert delays == [0.1, 0.2, 0.4, 0.8, 0.8, 0.8, 0.8, 0.8]


def test_the_restart_schedule_has_jitter_of_up_to_half_a_step():
    assert restarting_link(rand=0.999).closed(5.0, now=100.0).delay == pytest.approx(0.05, 0.01)


def test_a_hub_down_past_the_restart_window_gets_the_ordinary_backoff():
    link = restarting_link()
    link.closed(5.0, now=100.0)
    delays = []
    for second in (31.0, 32.0, 33.0, 34.0):
        link.attempt()
        link.failed(ConnectionRefusedError('refused'))
        delays.append(link.closed(0.0, now=100.0 + second).delay)
    assert delays == [0.5, 1.0, 2.0, 4.0]


@pytest.mark.parametrize('code', [1000, 1006, 1011, None])
def test_only_a_restart_close_starts_the_restart_schedule(code):
    link = Link(Backoff(0.5, 30.0, 10.0, rand=lambda: 0.0))
    link.attempt()
    link.registered()
    link.connected()
    link.hub_closed(code, '', now=100.0)
    assert link.closed(0.0, now=100.0).delay == 0.5


def proxied_link() -> Link:
    """Return a link that was up behind a reverse proxy, which then dropped it (1006)."""
    link = Link(Backoff(0.5, 30.0, 10.0, rand=lambda: 0.0))
    link.attempt()
    link.registered()
    link.connected()
    link.hub_closed(1006, '', now=100.0)
    link.closed(5.0, now=100.0)
    return link


def bad_gateway(status: int = 502) -> RegistrationError:
    return RegistrationError(f'registration refused: HTTP {status}: Bad Gateway', status)


@pytest.mark.parametrize('status', [502, 503, 504])
def test_a_proxy_answering_for_a_down_hub_after_a_link_starts_the_restart_schedule(status):
    link = proxied_link()
    delays = []
    for second in range(1, 6):  # nginx answers 502 while the hub behind it restarts
        link.attempt()
        link.failed(bad_gateway(status), now=100.0 + second)
        delays.append(link.closed(0.0, now=100.0 + second).delay)
    assert delays == [0.1, 0.2, 0.4, 0.8, 0.8]


def test_a_hub_down_for_long_behind_a_proxy_gets_one_restart_window_then_the_backoff():
    link = proxied_link()
    delays = []
    for second in (1.0, 31.5, 32.0, 33.0, 34.0):
        link.attempt()
        link.failed(bad_gateway(), now=100.0 + second)
        delays.append(link.closed(0.0, now=100.0 + second).delay)
    assert delays == [0.1, 0.5, 1.0, 2.0, 4.0], 'no second window without a link between'


@pytest.mark.parametrize('error', [bad_gateway(500), ConnectionRefusedError('refused')])
def test_only_a_proxys_down_answer_after_a_link_starts_the_restart_schedule(error):
    link = proxied_link()
    link.attempt()
    link.failed(error, now=101.0)
    assert link.closed(0.0, now=101.0).delay == 1.0  # the ordinary backoff goes on
    fresh = Link(Backoff(0.5, 30.0, 10.0, rand=lambda: 0.0))
    fresh.attempt()
    fresh.failed(bad_gateway(), now=101.0)  # no link yet: a proxy in front of a hub not up
    assert fresh.closed(0.0, now=101.0).delay == 0.5
