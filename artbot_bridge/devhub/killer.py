"""
A TCP proxy that kills a hub's agent reader the way a hub bug does: one frame that raises.

Everything from the bridge to the hub passes through unchanged, the registration, the feed
and the agent socket alike. On the agent socket (`GET /ws/agent/...`), `hold()` makes the
proxy keep back what the bridge sends from its next message boundary on, and `release()`
sends one frame of its own first, then what it kept: a heartbeat whose `battery_level` is
null, which raises in the real hub's health score (and in the local hub's port of it). The
hub's reader dies there, with the bridge's socket left open, as any exception in the real
hub's agent handler leaves it, and nothing the bridge sent while held is handled. Commands
still reach the bridge while its frames are held, so a test knows that their answers come
after the frame that kills. The proxy reads the client's WebSocket
frames only to find their ends (header, mask, length); it never decodes them, so it works
with per-message deflate too: its own frame is an uncompressed text message. Loopback only.
"""

import asyncio
import json
import os
import struct
import time
from typing import Dict, List, Optional, Tuple

KILLER = json.dumps({'type': 'heartbeat', 'agent_id': 'killer', 'timestamp': '',
                     'data': {'battery_level': None, 'cpu_percent': 1.0}}).encode()


def masked_text_frame(payload: bytes) -> bytes:
    """Return one client-to-server text frame (FIN, masked) carrying `payload`."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack('!BB', 0x81, 0x80 | size)
    elif size < 2 ** 16:
        header = struct.pack('!BBH', 0x81, 0x80 | 126, size)
    else:
        header = struct.pack('!BBQ', 0x81, 0x80 | 127, size)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + body


class FrameEnds:
    """Find where the client's frames end in a byte stream (after the HTTP upgrade)."""

    def __init__(self) -> None:
        self._buffer = b''
        self._left = 0  # bytes of the current frame's payload still to come
        self._in_message = False  # inside a fragmented message: no frame may go between

    @property
    def between_messages(self) -> bool:
        """Return whether the stream is at a message boundary now."""
        return not (self._left or self._buffer or self._in_message)

    def feed(self, data: bytes) -> List[int]:
        """Return the offsets in `data` after which a whole message has ended."""
        ends, offset = [], 0
        while offset < len(data):
            if self._left:
                step = min(self._left, len(data) - offset)
                self._left -= step
                offset += step
                if not self._left and not self._in_message:
                    ends.append(offset)
                continue
            need = len(self._buffer)
            self._buffer += data[offset:offset + 14]
            header = self._header()
            if header is None:
                offset += len(self._buffer) - need
                continue
            used, payload, fin, control = header
            offset += used - need
            self._buffer = b''
            if not control:
                self._in_message = not fin
            self._left = payload
            if not payload and not self._in_message:
                ends.append(offset)
        return ends

    def _header(self) -> Optional[Tuple[int, int, bool, bool]]:
        """Return (header bytes, payload length, FIN, control frame) once the header is in."""
        data = self._buffer
        if len(data) < 2:
            return None
        fin, opcode, size = bool(data[0] & 0x80), data[0] & 0x0F, data[1] & 0x7F
        used = 2 + (4 if data[1] & 0x80 else 0)
        if size == 126:
            used += 2
        elif size == 127:
            used += 8
        if len(data) < used:
            return None
        if size == 126:
            size = struct.unpack('!H', data[2:4])[0]
        elif size == 127:
            size = struct.unpack('!Q', data[2:10])[0]
        return used, size, fin, opcode >= 8


class KillerProxy:
    """Loopback proxy to `target_port`; `hold()` and `release()` kill an agent's reader."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.killed_at: List[float] = []  # time.monotonic() of each frame put in
        self._hold_asked = False
        self._held: Optional[List[bytes]] = None  # kept back from the agent socket, in order
        self._agent: Optional[asyncio.StreamWriter] = None  # the agent socket's, to the hub
        self._server: Optional[asyncio.AbstractServer] = None
        self._open: Dict['asyncio.Task[None]', List[asyncio.StreamWriter]] = {}

    async def start(self) -> int:
        """Listen on a free loopback port; return it."""
        self._server = await asyncio.start_server(self._handle, '127.0.0.1', 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def hold(self) -> None:
        """Keep back the agent socket's bytes to the hub from its next message boundary on."""
        self._hold_asked = True

    def release(self) -> int:
        """Send the frame that kills the reader, then what was kept back; return its bytes."""
        held, self._held, self._hold_asked = self._held or [], None, False
        if self._agent is not None:
            self._agent.write(masked_text_frame(KILLER) + b''.join(held))
            self.killed_at.append(time.monotonic())
        return sum(map(len, held))

    async def close(self) -> None:
        """Stop accepting, close every connection and wait for their handlers."""
        if self._server is not None:
            self._server.close()
        for writers in self._open.values():
            for writer in writers:
                writer.close()
        if self._open:
            await asyncio.wait(list(self._open), timeout=2.0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._open[task] = [writer]
        try:
            up_reader, up_writer = await asyncio.open_connection('127.0.0.1', self.target_port)
            self._open[task].append(up_writer)
            await asyncio.gather(self._from_client(reader, up_writer),
                                 self._pipe(up_reader, writer), return_exceptions=True)
        except OSError:
            pass  # the hub is down: the bridge sees its connection closed
        finally:
            for each in self._open.pop(task, []):
                each.close()

    async def _from_client(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b'\r\n\r\n')
        writer.write(head)
        if not head.startswith(b'GET /ws/agent/'):
            await self._pipe(reader, writer)
            return
        self._agent, self._held = writer, None
        frames = FrameEnds()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if self._hold_asked and self._held is None and frames.between_messages:
                    self._held = []
                ends = frames.feed(data)
                if self._held is None and self._hold_asked and ends:
                    writer.write(data[:ends[0]])
                    data, self._held = data[ends[0]:], []
                if self._held is not None:
                    self._held.append(data)
                    continue
                writer.write(data)
                await writer.drain()
        finally:
            if self._agent is writer:
                self._agent = None
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
