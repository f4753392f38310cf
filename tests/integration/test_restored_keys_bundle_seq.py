"""A keys/ folder restored from an older copy does not make the published seq go back: the database
remembers the last seq, and the next bundle follows it, so phones take it instead of refusing a
rollback. (Backups: docs/sauvegardes.md.)"""

from __future__ import annotations

import shutil

import pytest
from factories import AUTHORITY_PARIS_ID

from cirqliz.db.models import Organisation
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.publication import publish_bundle
from cirqliz.passcode.bundle import open_bundle
from cirqliz.passcode.errors import BundleError

pytestmark = pytest.mark.usefixtures("world")


async def _publish(session_factory, store: KeyStore, clock) -> bytes:
    async with session_factory() as session, session.begin():
        data, _ = await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock)
    return data


async def test_the_seq_follows_the_database_after_an_old_keys_folder_is_restored(session_factory, clock, tmp_path):
    folder = tmp_path / "keys" / "paris"
    store = KeyStore.init(folder, issuer="paris", clock=clock)
    await _publish(session_factory, store, clock)
    shutil.copytree(folder, tmp_path / "copy-after-1")  # the backup, taken after publication 1
    await _publish(session_factory, store, clock)
    phone = open_bundle(await _publish(session_factory, store, clock), [store.root_public()])
    assert phone.seq == 3

    shutil.rmtree(folder)
    shutil.copytree(tmp_path / "copy-after-1", folder)  # keys/ restored: it says seq 1
    restored = KeyStore(folder, clock=clock)
    assert restored.last_seq == 1
    # Without the database's memory this bundle would be seq 2, refused by the phone as a rollback:
    _, content = restored.build_bundle(zones=[])
    assert content.seq == 2
    with pytest.raises(BundleError) as rollback:
        open_bundle((folder / "bundles" / "2.cose").read_bytes(), [store.root_public()], current=phone)
    assert rollback.value.code == "bundle_rollback"

    data = await _publish(session_factory, KeyStore(folder, clock=clock), clock)
    taken = open_bundle(data, [store.root_public()], current=phone)
    assert taken.seq == 4
    async with session_factory() as session:
        assert (await session.get(Organisation, AUTHORITY_PARIS_ID)).last_bundle_seq == 4
