"""Commands read ahead into a bounded held queue, and all that arrived read as a link ends."""

import asyncio
import json
import logging
from typing import Any, Iterable, List

from artbot_bridge.core.delivery import Delivery
from artbot_bridge.core.inbound import Inbound
from artbot_bridge.core.link import LinkStats
from artbot_bridge.core.outbox import Outbox
from artbot_bridge.core.settings import build_settings

BOUND = 10  # max_queued_responses: the held queue's bound and the answer queue's


class Socket:
    """The agent socket as Inbound reads it: the frames that arrived, then open until closed."""

    def __init__(self, frames: Iterable[str]) -> None:
        self.frames = list(frames)
        self.read = 0
        self.closed = asyncio.Event()

    def __aiter__(self) -> 'Socket':
        return self

    async def __anext__(self) -> str:
        if self.frames:
            self.read += 1
            return self.frames.pop(0)
        await self.closed.wait()
        raise StopAsyncIteration


async def settle() -> None:
    """Let every task run until it waits: the frames are in memory, so no time is needed."""
    for _ in range(50):
        await asyncio.sleep(0)


def commands(count: int) -> List[str]:
    return [json.dumps({'command_id': f'c{n}', 'action': 'ping'}) for n in range(count)]


def test_a_flood_waits_in_the_socket_and_is_read_whole_as_the_link_ends() -> None:
    async def scenario() -> None:
        settings = build_settings({'env_file': '', 'hub_url': 'http://127.0.0.1:9',
                                   'agent_id': 'unit', 'max_queued_responses': BOUND}, [], {})
        outbox = Outbox(max_responses=BOUND)
        running = [BOUND]  # as many commands run as answers fit: no room for one more
        ran: List[Any] = []
        inbound = Inbound(settings, outbox, Delivery(outbox, LinkStats(), None), LinkStats(),
                          lambda: running[0], ran.append, logging.getLogger('test'))
        first = Socket(commands(3 * BOUND))
        reading = asyncio.ensure_future(inbound.receive(first))
        await settle()
        # Read ahead up to the bound (one more is in hand); the rest waits in the socket.
        assert (ran, first.read) == ([], BOUND + 1)

        inbound.drain(True)  # the link ends: the hub never resends, so all that arrived is read
        outbox.freed()
        await settle()
        assert (ran, first.read) == ([], 3 * BOUND)
        first.closed.set()
        await reading

        inbound.drain(False)  # the next link, with room: what was held runs first, in order
        running[0] = 0
        second = Socket(commands(0))
        reading = asyncio.ensure_future(inbound.receive(second))
        await settle()
        assert [command.command_id for command in ran] == [f'c{n}' for n in range(3 * BOUND)]
        second.closed.set()
        await reading
    asyncio.run(scenario())
