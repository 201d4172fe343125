"""Model rows from hand-written SQL, for the few statements that run on every API request.

The ORM compiles a query each time it runs; for a primary-key-like lookup that took several times longer than the
lookup itself. ``Part`` describes which model's columns a SELECT returns (in order); ``columns`` writes them for
the SQL and ``load`` turns a fetched row back into model instances with the same converters the ORM applies
(dates on SQLite, booleans, JSON, encrypted fields), so the objects are the ones ``select_related`` / ``only``
would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Model


@dataclass(frozen=True)
class Part:
    model: type[Model]
    alias: str
    fields: tuple[str, ...] = ()  # attribute names; empty = every concrete field
    _converters: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def concrete(self) -> list:
        # In the model's field order: Model.from_db fills a partial row in that order.
        wanted = set(self.fields)
        return [f for f in self.model._meta.concrete_fields if not wanted or f.attname in wanted or f.name in wanted]

    def converters(self) -> list[tuple]:
        """(column expression, converters) per field, per database vendor, as the ORM's compiler applies them."""
        found = self._converters.get(connection.vendor)
        if found is None:
            cols = [f.get_col(self.alias) for f in self.concrete]
            found = [(c, connection.ops.get_db_converters(c) + c.field.get_db_converters(connection)) for c in cols]
            self._converters[connection.vendor] = found
        return found


def columns(parts: Sequence[Part]) -> str:
    quote = connection.ops.quote_name
    return ", ".join(f"{p.alias}.{quote(f.column)}" for p in parts for f in p.concrete)


def load(row: Sequence, parts: Sequence[Part]) -> list[Model]:
    """One instance per part from ``row`` (a deferred instance when the part names only some fields)."""
    objects, start = [], 0
    for part in parts:
        converters = part.converters()
        values = list(row[start : start + len(converters)])
        start += len(converters)
        for i, (col, funcs) in enumerate(converters):
            for func in funcs:
                values[i] = func(values[i], col, connection)
        objects.append(part.model.from_db(connection.alias, [f.attname for f in part.concrete], values))
    return objects
