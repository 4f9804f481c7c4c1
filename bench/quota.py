"""
A CPU quota for the processes under test: a quarter of a core, as on a Raspberry Pi-sized host.

cgroup v2 (`cpu.max`) where the machine has it, else cgroup v1 (`cpu.cfs_quota_us` in the `cpu`
controller). Where neither can be written, `CpuQuota.create()` returns None with the reason,
and the benchmark says so instead of reporting an unlimited run as a limited one.
"""

import os
from pathlib import Path
from typing import Optional, Tuple

V2 = Path('/sys/fs/cgroup')
V1 = Path('/sys/fs/cgroup/cpu')
PERIOD_US = 100_000


class CpuQuota:
    """One cgroup holding a CPU quota; processes are moved into it by pid."""

    def __init__(self, path: Path, version: int, share: float) -> None:
        self.path, self.version, self.share = path, version, share

    @classmethod
    def create(cls, share: float, name: str = 'artbot-bench') -> Tuple[Optional['CpuQuota'], str]:
        """Create the cgroup; return (quota, how) or (None, why not)."""
        quota_us = int(PERIOD_US * share)
        if (V2 / 'cgroup.controllers').exists() and 'cpu' in \
                (V2 / 'cgroup.controllers').read_text().split():
            path = V2 / name
            try:
                path.mkdir(exist_ok=True)
                (path / 'cpu.max').write_text(f'{quota_us} {PERIOD_US}')
                return cls(path, 2, share), f'cgroup v2 cpu.max {quota_us} {PERIOD_US}'
            except OSError as err:
                reason = f'cgroup v2 cpu.max not writable ({err})'
        elif (V1 / 'cpu.cfs_quota_us').exists():
            path = V1 / name
            try:
                path.mkdir(exist_ok=True)
                (path / 'cpu.cfs_period_us').write_text(str(PERIOD_US))
                (path / 'cpu.cfs_quota_us').write_text(str(quota_us))
                return cls(path, 1, share), \
                    f'cgroup v1 cpu.cfs_quota_us {quota_us} per {PERIOD_US} us'
            except OSError as err:
                reason = f'cgroup v1 cpu.cfs_quota_us not writable ({err})'
        else:
            reason = 'no cgroup cpu controller on this machine'
        return None, reason

    def add(self, pid: int) -> None:
        """Move a process (all its threads) into the cgroup."""
        (self.path / 'cgroup.procs').write_text(str(pid))

    def throttled(self) -> int:
        """Return how many periods the quota held the cgroup back."""
        for line in (self.path / 'cpu.stat').read_text().splitlines():
            key, _, value = line.partition(' ')
            if key in ('nr_throttled',):
                return int(value)
        return 0

    def close(self) -> None:
        """Move what is left back to the root cgroup and remove this one."""
        root = self.path.parent
        try:
            for pid in (self.path / 'cgroup.procs').read_text().split():
                (root / 'cgroup.procs').write_text(pid)
            os.rmdir(self.path)
        except OSError:
            pass
