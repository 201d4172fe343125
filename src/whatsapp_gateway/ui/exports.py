"""Exports are recorded in the audit log when the file has been sent in full, not when the link is fetched."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator


def record_when_done(chunks: Iterable[str], record: Callable[[int], None]) -> Iterator[str]:
    """Yield the export's chunks; once the last one is out, call ``record(rows)`` (rows = chunks minus the header).

    A download that is abandoned half way (or a prefetch that is never read) records nothing.
    """
    count = 0
    for chunk in chunks:
        count += 1
        yield chunk
    record(max(0, count - 1))
