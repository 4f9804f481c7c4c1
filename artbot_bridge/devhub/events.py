"""The local hub's event log: everything it sees, in order, for tests (and a live view)."""

import json
import time
from typing import Any, Dict, List

from .health import HEARTBEAT_KEYS


class EventLog:
    """The events of one local hub, kept across its restarts; each part records its own."""

    def __init__(self, verbose: bool = False) -> None:
        self.entries: List[Dict[str, Any]] = []  # {'kind', 't': time.monotonic(), ...fields}
        self.verbose = verbose  # print one line per event (the demo's live view)

    def record(self, kind: str, **fields: Any) -> None:
        """Append one event; print it as one line when verbose."""
        self.entries.append({'kind': kind, 't': time.monotonic(), **fields})
        if self.verbose:
            print(summarize(kind, fields), flush=True)


def summarize(kind: str, fields: Dict[str, Any]) -> str:
    """Return one readable line for an event (the demo's live view)."""
    agent = fields.get('agent_id', '')
    message = fields.get('message') or {}
    data = message.get('data') if isinstance(message.get('data'), dict) else {}
    if kind == 'message' and fields.get('type') == 'heartbeat':
        kept = ' '.join(f'{k}={data[k]}' for k in HEARTBEAT_KEYS if k in data)
        dropped = [k for k in data if k not in HEARTBEAT_KEYS]
        return f'[{agent}] heartbeat {kept}' + (
            f' (dropped by the hub: {len(dropped)} keys)' if dropped else '')
    if kind == 'message' and fields.get('type') == 'robot_status':
        flat = {k: v for k, v in data.items() if k != 'sources'}
        stale = [n for n, s in (data.get('sources') or {}).items()
                 if isinstance(s, dict) and s.get('stale')]
        return f'[{agent}] robot_status {json.dumps(flat, default=str)} stale={stale}'
    if kind == 'message':
        return f'[{agent}] {fields.get("type")} {json.dumps(message, default=str)[:300]}'
    if kind == 'zombie':
        return f'[{agent}] ZOMBIE: the hub reader died ({fields.get("reason")})'
    if kind in ('command_sent', 'command_failed'):
        command = fields.get('command') or {}
        return f'[{agent}] {kind} {command.get("action")} {command.get("command_id")}'
    if kind in ('register', 'connect', 'disconnect', 'register_refused', 'command_refused'):
        extra = {k: v for k, v in fields.items()
                 if k in ('close_code', 'open_sockets', 'zombie', 'errors', 'status')}
        return f'[{agent}] {kind} {json.dumps(extra, default=str) if extra else ""}'.rstrip()
    return f'hub: {kind}' + (f' [{agent}]' if agent else '')
