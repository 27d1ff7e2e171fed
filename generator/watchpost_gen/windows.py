"""The SLO windows and burn-rate alerts: the Google SRE Workbook's multiwindow, multi-burn-rate
table for a 30-day period, with Sloth's 3x ticket row.

A test variant divides every window, `for` and `keep_firing_for` by a scale (60: an hour
becomes a minute) so an end-to-end test can watch a page fire and resolve in minutes. Rule
names and the `sloth_window` label keep the nominal window in both, so dashboards and
tests query the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

PERIOD_DAYS = 30
SLI_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def seconds(duration: str) -> int:
    for unit, size in _UNITS:
        if duration.endswith(unit):
            return int(duration[: -len(unit)]) * size
    raise ValueError(f"not a duration: {duration}")


def duration(total: int) -> str:
    """The shortest Prometheus duration for `total` seconds, in one unit."""
    for unit, size in _UNITS:
        if total % size == 0:
            return f"{total // size}{unit}"
    raise AssertionError("unreachable: seconds divide everything")


@dataclass(frozen=True)
class BurnRow:
    """One row of the table: alert when both windows burn faster than `factor`."""

    factor: float
    long: str
    short: str


@dataclass(frozen=True)
class Severity:
    name: str  # page | ticket
    rows: tuple[BurnRow, BurnRow]
    for_: str  # how long the condition must hold: one scrape blip does not page
    keep_firing_for: str  # how long it stays after clearing: a recovering burn does not flap


PAGE = Severity(
    "page", (BurnRow(14.4, "1h", "5m"), BurnRow(6, "6h", "30m")), for_="2m", keep_firing_for="10m"
)
TICKET = Severity(
    "ticket", (BurnRow(3, "1d", "2h"), BurnRow(1, "3d", "6h")), for_="15m", keep_firing_for="1h"
)
SEVERITIES = (PAGE, TICKET)

# A burn alert also needs this many failed requests in its long window: on a quiet night,
# 2 errors in 40 requests are a 5% error ratio, yet no reason to wake anyone.
MIN_BAD_EVENTS = 10

# How long the SLI's request series may be missing before a ticket says the SLO is blind.
ABSENT_FOR = "15m"


class Scale:
    """Maps nominal durations to the ones written into rules (divided by `divisor`)."""

    def __init__(self, divisor: int = 1):
        self.divisor = divisor

    def __call__(self, nominal: str) -> str:
        total = seconds(nominal)
        if total % self.divisor:
            raise ValueError(f"{nominal} is not a whole number of seconds divided by {self.divisor}")
        return duration(total // self.divisor)
