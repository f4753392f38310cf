"""The professional area (/pro): fleet, applications, passes.

Every page needs the professional role, and every row is read through the user's organisation
(cirqliz.issuance.pro_queries): another company's vehicle, application, pass or document is a 404.
Business rules live in the services; this module reads forms, calls services and renders pages.
Errors the person can fix re-render the form with status 422, inside a savepoint rolled back, so
nothing of a refused request is stored.
"""

from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions.http_exceptions import RequestEntityTooLarge, ServiceUnavailableException
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from cirqliz.db.models import AccessPass, Application, window_from_json
from cirqliz.domain.applications import ApplicationAction, ApplicationStatus
from cirqliz.domain.documents import (
    ACCEPTED_TYPES,
    MAX_DOCUMENT_BYTES,
    DocumentQuota,
    check_document,
)
from cirqliz.domain.errors import DomainError, EligibilityError, NotFound
from cirqliz.domain.organisations import Role
from cirqliz.domain.passes import PassStatus
from cirqliz.domain.plates import parse_plate
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.vehicles import (
    CATEGORY_SOURCE_FR,
    CRIT_AIR_UNCLASSIFIED,
    CRIT_AIR_UNCLASSIFIED_FR,
    CritAir,
    Energy,
    VehicleCategory,
    category_explained_fr,
)
from cirqliz.domain.windows import TimeWindow, format_minute, parse_minute, zone_info
from cirqliz.issuance import pro_queries as q
from cirqliz.issuance import wallet
from cirqliz.issuance.applications import (
    application_vehicles,
    application_zones,
    assess_application,
    attach_document,
    create_application,
    provide_information,
    submit_application,
    transitions_of,
    update_draft,
    withdraw_application,
)
from cirqliz.issuance.documents import FileDocumentStore
from cirqliz.issuance.mail import application_reference, notify_application_change
from cirqliz.issuance.qr import qr_png, qr_svg
from cirqliz.labels import APPLICATION_ACTION_FR as ACTION_LABELS_FR
from cirqliz.labels import ENERGY_FR as ENERGY_LABELS_FR
from cirqliz.labels import PASS_STATUS_FR as PASS_STATUS_LABELS_FR
from cirqliz.web import errors
from cirqliz.web.auth import CurrentUser, requires
from cirqliz.web.deps import DB, ClockDep, SignerDep
from cirqliz.web.rendering import hours_text, inclusive_days, page, period_text, plate_display
from cirqliz.web.security import text_upload
from cirqliz.web.served import stored_file_response

LOCAL_TZ = "Europe/Paris"  # dates typed in forms are local days in Paris
MAX_DOCUMENTS_PER_REQUEST = 5
UPLOAD_LIMIT = MAX_DOCUMENTS_PER_REQUEST * MAX_DOCUMENT_BYTES + 1024 * 1024
CSV_LIMIT = 2 * 1024 * 1024
WINDOW_ROWS = 2
EXPIRING_SOON = timedelta(days=30)
ProRequest = Request[CurrentUser, Any, Any]
# ?page=N of the lists; a number past the last page shows the last one (pro_queries.page_offset).
PageNumber = Annotated[int, QueryParameter(name="page")]

DAYS_FR = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
OPEN_STATUSES = (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, ApplicationStatus.NEEDS_INFO)
NOTICES = {
    "brouillon": "Brouillon enregistré. Vérifiez l'éligibilité puis déposez la demande.",
    "depose": "Demande déposée : elle est maintenant en cours d'instruction.",
    "complete": "Complément envoyé : la demande retourne à l'instruction.",
    "justificatif": "Justificatif ajouté.",
    "retire": "Demande retirée.",
    "renouvellement": "Demande de renouvellement préparée : vérifiez-la puis déposez-la.",
    "vehicule": "Véhicule enregistré.",
    "modifie": "Véhicule modifié.",
    "brouillon_modifie": "Brouillon modifié. Vérifiez l'éligibilité puis déposez la demande.",
}
# A pass that cannot be shown to an agent: the page, print and phone routes answer with this
# status and a page saying why, never with a QR code.
UNUSABLE_STATUS_CODES = {PassStatus.REVOKED: 410, PassStatus.EXPIRED: 410, PassStatus.SUSPENDED: 409}
UNUSABLE_TEXT_FR = {
    PassStatus.REVOKED: "Ce laissez-passer a été révoqué : il n'est plus valable et les agents le refusent. "
                        "Il ne peut plus être téléchargé, imprimé ni affiché sur un téléphone.",
    PassStatus.SUSPENDED: "Ce laissez-passer est suspendu : les agents le refusent tant que la suspension dure. "
                          "Il ne peut pas être téléchargé, imprimé ni affiché sur un téléphone pendant ce temps.",
    PassStatus.EXPIRED: "Ce laissez-passer a expiré : les agents le refusent. Il ne peut plus être téléchargé, "
                        "imprimé ni affiché sur un téléphone ; renouvelez-le si besoin.",
}


# ---- helpers shared by the pages ---------------------------------------------------------


def organisation_of(request: ProRequest) -> uuid.UUID:
    """The company on whose behalf the user acts."""
    return request.user.organisation_for(Role.PROFESSIONAL)


def _local(value: datetime) -> datetime:
    return value.astimezone(zone_info(LOCAL_TZ))


def pass_state(row: AccessPass, now: datetime) -> PassStatus:
    """Where a pass stands for people now: an active pass past its end is expired even before the
    nightly job marks it so."""
    status = PassStatus(row.status)
    if status in (PassStatus.ACTIVE, PassStatus.SUSPENDED) and row.expires_at <= now:
        return PassStatus.EXPIRED
    return status


def local_midnight(day: date, tz: str = LOCAL_TZ) -> datetime:
    """Aware UTC instant of the start of a local day."""
    return datetime.combine(day, time.min, tzinfo=zone_info(tz)).astimezone(UTC)


