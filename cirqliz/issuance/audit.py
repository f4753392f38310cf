"""The audit trail: one record per state change (who, when, what, before and after), hash-chained
so that editing, deleting or reordering a record is detected (`verify_chain`, ADR 0006)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import event, func, inspect, text
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.bulk_insert import insert_rows
from cirqliz.db.models import AuditRecord
from cirqliz.ops.metrics import observe_audit

_PLAIN = frozenset({str, int, float, bool, type(None)})


def json_safe(value: Any) -> Any:
    """A JSON-storable copy of `value` (UUIDs, times, enums and bytes as strings)."""
    kind = type(value)
    # Exact types first (subclasses such as str or int enums take the general path below): the
    # ABC checks cost more than the copy itself, thousands of times per bulk approval.
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {str(k): json_safe(v) for k, v in value.items()}
    if kind is uuid.UUID:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def snapshot(row: Any, *fields: str) -> dict[str, Any]:
    """The named fields of a row, JSON-safe."""
    return json_safe({name: getattr(row, name) for name in fields})


async def record_change(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    entity: str,
    entity_id: uuid.UUID | str,
    action: str,
    at: datetime,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Add an audit record to the current transaction (actor None: the system); its place in the
    hash chain is assigned when the transaction commits."""
    record = AuditRecord(
        at=at,
        actor_id=actor_id,
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        before=json_safe(before) if before is not None else None,
        after=json_safe(after) if after is not None else None,
    )
    session.add(record)
    session.info.setdefault(_PENDING, []).append(record)
    return record


async def record_changes(session: AsyncSession, changes: Iterable[Mapping[str, Any]]) -> None:
    """Add many audit records at once (each with `record_change`'s keywords): kept as plain rows,
    not ORM objects (thousands per transaction in a bulk approval), chained at commit with the
    others in the order recorded and inserted with one statement. Inside a savepoint they go
    through `record_change`, so that rolling the savepoint back drops them."""
    if session.in_nested_transaction():
        for change in changes:
            await record_change(session, **change)
        return
    pending = session.info.setdefault(_PENDING, [])
    for change in changes:
        before, after = change.get("before"), change.get("after")
        pending.append({
            "id": uuid.uuid4(), "at": change["at"], "actor_id": change.get("actor_id"), "entity": change["entity"],
            "entity_id": str(change["entity_id"]), "action": change["action"],
            "before": json_safe(before) if before is not None else None,
            "after": json_safe(after) if after is not None else None,
        })


# ---- hash chain (issue 9, ADR 0006) -------------------------------------------------------------
# Each record carries `seq` (1, 2, 3 … with no gap), `prev_hash` (the previous record's hash, or
# GENESIS) and `hash` = sha256(prev_hash + canonical(record)). Seq and hashes are assigned when the
# transaction commits (before_commit below), under a PostgreSQL advisory lock taken after every other
# change was flushed: the lock is the last one a transaction takes and is held only while it commits,
# so it cannot close a deadlock cycle and concurrent use cases only queue for the commit itself.
# On SQLite the write transaction (BEGIN IMMEDIATE) already serialises writers.

AUDIT_LOCK_ID = 0x4351_0100  # pg_advisory_xact_lock key ("CQ" + 0x100; jobs use 0x4351_0001…)
GENESIS = "0" * 64
_PENDING = "cirqliz.audit.pending"  # session.info key: records of this transaction not yet chained
_COMMITTING = "cirqliz.audit.committing"  # (entity, action) counts, for the metrics once committed
_HEAD = "cirqliz.audit.head"  # SQLite: the chain head (seq, hash) already read in this write transaction
VERIFY_BATCH = 2000


