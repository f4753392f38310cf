"""Enum values reach pages, CSV files, e-mails and CLI messages through one label table (cirqliz.labels):
every value has its label there, and no other module keeps a table of its own for the same values."""

from __future__ import annotations

import ast
import re
from enum import Enum, IntEnum
from pathlib import Path

import pytest

import cirqliz
from cirqliz import labels
from cirqliz.db.models import EVENT_STATUSES, JOB_OUTCOMES
from cirqliz.domain.applications import ApplicationAction, ApplicationStatus
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.domain.passes import ExemptionKind, PassStatus
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.vehicles import CritAir, Energy, VehicleCategory
from cirqliz.domain.zones import ReviewMode, TrafficOrderStatus, ZfeVehicleClass, ZoneKind, ZoneStatus
from cirqliz.issuance.api_tokens import Scope
from cirqliz.issuance.exemptions import STATUSES as EXEMPTION_STATUSES
from cirqliz.issuance.keystore import KeyEntry

ROOT = Path(cirqliz.__file__).resolve().parent

ENUM_TABLES: list[tuple[type[Enum], dict]] = [
    (ApplicationStatus, labels.APPLICATION_STATUS_FR),
    (ApplicationAction, labels.APPLICATION_ACTION_FR),
    (ApplicationAction, labels.APPLICATION_ACTION_VERB_FR),
    (PassStatus, labels.PASS_STATUS_FR),
    (ExemptionKind, labels.EXEMPTION_KIND_FR),
    (Purpose, labels.PURPOSE_FR),
    (VehicleCategory, labels.VEHICLE_CATEGORY_FR),
    (VehicleCategory, labels.VEHICLE_CATEGORY_DESCRIPTION_FR),
    (CritAir, labels.CRIT_AIR_FR),
    (Energy, labels.ENERGY_FR),
    (Role, labels.ROLE_FR),
    (OrganisationKind, labels.ORGANISATION_KIND_FR),
    (ZoneStatus, labels.ZONE_STATUS_FR),
    (ZoneKind, labels.ZONE_KIND_FR),
    (ReviewMode, labels.REVIEW_MODE_FR),
    (TrafficOrderStatus, labels.TRAFFIC_ORDER_STATUS_FR),
    (ZfeVehicleClass, labels.ZFE_VEHICLE_CLASS_FR),
    (Scope, labels.SCOPE_FR),
]
KEY_STATUSES = {"root"} | {KeyEntry("k", "ES256", 0, **state).status for state in (
    {}, {"published_seq": 1}, {"published_seq": 1, "withdrawn_at": 2})}
# Values stored or computed as plain strings, each with where the complete list lives.
VALUE_TABLES: list[tuple[str, set, dict]] = [
    ("key status", KEY_STATUSES, labels.KEY_STATUS_FR),
    ("key role", {row["role"] for row in [{"role": "root"}, {"role": "signing"}]}, labels.KEY_ROLE_FR),
    ("job outcome", set(JOB_OUTCOMES), labels.JOB_OUTCOME_FR),
    ("event status", set(EVENT_STATUSES), labels.EVENT_STATUS_FR),
    ("exemption export status", set(EXEMPTION_STATUSES), labels.EXEMPTION_STATUS_FR),
    ("import outcome", {"created", "updated", "unchanged", "skipped"}, labels.IMPORT_OUTCOME_FR),
]


@pytest.mark.parametrize(("enum", "table"), ENUM_TABLES, ids=lambda v: getattr(v, "__name__", ""))
def test_every_enum_value_has_one_label(enum: type[Enum], table: dict) -> None:
    assert set(table) == set(enum), f"{enum.__name__}: missing {set(enum) - set(table)}"
    assert all(isinstance(label, str) and label.strip() for label in table.values())
    # A stored value finds the label of its member, and the property says the same.
    for member in enum:
        assert table[member.value] == table[member]
        if table is labels.VEHICLE_CATEGORY_DESCRIPTION_FR:
            assert member.description_fr == table[member]
        elif hasattr(member, "label_fr"):
            assert member.label_fr == table[member]


@pytest.mark.parametrize(("what", "values", "table"), VALUE_TABLES, ids=[v[0] for v in VALUE_TABLES])
def test_every_stored_value_has_one_label(what: str, values: set, table: dict) -> None:
    assert set(table) == values, what


def test_every_audited_entity_has_a_label() -> None:
    pattern = re.compile(r"""\bentity=["'](\w+)["']|["']entity["']: ["'](\w+)["']""")
    entities = {a or b for path in ROOT.rglob("*.py") for a, b in pattern.findall(path.read_text(encoding="utf-8"))}
    assert "vehicle" in entities and "application" in entities
    assert entities <= set(labels.AUDIT_ENTITY_FR), entities - set(labels.AUDIT_ENTITY_FR)


