"""
One class per kind of command target: a service, a topic or an action.

A target is one row of the command table: its ROS entity, and how a hub command becomes its
request, message or goal (the base class). `run` is awaited on the hub link's event loop;
where an rclpy call must be started on the executor thread, `_on_executor` hands it there.
`make_target` is the one place that looks at a row's kind.
"""

import asyncio
import copy
import time
from typing import Any, Callable, Optional

from action_msgs.msg import GoalStatus
from rclpy.node import Node

from .fill import FieldError, fill_message
from .interfaces import check_row_paths, row_interface
from .read import to_plain
from ..core.command_table import CommandSettings
from ..core.dispatcher import CommandError, Outcome
from ..core.loop_thread import run_and_settle, settle, settle_from_thread
from ..core.protocol import Command
from ..core.settings import SettingsError

LogSink = Callable[..., None]  # (level, message, **extra), callable from any thread
# Calls in flight per target: a service keeps 10 requests by default (QoS depth) and drops
# the rest unseen, so a burst from the hub waits here instead of being lost there.
IN_FLIGHT = 8
READY_POLL = 0.05  # seconds between two looks for a service or action server not there yet
_STATUS = {GoalStatus.STATUS_SUCCEEDED: 'succeeded', GoalStatus.STATUS_ABORTED: 'aborted',
           GoalStatus.STATUS_CANCELED: 'canceled'}


