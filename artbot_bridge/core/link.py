"""
The hub link's state machine, without I/O: its states, its retry policy, each decision.

The split is the `websockets` library's (a sans-I/O protocol under an asyncio driver):
`HubClient.run()` does the HTTP and WebSocket I/O, tells `Link` what happened (an attempt
started, the agent is registered, the socket opened, the hub closed it, an error, the attempt
ended after its connection lived N s, stop or redial asked) and does what the answer says.
Nothing here imports asyncio, a socket or a clock: every transition is a fast unit test.
"""

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Callable, Dict, Optional, Sequence

from .backoff import Backoff, RESTART_WINDOW
from .errors import brief, clip

# HTTP answers that will not change until someone fixes the token: retried at the maximum.
REFUSING_STATUSES = (401, 403)
# Close codes of a hub that is going down on purpose and will be back: going away (1001),
# service restart (1012, uvicorn's on shutdown), try again later (1013).
RESTART_CODES = (1001, 1012, 1013)
# A reverse proxy's answer while the hub behind it is down (bad gateway, unavailable, gateway
# timeout): after a link, the hub is restarting behind a proxy that closed the socket (1006).
PROXY_DOWN = (502, 503, 504)


class LinkState(str, Enum):
    """
    The link's state, in the words diagnostics and JSON have always shown.

    A `str` enum that equals, prints, formats and serializes as its word.
    """

    STARTING = 'starting'  # run() has not begun
    REGISTERING = 'registering'  # the registration POST is in flight
    CONNECTING = 'connecting'  # registered; the WebSocket handshake is in flight
    CONNECTED = 'connected'  # the socket is open and served
    WAITING = 'waiting'  # the attempt failed or its socket closed: the backoff delay
    REFUSED = 'refused'  # the hub answered 401/403: the maximum delay
    STOPPED = 'stopped'  # run() has ended

    def __str__(self) -> str:
        return self.value


class Verdict(Enum):
    """What an error that ended an attempt means for the next one (see `classify`)."""

    RETRY = 'retry'  # after the backoff delay
    RETRY_AT_MAX = 'retry at the maximum'  # after the maximum delay
    FATAL = 'fatal'  # no next attempt: run() raises the error (no error is fatal today)


class Action(Enum):
    """What the driver does once an attempt has ended (see `Link.closed`)."""

    STOP = 'stop'  # leave the loop: stop() was asked
    FAIL = 'fail'  # leave the loop and raise the attempt's error: a FATAL verdict
    REDIAL = 'redial'  # dial again at once: the link was dropped on request
    RETRY = 'retry'  # wait `Step.delay` (the backoff delay), then dial again
    REFUSED = 'refused'  # wait `Step.delay` (the maximum delay), then dial again


@dataclass(frozen=True)
class Step:
    """The decision after an attempt: what to do, how long to wait first, whether to log it."""

    action: Action
    delay: float = 0.0
    log: bool = False  # RETRY: every time; REFUSED: once per distinct error between connects