# ---- no table of its own ------------------------------------------------------------------

# Value sets watched: a dict literal keyed only by values of one of them, with texts as values, is
# a label table and belongs in cirqliz/labels.py. IntEnums count only as `Enum.MEMBER` keys (small
# integers key many other things).
WATCHED: dict[str, frozenset] = {
    **{enum.__name__: frozenset(m.value for m in enum) for enum, _ in ENUM_TABLES},
    **{what: frozenset(values) for what, values, _ in VALUE_TABLES if what != "import outcome"},
}
ENUMS = {enum.__name__: enum for enum, _ in ENUM_TABLES} | {"S": ApplicationStatus, "A": ApplicationAction}
# Keyed like a label table but not labels: messages (the rule keeps them where they are), another
# system's codes, names of mail templates.
NOT_LABELS = {
    ("web/controllers/professional.py", "UNUSABLE_TEXT_FR"),
    ("issuance/wallet.py", "UNUSABLE_NOTE_FR"),
    ("issuance/wallet.py", "GOOGLE_STATES"),
    ("exports/datex2.py", "VEHICLE_TYPES"),
    ("ops/metrics.py", "OUTCOMES"),
    ("issuance/mail.py", "_TEMPLATE_BY_STATUS"),
    ("issuance/mail.py", "_TEMPLATE_BY_PASS_STATUS"),
}


