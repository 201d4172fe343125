"""CPU time of other processes, read from Linux /proc, so a benchmark can report a server's or a worker's cost per
request apart from its clients'."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int, *, descendants: bool = False) -> float | None:
    """User + system CPU seconds used so far by ``pid`` (and, with ``descendants``, every process under it that is
    still running); None when /proc has no such process (it ended, or this is not Linux)."""
    total_ticks = 0
    found = False
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total_ticks += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
            found = True
            if descendants:
                for task in Path(f"/proc/{current}/task").iterdir():
                    pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # the process ended meanwhile
    return total_ticks / os.sysconf("SC_CLK_TCK") if found else None


def processes_cpu_seconds(command: str) -> float:
    """User + system CPU seconds used so far by every running process named ``command`` (e.g. ``postgres``: the
    database server's backends, when it runs on this machine)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != command:
                continue
        except OSError:
            continue
        total += cpu_seconds(int(entry.name)) or 0.0
    return total
