"""The reconnect policy as data: capped exponential backoff with jitter."""

import random
from typing import Callable

# The exponent stops growing after this many failures: 2 ** 32 times `initial` is past any
# cap, and a count that keeps growing through a long outage must not overflow the float.
MAX_DOUBLINGS = 32
# The failure count `penalize()` jumps to: any count from MAX_DOUBLINGS on makes every next
# delay the cap (less jitter), until a lived connection or `reset()` starts again.
PENALIZED_FAILURES = 64
# The schedule while a hub restarts (`restarting`): 0.1 s doubling to at most 0.8 s, and how
# long after its clean close it lasts before the ordinary backoff takes over again.
RESTART_FIRST, RESTART_CAP, RESTART_WINDOW = 0.1, 0.8, 30.0


class Backoff:
    """
    Delay before the next connection attempt.

    Every attempt waits at least `initial` (even after a handshake that succeeded and was
    closed at once); the delay doubles per failed or short-lived attempt up to `cap`; a
    connection that lived `reset_after` seconds starts the sequence again. Jitter takes up to
    `jitter` of the delay off, so a fleet that lost the same hub does not redial in step.
    """

    def __init__(self, initial: float, cap: float, reset_after: float, jitter: float = 0.25,
                 rand: Callable[[], float] = random.random) -> None:
        self.initial = initial
        self.cap = max(cap, initial)
        self.reset_after = reset_after
        self.jitter = jitter
        self.failures = 0
        self._rand = rand

    def next_delay(self, lived: float) -> float:
        """Return the delay after an attempt whose connection lived `lived` seconds (0: none)."""
        if lived >= self.reset_after and lived > 0:
            self.failures = 0
        delay = min(self.cap, self.initial * 2 ** min(self.failures, MAX_DOUBLINGS))
        self.failures += 1
        return max(self.initial, delay * (1.0 - self.jitter * self._rand()))

    def penalize(self) -> float:
        """Jump to the cap (for answers that will not change soon, such as 401/403)."""
        self.failures = PENALIZED_FAILURES
        return self.cap

    def reset(self) -> None:
        """Start the sequence again: the next delay is `initial` (less jitter)."""
        self.failures = 0

    def restarting(self, attempt: int) -> float:
        """
        Return the delay before the `attempt`-th dial (0 first) to a hub that is restarting.

        A hub that closed its socket cleanly (going away, service restart) is usually back
        within a second or two: it is dialled after 0.1, 0.2, 0.4 s, then every 0.8 s, each
        less up to half of it at random, so a fleet does not dial in step. The caller
        stops after RESTART_WINDOW seconds: a hub down for longer gets the ordinary backoff.
        """
        delay = min(RESTART_CAP, RESTART_FIRST * 2 ** min(attempt, MAX_DOUBLINGS))
        return delay * (1.0 - 0.5 * self._rand())
