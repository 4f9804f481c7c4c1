"""
The command table on the ROS side.

Each allowed action calls a service, publishes on a topic or sends an action goal, with the
hub's parameters mapped onto the request fields. Handlers run on the hub link's event loop and
never block it: rclpy calls are started on the executor thread (`Executor.create_task`, so no
response can race its own request), and their rclpy futures are bridged into asyncio futures
that carry the command's timeout.
"""

import asyncio
import time
from typing import Any, Callable, Dict, Optional

from action_msgs.msg import GoalStatus
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from .ros_codec import check_path, FieldError, fill_message, InterfaceTypeError
from .ros_codec import load_interface, to_plain
from ..core.dispatcher import CommandError, Handler, Outcome
from ..core.loop_thread import settle, settle_from_thread
from ..core.protocol import Command
from ..core.settings import CommandSettings, SettingsError

LogSink = Callable[..., None]  # (level, message, **extra), callable from any thread
# Calls in flight per target: a service keeps 10 requests by default (QoS depth) and drops
# the rest unseen, so a burst from the hub waits here instead of being lost there.
IN_FLIGHT = 8
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
            error, value = source.exception(), None
            value = source.result() if error is None else None
        settle_from_thread(target, value, error)

    rclpy_future.add_done_callback(done)
    return target


class CommandTarget:
    """One row of the table: its ROS entity and how a command becomes a request."""

    def __init__(self, node: Node, spec: CommandSettings, group: ReentrantCallbackGroup) -> None:
        self.spec = spec
        self.slots = asyncio.Semaphore(IN_FLIGHT)
        try:
            interface = load_interface(spec.type)
        except InterfaceTypeError as err:
            raise SettingsError(f"invalid parameter '{spec.name}.type': {err}") from None
        expected = {'service': 'Request', 'action': 'Goal', 'topic': 'get_fields_and_field_types'}
        if not hasattr(interface, expected[spec.kind]):
            raise SettingsError(f"invalid parameter '{spec.name}.type': {spec.type} is not a "
                                f'{spec.kind} type')
        self.request_type = {'service': getattr(interface, 'Request', None),
                             'action': getattr(interface, 'Goal', None)}.get(spec.kind, interface)
        for _, path in spec.arguments:
            try:
                check_path(self.request_type, path)
            except InterfaceTypeError as err:
                raise SettingsError(f"invalid parameter '{spec.name}.arguments': {err}") from None
        if spec.kind == 'service':
            self.entity = node.create_client(interface, spec.service, callback_group=group)
        elif spec.kind == 'topic':
            self.entity = node.create_publisher(interface, spec.topic, 10)
        else:
            from rclpy.action import ActionClient  # loaded only when an action is configured
            self.entity = ActionClient(node, interface, spec.action, callback_group=group)

    def request(self, command: Command) -> Any:
        """Build the request / message / goal from the command's parameters."""
        try:
            return fill_message(self.request_type(), command.parameters, dict(self.spec.arguments))
        except FieldError as err:
            raise CommandError(f'bad parameter for {self.spec.name}: {err}',
                               field=err.field) from None

    def ready(self) -> bool:
        """Return whether the service or action server is there (topics always are)."""
        if self.spec.kind == 'service':
            return self.entity.service_is_ready()
        if self.spec.kind == 'action':
            return self.entity.server_is_ready()
        return True