class Helpers:
    """Formatting for templates (times shown in Paris time)."""

    categories = tuple((c.value, c.explained_fr) for c in VehicleCategory)
    category_source = CATEGORY_SOURCE_FR
    crit_air_unclassified = (CRIT_AIR_UNCLASSIFIED, CRIT_AIR_UNCLASSIFIED_FR)
    crit_airs = tuple((str(int(c)), c.label_fr) for c in CritAir)
    energies = tuple((e.value, ENERGY_LABELS_FR[e]) for e in Energy)
    purposes = tuple((int(p), p.label_fr) for p in Purpose)
    application_statuses = tuple((s.value, s.label_fr) for s in ApplicationStatus)
    pass_statuses = tuple((s.value, label) for s, label in PASS_STATUS_LABELS_FR.items())
    days = DAYS_FR
    accept = ",".join([".pdf", ".jpg", ".jpeg", ".png", *ACCEPTED_TYPES])
    max_mib = MAX_DOCUMENT_BYTES // (1024 * 1024)
    max_files = MAX_DOCUMENTS_PER_REQUEST

    @staticmethod
    def dt(value: datetime | None) -> str:
        return _local(value).strftime("%d/%m/%Y %H:%M") if value else ""

    @staticmethod
    def day(value: datetime | None) -> str:
        return _local(value).strftime("%d/%m/%Y") if value else ""

    inclusive_days = staticmethod(inclusive_days)
    reference = staticmethod(application_reference)

    @staticmethod
    def size(value: int) -> str:
        if value < 1024:
            return f"{value} o"
        if value < 1024 * 1024:
            return f"{value / 1024:.0f} Kio"
        return f"{value / 1048576:.1f} Mio"

    @staticmethod
    def plate(value: str) -> str:
        try:
            return parse_plate(value).display
        except DomainError:
            return value

    @staticmethod
    def status(value: str) -> str:
        return ApplicationStatus(value).label_fr

    @staticmethod
    def pass_status(value: str) -> str:
        return PASS_STATUS_LABELS_FR.get(PassStatus(value), value)

    @staticmethod
    def action(value: str) -> str:
        return ACTION_LABELS_FR.get(ApplicationAction(value), value)

    @staticmethod
    def purpose(code: int) -> str:
        try:
            return Purpose(code).label_fr
        except ValueError:
            return str(code)

    @staticmethod
    def energy(value: str) -> str:
        try:
            return ENERGY_LABELS_FR[Energy(value)]
        except ValueError:
            return value

    @staticmethod
    def category(value: str | None) -> str:
        """'N1 — camionnette, PTAC ≤ 3,5 t'; 'catégorie non renseignée — à compléter' when empty."""
        return category_explained_fr(value)

    @staticmethod
    def crit_air(value: int | None) -> str:
        return "non classé" if value is None else CritAir(value).label_fr

    @staticmethod
    def hours(windows: Any, lang: str = "fr") -> str:
        """'lun.–sam. 7 h–13 h ; dim. 8 h–12 h' (the one wording of every page: rendering.hours_text)."""
        return hours_text(windows, lang)


HELPERS = Helpers()


def pro_page(request: ProRequest, template: str, *, status_code: int = 200, **context: Any) -> Template:
    """A page of the professional area (helpers `h` and the notice from `?ok=`)."""
    notice = NOTICES.get(request.query_params.get("ok", ""))
    return page(request, template, status_code=status_code, h=HELPERS, notice=notice, **context)


