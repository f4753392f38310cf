"""A bounded load run against running CirQliz processes (asyncio + httpx), with a client-side ledger.

Clients play three parts, each with its own signed-in session or API token:
- professionals create and submit applications (two requests), and download their passes
  (QR PNG, printable page, phone page) once approved, reading the pass ids from the application page;
- reviewers approve submitted applications, one at a time or by small bulk approvals;
- verifiers check known passes online through /api/v1 (fetch the signed text once, then /verify).

Every request goes to the next process in turn (round robin), like a reverse proxy would. Every
acknowledged write (303 with the new application id, approval 303 or "ok" in the bulk result,
pass ids and serials read back) is recorded in the ledger, checked against the database afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from .harness import bulk_outcomes, percentile, post_form, sign_in

PARIS = ZoneInfo("Europe/Paris")
APP_LOCATION = re.compile(r"/pro/demandes/([0-9a-f-]{36})")
PASS_LINK = re.compile(r'href="/pro/laissez-passer/([0-9a-f-]{36})">([0-9A-F]{16})<')
ZONE_CODES = ("PARIS-CENTRE", "MARAIS-PIETON", "ZFE-GRAND-PARIS", "NUIT-BLANCHE")
BODIES_KEPT = 5


@dataclass
class Company:
    """A demo company: who signs in for it, its vehicles, its API token."""

    user: str
    vehicles: list[uuid.UUID]
    token: str


@dataclass
class Ledger:
    """What the server acknowledged, as the clients saw it."""

    created: set[str] = field(default_factory=set)
    submitted: set[str] = field(default_factory=set)
    approved: set[str] = field(default_factory=set)
    pending: deque[str] = field(default_factory=deque)
    owner: dict[str, str] = field(default_factory=dict)
    """Application id -> company user."""
    passes: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Pass serial -> (pass id, application id)."""
    approved_by_owner: dict[str, list[str]] = field(default_factory=dict)
    passes_by_owner: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


