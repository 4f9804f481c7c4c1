"""
How old a command may be when it would run.

A row's `max_age` bounds it, and its `when_unsure` says what a command does when its age is not
known well enough.

A command older than its bound is answered `success: false` with `reason: expired` and never
run. The age is an interval (`clock.HubClock.age`): a command surely older than the bound is
expired; one whose uncertainty alone is over the bound runs only if its row says `run`; any
other is judged by the middle of the interval. A command with no readable stamp runs (the
clock counts it).
"""

import math
from typing import Any, Dict, NamedTuple, Optional

from .clock import Interval


class Deadline(NamedTuple):
    """One row's bound: `max_age` in seconds (0: none), and whether an unsure age runs."""

    max_age: float
    unsure_runs: bool


def _figure(value: float) -> Optional[float]:
    return round(value, 3) if math.isfinite(value) else None


def expired(age: Optional[Interval], deadline: Deadline) -> Optional[Dict[str, Any]]:
    """Return the answer's data for a command too old to run, or None to run it."""
    bound = deadline.max_age
    if age is None or not bound:
        return None
    sure = age.lo > bound
    unsure = not sure and age.half > bound
    if unsure and deadline.unsure_runs:
        return None
    if not (sure or unsure or age.mid > bound):
        return None
    data = {'reason': 'expired', 'age': _figure(age.mid), 'max_age': bound,
            'uncertainty': _figure(age.half)}
    if unsure:
        shown = f'{age.mid:.1f} s +/- {age.half:.1f} s' if math.isfinite(age.half) else \
            f'at least {age.lo:.1f} s' if math.isfinite(age.lo) else 'unknown'
        message = (f'expired: its age ({shown}) is not known within max_age {bound:g} s '
                   "(the hub's clock is not known well enough); not run")
    else:
        message = (f'expired: {age.mid:.1f} s old (+/- {age.half:.1f} s), over max_age '
                   f'{bound:g} s; not run')
    return {'message': message, **data}
