"""
Latest-value slots for the status sources, and robot_status built from them.

ROS callbacks only call `SourceSlot.store` (two attribute writes): a 100 Hz topic costs its
deserialisation and nothing more. Conversion to JSON-able values happens once per robot_status,
on the hub link's side.

A value the bridge does not know (a stale or silent source, a battery that reports NaN) is left
out of the flat keys, never sent as null: the hub merges robot_status into its record, and a
null under a key it computes with kills its reader. Staleness shows in the source's detail
(`sources.<name>.stale`), in its presence key and in /diagnostics.
"""

import math
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .interfaces import normalize_type
from .read import get_path, to_plain
from ..core.settings import Settings
from ..core.sources import SourceSettings

BATTERY_TYPE = 'sensor_msgs/msg/BatteryState'
# sensor_msgs/BatteryState POWER_SUPPLY_STATUS_* constants.
_SUPPLY_STATUS = {0: 'unknown', 1: 'charging', 2: 'discharging', 3: 'not_charging', 4: 'full'}


def _finite(value: float, digits: int = 3) -> Optional[float]:
    return round(float(value), digits) if math.isfinite(value) else None


def battery_meaning(msg: Any) -> Dict[str, Any]:
    """Read a sensor_msgs/BatteryState the way the hub means it (battery_level 0-100)."""
    level = _finite(msg.percentage * 100.0, 1)
    if level is None and msg.capacity > 0 and math.isfinite(msg.charge):
        level = _finite(100.0 * msg.charge / msg.capacity, 1)
    status = _SUPPLY_STATUS.get(msg.power_supply_status, 'unknown')
    return {
        'battery_level': None if level is None else max(0.0, min(100.0, level)),
        'is_charging': status == 'charging',
        'voltage': _finite(msg.voltage),
        'current': _finite(msg.current),
        'temperature': _finite(msg.temperature, 1),
        'power_supply_status': status,
        'present': bool(msg.present),
    }


# Types the hub gives a meaning to: type -> (flat keys it feeds, reader).
MEANINGS: Dict[str, Tuple[Tuple[str, ...], Callable[[Any], Dict[str, Any]]]] = {
    BATTERY_TYPE: (('battery_level', 'is_charging'), battery_meaning),
}


class SourceSlot:
    """The latest message of one status source and when it arrived."""

    __slots__ = ('settings', 'type', 'meaning', 'words', 'stale_limit', '_latest', '_clock')

    def __init__(self, settings: SourceSettings, stale_limit: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.type = normalize_type(settings.type)
        self.meaning = MEANINGS.get(self.type, ((), None))  # (flat keys, reader), once per type
        self.words: Dict[str, Dict[str, str]] = {}  # flat key -> {value as text: hub word}
        for key, raw, word in settings.map:
            self.words.setdefault(key, {})[raw] = word
        self.stale_limit = stale_limit
        # (message, arrival, messages so far): written whole by the ROS callback and read
        # whole by the telemetry thread, so a reader never sees half of an update.
        self._latest: Tuple[Any, float, int] = (None, 0.0, 0)
        self._clock = clock

    def store(self, msg: Any) -> None:
        """Keep `msg` as the latest value (called from the ROS callback)."""
        self._latest = (msg, self._clock(), self._latest[2] + 1)

    @property
    def msg(self) -> Any:
        """Return the latest message, fresh or not (None before the first)."""
        return self._latest[0]

    @property
    def count(self) -> int:
        """Return how many messages arrived."""
        return self._latest[2]

    def word(self, key: str, value: Any) -> Any:
        """Return the hub's word for `value` under `key` (`map`), else the value itself."""
        words = self.words.get(key)
        if not words:
            return value
        text = ('true' if value else 'false') if isinstance(value, bool) else str(value).lower()
        return words.get(text, value)

    def fresh_message(self) -> Tuple[Any, float]:
        """Return (message, age in s) while fresh; (None, age) once stale or never received."""
        msg, stamp, _ = self._latest
        if msg is None:
            return None, math.inf
        age = self._clock() - stamp
        return (msg if age <= self.stale_limit else None), age


class StatusBoard:
    """All status sources; builds the flat keys and the nested detail the hub shows."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.slots = {
            source.name: SourceSlot(source, settings.stale_limit(source), clock)
            for source in settings.status_sources
        }

    def flat_keys(self) -> Dict[str, Any]:
        """Return the flat keys (hub-known first); a stale source's keys are left out."""
        return self._build(detail=False)[0]

    def stale_names(self) -> List[str]:
        """Return the names of the sources with no fresh message (for /diagnostics)."""
        return [name for name, slot in self.slots.items() if slot.fresh_message()[0] is None]

    def robot_status(self) -> Dict[str, Any]:
        """Return robot_status data: flat keys first, per-source detail under `sources`."""
        flat, detail = self._build(detail=True)
        return {**flat, 'sources': detail}

    def _build(self, detail: bool) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        flat: Dict[str, Any] = {}
        sources: Dict[str, Any] = {}
        for name, slot in self.slots.items():
            msg, age = slot.fresh_message()
            cfg = slot.settings
            keys, reader = slot.meaning
            meaning = reader(msg) if reader and msg is not None else {}
            if msg is not None:
                for key in keys:
                    if meaning.get(key) is not None:
                        flat[key] = meaning[key]
                for key, path in cfg.flat:
                    value = get_path(msg, path)
                    if value is not None:
                        flat[key] = slot.word(key, value)
            if cfg.presence:
                flat[cfg.presence] = msg is not None
            if detail:
                sources[name] = {
                    'topic': cfg.topic,
                    'type': slot.type,
                    'stale': msg is None,
                    'age_s': round(age, 3) if math.isfinite(age) else None,
                    'count': slot.count,
                    'data': self.message_data(cfg, msg, meaning),
                }
        return flat, sources

    @staticmethod
    def message_data(cfg: SourceSettings, msg: Any, meaning: Dict[str, Any]) -> Any:
        """Return what the hub sees of one message: chosen fields, its meaning, or all."""
        if msg is None:
            return None
        if cfg.fields:
            return {path: get_path(msg, path) for path in cfg.fields}
        return meaning or to_plain(msg)
