"""Offset of the director's clock from the client's, by NTP's four-timestamp exchange over `GET /v1/time`.

One round: the client stamps `sent` (t0), the director stamps `received` (t1) and `transmitted` (t2), the
client stamps `returned` (t3). Whatever the network does, neither direction takes negative time, so the
true offset θ = director − client lies in `[t2 − t3, t1 − t0]`: a hard bound, not a statistical one.
Intersecting the bounds of several rounds narrows it; the estimate is the middle of the intersection and
the uncertainty its half-width. Nothing here sets a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from analyzers.formats.units import NS_PER_S

# Rounds slower than this multiple of the fastest one waited in a queue somewhere; their bounds are
# wider and so carry no information, and leaving them out keeps the measurement short-lived (less drift).
_DELAY_FILTER_FACTOR = 2.0


@dataclass(frozen=True)
class TimeRound:
    """The four stamps of one exchange, in UTC epoch ns (t0, t3 on the client clock; t1, t2 the director's)."""

    sent_ns: int
    received_ns: int
    transmitted_ns: int
    returned_ns: int

    @property
    def delay_ns(self) -> int:
        """Round-trip time spent outside the director's handler."""
        return (self.returned_ns - self.sent_ns) - (self.transmitted_ns - self.received_ns)

    @property
    def lower_ns(self) -> int:
        """The smallest offset consistent with this round (the reply took no time)."""
        return self.transmitted_ns - self.returned_ns

    @property
    def upper_ns(self) -> int:
        """The largest offset consistent with this round (the request took no time)."""
        return self.received_ns - self.sent_ns


@dataclass(frozen=True)
class OffsetEstimate:
    """director clock − client clock, and a bound on the error of that figure."""

    offset_ns: int
    uncertainty_ns: int
    min_delay_ns: int
    rounds: int  # rounds taken
    rounds_used: int  # rounds whose bounds the estimate intersects (the fast ones)
    measured_at_ns: int  # client wall clock at the fastest round

    @property
    def offset_s(self) -> float:
        return self.offset_ns / NS_PER_S

    @property
    def uncertainty_s(self) -> float:
        return self.uncertainty_ns / NS_PER_S

    def to_client_ns(self, director_ns: int) -> int:
        """A director wall-clock instant on the client's clock."""
        return director_ns - self.offset_ns


class InconsistentRounds(ValueError):
    """No round at all, or a round whose stamps go backwards (a clock stepped during the exchange)."""


def estimate_offset(rounds: Sequence[TimeRound]) -> OffsetEstimate:
    """The offset from the fastest rounds: the intersection of their bounds, or the fastest one alone."""
    if not rounds:
        raise InconsistentRounds("no time rounds to estimate from")
    for one in rounds:
        if one.delay_ns < 0 or one.returned_ns < one.sent_ns:
            raise InconsistentRounds(
                "a time round went backwards (was a clock stepped during the measurement?)"
            )
    fastest = min(rounds, key=lambda one: one.delay_ns)
    limit_ns = max(fastest.delay_ns * _DELAY_FILTER_FACTOR, fastest.delay_ns + 1)
    kept = [one for one in rounds if one.delay_ns <= limit_ns]
    lower_ns = max(one.lower_ns for one in kept)
    upper_ns = min(one.upper_ns for one in kept)
    if lower_ns > upper_ns:
        # The clocks drifted (or stepped) across the rounds: the bounds no longer overlap. The fastest
        # round on its own is still a valid measurement of the instant it was taken.
        lower_ns, upper_ns, kept = fastest.lower_ns, fastest.upper_ns, [fastest]
    return OffsetEstimate(
        offset_ns=(lower_ns + upper_ns) // 2,
        uncertainty_ns=(upper_ns - lower_ns + 1) // 2,
        min_delay_ns=fastest.delay_ns,
        rounds=len(rounds),
        rounds_used=len(kept),
        measured_at_ns=fastest.sent_ns + (fastest.returned_ns - fastest.sent_ns) // 2,
    )


def measure_offset(take_round: Callable[[], TimeRound], rounds: int = 32) -> OffsetEstimate:
    """Take `rounds` rounds one after the other and estimate from them."""
    if rounds < 1:
        raise ValueError("at least one time round is needed")
    return estimate_offset([take_round() for _ in range(rounds)])


def combine(estimates: Sequence[OffsetEstimate]) -> OffsetEstimate:
    """One figure for a phase measured before and after: the mean, widened by how far the two disagree.

    Between the two measurements the clocks may drift; the half-difference covers any instant in between.
    """
    if not estimates:
        raise InconsistentRounds("no offset measurements to combine")
    offsets = [one.offset_ns for one in estimates]
    mean_ns = round(sum(offsets) / len(offsets))
    spread_ns = (max(offsets) - min(offsets) + 1) // 2
    return OffsetEstimate(
        offset_ns=mean_ns,
        uncertainty_ns=max(one.uncertainty_ns for one in estimates) + spread_ns,
        min_delay_ns=min(one.min_delay_ns for one in estimates),
        rounds=sum(one.rounds for one in estimates),
        rounds_used=sum(one.rounds_used for one in estimates),
        measured_at_ns=estimates[-1].measured_at_ns,
    )
