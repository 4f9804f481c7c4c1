"""
The hub's clock as seen from this robot, and how old a hub command is.

The real hub stamps every command with `datetime.utcnow().isoformat()` (naive, in UTC) and
sends it once. A command that waited in a stalled link arrives late with its old stamp, so
its age is the hub's time now minus that stamp. The hub's time is estimated against
`time.monotonic()`, which no NTP step moves (a Raspberry Pi has no clock battery and steps its
wall clock at boot), as an interval for `phase` = hub time - monotonic time:

- the `Date` header of a registration answer gives a second D of the hub's clock, read between
  sending the request (t0) and reading the answer (t1). uvicorn, the real hub's server, writes
  the Date it refreshed at its last tick, about once a second, so the hub's time is up to
  DATE_SPAN past D: D - t1 <= phase <= D + DATE_SPAN - t0;
- a command stamped h that arrives at a cannot have arrived before it was stamped:
  phase >= h - a. The fastest recent command gives the highest such floor, and since it took
  at most about one round trip of the link, phase <= floor + round trip, unless the `Date`
  evidence says otherwise (then every recent command was late, and that cap is not used).

Evidence widens with its age by DRIFT, the rate two unsynchronised crystals part. The newest
evidence wins: an older `Date` that contradicts a newer one is dropped (the hub's clock was
stepped), and a command stamped ahead of what the `Date` allows tightens nothing (counted).
"""

from collections import deque
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
import math
import time
from typing import Any, Callable, Deque, Dict, NamedTuple, Optional, Tuple

DRIFT = 1e-4  # seconds per second: 100 ppm, a crystal with no NTP
DATE_SPAN = 2.0  # seconds: a Date is its second, refreshed about once a second (uvicorn)
DATE_SAMPLES = 16  # registration answers kept (a link lives a day: weeks of them)
COMMAND_WINDOW = 600.0  # seconds a command's floor is kept
COMMAND_SAMPLES = 64  # floors kept, newest first
WARN_OFFSET = 2.0  # seconds: a robot clock surely further off than this is reported once
MAX_STAMP = 64  # characters: a longer timestamp is not read


class Interval(NamedTuple):
    """A closed interval of seconds; `hi` may be infinite."""

    lo: float
    hi: float

    @property
    def mid(self) -> float:
        """Return the middle (the lower end when the upper one is unknown)."""
        return self.lo if math.isinf(self.hi) else (self.lo + self.hi) / 2

    @property
    def half(self) -> float:
        """Return half the width: the uncertainty of `mid`."""
        return (self.hi - self.lo) / 2


def hub_stamp(value: Any) -> Optional[float]:
    """Return a hub timestamp as Unix seconds (naive means UTC), or None when unreadable."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_STAMP:
        return None
    text = value[:-1] + '+00:00' if value.endswith(('Z', 'z')) else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


def date_header(value: Optional[str]) -> Optional[float]:
    """Return an HTTP `Date` header as Unix seconds, or None when missing or unreadable."""
    if not value or len(value) > MAX_STAMP:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class HubClock:
    """The hub's time against this robot's monotonic clock (the link's loop thread)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, drift: float = DRIFT) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self._drift = drift
        self._dates: Deque[Tuple[float, Interval]] = deque(maxlen=DATE_SAMPLES)
        self._floors: Deque[Tuple[float, float]] = deque(maxlen=COMMAND_SAMPLES)
        self._round_trip = math.inf
        self.unstamped = 0  # commands with no readable timestamp (they run)
        self.ahead = 0  # commands stamped later than the hub's Date allows
        self.warned = False

    # -- evidence ---------------------------------------------------------------------------

    def registered(self, date: Optional[str], sent: float, received: float) -> None:
        """Take a registration answer's `Date` header, read between monotonic sent/received."""
        second = date_header(date)
        if second is not None and received >= sent:
            self._dates.append((received, Interval(second - received,
                                                   second + DATE_SPAN - sent)))
        self.round_trip(received - sent)

    def round_trip(self, seconds: float) -> None:
        """Take the link's latest round trip (a ping's, or the registration's)."""
        if 0 <= seconds < math.inf:
            self._round_trip = seconds

    def age(self, timestamp: Any) -> Optional[Interval]:
        """
        Take a command's stamp as evidence and return how old the command is now.

        None when it has no readable stamp (counted in `unstamped`).
        """
        stamp = hub_stamp(timestamp)
        if stamp is None:
            self.unstamped += 1
            return None
        now = self._monotonic()
        dates = self._date_bound(now)
        if dates is not None and stamp - now > dates.hi:
            self.ahead += 1  # the hub's clock moved since its Date, or the stamp is wrong
        else:
            self._floors.append((now, stamp - now))
        phase = self.phase(now)
        return Interval(now + phase.lo - stamp, now + phase.hi - stamp)

    # -- estimate ---------------------------------------------------------------------------

    def _date_bound(self, now: float) -> Optional[Interval]:
        bound: Optional[Interval] = None
        for at, sample in reversed(self._dates):
            grow = self._drift * (now - at)
            lo, hi = sample.lo - grow, sample.hi + grow
            if bound is not None:
                lo, hi = max(bound.lo, lo), min(bound.hi, hi)
                if lo > hi:
                    break  # older evidence that contradicts newer: the hub's clock was stepped
            bound = Interval(lo, hi)
        return bound

    def phase(self, now: Optional[float] = None) -> Interval:
        """Return the interval of hub time minus monotonic time ((-inf, inf) when unknown)."""
        now = self._monotonic() if now is None else now
        while self._floors and now - self._floors[0][0] > COMMAND_WINDOW:
            self._floors.popleft()
        dates = self._date_bound(now)
        lo, hi = (-math.inf, math.inf) if dates is None else dates
        floor = max((value - self._drift * (now - at) for at, value in self._floors),
                    default=-math.inf)
        lo = max(lo, floor)
        cap = floor + self._round_trip  # the fastest recent command took one round trip at most
        if dates is not None and lo <= cap < hi:
            hi = cap
        return Interval(lo, max(lo, hi))

    def offset(self) -> Optional[Interval]:
        """Return this robot's wall clock minus the hub's clock, or None while unknown."""
        phase = self.phase()
        if math.isinf(phase.lo) or math.isinf(phase.hi):
            return None
        hub_now = self._monotonic() + phase.mid
        return Interval(self._wall() - hub_now - phase.half, self._wall() - hub_now + phase.half)

    def warning(self) -> str:
        """Return, once, a warning when this robot's clock is surely off the hub's, else ''."""
        offset = self.offset()
        if self.warned or offset is None or abs(offset.mid) - offset.half <= WARN_OFFSET:
            return ''
        self.warned = True
        side = 'ahead of' if offset.mid > 0 else 'behind'
        return (f"this robot's clock is {abs(offset.mid):.1f} s (+/- {offset.half:.1f} s) "
                f"{side} the hub's: is NTP running? (timedatectl; chronyc tracking)")

    def report(self) -> Dict[str, Any]:
        """Return the figures for /diagnostics and ~/get_status (flat keys)."""
        offset = self.offset()
        return {'clock_offset_s': None if offset is None else round(offset.mid, 3),
                'clock_uncertainty_s': None if offset is None else round(offset.half, 3),
                'commands_unstamped': self.unstamped,
                'commands_stamped_ahead': self.ahead}
