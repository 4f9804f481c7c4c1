"""
The ROS executor, and the thread that spins it until the bridge stops.

rclpy's EventsExecutor where the installed rclpy has one (Jazzy, Kilted): it waits in C++ for
each event, where the SingleThreadedExecutor rebuilds a wait set of every entity in Python
for every callback, and so costs a fraction of the CPU per message (`make bench`). Humble's
rclpy has none, and takes the SingleThreadedExecutor; so does `executor: single`.
"""

import threading
from typing import Any, Callable, Optional

import rclpy
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, ShutdownException
from rclpy.executors import SingleThreadedExecutor
try:
    from rclpy.experimental import EventsExecutor
except ImportError:  # Humble
    EventsExecutor = None

from ..core.ratelimit import RateLimiter

# Each spin_once() waits at most this long. Never without a bound: in the PyPI wheels an
# unbounded EventsExecutor wait overflows its deadline and spins without serving anything.
WAIT = 0.5
MAX_ERROR_CHARS = 300  # of a callback's error in its log line


def make_executor(choice: str, context: Optional[Context] = None) -> Any:
    """Return the executor that `choice` ('auto', 'events' or 'single') picks here."""
    if choice == 'single' or EventsExecutor is None:
        return SingleThreadedExecutor(context=context)
    return EventsExecutor(context=context)


class Spinner:
    """
    Spin an executor in a daemon thread; `stop()` ends the spin between two callbacks.

    A callback that raises costs its own call and one line to `log` (a burst, then one per
    5 s), never the spin: anyone on the ROS domain can send what a callback chokes on.
    rclpy's shutdown still ends the spin.
    """

    def __init__(self, executor: Any, log: Callable[[str], Any],
                 ok: Callable[[], bool] = rclpy.ok) -> None:
        self.executor = executor
        self._log = log
        self._ok = ok  # whether the executor's context is still up
        self._errors = RateLimiter(0.2, 5.0)
        self._untold = 0  # errors since the last line
        self._spinning = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def kind(self) -> str:
        """Return the executor's class name, for the start-up line."""
        return type(self.executor).__name__

    def start(self) -> None:
        """Start spinning."""
        self._spinning.set()
        self._thread = threading.Thread(target=self._spin, name='ros-executor', daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """Return whether the spin thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _spin(self) -> None:
        # Not executor.spin(): its shutdown() from another thread destroys what a running
        # callback still uses. This loop ends between two callbacks, and is joined before
        # anything is destroyed.
        while self._spinning.is_set() and self._ok():
            try:
                self.executor.spin_once(timeout_sec=WAIT)
            except (ExternalShutdownException, ShutdownException):
                return
            except Exception as err:  # noqa: B902 - a callback's error, of any type
                if not self._ok():
                    raise  # rclpy's own, at shutdown
                self._report(err)

    def _report(self, err: Exception) -> None:
        if not self._errors.allow():
            self._untold += 1
            return
        text = ' '.join(f'{type(err).__name__}: {err}'.split())[:MAX_ERROR_CHARS]
        more = f' ({self._untold} more since the last report)' if self._untold else ''
        self._untold = 0
        self._log(f'a ROS callback failed, the bridge goes on: {text}{more}')

    def stop(self, timeout: float = 2.0) -> None:
        """End the spin and join its thread; a callback that does not return ends with rclpy."""
        self._spinning.clear()
        # A task is work that ends spin_once() at once; wake() alone only rebuilds its wait
        # set, and the spin would go on until the next event.
        self.executor.create_task(lambda: None)
        if self._thread is None:
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            rclpy.try_shutdown()
            self._thread.join(timeout)
