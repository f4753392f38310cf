"""Built-in structural checks of a DATEX II v3 TrafficRegulationPublication (always applied).

They cover what the importer reads and the exporter writes: the root, the publication time and
creator, each trafficRegulationOrder (attributes, children, required elements, status), each
trafficRegulation, the condition types and operators, and the validity (statuses, dates, times
of day, days, special days). Names and vocabularies are those of DATEX II v3 with the DiaLog
extension; when the published XSDs are installed the document is validated against them too.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from xml.etree.ElementTree import Element

NS = {
    "d2": "http://datex2.eu/schema/3/d2Payload",
    "com": "http://datex2.eu/schema/3/common",
    "tro": "http://datex2.eu/schema/3/trafficRegulation",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
_XSI_TYPE = f"{{{NS['xsi']}}}type"
EXTENDED = "_extended"
ORDER_STATUSES = ("planned", "madeButNotImplemented", "madeAndPartiallyImplemented", "madeAndImplemented",
                  "partiallyWithdrawn", "withdrawn")
REGULATION_STATUSES = ("active", "beingSetUp", "beingShutDown", "scheduled")
VALIDITY_STATUSES = ("active", "planned", "suspended", "definedByValidityTimeSpec")
SPECIAL_DAYS = ("dayBeforePublicHoliday", "publicHoliday", "dayFollowingPublicHoliday", "longWeekendDay",
                "inLieuOfPublicHoliday", "schoolDay", "schoolHolidays", "publicEventDay", "other")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
OPERATORS = ("and", "or", "xor")
ACCESS_RESTRICTIONS = ("noEntry", "noUseOfAudibleWarningDevices", "noPassingWithoutStopping")
CONDITION_TYPES = frozenset({"Condition", "ConditionSet", "AccessCondition", "DriverCondition", "LocationCondition",
                             "NonVehicularRoadUserCondition", "OccupantCondition", "PermitCondition",
                             "RoadCondition", "ValidityCondition", "VehicleCondition"})
REGULATION_TYPES = frozenset({
    "AccessRestriction", "AlternateRoadOrCarriagewayOrLaneLayout", "AmbientWarnings", "DirectionRestriction",
    "MandatoryRoadOrCarriagewayOrLaneUsage", "MinimumDistanceRestriction", "OvertakingBan", "PriorityRule",
    "Rerouting", "RoadWarning", "RushHourLaneRestriction", "SpeedLimit", "StandingOrParkingRestriction",
    "SteepHill", "TrafficAhead", "Warning"})
PUBLICATION_CHILDREN = frozenset({
    "com:publicationTime", "com:publicationCreator", "com:_payloadPublicationExtension",
    "tro:trafficRegulationsFromCompetentAuthorities", "tro:trafficRegulationsByAuthorisedActors",
    "tro:adHocTrafficRegulations", "tro:plannedDynamicTrafficRegulations",
    "tro:_trafficRegulationPublicationExtension"})
ORDER_CHILDREN = frozenset(f"tro:{name}" for name in (
    "description", "issuingAuthority", "reason", "regulationId", "status", "implementedValidity",
    "validityByOrder", "implementedLocation", "locationByOrder", "trafficRegulation", "legalBasis",
    "_trafficRegulationOrderExtension"))
REGULATION_CHILDREN = frozenset(f"tro:{name}" for name in (
    "status", "typeOfRegulation", "condition", "_trafficRegulationExtension"))
_DATETIME = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?", re.ASCII)
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?", re.ASCII)


class StructureError(Exception):
    """A structural violation: the element concerned and what is wrong, in French."""

    def __init__(self, element: Element, what: str) -> None:
        super().__init__(what)
        self.element = element
        self.what = what


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _short(tag: str) -> str:
    namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    prefix = next((p for p, uri in NS.items() if uri == namespace), None)
    return f"{prefix}:{local}" if prefix else local


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: Element) -> str:
    return (element.text or "").strip()


def _quote(value: str) -> str:
    return "« " + (value if len(value) <= 40 else value[:40] + "…") + " »"


def _xsi_type(element: Element) -> str:
    return (element.get(_XSI_TYPE) or "").rsplit(":", 1)[-1]


def _children(element: Element, allowed: frozenset[str]) -> None:
    for child in element:
        if _short(str(child.tag)) not in allowed:
            raise StructureError(element, f"élément enfant « {_local(str(child.tag))} » inattendu à cet endroit")


def _required(element: Element, *names: str) -> None:
    for name in names:
        found = element.find(_q(name))
        if found is None:
            raise StructureError(element, f"élément enfant obligatoire « {name.split(':')[1]} » manquant")
        if len(found) == 0 and not _text(found):
            raise StructureError(found, "valeur obligatoire vide")


def _only_attributes(element: Element, *names: str) -> None:
    for name in element.attrib:
        if name not in names and name != _XSI_TYPE:
            raise StructureError(element, f"attribut « {_local(name)} » non permis ici")


def _enum(element: Element | None, allowed: tuple[str, ...]) -> None:
    if element is None:
        return
    _only_attributes(element, "_extendedValue")
    value = _text(element)
    if value not in allowed and value != EXTENDED:
        raise StructureError(element, f"valeur {_quote(value)} non permise (permises : {', '.join(allowed)})")


def _datetime(element: Element | None) -> None:
    if element is None:
        return
    value = _text(element)
    ok = bool(_DATETIME.fullmatch(value))
    if ok:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            ok = False
    if not ok:
        raise StructureError(element, f"date et heure {_quote(value)} invalides (forme AAAA-MM-JJThh:mm:ss, "
                                      "avec fuseau Z ou ±hh:mm)")


def _time_of_day(element: Element | None) -> None:
    if element is None:
        return
    value = _text(element)
    ok = bool(_TIME.fullmatch(value))
    if ok:
        try:
            time.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            ok = False
    if not ok:
        raise StructureError(element, f"heure {_quote(value)} invalide (forme hh:mm:ss)")


def _boolean(element: Element | None) -> None:
    if element is not None and _text(element) not in ("true", "false", "1", "0"):
        raise StructureError(element, f"booléen attendu (true ou false), lu {_quote(_text(element))}")


def check_publication(root: Element) -> None:
    """StructureError on the first structural violation of a TrafficRegulationPublication."""
    if root.tag != _q("d2:payload"):
        raise StructureError(root, "l'élément racine doit être « payload » (espace de noms DATEX II v3 d2Payload)")
    if _xsi_type(root) != "TrafficRegulationPublication":
        raise StructureError(root, "publication de type TrafficRegulationPublication attendue (xsi:type)")
    if not (root.get("id") or "").strip():
        raise StructureError(root, "identifiant de publication (attribut id) manquant")
    _children(root, PUBLICATION_CHILDREN)
    _required(root, "com:publicationTime", "com:publicationCreator")
    _datetime(root.find(_q("com:publicationTime")))
    _required(root.find(_q("com:publicationCreator")), "com:country", "com:nationalIdentifier")
    for order in root.iter(_q("tro:trafficRegulationOrder")):
        _order(order)
    for condition in (*root.iter(_q("tro:condition")), *root.iter(_q("tro:conditions"))):
        _condition(condition)
    for validity in (*root.iter(_q("tro:validityByOrder")), *root.iter(_q("tro:implementedValidity"))):
        _validity(validity)


def _order(order: Element) -> None:
    _only_attributes(order, "id", "version")
    for name in ("id", "version"):
        if not (order.get(name) or "").strip():
            raise StructureError(order, f"attribut obligatoire « {name} » manquant")
    _children(order, ORDER_CHILDREN)
    _required(order, "tro:issuingAuthority", "tro:regulationId", "tro:status", "tro:trafficRegulation")
    _enum(order.find(_q("tro:status")), ORDER_STATUSES)
    for regulation in order.findall(_q("tro:trafficRegulation")):
        _children(regulation, REGULATION_CHILDREN)
        _enum(regulation.find(_q("tro:status")), REGULATION_STATUSES)
        kinds = regulation.findall(_q("tro:typeOfRegulation"))
        if not kinds:
            raise StructureError(regulation, "élément enfant obligatoire « typeOfRegulation » manquant")
        for kind in kinds:
            if _xsi_type(kind) not in REGULATION_TYPES:
                raise StructureError(kind, f"type de réglementation {_quote(_xsi_type(kind))} inconnu de DATEX II")
            if _xsi_type(kind) == "AccessRestriction":
                _required(kind, "tro:accessRestrictionType")
                _enum(kind.find(_q("tro:accessRestrictionType")), ACCESS_RESTRICTIONS)


def _condition(condition: Element) -> None:
    kind = _xsi_type(condition) or "Condition"
    if kind not in CONDITION_TYPES:
        raise StructureError(condition, f"type de condition {_quote(kind)} inconnu de DATEX II")
    _boolean(condition.find(_q("tro:negate")))
    if kind == "PermitCondition":
        _boolean(condition.find(_q("tro:locationRelatedPermit")))
    if kind == "ConditionSet":
        _required(condition, "tro:operator")
        _enum(condition.find(_q("tro:operator")), OPERATORS)
        if condition.find(_q("tro:conditions")) is None:
            raise StructureError(condition, "élément enfant obligatoire « conditions » manquant")


def _validity(validity: Element) -> None:
    _required(validity, "com:validityStatus", "com:validityTimeSpecification")
    _enum(validity.find(_q("com:validityStatus")), VALIDITY_STATUSES)
    spec = validity.find(_q("com:validityTimeSpecification"))
    if spec is None:  # unreachable after _required; keeps the type checker informed
        return
    _required(spec, "com:overallStartTime")
    for name in ("overallStartTime", "overallEndTime"):
        _datetime(spec.find(_q(f"com:{name}")))
    for period in (*spec.findall(_q("com:validPeriod")), *spec.findall(_q("com:exceptionPeriod"))):
        for name in ("startOfPeriod", "endOfPeriod"):
            _datetime(period.find(_q(f"com:{name}")))
        for times in period.findall(_q("com:recurringTimePeriodOfDay")):
            _required(times, "com:startTimeOfPeriod", "com:endTimeOfPeriod")
            _time_of_day(times.find(_q("com:startTimeOfPeriod")))
            _time_of_day(times.find(_q("com:endTimeOfPeriod")))
        for day in period.iter(_q("com:applicableDay")):
            _enum(day, DAYS)
        for special in period.findall(_q("com:recurringSpecialDay")):
            _required(special, "com:specialDayType")
            _enum(special.find(_q("com:specialDayType")), SPECIAL_DAYS)
            _boolean(special.find(_q("com:intersectWithApplicableDays")))

