"""CPU time of a process group, from Linux /proc (stdlib only: the jobs probe imports it too)."""

from __future__ import annotations

import os
from pathlib import Path


def group_cpu_seconds(pgid: int) -> float:
    """User and system CPU seconds so far of every live process in group `pgid`."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def group_alive(pgid: int) -> bool:
    """Whether group `pgid` has a process that has not exited (a zombie has)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False