def bridge_future(rclpy_future: Any, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
    """Return an asyncio future that completes with an rclpy future (any thread)."""
    target = loop.create_future()

    def done(source: Any) -> None:
        if source.cancelled():
            error: Optional[BaseException] = CommandError('the ROS call was cancelled')
            value = None
        else:
            error = source.exception()
            value = source.result() if error is None else None
        settle_from_thread(target, value, error)

    rclpy_future.add_done_callback(done)
    return target


class CommandTarget:
    """One row of the table: its ROS entity and how a command becomes a request."""

    def __init__(self, node: Node, spec: CommandSettings) -> None:
        self.spec = spec
        interface = row_interface(spec.name, spec.type)
        request_type = self._request_type(interface)
        if request_type is None:
            raise SettingsError(f"invalid parameter '{spec.name}.type': {spec.type} is not a "
                                f'{spec.kind} type')
        self.request_type = request_type
        check_row_paths(spec.name, request_type,
                        [('arguments', path) for _, path in spec.arguments])
        self.entity = self._create(node, interface)

    def _request_type(self, interface: Any) -> Any:
        """Return what a command fills in (message, request or goal), None if not this kind."""
        raise NotImplementedError

    def _create(self, node: Node, interface: Any) -> Any:
        """Create the ROS entity: a publisher, a service client or an action client."""
        raise NotImplementedError

    def request(self, command: Command) -> Any:
        """Build the request / message / goal from the command's parameters."""
        try:
            return fill_message(self.request_type(), command.parameters, dict(self.spec.arguments))
        except FieldError as err:
            raise CommandError(f'bad parameter for {self.spec.name}: {err}',
                               field=err.field) from None

    async def run(self, command: Command) -> Outcome:
        """Run one command against this target (loop thread)."""
        raise NotImplementedError


class TopicTarget(CommandTarget):
    """
    Publish one message; a topic is always there, and publishing never waits.

    With a `lease`, what was published holds for that long: a command to the row renews it,
    and when none comes, the row's stop message is published once (a zero message for Twist
    types). A lease also ends at once when the hub link drops, or the bridge stops. The
    lease's timer lives on the hub link's loop, like the commands that renew it.
    """

    def __init__(self, node: Node, spec: CommandSettings, log: LogSink) -> None:
        super().__init__(node, spec)
        self._node = node
        self._log = log
        self._lease: Optional[asyncio.TimerHandle] = None
        self.stops = 0  # stop messages published when a lease ended
        if spec.lease:
            try:
                self.stop_message = fill_message(self.request_type(), dict(spec.stop))
            except FieldError as err:
                raise SettingsError(f"invalid parameter '{spec.name}.stop': {err}") from None

    def _request_type(self, interface: Any) -> Any:
        return interface if hasattr(interface, 'get_fields_and_field_types') else None

    def _create(self, node: Node, interface: Any) -> Any:
        return node.create_publisher(interface, self.spec.topic, 10)

    async def run(self, command: Command) -> Outcome:
        """Publish the message built from the command (straight from the loop thread)."""
        message = self.request(command)
        self.entity.publish(message)
        result = {'published': to_plain(message)}
        if self.spec.lease:
            if self._lease is not None:
                self._lease.cancel()
            self._lease = asyncio.get_running_loop().call_later(
                self.spec.lease, self.end_lease, f'ran out ({self.spec.lease:g} s)')
            result['lease'] = self.spec.lease
        return True, {'message': f'published on {self.spec.topic}', 'result': result}

    @property
    def topic_name(self) -> str:
        """Return the topic's full name, as the safety stop's publisher has it."""
        return self.entity.topic_name

    def end_lease(self, why: str) -> bool:
        """Publish the stop message if a lease is running (loop thread); return whether so."""
        if self._lease is None:
            return False
        self._lease.cancel()
        self._lease = None
        stop = copy.deepcopy(self.stop_message)
        header = getattr(stop, 'header', None)
        if header is not None and hasattr(header, 'stamp'):
            header.stamp = self._node.get_clock().now().to_msg()
        self.entity.publish(stop)
        self.stops += 1
        self._log('info', f'{self.spec.name}: lease {why}; stop message published on '
                          f'{self.topic_name}', source='lease')
        return True


class _CallTarget(CommandTarget):
    """A server that answers (service or action): calls in flight, readiness and deadline."""

    def __init__(self, node: Node, spec: CommandSettings) -> None:
        super().__init__(node, spec)
        self._node = node  # its executor, known once spinning, starts what must start there
        self.slots = asyncio.Semaphore(IN_FLIGHT)

    def ready(self) -> bool:
        """Return whether the server is there."""
        raise NotImplementedError

    async def run(self, command: Command) -> Outcome:
        """Wait for a free slot and the server, then call it, all within the timeout."""
        spec = self.spec
        request = self.request(command)
        deadline = time.monotonic() + spec.timeout
        if not self.slots.locked():
            await self.slots.acquire()  # free: returns at once, without a loop iteration
        else:
            try:
                await asyncio.wait_for(self.slots.acquire(), spec.timeout)
            except asyncio.TimeoutError:
                raise CommandError(f'{spec.name}: {IN_FLIGHT} calls still running after '
                                   f'{spec.timeout:g} s', timeout=True) from None
        try:
            await self._until_ready(deadline)
            return await self._call(command, request, deadline)
        finally:
            self.slots.release()

    async def _call(self, command: Command, request: Any, deadline: float) -> Outcome:
        raise NotImplementedError

    async def _until_ready(self, deadline: float) -> None:
        while not self.ready():
            if time.monotonic() >= deadline:
                raise CommandError(f'{self.spec.kind} {self.spec.target} is not available '
                                   f'(waited {self.spec.timeout:g} s)')
            await asyncio.sleep(READY_POLL)

    async def _within(self, rclpy_future: Any, deadline: float, what: str) -> Any:
        loop = asyncio.get_running_loop()
        result = bridge_future(rclpy_future, loop)
        # A timer that settles the future itself: the answer resumes this coroutine in one
        # loop iteration, where asyncio.wait_for would add a waiter and two more.
        spec = self.spec
        late = CommandError(f'{spec.kind} {spec.target} {what} within {spec.timeout:g} s',
                            timeout=True)
        timer = loop.call_at(loop.time() + max(0.0, deadline - time.monotonic()),
                             settle, result, None, late)
        try:
            return await result
        finally:
            timer.cancel()

    async def _on_executor(self, call: Callable[[], Any]) -> Any:
        """Run `call` on the executor thread and return its result."""
        result = asyncio.get_running_loop().create_future()
        self._node.executor.create_task(lambda: run_and_settle(result, call))
        return await result


class ServiceTarget(_CallTarget):
    """Call a service; its response is the answer."""

    def _request_type(self, interface: Any) -> Any:
        return getattr(interface, 'Request', None)

    def _create(self, node: Node, interface: Any) -> Any:
        return node.create_client(interface, self.spec.service)

    def ready(self) -> bool:
        """Return whether the service is there."""
        return self.entity.service_is_ready()

    async def _call(self, command: Command, request: Any, deadline: float) -> Outcome:
        # Straight from this thread: since rclpy 3.3 (Humble) call_async holds the client's
        # lock until the pending future is registered. (Action clients still race there,
        # rclpy#1123, so their calls go through the executor thread.)
        future = self.entity.call_async(request)
        try:
            response = await self._within(future, deadline, 'did not answer')
        except CommandError:
            forget = getattr(self.entity, 'remove_pending_request', None)
            if forget is not None:  # a hung server must not leak one future per call
                await self._on_executor(lambda: forget(future))
            raise
        result = to_plain(response)
        success = bool(result.get('success', True))
        message = result.get('message') or f'{self.spec.service} answered'
        return success, {'message': message, 'result': result}


class ActionTarget(_CallTarget):
    """Send a goal, forward its feedback as log lines, answer with its result."""

    def __init__(self, node: Node, spec: CommandSettings, log: LogSink,
                 feedback_interval: float) -> None:
        super().__init__(node, spec)
        self._log = log
        self._feedback_interval = feedback_interval

    def _request_type(self, interface: Any) -> Any:
        return getattr(interface, 'Goal', None)

    def _create(self, node: Node, interface: Any) -> Any:
        from rclpy.action import ActionClient  # loaded only when an action is configured
        return ActionClient(node, interface, self.spec.action)

    def ready(self) -> bool:
        """Return whether the action server is there."""
        return self.entity.server_is_ready()

    async def _call(self, command: Command, request: Any, deadline: float) -> Outcome:
        spec = self.spec
        last = [0.0]

        def feedback(message: Any) -> None:  # executor thread
            now = time.monotonic()
            if now - last[0] >= self._feedback_interval:
                last[0] = now
                self._log('info', f'{spec.name} feedback', command_id=command.command_id,
                          feedback=to_plain(message.feedback))

        goal_future = await self._on_executor(
            lambda: self.entity.send_goal_async(request, feedback_callback=feedback))
        handle = await self._within(goal_future, deadline, 'did not take the goal')
        if not handle.accepted:
            raise CommandError(f'{spec.action} rejected the goal')
        result_future = await self._on_executor(handle.get_result_async)
        try:
            outcome = await self._within(result_future, deadline, 'did not finish')
        except CommandError:
            await self._on_executor(handle.cancel_goal_async)
            raise
        result = to_plain(outcome.result)
        status = _STATUS.get(outcome.status, f'status {outcome.status}')
        success = outcome.status == GoalStatus.STATUS_SUCCEEDED and \
            bool(result.get('success', True))
        return success, {'message': f'{spec.action}: goal {status}', 'result': result,
                         'status': status}


def make_target(node: Node, spec: CommandSettings, log: LogSink,
                feedback_interval: float) -> CommandTarget:
    """Return the target of one row of the table: the one place that looks at its kind."""
    if spec.kind == 'service':
        return ServiceTarget(node, spec)
    if spec.kind == 'topic':
        return TopicTarget(node, spec, log)
    return ActionTarget(node, spec, log, feedback_interval)