def _parse_id(text: str, label: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(f"{label} introuvable : {text}", code="not_found") from None


def _int_or_none(raw: str, label: str, errors: list[str]) -> int | None:
    text = (raw or "").strip().replace(" ", "")
    if not text:
        return None
    if not text.isdecimal():
        errors.append(f"{label} : nombre entier attendu")
        return None
    return int(text)


async def _uploads(form: Any) -> list[tuple[str, str, bytes]]:
    """(name, declared type, bytes) of the files of the `documents` field (empty inputs skipped)."""
    out = []
    for item in form.getall("documents", []):
        if isinstance(item, UploadFile) and item.filename:
            out.append((item.filename, item.content_type or "", await item.read()))
    return out


def _check_uploads(files: list[tuple[str, str, bytes]]) -> list[str]:
    """Every problem with the files, before anything is stored (French messages)."""
    problems = []
    if len(files) > MAX_DOCUMENTS_PER_REQUEST:
        problems.append(f"au plus {MAX_DOCUMENTS_PER_REQUEST} fichiers à la fois")
    for name, content_type, content in files:
        try:
            check_document(filename=name, content_type=content_type, content=content)
        except DomainError as exc:
            problems.append(f"{name} : {exc.message}")
    return problems


def _store(request: ProRequest) -> FileDocumentStore:
    return FileDocumentStore(request.app.state.settings.documents_dir)


async def _attach_all(db: Any, request: ProRequest, app_id: uuid.UUID, files: list, clock: Any) -> None:
    settings = request.app.state.settings
    quota = DocumentQuota(max_per_application=settings.documents_max_per_application,
                          max_bytes_per_organisation=settings.documents_max_bytes_per_organisation)
    for name, content_type, content in files:
        await attach_document(db, application_id=app_id, filename=name, content_type=content_type,
                              content=content, store=_store(request), actor_id=request.user.id, clock=clock,
                              quota=quota)


def on_too_large(request: Request, exc: RequestEntityTooLarge) -> Response:
    """A request bigger than the page accepts: say so in French (with the document rules on document pages)."""
    if request.route_handler.resolve_request_max_body_size() != UPLOAD_LIMIT:
        return errors.on_too_large(request, exc)
    message = (f"Envoi trop volumineux : au plus {MAX_DOCUMENTS_PER_REQUEST} fichiers de "
               f"{MAX_DOCUMENT_BYTES // 1048576} Mio chacun. Rien n'a été enregistré.")
    return page(request, "errors/error.html", status_code=413, status=413, message=message, code="too_large")


# ---- dashboard ---------------------------------------------------------------------------


@get("/", name="pro_home")
async def dashboard(request: ProRequest, db: DB, clock: ClockDep) -> Template:
    """Figures and the latest applications."""
    org = organisation_of(request)
    counts = await q.dashboard_counts(db, org, now=clock.now(), soon=EXPIRING_SOON)
    latest = await q.organisation_applications(db, org, limit=5)
    zones = await q.applications_zone_codes(db, [a.id for a in latest])
    plates = await q.applications_plates(db, [a.id for a in latest])
    return pro_page(request, "pro/dashboard.html", counts=counts, latest=latest, zones=zones, plates=plates)


# ---- vehicles ----------------------------------------------------------------------------


@dataclass
class VehicleForm:
    """The vehicle form (every field as typed; checked by the domain)."""

    plate: str = ""
    category: str = ""
    crit_air: str = ""
    energy: str = Energy.OTHER.value
    gross_weight_kg: str = ""
    length_cm: str = ""


def _vehicle_fields(form: VehicleForm) -> tuple[dict[str, Any], list[str]]:
    errors: list[str] = []
    fields = {
        "plate": form.plate, "category": form.category, "crit_air": form.crit_air.strip() or None,  # "NC": None
        "energy": form.energy or Energy.OTHER.value,
        "gross_weight_kg": _int_or_none(form.gross_weight_kg, "poids total autorisé en charge", errors),
        "length_cm": _int_or_none(form.length_cm, "longueur", errors),
    }
    if not form.plate.strip():
        errors.append("l'immatriculation est obligatoire")
    if not form.category:
        errors.append("choisissez la catégorie du véhicule (carte grise, rubrique J)")
    if not form.crit_air.strip():  # no silent "non classé": a forgotten choice would refuse the vehicle in a ZFE
        errors.append("choisissez la vignette Crit'Air du véhicule, ou « non classé » s'il ne peut pas en avoir")
    return fields, errors


@get("/vehicules", name="pro_vehicles")
async def vehicles(request: ProRequest, db: DB, number: PageNumber = 1) -> Template:
    """The fleet, one page at a time."""
    result = await q.fleet_page(db, organisation_of(request), number=number)
    return pro_page(request, "pro/vehicles.html", vehicles=result.rows, result=result, filters={})


@get("/vehicules/nouveau", name="pro_vehicle_new")
async def vehicle_new(request: ProRequest) -> Template:
    """The form for one vehicle."""
    return pro_page(request, "pro/vehicle_form.html", form=VehicleForm(), vehicle=None, errors=[])


@post("/vehicules/nouveau", name="pro_vehicle_create")
async def vehicle_create(
    request: ProRequest, db: DB, clock: ClockDep,
    data: Annotated[VehicleForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Register a vehicle, or show why not (422, nothing stored)."""
    fields, errors = _vehicle_fields(data)
    if not errors:
        try:
            async with db.begin_nested():
                await q.add_vehicle(db, organisation_id=organisation_of(request), actor_id=request.user.id,
                                    clock=clock, **fields)
        except DomainError as exc:
            errors.append(exc.message)
    if errors:
        return pro_page(request, "pro/vehicle_form.html", status_code=422, form=data, vehicle=None, errors=errors)
    return Redirect("/pro/vehicules?ok=vehicule", status_code=303)


@get("/vehicules/{vehicle_id:uuid}/modifier", name="pro_vehicle_edit")
async def vehicle_edit(request: ProRequest, db: DB, vehicle_id: FromPath[uuid.UUID]) -> Template:
    """The form filled with a vehicle of the fleet."""
    vehicle = await q.scoped_vehicle(db, organisation_of(request), vehicle_id)
    form = VehicleForm(plate=HELPERS.plate(vehicle.plate), category=vehicle.category,
                       crit_air=CRIT_AIR_UNCLASSIFIED if vehicle.crit_air is None else str(vehicle.crit_air),
                       energy=vehicle.energy,
                       gross_weight_kg=str(vehicle.gross_weight_kg or ""), length_cm=str(vehicle.length_cm or ""))
    return pro_page(request, "pro/vehicle_form.html", form=form, vehicle=vehicle, errors=[])


@post("/vehicules/{vehicle_id:uuid}/modifier", name="pro_vehicle_update")
async def vehicle_update(
    request: ProRequest, db: DB, clock: ClockDep, vehicle_id: FromPath[uuid.UUID],
    data: Annotated[VehicleForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Change a vehicle, or show why not (422, nothing changed)."""
    vehicle = await q.scoped_vehicle(db, organisation_of(request), vehicle_id)
    fields, errors = _vehicle_fields(data)
    if not errors:
        try:
            async with db.begin_nested():
                await q.update_vehicle(db, vehicle=vehicle, actor_id=request.user.id, clock=clock, **fields)
        except DomainError as exc:
            errors.append(exc.message)
            await db.refresh(vehicle)
    if errors:
        return pro_page(request, "pro/vehicle_form.html", status_code=422, form=data, vehicle=vehicle,
                        errors=errors)
    return Redirect("/pro/vehicules?ok=modifie", status_code=303)


@get("/vehicules/import", name="pro_fleet_import_form")
async def fleet_import_form(request: ProRequest) -> Template:
    """The fleet file form."""
    return pro_page(request, "pro/fleet_import.html", problems=[], imported=None, columns=q.FLEET_COLUMNS)


FLEET_TEMPLATE = (
    "plaque;categorie;critair;energie;poids_kg;longueur_cm\r\n"
    "AB-123-CD;N1;1;diesel;3500;599\r\n"
    "EF-456-GH;N2;2;diesel;7500;820\r\n"
    "GH-789-JK;N1;0;electric;3100;540\r\n"
)


@get("/vehicules/modele.csv", name="pro_fleet_template")
async def fleet_template() -> Response[bytes]:
    """A CSV template to fill in (UTF-8 with BOM so spreadsheet software reads accents)."""
    return Response(
        ("\ufeff" + FLEET_TEMPLATE).encode("utf-8"), media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="flotte-modele.csv"'},
    )


@post("/vehicules/import", name="pro_fleet_import", request_max_body_size=CSV_LIMIT)
async def fleet_import(request: ProRequest, db: DB, clock: ClockDep) -> Response[Any]:
    """Register every vehicle of a CSV file, or none, with a report line by line."""
    form = await request.form()
    upload = form.get("fichier")
    if not isinstance(upload, UploadFile) or not upload.filename:
        problems = [q.FleetProblem(0, "", "choisissez un fichier CSV")]
        return pro_page(request, "pro/fleet_import.html", status_code=422, problems=problems, imported=None,
                        columns=q.FLEET_COLUMNS)
    content = await upload.read()
    try:
        text_upload(content, what="fichier CSV", legacy_encoding="cp1252")  # spreadsheets may write cp1252
    except DomainError as exc:
        return pro_page(request, "pro/fleet_import.html", status_code=422, imported=None, columns=q.FLEET_COLUMNS,
                        problems=[q.FleetProblem(0, "", exc.message)])
    energies = {label: e.value for e, label in ENERGY_LABELS_FR.items()}
    lines, problems = q.parse_fleet_csv(content, energies=energies)
    imported: list = []
    if not problems:
        async with db.begin_nested():  # all vehicles or none
            imported, problems = await q.import_fleet(db, organisation_id=organisation_of(request), lines=lines,
                                                      actor_id=request.user.id, clock=clock)
    if problems:
        return pro_page(request, "pro/fleet_import.html", status_code=422, problems=problems, imported=None,
                        columns=q.FLEET_COLUMNS)
    return pro_page(request, "pro/fleet_import.html", problems=[], imported=imported, columns=q.FLEET_COLUMNS)


# ---- applications ------------------------------------------------------------------------


@dataclass
class ApplicationDraft:
    """The application form as typed, and what could be read from it."""

    zone_ids: list[str] = field(default_factory=list)
    vehicle_ids: list[str] = field(default_factory=list)
    purpose: str = str(int(Purpose.DELIVERY))
    first_day: str = ""
    last_day: str = ""
    windows: list[dict[str, Any]] = field(default_factory=list)
    comment: str = ""


def _blank_windows() -> list[dict[str, Any]]:
    return [{"days": [], "start": "", "end": ""} for _ in range(WINDOW_ROWS)]


def _read_application_form(form: Any) -> ApplicationDraft:
    windows = []
    for i in range(1, WINDOW_ROWS + 1):
        windows.append({"days": [int(d) for d in form.getall(f"w{i}_days", []) if str(d).isdecimal()],
                        "start": str(form.get(f"w{i}_start") or ""), "end": str(form.get(f"w{i}_end") or "")})
    return ApplicationDraft(
        zone_ids=[str(v) for v in form.getall("zone_ids", [])],
        vehicle_ids=[str(v) for v in form.getall("vehicle_ids", [])],
        purpose=str(form.get("purpose") or ""), first_day=str(form.get("first_day") or ""),
        last_day=str(form.get("last_day") or ""), windows=windows, comment=str(form.get("comment") or "").strip(),
    )


@dataclass
class ApplicationInput:
    """What create_application needs, read from the form."""

    zone_ids: list[uuid.UUID]
    vehicle_ids: list[uuid.UUID]
    purpose: int
    not_before: datetime
    expires_at: datetime
    windows: list[TimeWindow]
    comment: str | None


def _check_application(
    draft: ApplicationDraft, *, zone_ids: set[uuid.UUID], vehicle_ids: set[uuid.UUID], today: date,
) -> tuple[ApplicationInput | None, list[str]]:
    errors: list[str] = []

    def ids(values: list[str], allowed: set[uuid.UUID], what: str) -> list[uuid.UUID]:
        out = []
        for value in values:
            try:
                parsed = uuid.UUID(value)
            except ValueError:
                parsed = None
            if parsed is None or parsed not in allowed:
                errors.append(f"{what} inconnu(e) : {value}")
            else:
                out.append(parsed)
        return out

    zones = ids(draft.zone_ids, zone_ids, "zone")
    vehicles = ids(draft.vehicle_ids, vehicle_ids, "véhicule")
    if not draft.zone_ids:
        errors.append("choisissez au moins une zone")
    if not draft.vehicle_ids:
        errors.append("choisissez au moins un véhicule")
    try:
        purpose = int(Purpose(int(draft.purpose)))
    except ValueError:
        errors.append("choisissez un motif")
        purpose = 0
    first = last = None
    try:
        first = date.fromisoformat(draft.first_day)
    except ValueError:
        errors.append("date de début illisible (jj/mm/aaaa)")
    try:
        last = date.fromisoformat(draft.last_day)
    except ValueError:
        errors.append("date de fin illisible (jj/mm/aaaa)")
    if first and last:
        if last < first:
            errors.append("la date de fin précède la date de début")
        if first < today:
            errors.append("la date de début est passée")
    windows = []
    for number, row in enumerate(draft.windows, start=1):
        if not (row["days"] or row["start"] or row["end"]):
            continue
        if not (row["days"] and row["start"] and row["end"]):
            errors.append(f"créneau {number} : cochez au moins un jour et indiquez le début et la fin")
            continue
        try:
            end = parse_minute(row["end"]) or 1440  # 00:00 as an end: midnight
            mask = sum(1 << d for d in set(row["days"]) if 0 <= d < 7)
            windows.append(TimeWindow(mask, parse_minute(row["start"]), end))
        except DomainError as exc:
            errors.append(f"créneau {number} : {exc.message}")
    if errors or first is None or last is None:
        return None, errors
    return ApplicationInput(zones, vehicles, purpose, local_midnight(first), local_midnight(last + timedelta(days=1)),
                            windows, draft.comment or None), []


def zones_by_authority(choices: list[q.ZoneChoice]) -> list[tuple[str, list[q.ZoneChoice]]]:
    """The zones grouped by the authority that reviews their applications (in the order given)."""
    groups: dict[uuid.UUID, tuple[str, list[q.ZoneChoice]]] = {}
    for choice in choices:
        groups.setdefault(choice.zone.authority_id, (choice.authority_name, []))[1].append(choice)
    return list(groups.values())


def mixed_authorities(choices: list[q.ZoneChoice], zone_ids: list[uuid.UUID]) -> str | None:
    """The refusal to show when the chosen zones belong to several authorities, else None."""
    chosen = {c.zone.authority_id: c.authority_name for c in choices if c.zone.id in set(zone_ids)}
    if len(chosen) < 2:
        return None
    return (f"les zones choisies relèvent de plusieurs autorités ({', '.join(sorted(chosen.values()))}) : chaque "
            "autorité instruit les demandes pour ses propres zones ; faites une demande par autorité")


async def _application_form(
    request: ProRequest, db: Any, draft: ApplicationDraft, *, errors: list[str] | None = None,
    status_code: int = 200, editing: Application | None = None,
) -> Template:
    org = organisation_of(request)
    choices = await q.zones_open_to_applications(db)
    features = [{"type": "Feature", "geometry": c.zone.geometry,
                 "properties": {"id": str(c.zone.id), "code": c.zone.code, "name": c.zone.name}} for c in choices]
    action = f"/pro/demandes/{editing.id}/modifier" if editing is not None else "/pro/demandes/nouvelle"
    return pro_page(request, "pro/application_form.html", status_code=status_code, draft=draft, errors=errors or [],
                    choices=choices, by_authority=zones_by_authority(choices), vehicles=await q.fleet(db, org),
                    zones_geojson={"type": "FeatureCollection", "features": features},
                    tile_url=request.app.state.settings.tile_url, editing=editing, action=action)


def _draft_of(app: Application, zone_ids: list[uuid.UUID], vehicle_ids: list[uuid.UUID]) -> ApplicationDraft:
    """The form filled with what a stored application asks for (dates as local days)."""
    windows = []
    for raw in app.windows or ():
        w = window_from_json(raw)
        windows.append({"days": [d for d in range(7) if w.weekdays >> d & 1], "start": format_minute(w.start),
                        "end": format_minute(w.end % 1440)})
    windows = (windows + _blank_windows())[:max(WINDOW_ROWS, len(windows))]
    last = _local(app.expires_at)
    # A period ending at local midnight includes the day before it.
    last_day = (last - timedelta(days=1)).date() if last.time() == time.min else last.date()
    return ApplicationDraft(
        zone_ids=[str(z) for z in zone_ids], vehicle_ids=[str(v) for v in vehicle_ids], purpose=str(app.purpose),
        first_day=_local(app.not_before).date().isoformat(), last_day=last_day.isoformat(), windows=windows,
        comment=app.comment or "",
    )


@get("/demandes", name="pro_applications")
async def applications(request: ProRequest, db: DB, statut: FromQuery[str] = "", number: PageNumber = 1
                       ) -> Template:
    """The company's applications, filtered by status, one page at a time (the same statements for
    any number of applications: tests/web/test_list_pages.py counts them)."""
    org = organisation_of(request)
    status = statut if statut in {s.value for s in ApplicationStatus} else ""
    result = await q.applications_page(db, org, status=status or None, number=number)
    ids = [a.id for a in result.rows]
    return pro_page(request, "pro/applications.html", applications=result.rows, status=status, result=result,
                    filters={"statut": status} if status else {},
                    zones=await q.applications_zone_codes(db, ids), plates=await q.applications_plates(db, ids))


@get("/demandes/nouvelle", name="pro_application_new")
async def application_new(request: ProRequest, db: DB, clock: ClockDep) -> Template:
    """The application form (one vehicle or a fleet, one or several zones)."""
    today = _local(clock.now()).date()
    draft = ApplicationDraft(first_day=(today + timedelta(days=1)).isoformat(),
                             last_day=(today + timedelta(days=30)).isoformat(), windows=_blank_windows())
    return await _application_form(request, db, draft)


@post("/demandes/nouvelle", name="pro_application_create", request_max_body_size=UPLOAD_LIMIT)
async def application_create(request: ProRequest, db: DB, clock: ClockDep) -> Response[Any]:
    """Keep the application as a draft (with its documents) and show its eligibility."""
    org = organisation_of(request)
    form = await request.form()
    draft = _read_application_form(form)
    choices = await q.zones_open_to_applications(db)
    fleet = await q.fleet(db, org)
    checked, errors = _check_application(draft, zone_ids={c.zone.id for c in choices},
                                         vehicle_ids={v.id for v in fleet}, today=_local(clock.now()).date())
    mixed = mixed_authorities(choices, checked.zone_ids) if checked is not None else None
    if mixed:
        errors.append(mixed)
    files = await _uploads(form)
    errors += _check_uploads(files)
    if checked is not None and not errors:
        try:
            async with db.begin_nested():
                app = await create_application(
                    db, organisation_id=org, applicant_id=request.user.id, zone_ids=checked.zone_ids,
                    vehicle_ids=checked.vehicle_ids, purpose=checked.purpose, not_before=checked.not_before,
                    expires_at=checked.expires_at, clock=clock, windows=checked.windows, comment=checked.comment,
                )
                await _attach_all(db, request, app.id, files, clock)
        except DomainError as exc:
            errors.append(exc.message)
        else:
            return Redirect(f"/pro/demandes/{app.id}?ok=brouillon#eligibilite", status_code=303)
    return await _application_form(request, db, draft, errors=errors, status_code=422)


def _not_a_draft(app: Application) -> str:
    return (f"seul un brouillon peut être modifié : cette demande est {ApplicationStatus(app.status).label_fr} "
            "(retirez-la et faites-en une nouvelle pour changer ce qui est demandé)")


@get("/demandes/{application_id:uuid}/modifier", name="pro_application_edit")
async def application_edit(request: ProRequest, db: DB, application_id: FromPath[uuid.UUID]) -> Template:
    """The application form filled with a draft, to change it before submitting it."""
    app = await q.scoped_application(db, organisation_of(request), application_id)
    if app.status != ApplicationStatus.DRAFT:
        return await _application_page(request, db, app, status_code=409, errors=[_not_a_draft(app)])
    zones = await application_zones(db, app.id)
    vehicles = await application_vehicles(db, app.id)
    return await _application_form(request, db, _draft_of(app, [z.id for z in zones], [v.id for v in vehicles]),
                                   editing=app)


@post("/demandes/{application_id:uuid}/modifier", name="pro_application_update", request_max_body_size=UPLOAD_LIMIT)
async def application_update(
    request: ProRequest, db: DB, clock: ClockDep, application_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Change a draft (zones, vehicles, purpose, dates, hours, comment; documents added), then show its
    eligibility; the form again with every problem (422, nothing changed) otherwise."""
    org = organisation_of(request)
    app = await q.scoped_application(db, org, application_id)
    if app.status != ApplicationStatus.DRAFT:
        return await _application_page(request, db, app, status_code=409, errors=[_not_a_draft(app)])
    form = await request.form()
    draft = _read_application_form(form)
    choices = await q.zones_open_to_applications(db)
    fleet = await q.fleet(db, org)
    # The draft's own zones stay choosable even if they closed to new applications meanwhile: the
    # eligibility check then says so, in the words of the rules.
    own_zones = {z.id for z in await application_zones(db, app.id)}
    checked, errors = _check_application(draft, zone_ids={c.zone.id for c in choices} | own_zones,
                                         vehicle_ids={v.id for v in fleet}, today=_local(clock.now()).date())
    mixed = mixed_authorities(choices, checked.zone_ids) if checked is not None else None
    if mixed:
        errors.append(mixed)
    files = await _uploads(form)
    errors += _check_uploads(files)
    if checked is not None and not errors:
        try:
            async with db.begin_nested():
                await update_draft(
                    db, application_id=app.id, actor_id=request.user.id, zone_ids=checked.zone_ids,
                    vehicle_ids=checked.vehicle_ids, purpose=checked.purpose, not_before=checked.not_before,
                    expires_at=checked.expires_at, clock=clock, windows=checked.windows, comment=checked.comment,
                )
                await _attach_all(db, request, app.id, files, clock)
        except DomainError as exc:
            errors.append(exc.message)
        else:
            return Redirect(f"/pro/demandes/{app.id}?ok=brouillon_modifie#eligibilite", status_code=303)
    await db.refresh(app)
    return await _application_form(request, db, draft, errors=errors, status_code=422, editing=app)


async def _application_page(
    request: ProRequest, db: Any, app: Application, *, status_code: int = 200, errors: list[str] | None = None,
    refusals: list | None = None,
) -> Template:
    zones = await application_zones(db, app.id)
    vehicles = await application_vehicles(db, app.id)
    transitions = await transitions_of(db, app.id)
    names = await q.display_names(db, [t.actor_id for t in transitions])
    questions = [t for t in transitions if t.action == ApplicationAction.REQUEST_INFO]
    assessment = []
    if app.status in (ApplicationStatus.DRAFT, ApplicationStatus.NEEDS_INFO):
        decisions = await assess_application(db, app)
        plates = {v.id: v.plate for v in vehicles}
        codes = {z.id: z for z in zones}
        assessment = [(plates[v], codes[z], d) for (v, z), d in decisions.items()]
    passes = []
    if app.status == ApplicationStatus.APPROVED:
        passes = await q.organisation_passes(db, app.organisation_id, application_id=app.id)
    return pro_page(
        request, "pro/application.html", status_code=status_code, app=app, zones=zones, vehicles=vehicles,
        transitions=transitions, names=names, questions=questions, assessment=assessment,
        eligible=bool(assessment) and all(d.eligible for *_, d in assessment),
        not_eligible=[(plate, zone) for plate, zone, d in assessment if not d.eligible],
        documents=await q.application_documents(db, app.id), errors=errors or [], refusals=refusals or [],
        passes=passes, pass_states={p.id: pass_state(p, request.app.state.clock.now()).value for p in passes},
        open=app.status in OPEN_STATUSES,
    )


@get("/demandes/{application_id:uuid}", name="pro_application")
async def application_detail(request: ProRequest, db: DB, application_id: FromPath[uuid.UUID]) -> Template:
    """An application: what is asked, eligibility, documents, history, next steps."""
    app = await q.scoped_application(db, organisation_of(request), application_id)
    return await _application_page(request, db, app)


@post("/demandes/{application_id:uuid}/deposer", name="pro_application_submit")
async def application_submit(
    request: ProRequest, db: DB, clock: ClockDep, signer: SignerDep, application_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Submit a draft; if it is not eligible, the reasons are shown and it stays a draft."""
    app = await q.scoped_application(db, organisation_of(request), application_id)
    try:
        async with db.begin_nested():
            await submit_application(db, application_id=app.id, actor_id=request.user.id, clock=clock,
                                     signer=signer)
    except EligibilityError as exc:
        await db.refresh(app)
        return await _application_page(request, db, app, status_code=422, refusals=exc.refusals)
    except DomainError as exc:
        await db.refresh(app)
        return await _application_page(request, db, app, status_code=422, errors=[exc.message])
    await notify_application_change(db, app.id, settings=request.app.state.settings)
    return Redirect(f"/pro/demandes/{app.id}?ok=depose", status_code=303)


@post("/demandes/{application_id:uuid}/completer", name="pro_application_answer",
      request_max_body_size=UPLOAD_LIMIT)
async def application_answer(
    request: ProRequest, db: DB, clock: ClockDep, application_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Answer the reviewer's question (text and documents): back to review."""
    app = await q.scoped_application(db, organisation_of(request), application_id)
    form = await request.form()
    comment = str(form.get("comment") or "").strip()
    files = await _uploads(form)
    errors = _check_uploads(files)
    if not comment and not files:
        errors.append("écrivez une réponse ou joignez un justificatif")
    if not errors:
        try:
            async with db.begin_nested():
                await _attach_all(db, request, app.id, files, clock)
                await provide_information(db, application_id=app.id, actor_id=request.user.id, clock=clock,
                                          comment=comment or None)
        except DomainError as exc:
            errors.append(exc.message)
        else:
            await notify_application_change(db, app.id, settings=request.app.state.settings)
            return Redirect(f"/pro/demandes/{app.id}?ok=complete", status_code=303)
    await db.refresh(app)
    return await _application_page(request, db, app, status_code=422, errors=errors)


@post("/demandes/{application_id:uuid}/justificatifs", name="pro_application_documents",
      request_max_body_size=UPLOAD_LIMIT)
async def application_documents(
    request: ProRequest, db: DB, clock: ClockDep, application_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Add supporting documents to an open application."""
    app = await q.scoped_application(db, organisation_of(request), application_id)
    files = await _uploads(await request.form())
    errors = _check_uploads(files) or ([] if files else ["choisissez au moins un fichier"])
    if not errors:
        try:
            async with db.begin_nested():
                await _attach_all(db, request, app.id, files, clock)
        except DomainError as exc:
            errors.append(exc.message)
        else:
            return Redirect(f"/pro/demandes/{app.id}?ok=justificatif#justificatifs", status_code=303)
    return await _application_page(request, db, app, status_code=422, errors=errors)


@dataclass
class WithdrawForm:
    """Why the applicant withdraws (optional)."""

    reason: str = ""


@post("/demandes/{application_id:uuid}/retirer", name="pro_application_withdraw")
async def application_withdraw(
    request: ProRequest, db: DB, clock: ClockDep, application_id: FromPath[uuid.UUID],
    data: Annotated[WithdrawForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Withdraw a draft or pending application."""
    app = await q.scoped_application(db, organisation_of(request), application_id)
    await withdraw_application(db, application_id=app.id, actor_id=request.user.id, clock=clock,
                               reason=data.reason.strip() or None)
    return Redirect(f"/pro/demandes/{app.id}?ok=retire", status_code=303)


@get("/justificatifs/{document_id:uuid}", name="pro_document")
async def document_download(request: ProRequest, db: DB, document_id: FromPath[uuid.UUID]) -> Response[bytes]:
    """A supporting document of one of the company's applications."""
    document = await q.scoped_document(db, organisation_of(request), document_id)
    data = _store(request).read(document.storage_key)
    if data is None:
        raise NotFound("fichier du justificatif introuvable", code="document_missing")
    return stored_file_response(data, document.filename)


# ---- passes ------------------------------------------------------------------------------


@get("/laissez-passer", name="pro_passes")
async def passes(request: ProRequest, db: DB, clock: ClockDep, statut: FromQuery[str] = "",
                 number: PageNumber = 1) -> Template:
    """The company's passes, filtered by status as it stands now (a pass past its end is expired),
    one page at a time (the same statements for any number of passes)."""
    status = statut if statut in {s.value for s in PassStatus} else ""
    now = clock.now()
    result = await q.passes_page(db, organisation_of(request), now=now, state=status or None, number=number)
    rows = result.rows
    states = {p.id: pass_state(p, now).value for p in rows}
    return pro_page(request, "pro/passes.html", passes=rows, status=status, states=states, result=result,
                    filters={"statut": status} if status else {},
                    zones=await q.passes_zones(db, [p.id for p in rows]),
                    soon={p.id for p in rows if states[p.id] == PassStatus.ACTIVE and p.expires_at <= now
                          + EXPIRING_SOON})


async def _pass_view(db: Any, org: uuid.UUID, pass_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    row = await q.scoped_pass(db, org, pass_id)
    zones = await q.pass_zones(db, row.id)
    authority = (await q.organisation_names(db, [row.authority_id])).get(row.authority_id, "")
    zone_hours = await q.zone_windows(db, [z.id for z in zones])
    state = pass_state(row, now)
    return {"p": row, "zones": zones, "authority": authority, "zone_hours": zone_hours, "state": state.value,
            "usable": state is PassStatus.ACTIVE and bool(row.signed_text),
            "status_reason": await q.pass_status_reason(db, row), "unusable_text": UNUSABLE_TEXT_FR.get(state)}


def _signed_text(row: AccessPass) -> str:
    if not row.signed_text:
        raise NotFound("ce laissez-passer n'a pas encore de code signé", code="pass_not_signed")
    return row.signed_text


def _unusable(request: ProRequest, view: dict[str, Any]) -> Template | None:
    """The page that replaces a QR code of a pass agents refuse (410 revoked or expired, 409
    suspended); None when the pass can be shown (NotFound for an active pass never signed)."""
    state = PassStatus(view["state"])
    if state is PassStatus.ACTIVE:
        _signed_text(view["p"])
        return None
    response = pro_page(request, "pro/pass_unavailable.html", status_code=UNUSABLE_STATUS_CODES[state], **view)
    response.headers["Cache-Control"] = "no-store"
    return response


@get("/laissez-passer/{ref:str}", name="pro_pass")
async def pass_detail(request: ProRequest, db: DB, clock: ClockDep, ref: FromPath[str]) -> Response[Any]:
    """A pass (`<id>`), its screen QR code (`<id>.png`, level M) or print QR code (`<id>.svg`, level Q).
    The QR codes of a revoked, suspended or expired pass are refused with a page saying why."""
    org = organisation_of(request)
    stem, dot, suffix = ref.rpartition(".")
    if not dot:
        stem, suffix = ref, ""
    if suffix not in ("", "png", "svg"):
        raise NotFound(f"format inconnu : {suffix}", code="not_found")
    view = await _pass_view(db, org, _parse_id(stem, "laissez-passer"), clock.now())
    row = view["p"]
    if not suffix:
        return pro_page(request, "pro/pass.html", wallet=_wallet_offer(request), **view)
    refused = _unusable(request, view)
    if refused is not None:
        return refused
    filename = f"laissez-passer-{row.serial}"
    # Revalidated on each use: a pass revoked since must not come back from a browser cache.
    headers = {"Cache-Control": "private, no-cache"}
    if suffix == "png":
        return Response(qr_png(_signed_text(row), ecc="M", scale=8), media_type="image/png",
                        headers=headers | {"Content-Disposition": f'inline; filename="{filename}.png"'})
    return Response(qr_svg(_signed_text(row), module=1), media_type="image/svg+xml",
                    headers=headers | {"Content-Disposition": f'inline; filename="{filename}.svg"'})


@get("/laissez-passer/{ref:str}/imprimer", name="pro_pass_print")
async def pass_print(request: ProRequest, db: DB, clock: ClockDep, ref: FromPath[str],
                     format: FromQuery[str] = "A4") -> Template:
    """A printable page: the QR code (paper default ECC level) as vector graphics, large plate, zones, hours, validity
    (refused with a page saying why for a pass agents refuse)."""
    view = await _pass_view(db, organisation_of(request), _parse_id(ref, "laissez-passer"), clock.now())
    refused = _unusable(request, view)
    if refused is not None:
        return refused
    svg = qr_svg(_signed_text(view["p"]), module=1)
    paper = "A5" if format.upper() == "A5" else "A4"
    return pro_page(request, "pro/pass_print.html", svg=svg, paper=paper, **view)


@get("/laissez-passer/{ref:str}/telephone", name="pro_pass_phone")
async def pass_phone(request: ProRequest, db: DB, clock: ClockDep, ref: FromPath[str]) -> Response[Any]:
    """The pass on a phone screen: QR code (level M) large, plate and validity. Self-contained, and
    kept on the phone by the pass pages' service worker (`sw.js`) to be shown without network
    (refused with a page saying why for a pass agents refuse, which the service worker then forgets)."""
    view = await _pass_view(db, organisation_of(request), _parse_id(ref, "laissez-passer"), clock.now())
    refused = _unusable(request, view)
    if refused is not None:
        return refused
    png = base64.b64encode(qr_png(_signed_text(view["p"]), ecc="M", scale=10)).decode("ascii")
    response = pro_page(request, "pro/pass_phone.html", png=png, offline=True, wallet=_wallet_offer(request), **view)
    # The service worker keeps the offline copy; the browser asks again each time it is online.
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# ---- the pass in the phone's wallet (issue 19) -------------------------------------------


def _wallet_offer(request: ProRequest) -> dict[str, bool]:
    """Which wallet buttons the pass pages show (only those the deployer configured)."""
    settings = request.app.state.settings
    return {"apple": wallet.apple_configured(settings), "google": wallet.google_configured(settings)}


def _wallet_pass(view: dict[str, Any]) -> wallet.WalletPass:
    row, zones, zone_hours = view["p"], view["zones"], view["zone_hours"]
    if row.windows:
        hours = hours_text(row.windows)
    else:
        hours = " ; ".join(f"{z.code} : {hours_text(zone_hours[z.id]) or 'à toute heure'}" for z in zones)
    return wallet.WalletPass(
        serial=row.serial, plate=plate_display(row.plate), zones=[f"{z.name} ({z.code})" for z in zones],
        hours=hours, validity=period_text(row.not_before, row.expires_at), authority=view["authority"],
        state=PassStatus(view["state"]), signed_text=row.signed_text or "", not_before=row.not_before,
        expires_at=row.expires_at)


async def _wallet_view(request: ProRequest, db: Any, clock: Any, ref: str, configured: bool) -> dict[str, Any]:
    """The pass of the user's company (404 for another's, or when this wallet is not configured;
    a pass never signed has nothing to put in a wallet)."""
    if not configured:
        raise NotFound("ce portefeuille n'est pas proposé par ce service", code="not_found")
    view = await _pass_view(db, organisation_of(request), _parse_id(ref, "laissez-passer"), clock.now())
    _signed_text(view["p"])
    return view


def _credentials_unavailable(exc: wallet.WalletError) -> ServiceUnavailableException:
    # The deployer's files are wrong: the holder can do nothing about it, the operator's log says what.
    logging.getLogger(__name__).warning("wallet credentials unusable: %s", exc.message)
    return ServiceUnavailableException(detail="Le portefeuille du téléphone est momentanément indisponible.")


@get("/laissez-passer/{ref:str}/wallet.pkpass", name="pro_pass_apple_wallet")
async def pass_apple_wallet(request: ProRequest, db: DB, clock: ClockDep, ref: FromPath[str]) -> Response[bytes]:
    """The pass for Apple Wallet (a signed .pkpass); a revoked, suspended or expired pass comes voided,
    without its QR code, so that downloading it again marks it in the wallet."""
    settings = request.app.state.settings
    view = await _wallet_view(request, db, clock, ref, wallet.apple_configured(settings))
    try:
        data = wallet.pkpass(_wallet_pass(view), wallet.load_apple(settings))
    except wallet.WalletError as exc:
        raise _credentials_unavailable(exc) from None
    filename = f"laissez-passer-{view['p'].serial}.pkpass"
    return Response(data, media_type=wallet.PKPASS_MEDIA_TYPE, headers={
        "Cache-Control": "private, no-cache", "Content-Disposition": f'attachment; filename="{filename}"'})


@get("/laissez-passer/{ref:str}/google-wallet", name="pro_pass_google_wallet")
async def pass_google_wallet(request: ProRequest, db: DB, clock: ClockDep, ref: FromPath[str]) -> Redirect:
    """To Google Wallet's save page with the pass in a signed JWT (state INACTIVE or EXPIRED, and no QR
    code, for a pass agents refuse)."""
    settings = request.app.state.settings
    view = await _wallet_view(request, db, clock, ref, wallet.google_configured(settings))
    try:
        url = wallet.save_url(_wallet_pass(view), wallet.load_google(settings),
                              origin=settings.base_url.rstrip("/"), now=clock.now())
    except wallet.WalletError as exc:
        raise _credentials_unavailable(exc) from None
    return Redirect(url, status_code=303, headers={"Cache-Control": "no-store"})


@post("/laissez-passer/{ref:str}/renouveler", name="pro_pass_renew")
async def pass_renew(request: ProRequest, db: DB, clock: ClockDep, ref: FromPath[str]) -> Response[Any]:
    """A new draft application like the pass's, starting when the pass ends (not for a revoked pass)."""
    org = organisation_of(request)
    row = await q.scoped_pass(db, org, _parse_id(ref, "laissez-passer"))
    if row.status == PassStatus.REVOKED:
        view = await _pass_view(db, org, row.id, clock.now())
        return pro_page(request, "pro/pass.html", status_code=409, errors=[
            "un laissez-passer révoqué ne se renouvelle pas : déposez une nouvelle demande"], **view)
    app = await q.renewal_draft(db, organisation_id=org, access_pass=row, actor_id=request.user.id, clock=clock)
    return Redirect(f"/pro/demandes/{app.id}?ok=renouvellement", status_code=303)


SERVICE_WORKER = Path(__file__).resolve().parents[1] / "static" / "pro" / "pass-sw.js"
SW_SCOPE = "/pro/laissez-passer/"


@get("/pro/laissez-passer/sw.js", opt={"exclude_from_auth": True}, name="pro_pass_sw", sync_to_thread=False)
def pass_service_worker() -> Response[bytes]:
    """The service worker of the pass pages (scope /pro/laissez-passer/ only): it keeps the phone
    pages a person opened, to show them without network. Public: it holds no data."""
    return Response(SERVICE_WORKER.read_bytes(), media_type="text/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": SW_SCOPE})


ROUTES: list = [
    Router(
        path="/pro",
        guards=[requires(Role.PROFESSIONAL)],
        exception_handlers={RequestEntityTooLarge: on_too_large},
        route_handlers=[
            dashboard, vehicles, vehicle_new, vehicle_create, vehicle_edit, vehicle_update, fleet_import_form,
            fleet_template, fleet_import, applications, application_new, application_create, application_detail,
            application_edit, application_update, application_submit, application_answer, application_documents,
            application_withdraw,
            document_download, passes, pass_detail, pass_print, pass_phone, pass_renew, pass_apple_wallet,
            pass_google_wallet,
        ],
    ),
    pass_service_worker,
]
