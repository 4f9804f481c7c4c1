"""
Memory while the proof of delivery comes late: `make late-pongs`.

A burst of 100 KB answers goes through a proxy that holds everything the hub sends (pongs,
echoes, commands) for `--delay` seconds, so that each answer waits that long for its proof.
The table gives, per proof and delay, the answers delivered and the bridge's RSS idle and at
its peak; the ratio to the same proof without delay is the figure (absolute RSS depends on
the machine and the Python).
"""

import argparse
import os
from pathlib import Path
import sys
import time
from typing import Any, Dict, List
import uuid

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / 'test')]

from artbot_bridge.core.loop_thread import LoopThread  # noqa: E402, I100
from harness import BridgeProcess, FAST, FaultProxy, HubHarness  # noqa: E402
from harness import TriggerTarget, wait_for  # noqa: E402

CHARS = 100_000  # each answer: about 100 KB of random text (no compression helps)


def run(proof: str, delay: float, commands: int) -> Dict[str, Any]:
    """Run one burst; return what was delivered and the bridge's RSS."""
    hub, loop = HubHarness(ping_interval=60.0), LoopThread('late-proxy')
    hub.start()
    loop.start()
    proxy = FaultProxy(loop, int(hub.url.rsplit(':', 1)[1]), delay=delay)
    service = f'/late_pongs_{os.getpid()}/large'
    target = TriggerTarget(service, chars=CHARS)
    agent = f'bot-late-{proof}-{int(delay)}'
    bridge = BridgeProcess({
        **FAST, 'hub_url': f'http://127.0.0.1:{proxy.port}', 'agent_id': agent,
        'delivery_proof': proof, 'echo_timeout': delay + 10.0, 'open_timeout': delay + 5.0,
        'commands': ['large'],
        'large.service': service, 'large.type': 'std_srvs/srv/Trigger', 'large.concurrent': True,
        'max_commands_per_minute': 100_000, 'ping_interval': 20.0, 'ping_timeout': 20.0})
    try:
        hub.wait_connected(agent, timeout=30)
        process = psutil.Process(bridge.process.pid)
        time.sleep(2.0)
        idle = process.memory_info().rss
        sent = [str(uuid.uuid4()) for _ in range(commands)]
        for command_id in sent:
            hub.send_command(agent, {'command_id': command_id, 'action': 'large'})
        peak = [idle]

        def answered() -> bool:
            peak[0] = max(peak[0], process.memory_info().rss)
            return set(sent) <= set(hub.answer_counts(agent))
        wait_for(answered, 300, 'every answer')
        settle = time.monotonic() + delay + 3.0
        while time.monotonic() < settle:  # the last proofs come in
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.05)
        counts = hub.answer_counts(agent)
        return {'proof': proof, 'delay': delay, 'answered': sum(1 for c in sent if c in counts),
                'commands': commands, 'idle': idle / 2 ** 20, 'peak': peak[0] / 2 ** 20}
    finally:
        bridge.close()
        target.kill()
        proxy.close()
        hub.close()
        loop.stop()


def main() -> None:
    """Print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--delay', type=float, default=5.0)
    parser.add_argument('--commands', type=int, default=400)
    args = parser.parse_args()
    rows: List[Dict[str, Any]] = []
    for proof in ('pong', 'echo'):
        for delay in (0.0, args.delay):
            rows.append(run(proof, delay, args.commands))
            row = rows[-1]
            print(f"{row['proof']:5} delay {row['delay']:4.1f} s: {row['answered']}/"
                  f"{row['commands']} answered, RSS idle {row['idle']:.0f} MB, "
                  f"peak {row['peak']:.0f} MB", flush=True)
    print('\n| proof | delay (s) | answered | RSS idle (MB) | RSS peak (MB) | peak growth vs '
          'no delay |\n| --- | --- | --- | --- | --- | --- |')
    for row in rows:
        base = next(r for r in rows if r['proof'] == row['proof'] and r['delay'] == 0.0)
        growth = (row['peak'] - row['idle']) / max(1.0, base['peak'] - base['idle'])
        print(f"| {row['proof']} | {row['delay']:g} | {row['answered']}/{row['commands']} | "
              f"{row['idle']:.0f} | {row['peak']:.0f} | {growth:.2f} |")


if __name__ == '__main__':
    main()
