"""One application per settings and test process (tests/web/conftest.py, AppCache), put back to its
first state for each test: what one test leaves in it never reaches the next."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from litestar import get
from litestar.testing import TestClient

from cirqliz.clock import FixedClock
from cirqliz.web.app import initial_state

from .conftest import WEB_T0, AppCache, WebWorld, login


def _world(web_world: WebWorld, web_apps: AppCache) -> WebWorld:
    """Another world over the same folder and settings, as the next test would get it."""
    web_apps.next_test()
    return WebWorld(None, web_world.settings, FixedClock(WEB_T0), web_world.root, apps=web_apps)


def test_the_next_test_gets_the_same_app_with_a_fresh_state_clock_signer_and_stores(web_world, web_apps) -> None:
    first = web_world.app
    first_signer = first.state.signer
    first.state.api_rate_limit = 3  # what a test may leave behind
    first.state.bundle_cache = {("X", 1): object()}
    asyncio.run(first.stores.get("login_attempts").set("account:pro@demo.cirqliz.fr", b"99"))
    web_world.clock.set(WEB_T0.replace(year=2030))

    following = _world(web_world, web_apps)
    again = following.app
    assert again is first  # not built again
    assert set(again.state.keys()) == set(initial_state(following.settings, following.clock))
    assert again.state.clock is following.clock and again.state.clock.now() == WEB_T0
    assert again.state.signer is not first_signer
    assert asyncio.run(again.stores.get("login_attempts").get("account:pro@demo.cirqliz.fr")) is None
    with TestClient(again) as client:
        login(client, "pro")  # the lockout counter of the previous test is gone
        assert client.get("/pro").status_code == 200


def test_an_app_whose_routes_a_test_changed_is_built_again(web_world, web_apps) -> None:
    @get("/essai-de-route", sync_to_thread=False)
    def extra() -> str:
        return "essai"

    first = web_world.app
    first.register(extra)
    built = web_apps.built
    again = _world(web_world, web_apps).app
    assert again is not first and web_apps.built == built + 1
    with TestClient(again) as client:
        assert client.get("/essai-de-route").status_code == 404


def test_two_worlds_of_one_test_never_share_an_app(web_world) -> None:
    same = web_world.with_settings(replace(web_world.settings))
    assert same.app is not web_world.app
    assert same.app.state.signer is not web_world.app.state.signer


def test_other_settings_get_their_own_app(web_world) -> None:
    capped = web_world.with_settings(replace(web_world.settings, documents_max_per_application=1))
    assert capped.app is not web_world.app
    assert capped.app.state.settings.documents_max_per_application == 1
