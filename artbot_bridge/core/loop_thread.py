"""An asyncio loop in its own thread: start, submit, ask, call_soon, stop; nothing else."""

import asyncio
import concurrent.futures
import threading
from typing import Any, Awaitable, Callable, Optional, TypeVar

T = TypeVar('T')


class LoopThreadError(RuntimeError):
    """The loop thread did not start, or a call into it timed out."""


class LoopThread:
    """
    Own an asyncio event loop running in a background thread.

    The loop is created inside the thread; `start()` waits until it runs. Other threads talk to
    it only through `submit`, `run`, `ask` and `call_soon`. `stop()` is idempotent and bounded.
    """

    def __init__(self, name: str = 'artbot-hub-link') -> None:
        self._name = name
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._stopping = threading.Event()

    @property
    def is_running(self) -> bool:
        """Return whether the thread and its loop are up."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """Return the running event loop; valid only after start."""
        if self._loop is None:
            raise LoopThreadError('loop thread is not running')
        return self._loop

    def start(self, timeout: float = 5.0) -> None:
        """Start the thread and wait until its loop runs."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise LoopThreadError(f'{self._name} did not start within {timeout} s')

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def submit(self, coro: Awaitable[T]) -> 'concurrent.futures.Future[T]':
        """Schedule a coroutine on the loop; return a thread-safe future of its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Awaitable[T], timeout: float) -> T:
        """Run a coroutine on the loop and wait for its result, at most `timeout` seconds."""
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise LoopThreadError(f'call into {self._name} timed out after {timeout} s')

    def call_soon(self, func: Callable[..., Any], *args: Any) -> bool:
        """
        Call `func(*args)` on the loop thread, from any thread; False once it has stopped.

        A ROS callback may still run while the bridge shuts down (the executor stops after the
        link): what it hands over then has no loop to go to, and is dropped.
        """
        try:
            self.loop.call_soon_threadsafe(func, *args)
        except RuntimeError:  # the loop is closed
            return False
        return True

    def ask(self, func: Callable[[], T], timeout: float = 1.0) -> T:
        """
        Return `func()` as run on the loop thread, from any other thread.

        How another thread reads what the loop owns (the link's counters, the command
        counts): the value is made where it lives and handed back through a future. Raises
        LoopThreadError once the loop is stopping, or when it does not answer in time.
        """
        answer: 'concurrent.futures.Future[T]' = concurrent.futures.Future()

        def run() -> None:
            try:
                answer.set_result(func())
            except Exception as err:  # noqa: B902 - handed over to the asking thread
                answer.set_exception(err)

        if self._stopping.is_set() or not self.call_soon(run):
            raise LoopThreadError(f'{self._name} is stopping')
        try:
            return answer.result(timeout)
        except concurrent.futures.TimeoutError:
            raise LoopThreadError(f'{self._name} did not answer within {timeout} s') from None

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the loop (pending tasks are cancelled) and join the thread; True if it ended."""
        self._stopping.set()
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return True
        if not loop.is_closed():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:
                pass
        thread.join(timeout)
        return not thread.is_alive()


def settle(future: 'asyncio.Future[Any]', value: Any = None,
           error: Optional[BaseException] = None) -> None:
    """Complete an asyncio future with `value` or `error`, unless it is done (loop thread)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def settle_from_thread(future: 'asyncio.Future[Any]', value: Any = None,
                       error: Optional[BaseException] = None) -> bool:
    """
    Complete an asyncio future from any thread; False when its loop has closed.

    The one way a value crosses into the loop as an answer: the future itself is touched on
    its own loop only (`call_soon_threadsafe`), where `settle` ignores one already done (a
    timeout or a cancellation got there first).
    """
    try:
        future.get_loop().call_soon_threadsafe(settle, future, value, error)
    except RuntimeError:  # the loop closed meanwhile: nobody is waiting any more
        return False
    return True


def run_and_settle(future: 'asyncio.Future[Any]', call: Callable[[], Any]) -> None:
    """Run `call` here (another thread) and complete `future` with its value or its error."""
    try:
        value, error = call(), None
    except BaseException as exc:  # noqa: B902 - handed over to the awaiting task
        value, error = None, exc
    settle_from_thread(future, value, error)


async def in_daemon_thread(func: Callable[[], T]) -> T:
    """
    Await a blocking call run in a daemon thread.

    Unlike the default executor, a daemon thread never holds up the process exit: a blocking
    call cut short by shutdown ends on its own timeout while the process is already gone.
    """
    future: 'asyncio.Future[T]' = asyncio.get_running_loop().create_future()
    threading.Thread(target=run_and_settle, args=(future, func), name='artbot-blocking-call',
                     daemon=True).start()
    return await future
