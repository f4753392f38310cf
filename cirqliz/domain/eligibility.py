"""Eligibility rules: pure functions from a request and a zone's access rule to refusals.

Every function returns a list of Refusal (empty = fine) so that a person sees every reason at
once, each with a stable code for programs and a French message for people.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cirqliz.domain.hours_form import describe_windows
from cirqliz.domain.passes import pass_days
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.vehicles import CritAir, VehicleCategory, VehicleProfile
from cirqliz.domain.windows import MINUTES_PER_DAY, TimeWindow, to_local
from cirqliz.domain.zones import ReviewMode


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why something is refused: a stable `code` and a French `message`."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class VehicleCriteria:
    """Which vehicles a rule admits; empty or None means no constraint."""

    categories: frozenset[VehicleCategory] = frozenset()
    max_crit_air: CritAir | None = None
    max_weight_kg: int | None = None
    max_length_cm: int | None = None


@dataclass(frozen=True, slots=True)
class AccessRuleSpec:
    """One access rule of a zone, as the eligibility functions see it."""

    windows: tuple[TimeWindow, ...] = ()
    purposes: frozenset[Purpose] = frozenset()
    criteria: VehicleCriteria = field(default_factory=VehicleCriteria)
    quota_days_per_year: int | None = None
    max_pass_days: int | None = None
    review_mode: ReviewMode = ReviewMode.MANUAL
    name: str = ""


@dataclass(frozen=True, slots=True)
class PassRequest:
    """What is asked for one vehicle in one zone."""

    vehicle: VehicleProfile
    purpose: Purpose
    not_before: datetime
    expires_at: datetime
    time_zone: str
    windows: tuple[TimeWindow, ...] = ()


def check_vehicle(vehicle: VehicleProfile, criteria: VehicleCriteria) -> list[Refusal]:
    """Category, Crit'Air class, weight and length against the rule's criteria."""
    refusals: list[Refusal] = []
    if criteria.categories and vehicle.category not in criteria.categories:
        allowed = ", ".join(sorted(c.value for c in criteria.categories))
        refusals.append(Refusal(
            "vehicle_category",
            f"catégorie {vehicle.category.value} non admise dans cette zone (admises : {allowed})",
        ))
    if criteria.max_crit_air is not None:
        limit = CritAir(criteria.max_crit_air)
        if vehicle.crit_air is None:
            refusals.append(Refusal(
                "crit_air_unclassified",
                f"véhicule non classé Crit'Air : la zone exige {limit.label_fr} ou mieux",
            ))
        elif vehicle.crit_air > limit:
            refusals.append(Refusal(
                "crit_air_too_high",
                f"{vehicle.crit_air.label_fr} : la zone exige {limit.label_fr} ou mieux",
            ))
    if criteria.max_weight_kg is not None:
        if vehicle.gross_weight_kg is None:
            refusals.append(Refusal("weight_unknown",
                                    "poids total autorisé en charge (PTAC) non renseigné"))
        elif vehicle.gross_weight_kg > criteria.max_weight_kg:
            refusals.append(Refusal(
                "weight_too_high",
                f"PTAC de {vehicle.gross_weight_kg} kg : la zone admet au plus "
                f"{criteria.max_weight_kg} kg",
            ))
    if criteria.max_length_cm is not None:
        if vehicle.length_cm is None:
            refusals.append(Refusal("length_unknown", "longueur du véhicule non renseignée"))
        elif vehicle.length_cm > criteria.max_length_cm:
            refusals.append(Refusal(
                "length_too_high",
                f"longueur de {vehicle.length_cm / 100:.2f} m : la zone admet au plus "
                f"{criteria.max_length_cm / 100:.2f} m",
            ))
    return refusals


def check_purpose(purpose: Purpose, allowed: Container[Purpose] | frozenset[Purpose]) -> list[Refusal]:
    """The purpose must be one the rule admits (an empty set admits every purpose)."""
    if allowed and purpose not in allowed:
        return [Refusal("purpose_not_allowed",
                        f"motif « {Purpose(purpose).label_fr} » non admis dans cette zone")]
    return []


def quota_left(*, limit: int | None, used: int) -> int | None:
    """Days left in the yearly quota (None when there is no quota)."""
    if limit is None:
        return None
    return max(limit - used, 0)


def check_quota(*, limit: int | None, used: int, requested: int) -> list[Refusal]:
    """Requested days must fit in what is left of the vehicle's yearly quota."""
    left = quota_left(limit=limit, used=used)
    if left is not None and requested > left:
        return [Refusal(
            "quota_exceeded",
            f"quota annuel dépassé : {requested} jour(s) demandé(s), {left} restant(s) "
            f"sur {limit} par véhicule et par an",
        )]
    return []


