"""``field__any_of=[...]``: the ``__in`` lookup, but one array parameter on PostgreSQL.

A worker batch names a hundred rows by id. ``__in`` sends a hundred parameters, and psycopg converts a query with
more than 50 parameters anew every time (its conversion cache stops there): for the webhook worker that was a
tenth of its CPU. ``id = ANY(%s)`` with a list is one parameter whatever the batch size, so the query converts
once and the list is quoted by psycopg's C array dumper. SQLite keeps ``IN (...)``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models.lookups import In


@models.IntegerField.register_lookup  # AutoField, BigAutoField and the integer fields derive from it
class AnyOf(In):
    lookup_name = "any_of"

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, tuple]:
        if not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)
        values = [value for value in self.rhs if value is not None]
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, values)
