"""
What the message models cost per stream frame, against a raw encoder, measured in one run.

    .venv/kilted/bin/python bench/messages.py     # prints the table, writes bench/MESSAGES.md

A stream source sends every message of its topic on a robot_status frame of its own, up to
1 kHz and more, so this is where a model's cost would show. Three encoders of the same frame:
- raw: the envelope straight into json.dumps, as `protocol.encode` ends (the raw limit);
- model: `protocol.encode('robot_status', ...)`, the data through `RobotStatus.wire`: what the
  bridge sends, every frame (the stream's too);
- pydantic frame: `RobotStatusFrame(...).model_dump_json()`, for scale only: pydantic's own
  serialiser writes other bytes (floats, unknown types), which the hub would see.
The encoders take turns in each of ROUNDS rounds of NUMBER frames, so a busy machine slows
all three alike; the table gives the median round, and the ratio's range over the rounds.
The last column sets the model's extra cost at 1 kHz beside the CPU the whole bridge spends
on a 1 kHz stream of that type (bench/RESULTS.md).
"""

import json
from pathlib import Path
import statistics
import sys
import time
import timeit
from typing import Any, Callable, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from artbot_bridge.core.messages import RobotStatus, RobotStatusFrame  # noqa: E402, I100
from artbot_bridge.core.protocol import encode, utc_timestamp  # noqa: E402
import run  # noqa: E402

ROUNDS, NUMBER = 9, 10_000
AGENT, NAME = 'bench-bot', 'flood'
# bench/RESULTS.md, the stream CPU rows: the bridge forwarding one 1 kHz topic, % of one core.
BRIDGE_AT_1KHZ = {'std_msgs/String': 39.4, 'sensor_msgs/BatteryState': 56.2}


def messages() -> Dict[str, Any]:
    """Return the data of one message of each type, as a stream source converts it."""
    from artbot_bridge.ros.read import to_plain
    from sensor_msgs.msg import BatteryState
    from std_msgs.msg import String
    battery = BatteryState(voltage=16.2, percentage=0.81, present=True,
                           cell_voltage=[4.05] * 4, cell_temperature=[30.5] * 4)
    battery.header.frame_id = 'base_link'
    return {'std_msgs/String': to_plain(String(data='hello from the robot')),
            'sensor_msgs/BatteryState': to_plain(battery)}


def encoders(data: Any) -> Dict[str, Callable[[], str]]:
    """Return the three ways to encode one stream frame of `data`, by name."""
    frame = {NAME: {'seq': 1234, 'data': data}}

    def raw() -> str:
        return json.dumps({'type': 'robot_status', 'agent_id': AGENT,
                           'timestamp': utc_timestamp(), 'data': frame},
                          separators=(',', ':'), allow_nan=False)

    def pydantic() -> str:
        return RobotStatusFrame(agent_id=AGENT, timestamp=utc_timestamp(),
                                data=RobotStatus.model_validate(frame)).model_dump_json()

    return {'raw': raw, 'model': lambda: encode('robot_status', AGENT, frame),
            'pydantic frame': pydantic}


def measure(ways: Dict[str, Callable[[], str]]) -> List[Dict[str, float]]:
    """Return one {encoder: us per frame} per round, the encoders taking turns."""
    rounds = []
    for _ in range(ROUNDS):
        rounds.append({name: timeit.timeit(way, number=NUMBER) / NUMBER * 1e6
                       for name, way in ways.items()})
    return rounds


def row(kind: str, rounds: List[Dict[str, float]]) -> str:
    """Return the table row of the median round (by the model's ratio to raw)."""
    ratios = [r['model'] / r['raw'] for r in rounds]
    us = rounds[ratios.index(statistics.median(ratios))]
    extra = (us['model'] - us['raw']) / 10.0  # us per frame at 1000 frames/s: % of a core
    return (f'| {kind} | {us["raw"]:.1f} us | {us["model"]:.1f} us | '
            f'{us["pydantic frame"]:.1f} us | {statistics.median(ratios):.2f} '
            f'({min(ratios):.2f}-{max(ratios):.2f}) | {extra:+.2f} % | '
            f'{BRIDGE_AT_1KHZ[kind]} % |')


def main() -> None:
    """Measure, print the table, write bench/MESSAGES.md."""
    rows = []
    for kind, data in messages().items():
        ways = encoders(data)
        sent = [ways[name]().split('"data":', 1)[1] for name in ('raw', 'model')]
        assert sent[0] == sent[1], f'raw and model send other bytes: {sent}'
        rows.append(row(kind, measure(ways)))
    text = '\n'.join([
        '# What the message models cost on the stream path', '',
        f'Machine: {run.machine()}', '',
        f'Run: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, `bench/messages.py`: '
        f'{ROUNDS} rounds of {NUMBER} frames per encoder, taking turns; the median round.', '',
        '| stream frame of | raw | model (sent) | pydantic frame | model / raw (range) | '
        'model - raw at 1 kHz, of a core | the whole bridge at 1 kHz |',
        '| --- | --- | --- | --- | --- | --- | --- |', *rows, ''])
    (ROOT / 'bench' / 'MESSAGES.md').write_text(text)
    print(text)


if __name__ == '__main__':
    main()
