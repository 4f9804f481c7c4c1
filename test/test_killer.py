"""The killer proxy finds the ends of the client's messages, whatever the read sizes."""

import os
import struct

from artbot_bridge.devhub.killer import FrameEnds, masked_text_frame
import pytest


def frame(fin: bool, opcode: int, payload: bytes) -> bytes:
    """Return one masked client frame."""
    mask = os.urandom(4)
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    header = (struct.pack('!BB', first, 0x80 | size) if size < 126
              else struct.pack('!BBH', first, 0x80 | 126, size))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize('chunk', [1, 3, 7, 100, 65536])
def test_message_ends_are_found_across_reads_and_never_inside_a_fragmented_message(chunk):
    whole = [masked_text_frame(b'a' * size) for size in (0, 5, 125, 126, 300, 70000)]
    # One message in two fragments with a ping between them: one end, after the last.
    fragmented = [frame(False, 1, b'abc'), frame(True, 9, b'p'), frame(True, 0, b'def')]
    stream = b''.join(whole + fragmented)
    expected, position = [], 0
    for each in whole:
        position += len(each)
        expected.append(position)
    expected.append(len(stream))
    ends, base, finder = [], 0, FrameEnds()
    for start in range(0, len(stream), chunk):
        data = stream[start:start + chunk]
        ends += [base + end for end in finder.feed(data)]
        base += len(data)
    assert ends == expected