class RegistrationError(ConnectionError):
    """The hub did not accept the registration; `status` is the HTTP code when there was one."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class LinkStats:
    """What an operator wants to know about the link (the loop thread's; see `snapshot`)."""

    state: LinkState = LinkState.STARTING
    url: str = ''
    attempts: int = 0
    connects: int = 0
    reconnects: int = 0
    last_error: str = ''
    rtt_ms: Optional[float] = None
    sent: int = 0
    received: int = 0
    bad_frames: int = 0
    resent: int = 0
    dead_readers: int = 0  # links dropped because the hub's reader stopped echoing
    stalls: int = 0  # links cut because nothing left the send buffer
    connected_since: Optional[float] = None

    def snapshot(self) -> Dict[str, Any]:
        """Return a plain copy (the state as a plain string)."""
        return {**asdict(self), 'state': str(self.state)}


def rejected_status(err: BaseException) -> Optional[int]:
    """
    Return the HTTP status of a refused registration or handshake, if there was one.

    An error raised from another (a feed that did not open) gives the status of its cause.
    """
    if isinstance(err, RegistrationError):
        return err.status
    response = getattr(err, 'response', None)  # websockets' InvalidStatus
    status = getattr(response, 'status_code', None) or getattr(err, 'status_code', None)
    cause = err.__cause__
    return status if status is not None or cause is None else rejected_status(cause)


def classify(err: BaseException) -> Verdict:
    """
    Return what `err`, which ended an attempt, means for the next one.

    A refusal (HTTP 401 or 403, of the registration or of the WebSocket handshake) will not
    change until someone fixes the token: RETRY_AT_MAX. Anything else (another HTTP code, a
    registration without an answer, OSError, TimeoutError, a socket closed) may pass: RETRY.
    Nothing is FATAL today, the link retries forever; the verdict exists so that an error can
    become fatal without another change of the driver.
    """
    return Verdict.RETRY_AT_MAX if rejected_status(err) in REFUSING_STATUSES else Verdict.RETRY


def describe(err: BaseException, secrets: Sequence[str] = ()) -> str:
    """
    Return `err` as `last_error` shows it: a RegistrationError's own words, else typed.

    One line, never a whole page: a refused handshake adds only the gist of its body, and
    `secrets` (and whatever looks like a credential) show as ***.
    """
    text = str(err) if isinstance(err, RegistrationError) else f'{type(err).__name__}: {err}'
    body = getattr(getattr(err, 'response', None), 'body', None)  # websockets' InvalidStatus
    gist = brief(bytes(body), secrets) if isinstance(body, (bytes, bytearray)) else ''
    return clip(f'{text}: {gist}' if gist else text, secrets=secrets)


class Link:
    """
    The state machine of `HubClient.run()`: one method per event, returning the decisions.

    It keeps the link's part of `stats` (state, attempts, connects, reconnects, last_error),
    the backoff, and the flags that stop and redial leave for the end of the attempt.
    """

    def __init__(self, backoff: Backoff, stats: Optional[LinkStats] = None,
                 classify: Callable[[BaseException], Verdict] = classify,
                 secrets: Sequence[str] = ()) -> None:
        self.backoff = backoff
        self.stats = stats if stats is not None else LinkStats()
        self.stopping = False
        self.redial_now = False  # the link was dropped on request: dial again at once
        self.refusal_logged = ''  # the refusal last logged: each distinct one is logged once
        self._classify = classify
        self._secrets = tuple(secrets)  # never shown in last_error
        self._restart_since: Optional[float] = None  # the hub closed to restart, at this time
        self._restart_dials = 0  # attempts since then
        self._linked = False  # a link was up since the last restart schedule began
        self._verdict = Verdict.RETRY  # of the attempt under way

    @property
    def state(self) -> LinkState:
        """Return the current state."""
        return self.stats.state

    def attempt(self) -> None:
        """Start a connection attempt: registration first."""
        self.stats.state = LinkState.REGISTERING
        self.stats.attempts += 1
        self._verdict = Verdict.RETRY

    def registered(self) -> None:
        """Note that the hub accepted the registration: the handshake is next."""
        self.stats.state = LinkState.CONNECTING

    def connected(self) -> None:
        """Count an open socket; a refusal after it is news again; a restart is over."""
        self._restart_since = None
        self._linked = True
        self.refusal_logged = ''
        self.stats.connects += 1
        self.stats.reconnects = self.stats.connects - 1
        self.stats.state = LinkState.CONNECTED

    def hub_closed(self, code: Optional[int], reason: str = '', now: float = 0.0) -> None:
        """
        Note a socket closed with `code` (None: none), the hub's doing unless it was asked.

        A clean close that says the hub is going down (RESTART_CODES) starts the restart
        schedule (`closed`), at `now` (the caller's monotonic clock).
        """
        if code in RESTART_CODES and not self.stopping and not self.redial_now:
            self._restarting(now)
        if code is not None and not self.stopping and not self.redial_now:
            self.stats.last_error = clip(f'closed by hub: code {code} {reason}'.strip(),
                                         secrets=self._secrets)

    def _restarting(self, now: float) -> None:
        """Start the restart schedule: once per link, so a hub down for long gets one window."""
        self._restart_since, self._restart_dials = now, 0
        self._linked = False
        self.backoff.reset()

    def failed(self, err: BaseException, now: float = 0.0) -> Verdict:
        """
        Note the error that ended the attempt, and return its verdict.

        The first proxy answer of PROXY_DOWN after a link starts the restart schedule too: the
        proxy is up and the hub behind it is not (a restart behind nginx ends the socket with
        1006, not with the hub's clean close).
        """
        self.stats.last_error = describe(err, self._secrets)
        self._verdict = self._classify(err)
        if self._linked and not self.stopping and rejected_status(err) in PROXY_DOWN:
            self._restarting(now)
        return self._verdict

    def closed(self, lived: float, now: float = 0.0) -> Step:
        """
        Decide what follows an attempt whose connection lived `lived` seconds (0: none).

        Stop comes first, then a fatal error; a redial that was asked for dials again at once
        and is no failure; otherwise the attempt's verdict (RETRY without an error) picks the
        backoff delay or the maximum one, and whether the wait is logged. Within
        RESTART_WINDOW seconds of a hub's clean close, a RETRY takes the restart schedule
        (`Backoff.restarting`) instead: the hub is back within a second of accepting again.
        """
        verdict, self._verdict = self._verdict, Verdict.RETRY
        if self.stopping or verdict is Verdict.FATAL:
            self.stats.state = LinkState.STOPPED
            return Step(Action.STOP if self.stopping else Action.FAIL)
        if self.redial_now:
            self.redial_now = False
            return Step(Action.REDIAL)
        if verdict is Verdict.RETRY_AT_MAX:
            delay = self.backoff.penalize()
            self.stats.state = LinkState.REFUSED
            log = self.refusal_logged != self.stats.last_error
            self.refusal_logged = self.stats.last_error
            return Step(Action.REFUSED, delay, log)
        restarting = self._restart_since is not None \
            and now - self._restart_since < RESTART_WINDOW
        if restarting:
            delay = self.backoff.restarting(self._restart_dials)
            self._restart_dials += 1
        else:
            self._restart_since = None
            delay = self.backoff.next_delay(lived)
        self.stats.state = LinkState.WAITING
        return Step(Action.RETRY, delay, True)

    def stop(self) -> bool:
        """
        Ask for no attempt after this one; return whether to cancel the attempt under way.

        Registering or connecting, there is no socket to close yet: the driver cancels the
        attempt, and run() ends with the cancellation, the state left as it was. Connected,
        the driver closes the socket and `closed()` answers STOP; waiting, the wait is cut
        short and run() ends (`stopped()`).
        """
        self.stopping = True
        return self.state in (LinkState.REGISTERING, LinkState.CONNECTING)

    def redial(self) -> bool:
        """
        Ask to dial again at once; return whether to close the open socket for it.

        The backoff starts again in every state. Connected, the socket's end is then no
        failure and `closed()` answers REDIAL; otherwise the driver cuts any wait short.
        """
        self.backoff.reset()
        if self.state is LinkState.CONNECTED:
            self.redial_now = True
            return True
        return False

    def stopped(self) -> None:
        """Note that run() has ended."""
        self.stats.state = LinkState.STOPPED
