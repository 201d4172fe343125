"""The multiprocess metric files (``PROMETHEUS_MULTIPROC_DIR``): where they are, and removing dead processes' files.

Apart from ``lib.metrics`` on purpose: prometheus_client picks single- or multi-process mode when it is first
imported, so the CLI must not import it before the settings have set the directory; this module does not import it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def multiprocess_dir() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def prune_dead_process_files(directory: Path | None = None) -> int:
    """Remove multiprocess files of processes that no longer run (call when a web or worker process starts).

    Counters of dead processes would otherwise accumulate forever; Prometheus treats the drop as a counter reset.
    """
    directory = directory or multiprocess_dir()
    if directory is None or not directory.is_dir():
        return 0
    removed = 0
    for path in directory.glob("*.db"):
        try:
            pid = int(path.stem.rsplit("_", 1)[-1])
        except ValueError:
            continue
        if pid == os.getpid() or _pid_alive(pid):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
