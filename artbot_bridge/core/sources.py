"""The `status_sources` table (one row per ROS topic that feeds robot_status) and its parsers."""

import json
import re
from typing import Tuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .messages import HUB_KEYS

_FLAT_KEY = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_PATH = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$')


def split_pairs(value: object) -> object:
    """Turn ['key=field.path', ...] into (('key', 'field.path'), ...); other values pass."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        pairs = []
        for item in value:
            key, sep, path = item.partition('=')
            if not sep or not _FLAT_KEY.match(key.strip()) or not path.strip():
                raise ValueError(f"expected 'key=field.path', got {item!r}")
            pairs.append((key.strip(), path.strip()))
        return tuple(pairs)
    return value


def split_values(value: object) -> object:
    """Turn ['field.path=value', ...] into (('field.path', value), ...); JSON values, else text."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        pairs = []
        for item in value:
            path, sep, raw = item.partition('=')
            if not sep or not _PATH.match(path.strip()) or not raw.strip():
                raise ValueError(f"expected 'field.path=value', got {item!r}")
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.strip()  # a word: a string field's value
            pairs.append((path.strip(), parsed))
        return tuple(pairs)
    return value


def split_words(value: object) -> object:
    """Turn ['key:value=word', ...] into (('key', 'value', 'word'), ...); other values pass."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        triples = []
        for item in value:
            key, _, rest = item.partition(':')
            raw, sep, word = rest.partition('=')
            if not sep or not _FLAT_KEY.match(key.strip()) or not raw.strip():
                raise ValueError(f"expected 'key:value=word', got {item!r}")
            triples.append((key.strip(), raw.strip().lower(), word.strip()))
        return tuple(triples)
    return value


class SourceSettings(BaseModel):
    """One ROS topic that feeds robot_status (one row of the `status_sources` table)."""

    model_config = ConfigDict(frozen=True, extra='forbid')

    name: str
    topic: str = Field(min_length=1, description='topic to subscribe to')
    type: str = Field(  # noqa: A003 - the parameter users write is <source>.type
        min_length=3, description='message type, e.g. sensor_msgs/msg/BatteryState')
    fields: Tuple[str, ...] = Field(
        default=(), description='dotted field paths to report (empty: the whole message)')
    flat: Tuple[Tuple[str, str], ...] = Field(
        default=(), description='key=field.path pairs promoted to flat keys of robot_status')
    map: Tuple[Tuple[str, str, str], ...] = Field(  # noqa: A003 - users write <source>.map
        default=(), description="key:value=word triples: a flat key's value as the hub's word, "
                                'e.g. workspace_status:true=running')
    presence: str = Field(
        default='', description='flat key that is true while this source is fresh')
    stale_after: float = Field(
        default=0.0, ge=0.0, le=3600.0,
        description='seconds without a message before the source is stale (0: stale_after)')

    mode: str = Field(
        default='latest', pattern='^(latest|stream)$',
        description='latest: coalesced into robot_status; stream: also each message on its own')
    max_rate: float = Field(
        default=50.0, ge=0.1, le=100_000.0,
        description='stream mode: messages per second forwarded, at most (more are dropped)')

    _split_flat = field_validator('flat', mode='before')(split_pairs)
    _split_map = field_validator('map', mode='before')(split_words)

    @field_validator('presence')
    @classmethod
    def _check_presence(cls, value: str) -> str:
        if value and not _FLAT_KEY.match(value):
            raise ValueError(f'not a valid key: {value!r}')
        return value

    @model_validator(mode='after')
    def _check_mapped_keys(self) -> 'SourceSettings':
        flat = {key for key, _ in self.flat}
        unknown = sorted({key for key, _, _ in self.map} - flat)
        if unknown:
            raise ValueError(f'map names keys that are not in flat: {", ".join(unknown)}')
        return self

    @model_validator(mode='after')
    def _check_stream_name(self) -> 'SourceSettings':
        if self.mode == 'stream' and (not _FLAT_KEY.match(self.name) or self.name in HUB_KEYS):
            raise ValueError(f'a stream source names a key of robot_status: {self.name!r} must be '
                             'a plain identifier the hub does not already use')
        return self
