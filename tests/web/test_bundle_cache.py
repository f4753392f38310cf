"""Bundle files served from a cache (issue 18): a cached delta says exactly what a fresh one says,
a new publication is served at once by every application instance sharing the database and the
keys folder, revalidation answers 304, and a synced scanner costs no database round trip."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient
from sqlalchemy import event

from cirqliz.demo.seed import AUTHORITY_CODE, AUTHORITY_ID
from cirqliz.issuance.publication import publish_bundle
from cirqliz.passcode.bundle import open_bundle
from cirqliz.passcode.cose import decode_sign1
from cirqliz.passcode.keys import VerifyKey
from cirqliz.web.app import create_app

from .conftest import WebWorld
from .mailbox import in_db

PATH = f"/bundle/{AUTHORITY_CODE}.cose"


def _publish(world: WebWorld) -> int:
    async def work(session):
        _, content = await publish_bundle(session, authority_id=AUTHORITY_ID,
                                          keystore=world.app.state.signer.keystore(AUTHORITY_CODE), clock=world.clock)
        return content.seq

    return in_db(world, work)


def _signed_part(data: bytes) -> tuple[object, bytes]:
    """What a signature covers (ES256 signatures are randomised: two signings differ only there)."""
    message = decode_sign1(data, deterministic=True)
    return message.protected, message.payload


def test_a_cached_delta_says_what_a_fresh_one_says(client: TestClient, web_world: WebWorld) -> None:
    root = VerifyKey.from_pem(client.get(f"/bundle/{AUTHORITY_CODE}/root.pem").content)
    base = open_bundle(client.get(PATH).content, [root])
    seq = _publish(web_world)
    first = client.get(PATH, params={"since": base.seq})
    cached = client.get(PATH, params={"since": base.seq})
    assert first.headers["x-bundle-kind"] == cached.headers["x-bundle-kind"] == "delta"
    assert cached.content == first.content  # the same bytes: from the cache
    fresh = web_world.app.state.signer.keystore(AUTHORITY_CODE).delta_since(base.seq)
    assert _signed_part(cached.content) == _signed_part(fresh)
    assert open_bundle(cached.content, [root], current=base).seq == seq
    assert open_bundle(fresh, [root], current=base).content == open_bundle(cached.content, [root], current=base).content


def test_a_publication_is_served_at_once_by_two_instances(web_world: WebWorld) -> None:
    """Two application instances on the same database and keys folder (two workers): each has
    cached the delta and the full bundle; a publication through one is served by both at their
    next request, with no stale bytes."""
    other = create_app(web_world.settings, clock=web_world.clock)
    with TestClient(web_world.app) as one, TestClient(other) as two:
        root = VerifyKey.from_pem(one.get(f"/bundle/{AUTHORITY_CODE}/root.pem").content)
        base = open_bundle(one.get(PATH).content, [root])
        seq = _publish(web_world)
        for client in (one, two):
            assert client.get(PATH, params={"since": base.seq}).headers["x-bundle-seq"] == str(seq)
            assert open_bundle(client.get(PATH).content, [root]).seq == seq
        newer = _publish(web_world)
        assert newer > seq
        for client in (two, one):
            delta = client.get(PATH, params={"since": base.seq})
            full = client.get(PATH)
            assert delta.headers["x-bundle-seq"] == full.headers["x-bundle-seq"] == str(newer)
            assert open_bundle(delta.content, [root], current=base).seq == newer
            assert open_bundle(full.content, [root]).seq == newer


def test_revalidation_answers_304_until_a_new_publication(client: TestClient, web_world: WebWorld) -> None:
    first = client.get(PATH)
    etag = first.headers["etag"]
    same = client.get(PATH, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    _publish(web_world)
    changed = client.get(PATH, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_a_synced_scanner_costs_no_database_round_trip(client: TestClient, web_world: WebWorld) -> None:
    client.get(PATH)  # the first request finds the authority in the database
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_rest):
        seen.append(statement)

    engine = web_world.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(5):
            assert client.get(PATH).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert seen == []


@pytest.mark.parametrize("name", ["DEMO75.cose", " demo75.cose"])
def test_the_code_is_matched_as_before(client: TestClient, name: str) -> None:
    assert client.get(f"/bundle/{name}").status_code == 200
    assert client.get("/bundle/nowhere.cose").status_code == 404
