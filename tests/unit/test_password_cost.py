"""The tests hash passwords with Argon2's cheapest parameters (tests/conftest.py); production keeps RFC 9106's."""

from __future__ import annotations

import subprocess
import sys

from cirqliz.issuance.passwords import hash_password, needs_rehash, verify_password

PRODUCTION_PREFIX = "$argon2id$v=19$m=65536,t=3,p=4$"  # RFC 9106 second recommended option (argon2-cffi default)


def test_production_hashes_with_the_rfc_9106_parameters() -> None:
    # A fresh interpreter: the module as production imports it, without the tests' conftest.
    code = "from cirqliz.issuance.passwords import hash_password; print(hash_password('demo-cirqliz-2026'))"
    made = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    produced = made.stdout.strip()
    assert produced.startswith(PRODUCTION_PREFIX), produced
    assert verify_password(produced, "demo-cirqliz-2026")  # a production hash still checks in the tests


def test_the_tests_hash_with_the_cheapest_parameters() -> None:
    cheap = hash_password("demo-cirqliz-2026")
    assert cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$"), cheap
    assert verify_password(cheap, "demo-cirqliz-2026") and not verify_password(cheap, "demo-cirqliz-2027")
    assert not needs_rehash(cheap)
