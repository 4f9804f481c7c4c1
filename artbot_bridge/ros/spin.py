"""
The ROS executor, and the thread that spins it until the bridge stops.

rclpy's EventsExecutor where the installed rclpy has one (Jazzy, Kilted): it waits in C++ for
each event, where the SingleThreadedExecutor rebuilds a wait set of every entity in Python
for every callback, and so costs a fraction of the CPU per message (`make bench`). Humble's
rclpy has none, and takes the SingleThreadedExecutor; so does `executor: single`.
"""

import threading
from typing import Any, Optional

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
try:
    from rclpy.experimental import EventsExecutor
except ImportError:  # Humble
    EventsExecutor = None

# Each spin_once() waits at most this long. Never without a bound: in the PyPI wheels an
# unbounded EventsExecutor wait overflows its deadline and spins without serving anything.
WAIT = 0.5


def make_executor(choice: str) -> Any:
    """Return the executor that `choice` ('auto', 'events' or 'single') picks here."""
    if choice == 'single' or EventsExecutor is None:
        return SingleThreadedExecutor()
    return EventsExecutor()


class Spinner:
    """Spin an executor in a daemon thread; `stop()` ends the spin between two callbacks."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor
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
        while self._spinning.is_set() and rclpy.ok():
            try:
                self.executor.spin_once(timeout_sec=WAIT)
            except ExternalShutdownException:
                return

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