@dataclass
class Stats:
    """Latencies and status codes per operation."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    server_error_count: int = 0
    transport_errors: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def count(self, op: str, response: httpx.Response, started: float) -> None:
        self.latencies.setdefault(op, []).append(time.perf_counter() - started)
        self.statuses[(op, response.status_code)] += 1
        if response.status_code >= 500:
            self.server_error_count += 1
            if len(self.server_errors) < BODIES_KEPT:
                self.server_errors.append(f"{op} {response.request.method} {response.request.url} -> "
                                          f"{response.status_code}\n{response.text[:2000]}")

    def odd(self, op: str, response: httpx.Response) -> None:
        """A status the scenario does not expect (not a 5xx): kept for the report."""
        if len(self.unexpected) < 20:
            self.unexpected.append(f"{op} {response.request.url} -> {response.status_code}: {response.text[:300]}")

    def table(self) -> str:
        """Requests, throughput and latency percentiles per operation."""
        lines = [f"{'operation':<16}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  statuses"]
        for op in sorted(self.latencies):
            values = self.latencies[op]
            codes = ", ".join(f"{code}×{n}" for (o, code), n in sorted(self.statuses.items()) if o == op)
            lines.append(f"{op:<16}{len(values):>9}{len(values) / self.elapsed:>8.1f}"
                         f"{percentile(values, 50) * 1000:>9.1f}{percentile(values, 95) * 1000:>9.1f}"
                         f"{percentile(values, 99) * 1000:>9.1f}  {codes}")
        total = sum(len(v) for v in self.latencies.values())
        lines.append(f"{'total':<16}{total:>9}{total / self.elapsed:>8.1f}")
        return "\n".join(lines)


class Run:
    """One load run: shared ledger and statistics, round robin over the processes' base URLs."""

    def __init__(self, urls: list[str], companies: list[Company], *, seconds: float, seed: int = 1) -> None:
        self.urls = urls
        self.turn = itertools.cycle(range(len(urls)))
        self.companies = companies
        self.seconds = seconds
        self.ledger = Ledger()
        self.stats = Stats()
        self.random = random.Random(seed)
        self.deadline = 0.0

    def url(self, path: str) -> str:
        return self.urls[next(self.turn)] + path

    async def request(self, client: httpx.AsyncClient, op: str, method: str, path: str, **kwargs: object
                      ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            if method == "FORM":
                response = await post_form(client, self.url(path), kwargs.pop("form"), **kwargs)  # type: ignore[arg-type]
            else:
                response = await client.request(method, self.url(path), **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self.stats.transport_errors.append(f"{op} {path}: {exc!r}")
            return None
        self.stats.count(op, response, started)
        return response

    # ---- parts -----------------------------------------------------------------------------

    async def professional(self, client: httpx.AsyncClient, company: Company) -> None:
        while time.monotonic() < self.deadline:
            if self.random.random() < 0.55 or not self.ledger.approved_by_owner.get(company.user):
                await self.apply(client, company)
            else:
                await self.download(client, company)

    async def apply(self, client: httpx.AsyncClient, company: Company) -> None:
        today = datetime.now(PARIS).date()
        zones = self.random.sample(ZONE_CODES, self.random.choice((1, 1, 2)))
        vehicles = self.random.sample(company.vehicles, self.random.choice((1, 1, 1, 2)))
        form = [("zone_ids", str(zone_ids()[z])) for z in zones] + [("vehicle_ids", str(v)) for v in vehicles]
        form += [("purpose", "1"), ("first_day", today.isoformat()),
                 ("last_day", (today + timedelta(days=self.random.randint(1, 60))).isoformat())]
        response = await self.request(client, "create", "FORM", "/pro/demandes/nouvelle", form=form)
        if response is None or response.status_code != 303:
            if response is not None and response.status_code < 500 and response.status_code != 422:
                self.stats.odd("create", response)
            return
        match = APP_LOCATION.search(response.headers.get("location", ""))
        if match is None:
            self.stats.odd("create", response)
            return
        app_id = match.group(1)
        self.ledger.created.add(app_id)
        self.ledger.owner[app_id] = company.user
        response = await self.request(client, "submit", "FORM", f"/pro/demandes/{app_id}/deposer", form=[])
        if response is not None and response.status_code == 303:
            self.ledger.submitted.add(app_id)
            self.ledger.pending.append(app_id)
        elif response is not None and response.status_code not in (422,) and response.status_code < 500:
            self.stats.odd("submit", response)

    async def download(self, client: httpx.AsyncClient, company: Company) -> None:
        known = self.ledger.passes_by_owner.get(company.user, [])
        approved = self.ledger.approved_by_owner[company.user]
        if not known or self.random.random() < 0.3:
            app_id = self.random.choice(approved)
            response = await self.request(client, "application_page", "GET", f"/pro/demandes/{app_id}")
            if response is None or response.status_code != 200:
                if response is not None and response.status_code < 500:
                    self.stats.odd("application_page", response)
                return
            for pass_id, serial in PASS_LINK.findall(response.text):
                if serial not in self.ledger.passes:
                    self.ledger.passes[serial] = (pass_id, app_id)
                    self.ledger.passes_by_owner.setdefault(company.user, []).append((pass_id, serial))
            known = self.ledger.passes_by_owner.get(company.user, [])
            if not known:
                return
        pass_id, _serial = self.random.choice(known)
        op, path = self.random.choice((("pass_png", f"/pro/laissez-passer/{pass_id}.png"),
                                       ("pass_print", f"/pro/laissez-passer/{pass_id}/imprimer"),
                                       ("pass_phone", f"/pro/laissez-passer/{pass_id}/telephone")))
        response = await self.request(client, op, "GET", path)
        if response is not None and response.status_code != 200 and response.status_code < 500:
            self.stats.odd(op, response)

    async def reviewer(self, client: httpx.AsyncClient) -> None:
        pending = self.ledger.pending
        while time.monotonic() < self.deadline:
            if not pending:
                await asyncio.sleep(0.02)
                continue
            if self.random.random() < 0.6:
                app_id = pending.popleft()
                response = await self.request(client, "approve", "FORM", f"/autorite/demandes/{app_id}/accepter",
                                              form=[("reason", "")])
                if response is not None and response.status_code == 303:
                    self.approved(app_id)
                elif response is not None and response.status_code not in (422,) and response.status_code < 500:
                    self.stats.odd("approve", response)
                continue
            batch = [pending.popleft() for _ in range(min(len(pending), self.random.randint(2, 6)))]
            response = await self.request(client, "bulk_approve", "FORM", "/autorite/demandes/acceptation-groupee",
                                          form=[("ids", i) for i in batch], timeout=120)
            if response is None or response.status_code != 200:
                if response is not None and response.status_code < 500:
                    self.stats.odd("bulk_approve", response)
                continue
            outcomes = bulk_outcomes(response.text)
            for app_id in batch:
                if outcomes.get(app_id):
                    self.approved(app_id)
                elif app_id not in outcomes:
                    self.stats.unexpected.append(f"bulk result without {app_id}")

    def approved(self, app_id: str) -> None:
        self.ledger.approved.add(app_id)
        self.ledger.approved_by_owner.setdefault(self.ledger.owner[app_id], []).append(app_id)

    async def verifier(self, client: httpx.AsyncClient, company: Company) -> None:
        headers = {"Authorization": f"Bearer {company.token}"}
        while time.monotonic() < self.deadline:
            known = self.ledger.passes_by_owner.get(company.user)
            if not known:
                await asyncio.sleep(0.05)
                continue
            _pass_id, serial = self.random.choice(known)
            text = self.ledger.texts.get(serial)
            if text is None:
                response = await self.request(client, "api_pass", "GET", f"/api/v1/passes/{serial}", headers=headers)
                if response is None or response.status_code != 200:
                    if response is not None and response.status_code < 500:
                        self.stats.odd("api_pass", response)
                    continue
                text = self.ledger.texts[serial] = response.json()["text"]
            response = await self.request(client, "api_verify", "POST", "/api/v1/verify", headers=headers,
                                          json={"text": text, "zone": self.random.choice(ZONE_CODES)})
            if response is not None and response.status_code != 200 and response.status_code < 500:
                self.stats.odd("api_verify", response)

    # ---- the run ---------------------------------------------------------------------------

    async def main(self, *, professionals: int, reviewers: int, verifiers: int) -> None:
        """Sign everybody in, run every part until the deadline, let in-flight requests finish."""
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        clients = [httpx.AsyncClient(base_url=self.urls[i % len(self.urls)], timeout=60, limits=limits)
                   for i in range(professionals + reviewers + verifiers)]
        tasks = []
        pool = iter(clients)
        started = time.perf_counter()
        try:
            # Signing in (argon2, deliberately slow) happens before the clock starts, a few at a time.
            gate = asyncio.Semaphore(4)

            async def signed_in(client: httpx.AsyncClient, who: str) -> None:
                async with gate:
                    await sign_in(client, who)

            people = []
            for i in range(professionals):
                company = self.companies[i % len(self.companies)]
                client = next(pool)
                people.append((client, company.user))
                tasks.append(lambda c=client, co=company: self.professional(c, co))
            for i in range(reviewers):
                client, who = next(pool), ("reviewer", "admin")[i % 2]
                people.append((client, who))
                tasks.append(lambda c=client: self.reviewer(c))
            for i in range(verifiers):
                client, company = next(pool), self.companies[i % len(self.companies)]
                tasks.append(lambda c=client, co=company: self.verifier(c, co))
            await asyncio.gather(*(signed_in(c, w) for c, w in people))
            started = time.perf_counter()
            self.deadline = time.monotonic() + self.seconds
            await asyncio.gather(*(task() for task in tasks))
        finally:
            self.stats.elapsed = time.perf_counter() - started
            for client in clients:
                await client.aclose()


def zone_ids() -> dict[str, uuid.UUID]:
    """The demo zones' fixed ids."""
    from cirqliz.demo.seed import ZONE_IDS

    return ZONE_IDS
