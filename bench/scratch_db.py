"""A scratch PostgreSQL database for the benchmarks and for tests whose processes migrate their own database.

Django-free (stdlib + psycopg), so ``bench/`` scripts and ``tests/`` can both import it before Django is set up.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit


@contextmanager
def scratch_postgres(url: str, prefix: str) -> Iterator[str]:
    """Create an empty database ``<prefix>_<8 hex digits>`` on the PostgreSQL server ``url`` points at and yield its
    URL (``url`` with the database name swapped); drop it afterwards, also when the block raises.

    ``{database}`` in ``prefix`` stands for the database name in ``url`` (``postgres`` if it names none). CREATE and
    DROP run on the server's ``postgres`` database, so ``url``'s own database need not exist; the DROP uses
    ``WITH (FORCE)``, ending connections the processes under test may still hold."""
    import psycopg

    parts = urlsplit(url)
    name = f"{prefix.format(database=parts.path.lstrip('/') or 'postgres')}_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
