"""Typed errors of the domain: each carries a machine code and a message a person understands."""

from __future__ import annotations


class DomainError(ValueError):
    """A business rule refused something; `code` is stable, `message` is for people (French)."""

    code: str = "domain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class WindowError(DomainError):
    """A time window is not well formed."""

    code = "invalid_window"


class PlateError(DomainError):
    """A licence plate cannot be read."""

    code = "invalid_plate"


class CompanyIdError(DomainError):
    """A SIREN or SIRET number is not valid."""

    code = "invalid_company_id"


class GeometryError(DomainError):
    """A zone geometry is not a valid polygon or multipolygon."""

    code = "invalid_geometry"


class OpeningHoursError(DomainError):
    """An OSM opening_hours string cannot be read."""

    code = "invalid_opening_hours"


class TransitionError(DomainError):
    """A state change is not allowed from the current state."""

    code = "illegal_transition"


class ReasonRequired(DomainError):
    """A state change needs a reason and none was given."""

    code = "reason_required"


class DocumentError(DomainError):
    """A supporting document is refused (type, size or content)."""

    code = "invalid_document"


class NotFound(DomainError):
    """Something the request refers to does not exist."""

    code = "not_found"


class EligibilityError(DomainError):
    """A request does not meet the zone's rules; `refusals` lists every reason."""

    code = "not_eligible"

    def __init__(self, refusals: list, *, message: str | None = None) -> None:
        self.refusals = list(refusals)
        text = message or "; ".join(r.message for r in self.refusals) or "demande non recevable"
        super().__init__(text)


class VehicleError(DomainError):
    """Vehicle data is not acceptable."""

    code = "invalid_vehicle"


class ZoneError(DomainError):
    """Zone data is not acceptable."""

    code = "invalid_zone"
