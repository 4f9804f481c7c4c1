"""The send side without a socket: the echo and pong proofs, the window of unproven frames."""

import asyncio
import json

from artbot_bridge.core.delivery import Delivery
from artbot_bridge.core.link import LinkStats
from artbot_bridge.core.outbox import Outbox, RESPONSES
from artbot_bridge.core.protocol import command_response, encode
from harness import ManualClock


class Transport:
    """An asyncio transport that never holds a byte."""

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> None:
        return None

    def is_closing(self) -> bool:
        return False


class Socket:
    """Takes every frame at once; each ping is answered 10 ms later."""

    def __init__(self) -> None:
        self.sent, self.transport = [], Transport()

    async def send(self, frame: str) -> None:
        self.sent.append(frame)

    async def ping(self) -> 'asyncio.Future':
        pong = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, pong.set_result, 0.01)
        return pong


def run_sender(delivery: Delivery, seconds: float = 0.3) -> Socket:
    """Let `delivery` send for a while on a Socket; return the socket."""
    async def scenario() -> Socket:
        ws = Socket()
        task = asyncio.ensure_future(delivery.send(ws))
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return ws
    return asyncio.run(scenario())


def answer(n: int, size: int = 10) -> str:
    """Return an encoded command_response for command id `c<n>`."""
    return command_response('bot', f'c{n}', True, {'message': 'x' * size})


def test_a_full_window_under_the_pong_proof_asks_for_its_proof_and_goes_on():
    outbox = Outbox(max_bytes=2 ** 20)
    delivery = Delivery(outbox, LinkStats(), None, window=(1000, 3000))
    for n in range(10):  # 1 KB each, queued together: three fill the window
        outbox.put(RESPONSES, answer(n, 1000))
    ws = run_sender(delivery)
    assert len(ws.sent) == 10 and len(delivery) == 0


def test_an_echo_proves_its_frame_and_every_frame_before_it_and_nothing_after():
    clock = ManualClock()
    outbox = Outbox()
    delivery = Delivery(outbox, LinkStats(), None, echo=True, clock=clock)
    for n in range(3):
        outbox.put(RESPONSES, answer(n))
    outbox.put_latest('robot_status', encode('robot_status', 'bot', {}, seq=7))
    run_sender(delivery)
    assert len(delivery) == 3
    delivery.echoed(('answer', 'c1'))  # proves c0 and c1, not c2
    assert len(delivery) == 1
    delivery.echoed(('answer', 'c1'))  # a second echo of the same frame: nothing more
    assert len(delivery) == 1
    clock.now += 10.0
    assert delivery.overdue() == 10.0  # c2 has waited, and no echo came since
    delivery.echoed(('answer', 'c2'))
    assert len(delivery) == 0 and delivery.overdue() == 0.0


def test_a_pong_does_not_prove_anything_under_the_echo_proof():
    outbox = Outbox()
    delivery = Delivery(outbox, LinkStats(), None, echo=True)
    outbox.put(RESPONSES, answer(1))
    run_sender(delivery)
    assert len(delivery) == 1


def test_what_is_unproven_at_the_end_goes_back_to_the_front_of_the_outbox_in_order():
    outbox = Outbox()
    delivery = Delivery(outbox, LinkStats(), None, echo=True)
    for n in range(3):
        outbox.put(RESPONSES, answer(n))
    run_sender(delivery)
    outbox.put(RESPONSES, answer(9))
    delivery.requeue_unproven()
    ids = [json.loads(outbox.pop()[0])['command_id'] for _ in range(4)]
    assert ids == ['c0', 'c1', 'c2', 'c9']


def test_pong_proven_answers_are_sent_again_after_an_abnormal_end_within_the_grace():
    clock = ManualClock()
    outbox = Outbox()
    delivery = Delivery(outbox, LinkStats(), None, grace=40.0, clock=clock)
    outbox.put(RESPONSES, answer(1))
    run_sender(delivery)
    assert len(delivery) == 0  # its pong came
    delivery.requeue_unproven(abnormal=False)
    assert outbox.pop() is None  # a clean end: the pong stands
    outbox.put(RESPONSES, answer(2))
    run_sender(delivery)
    clock.now += 10.0
    delivery.requeue_unproven(abnormal=True)
    assert json.loads(outbox.pop()[0])['command_id'] == 'c2'


def test_pong_proven_answers_kept_for_resending_stay_within_the_window():
    clock = ManualClock()
    outbox = Outbox()
    size = len(answer(10))  # c10 to c19: all of one size
    delivery = Delivery(outbox, LinkStats(), None, grace=40.0, clock=clock,
                        window=(1000, 5 * size))
    for n in range(20):  # a busy link: each answer's pong comes, all within the grace
        outbox.put(RESPONSES, answer(n))
        run_sender(delivery)
    delivery.requeue_unproven(abnormal=True)
    again = []
    while (item := outbox.pop()) is not None:
        again.append(json.loads(item[0])['command_id'])
    assert again == ['c15', 'c16', 'c17', 'c18', 'c19'], 'the newest, within the byte bound'