def canonical_record(seq: int, at: datetime, actor_id: uuid.UUID | str | None, entity: str, entity_id: str,
                     action: str, before: Any, after: Any) -> bytes:
    """The bytes a record's hash covers: canonical JSON (sorted keys, no whitespace, UTF-8; a lone
    surrogate in user text is kept as is rather than failing the commit)."""
    moment = (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(UTC)
    data = {
        "seq": int(seq),
        "at": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": str(actor_id) if actor_id is not None else None,
        "entity": entity,
        "entity_id": str(entity_id),
        "action": action,
        "before": before,
        "after": after,
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass")


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """Hex sha256 of the previous hash followed by the record's canonical bytes."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical).hexdigest()


def record_hash(record: AuditRecord, prev_hash: str) -> str:
    """The hash `record` must carry after `prev_hash`."""
    assert record.seq is not None
    return chain_hash(prev_hash, canonical_record(record.seq, record.at, record.actor_id, record.entity,
                                                  record.entity_id, record.action, record.before, record.after))


_LOCKED_HEAD = text("SELECT head_seq, head_hash FROM cirqliz_audit_head_locked(:key)")


def _head_statement() -> Any:
    return (select(col(AuditRecord.seq), col(AuditRecord.hash)).where(col(AuditRecord.seq).is_not(None))
            .order_by(col(AuditRecord.seq).desc()).limit(1))


def head_columns() -> tuple[Any, Any]:
    """The chain head's seq and hash as two scalar subqueries (NULL when the chain is empty), to be
    read by a statement the use case runs anyway; see `note_head`."""
    head = _head_statement().subquery()
    return select(head.c.seq).scalar_subquery(), select(head.c.hash).scalar_subquery()


def note_head(session: AsyncSession, seq: int | None, digest: str | None) -> None:
    """SQLite only: the chain head read (with `head_columns`) by a statement of this transaction
    that wrote, or will write before the commit, so the commit's chaining need not read it again.
    Sound on SQLite alone: a transaction that writes is the only writer from its first write until
    it commits, and a read made before that write belongs to a snapshot the write would refuse
    (SQLITE_BUSY_SNAPSHOT) had another writer committed since; the chain only grows at commit."""
    if dialect_name(session.sync_session) == "sqlite":
        session.info[_HEAD] = (int(seq), str(digest)) if seq is not None else (0, GENESIS)


def dialect_name(session: Session) -> str:
    """The dialect name of the session's bind."""
    return session.get_bind().dialect.name


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    """Give this transaction's records their seq and hashes, right before it commits."""
    pending: list[AuditRecord | dict[str, Any]] | None = session.info.get(_PENDING)
    if not pending or session.in_nested_transaction():
        return
    # Records of a rolled-back savepoint were expunged from the session: they are not chained.
    # (Plain rows from record_changes are never added inside a savepoint.)
    records = [r for r in pending if isinstance(r, dict) or (r in session and r.seq is None)]
    pending.clear()
    if not records:
        return
    # Every other change first, so the audit lock is the last lock taken; records not yet written
    # are held back from that flush and inserted once chained (no INSERT then UPDATE).
    unwritten = [r for r in records if not isinstance(r, dict) and inspect(r).pending]
    for record in unwritten:
        session.expunge(record)
    session.flush()
    session.add_all(unwritten)
    connection = session.connection()
    noted = session.info.pop(_HEAD, None)
    if connection.dialect.name == "postgresql":
        # The lock, then the head read with a snapshot taken after it (migration 0019): one round trip.
        head = connection.execute(_LOCKED_HEAD, {"key": AUDIT_LOCK_ID}).first()
    elif noted is not None:
        head = noted  # read earlier in this write transaction (note_head)
    else:
        head = connection.execute(_head_statement()).first()
    seq, prev = (int(head[0]), str(head[1])) if head is not None else (0, GENESIS)  # no row: an empty chain
    counts: dict[tuple[str, str], int] = {}
    rows = []
    for record in records:
        seq += 1
        if isinstance(record, dict):
            record["seq"], record["prev_hash"] = seq, prev
            record["hash"] = prev = chain_hash(prev, canonical_record(
                seq, record["at"], record["actor_id"], record["entity"], record["entity_id"], record["action"],
                record["before"], record["after"]))
            rows.append(record)
            key = (record["entity"], record["action"])
        else:
            record.seq, record.prev_hash = seq, prev
            record.hash = prev = record_hash(record, prev)
            key = (record.entity, record.action)
        counts[key] = counts.get(key, 0) + 1
    if len(rows) < len(records):  # ORM records chained above: write them (plain rows need no flush)
        session.flush()
    if rows:  # PostgreSQL: after the lock's statement, so the transaction has begun (COPY needs it)
        insert_rows(connection, AuditRecord.__table__, rows)  # type: ignore[attr-defined]
    session.info[_COMMITTING] = counts


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    counts = session.info.pop(_COMMITTING, None)
    if counts:
        observe_audit(counts)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_COMMITTING, None)
        session.info.pop(_HEAD, None)


@dataclass(frozen=True)
class ChainReport:
    """What verify_chain found: records checked, the head, and the first break if any."""

    count: int
    head_seq: int | None = None
    head_hash: str | None = None
    broken_seq: int | None = None
    problem: str | None = None
    first_seq: int | None = None  # where checking started (1 for a full check)

    @property
    def intact(self) -> bool:
        """True when no break was found."""
        return self.problem is None

    @property
    def partial(self) -> bool:
        """True when only the tail of the chain was checked."""
        return self.first_seq is not None and self.first_seq > 1

    def message_fr(self) -> str:
        """One French sentence for people (CLI, authority page)."""
        if not self.intact:
            where = f" au n° {self.broken_seq}" if self.broken_seq is not None else ""
            return f"Chaîne d'audit rompue{where} : {self.problem}"
        if self.partial:
            return (f"Chaîne d'audit intacte sur les {self.count} derniers enregistrements "
                    f"(n° {self.first_seq} à {self.head_seq})")
        return f"Chaîne d'audit intacte ({self.count} enregistrements)"


async def verify_chain(session: AsyncSession, *, tail: int | None = None) -> ChainReport:
    """Recompute the chain in seq order (streamed); `tail`: check only the last `tail` records."""
    unchained = (await session.exec(select(func.count()).select_from(AuditRecord)
                                    .where(col(AuditRecord.seq).is_(None)))).one()
    if unchained:
        return ChainReport(0, problem=f"{unchained} enregistrement(s) sans numéro de chaîne")
    a = AuditRecord
    statement = select(col(a.seq), col(a.prev_hash), col(a.hash), col(a.at), col(a.actor_id), col(a.entity),
                       col(a.entity_id), col(a.action), col(a.before), col(a.after)).order_by(col(a.seq))
    start = 1
    if tail is not None:
        head = (await session.exec(_head_statement())).first()
        if head is not None and head[0] > tail:
            start = int(head[0]) - tail + 1
            statement = statement.where(col(a.seq) >= start)
    expected, prev, count = start, GENESIS if start == 1 else None, 0
    head_seq: int | None = None
    head_hash: str | None = None
    result = await session.stream(statement.execution_options(yield_per=VERIFY_BATCH))
    async for rows in result.partitions():
        for seq, prev_hash, digest, *content in rows:
            problem = None
            if seq != expected:
                problem = (f"enregistrement n° {expected} manquant" if seq > expected
                           else f"numéro {seq} en double ou hors ordre")
            elif prev is not None and prev_hash != prev:
                problem = "le lien vers l'enregistrement précédent ne correspond pas"
            elif digest != chain_hash(prev_hash or "", canonical_record(seq, *content)):
                problem = "le contenu de l'enregistrement a été modifié"
            if problem is not None:
                await result.close()
                return ChainReport(count, head_seq, head_hash, broken_seq=expected, problem=problem,
                                   first_seq=start)
            count += 1
            prev, expected, head_seq, head_hash = digest, expected + 1, seq, digest
    return ChainReport(count, head_seq, head_hash, first_seq=start)