def _key(node: ast.expr | None) -> tuple[str, object] | None:
    """('', value) for a constant key, (enum name, value) for `Enum.MEMBER` (or `.value`), None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return "", node.value
    if isinstance(node, ast.Attribute) and node.attr == "value":
        node = node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ENUMS:
        member = ENUMS[node.value.id].__members__.get(node.attr)
        return (ENUMS[node.value.id].__name__, member.value) if member is not None else None
    return None


def _label_tables(source: str) -> list[tuple[str, int, str]]:
    """(name assigned or '', line, value set) of every dict literal that looks like a label table."""
    tree = ast.parse(source)
    names = {id(node.value): target.id for node in ast.walk(tree) if isinstance(node, ast.Assign | ast.AnnAssign)
             and node.value is not None
             for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
             if isinstance(target, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict) or len(node.keys) < 2 or None in node.keys:
            continue
        if not all(isinstance(v, ast.JoinedStr) or (isinstance(v, ast.Constant) and isinstance(v.value, str))
                   for v in node.values):
            continue
        keys = [_key(k) for k in node.keys]
        if None in keys or len({enum for enum, _ in keys}) != 1:
            continue
        enum, values = keys[0][0], {value for _, value in keys}
        if enum:  # Enum.MEMBER keys: that enum's table
            found.append((names.get(id(node), ""), node.lineno, enum))
            continue
        # Most keys in one set: a table of it, even with a stray value or two.
        what = next((what for what, watched in WATCHED.items() if len(values & watched) >= 2
                     and 2 * len(values & watched) >= len(values)
                     and not (what in ENUMS and issubclass(ENUMS[what], IntEnum))), None)
        if what:
            found.append((names.get(id(node), ""), node.lineno, what))
    return found


def test_the_scan_finds_a_table_of_its_own() -> None:
    source = ('WORDS = {PassStatus.ACTIVE: "actif", PassStatus.REVOKED: "révoqué"}\n'
              'KEYS = {"pending": "en attente", "active": "active", "retired": "retirée"}\n'
              'KINDS = {ZoneKind.PEDESTRIAN.value: "piétonne", ZoneKind.LOW_EMISSION.value: "ZFE"}\n'
              'CRIT = {CritAir.ONE: "vignette 1", CritAir.TWO: "vignette 2"}\n'
              'CODES = {1: "a", 2: "b"}\nNOTICES = {"approved": "Demande acceptée.", "rotated": "Clé créée."}\n')
    assert [(name, what) for name, _, what in _label_tables(source)] == [
        ("WORDS", "PassStatus"), ("KEYS", "key status"), ("KINDS", "ZoneKind"), ("CRIT", "CritAir")]


def test_no_module_keeps_its_own_label_table() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        if where == "labels.py":
            continue
        for name, line, what in _label_tables(path.read_text(encoding="utf-8")):
            if (where, name) not in NOT_LABELS:
                offenders.append(f"{where}:{line} {name or 'dict'} ({what})")
    assert offenders == [], f"use the table of cirqliz/labels.py: {offenders}"


def test_templates_keep_no_label_table_either() -> None:
    pattern = re.compile(r"""["'](\w+)["']\s*:\s*_\(["']""")
    offenders = []
    for path in sorted((ROOT / "web" / "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            keys = set(pattern.findall(line))
            if len(keys) >= 2 and any(keys <= values for values in WATCHED.values()):
                offenders.append(f"{path.name}:{number}")
    assert offenders == []


def test_the_same_words_everywhere() -> None:
    from cirqliz.issuance import event_imports, wallet, zone_imports
    from cirqliz.web import labels as web_labels
    from cirqliz.web.controllers import professional

    assert web_labels.PASS_STATUS_FR is labels.PASS_STATUS_FR is professional.PASS_STATUS_LABELS_FR
    assert wallet.STATE_LABELS_FR[PassStatus.ACTIVE] == "Valide" == labels.capitalised(labels.PASS_STATUS_FR["active"])
    assert labels.KEY_STATUS_FR["pending"] == "en attente de publication"
    assert event_imports.ACTION_FR["updated"] == zone_imports.ACTION_FR["updated"] == web_labels.VALUE_FR["updated"]
    assert zone_imports.zfe_rule_label("deux_rm", "3").startswith("Deux-roues, tricycles et quadricycles à moteur —")


def test_the_command_line_lists_keys_with_the_page_words(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from cirqliz.cli import main

    assert main(["keys", "init", "--keys-dir", str(tmp_path), "--issuer", "TEST"]) == 0
    capsys.readouterr()
    assert main(["keys", "list", "--keys-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "en attente de publication" in out and "racine" in out


def test_english_pages_have_every_label() -> None:
    from cirqliz.web.i18n import translations

    english = translations("en")._catalog
    # Pages show a category explained and an exemption kind only in French files (exports); an action's
    # verb only inside the services' French refusals.
    shown_alone = (labels.VEHICLE_CATEGORY_FR, labels.VEHICLE_CATEGORY_DESCRIPTION_FR, labels.EXEMPTION_KIND_FR,
                   labels.APPLICATION_ACTION_VERB_FR)
    tables = [t for _, t in ENUM_TABLES if t not in shown_alone] + [t for _, _, t in VALUE_TABLES]
    tables += [labels.AUDIT_ENTITY_FR, labels.ZONE_TRANSITION_FR]
    texts = [label for table in tables for label in table.values()] + [c.explained_fr for c in VehicleCategory]
    assert sorted({text for text in texts if text not in english}) == []


def test_refusals_name_statuses_with_their_labels() -> None:
    import asyncio
    import uuid
    from datetime import UTC, datetime

    from cirqliz.clock import FixedClock
    from cirqliz.db.models import Organisation, UserAccount, Zone
    from cirqliz.domain.applications import next_status
    from cirqliz.domain.errors import DomainError, TransitionError
    from cirqliz.domain.passes import check_pass_transition
    from cirqliz.domain.zones import check_zone_transition
    from cirqliz.issuance.accounts import invite_member
    from cirqliz.issuance.applications import _zone_inactive
    from cirqliz.issuance.organisations import add_membership

    with pytest.raises(TransitionError, match="une zone « archivée » ne peut pas passer à « active »"):
        check_zone_transition("archived", "active")
    with pytest.raises(TransitionError, match="un laissez-passer « révoqué » ne peut pas passer à « valide »"):
        check_pass_transition("revoked", "active")
    assert _zone_inactive(Zone(code="CENTRE", status="suspended"))[0].message.endswith("(suspendue)")
    with pytest.raises(TransitionError, match=r"^impossible de déposer : la demande est acceptée$"):
        next_status("approved", "submit")
    with pytest.raises(TransitionError, match=r"^impossible d'accepter : la demande est brouillon$"):
        next_status("draft", "approve")

    class Rows:
        async def get(self, model: type, _id: object) -> object:
            return {UserAccount: UserAccount(), Organisation: Organisation(kind="company")}[model]

    with pytest.raises(DomainError, match=r"le rôle « Agent de contrôle » .* de type « entreprise »"):
        asyncio.run(add_membership(Rows(), user_id=uuid.uuid4(), organisation_id=uuid.uuid4(), role="agent",
                                   clock=FixedClock(datetime(2026, 12, 7, tzinfo=UTC))))

    class Locked:  # invite_member reads the organisation with SELECT … FOR UPDATE
        async def exec(self, _statement: object) -> object:
            return type("Result", (), {"first": lambda _self: Organisation(kind="company")})()

    with pytest.raises(DomainError, match=r"^le rôle « Agent de contrôle » n'existe pas dans une organisation de "
                                          r"type « entreprise »$"):
        asyncio.run(invite_member(Locked(), organisation_id=uuid.uuid4(), email="a@exemple.fr", role="agent",
                                  invited_by=None, clock=FixedClock(datetime(2026, 12, 7, tzinfo=UTC)),
                                  secret_key="k" * 40))
