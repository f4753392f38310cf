"""Issue 19, in Chromium at 390 px and 1280 px: the pass page of a deployment with self-made wallet
credentials shows "Ajouter à Apple Wallet" and "Ajouter à Google Wallet"; the Apple button downloads a
.pkpass and the Google one leads to Google's save address. Screenshots: tests/artifacts/screenshots/;
with CIRQLIZ_UPDATE_DOC_SCREENSHOTS=1 also docs/images/pro-wallet-390.png and -1280.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wallet_keys import make_wallet_credentials

from .harness import (
    DOC_IMAGES,
    LiveServer,
    issue_pass,
    launch_chromium,
    sign_in,
    start_live_server,
    update_doc_screenshots,
    write_doc_image,
)
from .page_audit import axe_violations, english_words

SIZES = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 800}}


@pytest.fixture(scope="module")
def wallet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("live-wallet")
    server = start_live_server(folder, **make_wallet_credentials(folder / "keys"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(playwright_sync: Any) -> Iterator[Any]:
    chromium = launch_chromium(playwright_sync)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.mark.parametrize("width", list(SIZES))
def test_the_pass_page_shows_both_wallet_buttons(browser: Any, wallet_server: LiveServer, screenshots: Path,
                                                 width: str) -> None:
    issued = issue_pass(wallet_server)
    context = browser.new_context(viewport=SIZES[width], locale="fr-FR", timezone_id="Europe/Paris",
                                  accept_downloads=True)
    context.route("https://pay.google.com/**", lambda route: route.abort())  # no network in tests
    page = context.new_page()
    try:
        sign_in(page, wallet_server.base_url, "pro", f"/pro/laissez-passer/{issued.id}")
        apple, google = page.locator("#apple-wallet"), page.locator("#google-wallet")
        assert apple.inner_text().strip() == "Ajouter à Apple Wallet"
        assert google.inner_text().strip() == "Ajouter à Google Wallet"
        assert axe_violations(page) == []
        assert english_words(page.inner_text("body")) == []
        page.locator("h2", has_text="Portefeuille du téléphone").scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / f"pro-wallet-{width}.png"), full_page=True)
        if update_doc_screenshots():
            write_doc_image(page.screenshot(full_page=False), DOC_IMAGES / f"pro-wallet-{width}.png")
        with page.expect_download() as download:
            apple.click()
        assert download.value.suggested_filename == f"laissez-passer-{issued.serial}.pkpass"
        with page.expect_request("https://pay.google.com/gp/v/save/**") as saved:
            google.click()
        assert saved.value.url.count(".") >= 2  # the JWT's three parts
    finally:
        context.close()
