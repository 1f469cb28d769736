"""ISO 8601 durations as the policy writes them (``P2D``, ``PT8H``, ``P1DT4H30M``, ``PT90S``).

Business time needs the *days* part kept apart from the clock part: ``P1D`` means "the same
wall-clock time on the next working day", while ``PT24H`` means twenty-four elapsed business
hours. So a duration is parsed into whole days plus seconds, never collapsed to a timedelta.
Years and months are refused: their length is ambiguous and no SLA in billing operations
is written that way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_PATTERN = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)

MAX_DAYS = 3650


class DurationError(ValueError):
    """The text is not an ISO 8601 duration we accept; the message says why."""


@dataclass(frozen=True)
class Duration:
    """A business duration: whole (business) days, then elapsed seconds."""

    days: int = 0
    seconds: Decimal = Decimal(0)
    weeks: int = 0

    @property
    def is_zero(self) -> bool:
        return self.days == 0 and self.weeks == 0 and self.seconds == 0

    def total_seconds_24x7(self) -> Decimal:
        """Length on an always-open calendar (weeks of 7 days, days of 24 hours)."""
        return Decimal((self.weeks * 7 + self.days) * 86400) + self.seconds

    def scaled(self, fraction: Decimal) -> Duration:
        """A fraction of this duration (for reminders at ``remind_at``), as elapsed seconds."""
        return Duration(seconds=(self.total_seconds_24x7() * fraction).quantize(Decimal("0.001")))

    def __str__(self) -> str:
        return to_iso(self)


def parse_duration(text: str) -> Duration:
    """Parse ``text`` or raise :class:`DurationError` saying what is wrong."""
    if not isinstance(text, str):
        raise DurationError(f"expected an ISO 8601 duration string such as 'P2D', got {text!r}")
    match = _PATTERN.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise DurationError(
            f"{text!r} is not an ISO 8601 duration; write for example 'P2D', 'PT8H' or 'PT30S' "
            "(years and months are not accepted)"
        )
    parts = match.groupdict()
    try:
        seconds = Decimal(parts["seconds"] or 0)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise DurationError(f"{text!r} has malformed seconds") from exc
    seconds += Decimal(int(parts["hours"] or 0) * 3600 + int(parts["minutes"] or 0) * 60)
    duration = Duration(
        days=int(parts["days"] or 0), seconds=seconds, weeks=int(parts["weeks"] or 0)
    )
    if duration.is_zero:
        raise DurationError(f"{text!r} is zero; an SLA must be longer than that")
    if duration.total_seconds_24x7() > MAX_DAYS * 86400:
        raise DurationError(f"{text!r} is longer than {MAX_DAYS} days")
    return duration


def to_iso(duration: Duration) -> str:
    """Render back to ISO 8601 (used in messages and the audit trail)."""
    out = "P"
    if duration.weeks:
        out += f"{duration.weeks}W"
    if duration.days:
        out += f"{duration.days}D"
    secs = duration.seconds
    if secs:
        hours, rest = divmod(secs, 3600)
        minutes, seconds = divmod(rest, 60)
        out += "T"
        if hours:
            out += f"{int(hours)}H"
        if minutes:
            out += f"{int(minutes)}M"
        if seconds:
            out += f"{seconds.normalize():f}S"
    return out if out != "P" else "PT0S"
