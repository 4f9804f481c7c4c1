"""The pacer waits while the socket holds more than the link drains in PACE seconds."""

import asyncio

from artbot_bridge.core.pacing import FLOOR, PACE, Pacer


class DrainingTransport:
    """A transport whose buffer drains at `rate` bytes a second (no kernel socket)."""

    def __init__(self, held: int, rate: float) -> None:
        self.held, self.rate = held, rate
        self.start = asyncio.get_running_loop().time()

    def get_write_buffer_size(self) -> int:
        drained = (asyncio.get_running_loop().time() - self.start) * self.rate
        return max(0, int(self.held - drained))

    def get_extra_info(self, name: str) -> None:
        return None

    def is_closing(self) -> bool:
        return False


def test_a_socket_that_holds_too_much_is_waited_for_and_the_rate_measured():
    async def scenario() -> None:
        pacer = Pacer()
        assert pacer.limit() == FLOOR
        transport = DrainingTransport(held=FLOOR + 40_000, rate=200_000.0)
        await asyncio.wait_for(pacer.wait(transport), 5)
        assert transport.get_write_buffer_size() <= pacer.limit()
        assert pacer.waits == 1 and 100_000 < pacer.rate < 400_000
        assert pacer.limit() == max(FLOOR, int(pacer.rate * PACE))
    asyncio.run(scenario())


def test_a_socket_under_the_limit_costs_no_wait():
    async def scenario() -> None:
        pacer = Pacer()
        await asyncio.wait_for(pacer.wait(DrainingTransport(held=100, rate=0.0)), 1)
        assert pacer.waits == 0 and pacer.rate is None
    asyncio.run(scenario())
