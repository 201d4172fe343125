"""Form fields shared by the portal's filter forms."""

from __future__ import annotations

import datetime as dt

from django import forms

# Filters turn a date into [day 00:00, next day 00:00) in the account's time zone; dates near year 1 or 9999
# overflow that arithmetic, and nothing in the gateway is dated outside this range.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)


class FilterDateField(forms.DateField):
    """An optional date filter limited to a range the date arithmetic and databases handle."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date", "min": str(EARLIEST_DATE)}))
        super().__init__(**kwargs)

    def validate(self, value: dt.date | None) -> None:
        super().validate(value)
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise forms.ValidationError(
                f"Enter a date between {EARLIEST_DATE:%Y-%m-%d} and {LATEST_DATE:%Y-%m-%d}.", code="date_out_of_range"
            )