class CommandRouter:
    """Build the targets once; hand out one async handler per allowed action."""

    def __init__(self, node: Node, specs: 'tuple[CommandSettings, ...]', log: LogSink,
                 feedback_interval: float) -> None:
        self._node = node
        self._log = log
        self._feedback_interval = feedback_interval
        group = ReentrantCallbackGroup()
        self.targets = {spec.name: CommandTarget(node, spec, group) for spec in specs}

    def handlers(self) -> Dict[str, Handler]:
        """Return {action: handler} for every row of the table."""
        return {name: self._handler(target) for name, target in self.targets.items()}

    def _handler(self, target: CommandTarget) -> Handler:
        async def handle(command: Command) -> Outcome:
            return await self.execute(target, command)
        return handle

    async def execute(self, target: CommandTarget, command: Command) -> Outcome:
        """Run one command against its target within the target's timeout."""
        spec = target.spec
        request = target.request(command)
        if spec.kind == 'topic':
            target.entity.publish(request)
            return True, {'message': f'published on {spec.topic}',
                          'result': {'published': to_plain(request)}}
        deadline = time.monotonic() + spec.timeout
        if not target.slots.locked():
            await target.slots.acquire()  # free: returns at once, without a loop iteration
        else:
            try:
                await asyncio.wait_for(target.slots.acquire(), spec.timeout)
            except asyncio.TimeoutError:
                raise CommandError(f'{spec.name}: {IN_FLIGHT} calls still running after '
                                   f'{spec.timeout:g} s', timeout=True) from None
        try:
            return await self._call(target, command, request, deadline)
        finally:
            target.slots.release()

    async def _call(self, target: CommandTarget, command: Command, request: Any,
                    deadline: float) -> Outcome:
        spec = target.spec
        await self._until_ready(target, deadline)
        if spec.kind == 'service':
            # Straight from this thread: since rclpy 3.3 (Humble) call_async holds the client's
            # lock until the pending future is registered. (Action clients still race there,
            # rclpy#1123, so their calls go through the executor thread.)
            future = target.entity.call_async(request)
            try:
                response = await self._within(future, deadline, spec, 'did not answer')
            except CommandError:
                forget = getattr(target.entity, 'remove_pending_request', None)
                if forget is not None:  # a hung server must not leak one future per call
                    await self._on_executor(lambda: forget(future))
                raise
            result = to_plain(response)
            success = bool(result.get('success', True))
            message = result.get('message') or f'{spec.service} answered'
            return success, {'message': message, 'result': result}
        return await self._run_action(target, command, request, deadline)

    async def _run_action(self, target: CommandTarget, command: Command, request: Any,
                          deadline: float) -> Outcome:
        spec = target.spec
        last = [0.0]

        def feedback(message: Any) -> None:  # executor thread
            now = time.monotonic()
            if now - last[0] >= self._feedback_interval:
                last[0] = now
                self._log('info', f'{spec.name} feedback', command_id=command.command_id,
                          feedback=to_plain(message.feedback))

        goal_future = await self._on_executor(
            lambda: target.entity.send_goal_async(request, feedback_callback=feedback))
        handle = await self._within(goal_future, deadline, spec, 'did not take the goal')
        if not handle.accepted:
            raise CommandError(f'{spec.action} rejected the goal')
        result_future = await self._on_executor(handle.get_result_async)
        try:
            outcome = await self._within(result_future, deadline, spec, 'did not finish')
        except CommandError:
            await self._on_executor(handle.cancel_goal_async)
            raise
        result = to_plain(outcome.result)
        status = _STATUS.get(outcome.status, f'status {outcome.status}')
        success = outcome.status == GoalStatus.STATUS_SUCCEEDED and \
            bool(result.get('success', True))
        return success, {'message': f'{spec.action}: goal {status}', 'result': result,
                         'status': status}

    async def _until_ready(self, target: CommandTarget, deadline: float) -> None:
        while not target.ready():
            if time.monotonic() >= deadline:
                raise CommandError(f'{target.spec.kind} {target.spec.target} is not available '
                                   f'(waited {target.spec.timeout:g} s)')
            await asyncio.sleep(0.05)

    async def _within(self, rclpy_future: Any, deadline: float, spec: CommandSettings,
                      what: str) -> Any:
        loop = asyncio.get_running_loop()
        result = bridge_future(rclpy_future, loop)
        # A timer that settles the future itself: the answer resumes this coroutine in one
        # loop iteration, where asyncio.wait_for would add a waiter and two more.
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
        loop = asyncio.get_running_loop()
        result = loop.create_future()

        def run() -> None:
            try:
                value, error = call(), None
            except Exception as err:  # noqa: B902 - handed over to the awaiting coroutine
                value, error = None, err
            settle_from_thread(result, value, error)

        self._node.executor.create_task(run)
        return await result
