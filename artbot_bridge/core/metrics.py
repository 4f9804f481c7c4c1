"""
Host and process metrics for the heartbeat, sampled with psutil.

`sample()` only reads counters (`cpu_percent(interval=None)` compares with the previous call),
so it takes a few milliseconds; the hub client still runs it off the event loop.
"""

import math
import os
import time
from typing import Any, Dict, Optional

import psutil


def _round(value: Optional[float], digits: int = 1) -> Optional[float]:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


class SystemSampler:
    """Sample CPU, memory, temperature, disk, load, network and this process's footprint."""

    def __init__(self, disk_path: str = '/') -> None:
        self._disk_path = disk_path
        self._process = psutil.Process(os.getpid())
        self._started = time.monotonic()
        self._boot_time = psutil.boot_time()
        # The first cpu_percent(None) call returns a meaningless 0.0: prime both counters.
        psutil.cpu_percent(interval=None)
        self._process.cpu_percent(interval=None)

    def sample(self) -> Dict[str, Any]:
        """Return the heartbeat's host metrics as a flat dict."""
        memory = psutil.virtual_memory()
        net = psutil.net_io_counters()
        with self._process.oneshot():
            rss = self._process.memory_info().rss
            process_cpu = self._process.cpu_percent(interval=None)
        return {
            'cpu_percent': _round(psutil.cpu_percent(interval=None)),
            'memory_percent': _round(memory.percent),
            'temperature': _round(self.temperature()),
            'battery_level': _round(self.host_battery()),
            'uptime': self.uptime(),
            'system_uptime': int(time.time() - self._boot_time),
            'disk_percent': _round(self._disk_percent()),
            'load_average': [_round(v, 2) for v in os.getloadavg()],
            'net_bytes_sent': net.bytes_sent if net else None,
            'net_bytes_recv': net.bytes_recv if net else None,
            'process_rss_mb': _round(rss / 2 ** 20),
            'process_cpu_percent': _round(process_cpu),
        }

    def uptime(self) -> int:
        """Return the seconds since the bridge started (the original agent's `uptime`)."""
        return int(time.monotonic() - self._started)

    def _disk_percent(self) -> Optional[float]:
        try:
            return psutil.disk_usage(self._disk_path).percent
        except OSError:
            return None

    @staticmethod
    def temperature() -> Optional[float]:
        """Return the hottest CPU/SoC sensor in degrees C (None where there is none)."""
        reader = getattr(psutil, 'sensors_temperatures', None)
        readings = reader() if reader else {}
        for name in ('cpu_thermal', 'coretemp', 'k10temp', 'soc_thermal', 'acpitz'):
            values = [t.current for t in readings.get(name, ()) if t.current is not None]
            if values:
                return max(values)
        values = [t.current for group in readings.values() for t in group]
        return max(values) if values else None

    @staticmethod
    def host_battery() -> Optional[float]:
        """Return the host's own battery percentage (laptops), None on most robots."""
        reader = getattr(psutil, 'sensors_battery', None)
        battery = reader() if reader else None
        return battery.percent if battery else None