def check_duration(
    *, not_before: datetime, expires_at: datetime, max_days: int | None
) -> list[Refusal]:
    """The validity period must be non-empty and no longer than the rule's maximum."""
    if expires_at <= not_before:
        return [Refusal("empty_period", "la fin de validité doit suivre le début")]
    if max_days is not None and expires_at - not_before > timedelta(days=max_days):
        days = (expires_at - not_before) / timedelta(days=1)
        return [Refusal(
            "duration_too_long",
            f"durée demandée de {days:g} jour(s) : au plus {max_days} jour(s) dans cette zone",
        )]
    return []


def check_zone_period(
    *, not_before: datetime, expires_at: datetime, time_zone: str,
    starts_on: date | None, ends_on: date | None,
) -> list[Refusal]:
    """A pass for a temporary zone must stay within the zone's dates (local days)."""
    first = to_local(not_before, time_zone).date()
    last = to_local(expires_at - timedelta(microseconds=1), time_zone).date()
    if (starts_on and first < starts_on) or (ends_on and last > ends_on):
        return [Refusal(
            "outside_zone_dates",
            f"période demandée hors des dates de la zone ({starts_on or '…'} → {ends_on or '…'})",
        )]
    return []


def week_minutes(window: TimeWindow) -> int:
    """The minutes of the week (Monday 00:00 = bit 0) a window covers, as a bit set."""
    bits = 0
    for day in range(7):
        if not window.weekdays >> day & 1:
            continue
        if window.crosses_midnight:
            bits |= _span(day, window.start, MINUTES_PER_DAY)
            bits |= _span((day + 1) % 7, 0, window.end)
        else:
            bits |= _span(day, window.start, window.end)
    return bits


def _span(day: int, start: int, end: int) -> int:
    return ((1 << (end - start)) - 1) << (day * MINUTES_PER_DAY + start)


def check_windows(
    requested: Sequence[TimeWindow],
    allowed: Sequence[TimeWindow],
    *,
    first_day: date,
    last_day: date,
) -> list[Refusal]:
    """Each requested window must lie inside the zone's windows for the whole requested span.

    An allowed window counts only if its dates cover the span, and, when it skips public
    holidays, only for requested windows that skip them too. No allowed windows means the zone
    is open at all hours; no requested windows means "the zone's own hours".
    """
    if not allowed:
        return []
    refusals: list[Refusal] = []
    for window in requested:
        span_first = max(first_day, window.first_day or first_day)
        span_last = min(last_day, window.last_day or last_day)
        cover = 0
        for candidate in allowed:
            if candidate.first_day and candidate.first_day > span_first:
                continue
            if candidate.last_day and candidate.last_day < span_last:
                continue
            if candidate.skip_public_holidays and not window.skip_public_holidays:
                continue
            cover |= week_minutes(candidate)
        if week_minutes(window) & ~cover:
            zone_hours = describe_windows(allowed)
            refusals.append(Refusal(
                "window_outside_zone_hours",
                f"le créneau demandé « {describe_windows([window])} » sort des horaires de la zone "
                f"({zone_hours})",
            ))
    return refusals


def requested_days(request: PassRequest) -> int:
    """How many local days of quota the request uses."""
    return len(pass_days(request.not_before, request.expires_at, request.time_zone))


def evaluate_rule(request: PassRequest, rule: AccessRuleSpec, *, quota_used: int = 0) -> list[Refusal]:
    """Every reason why `rule` does not admit `request` (empty list: admitted)."""
    refusals = check_purpose(request.purpose, rule.purposes)
    refusals += check_vehicle(request.vehicle, rule.criteria)
    duration = check_duration(
        not_before=request.not_before, expires_at=request.expires_at, max_days=rule.max_pass_days
    )
    refusals += duration
    if duration and duration[0].code == "empty_period":
        return refusals
    refusals += check_quota(
        limit=rule.quota_days_per_year, used=quota_used, requested=requested_days(request)
    )
    refusals += check_windows(
        request.windows,
        rule.windows,
        first_day=to_local(request.not_before, request.time_zone).date(),
        last_day=to_local(request.expires_at - timedelta(microseconds=1), request.time_zone).date(),
    )
    return refusals


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome over all rules of a zone: the admitting rule, or the refusals."""

    rule: AccessRuleSpec | None
    refusals: tuple[Refusal, ...]

    @property
    def eligible(self) -> bool:
        """True when a rule admits the request."""
        return self.rule is not None


def evaluate_rules(
    request: PassRequest, rules: Sequence[AccessRuleSpec], *, quota_used: int = 0
) -> Decision:
    """The first rule that admits the request, else the refusals of the closest rule."""
    if not rules:
        return Decision(None, (Refusal("no_access_rule",
                                       "aucune règle d'accès n'est définie pour cette zone"),))
    best: list[Refusal] | None = None
    for rule in rules:
        refusals = evaluate_rule(request, rule, quota_used=quota_used)
        if not refusals:
            return Decision(rule, ())
        if best is None or len(refusals) < len(best):
            best = refusals
    return Decision(None, tuple(best or ()))
