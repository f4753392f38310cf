"""The API viewer at /schema, in Chromium, as a fleet-software developer uses it on a phone: open an
operation, try it, send it without a token, open the sign-in box. Swagger UI's own words are French
(static/common/swagger-init.js, swagger.css), and the document's own texts are left as they are."""

from __future__ import annotations

from typing import Any

from .harness import LiveServer, launch_chromium

# Swagger UI's words as it draws them, none of which may be left (text, or a label of a control).
ENGLISH = {
    "Try it out", "Cancel", "Execute", "Clear", "Parameters", "No parameters", "Request body", "Responses",
    "Response body", "Response headers", "Server response", "Links", "No links", "Media type", "Example Value",
    "Edit Value", "Schema", "Schemas", "Authorize", "Available authorizations", "Close", "Value:", "Name:", "In:",
    "Servers", "Details", "Request URL", "Download", "Error: Unauthorized", "Controls", "Copy to clipboard",
    "Copy code to clipboard", "Copy path to clipboard", "Copy cURL command to clipboard", "Apply credentials",
    "Media Type", "Request content type", "Collapse operation", "Expand operation", "Expand all",
}

SHOWN = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (node.nodeValue.trim() && el && el.getClientRects().length && !el.closest('pre, code, textarea')) {
      out.push(node.nodeValue.trim());
    }
  }
  for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
    for (const name of ['aria-label', 'title', 'placeholder']) {
      if (el.getAttribute(name)) out.push(el.getAttribute(name));
    }
  }
  const required = document.querySelector('.parameter__name.required');
  out.push(required ? getComputedStyle(required, '::after').content : 'no required field shown');
  return out;
}"""


def test_the_api_viewer_speaks_french(playwright_sync: Any, live_server: LiveServer) -> None:
    browser = launch_chromium(playwright_sync)
    try:
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-FR")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live_server.base_url}/schema")
        page.wait_for_selector(".opblock-summary", timeout=20_000)
        page.click("#operations-API_v1-ApiV1ApplicationsCreateApplicationApi .opblock-summary")
        page.click("text=Essayer")
        page.click("text=Envoyer")  # no token: the answer is a 401, shown with its status
        page.wait_for_selector("text=Erreur : non authentifié", timeout=20_000)
        shown = page.evaluate(SHOWN)
        page.click(".btn.authorize")
        page.wait_for_selector("text=Moyens de connexion", timeout=20_000)
        shown += page.evaluate(SHOWN)

        left = sorted(ENGLISH & set(shown))
        assert left == [], f"Swagger UI's English words still shown: {left}"
        expected = {"Annuler", "Réponses", "Corps de la requête", "Réponse du serveur", "Se connecter", "Valeur :"}
        assert expected <= set(shown)
        assert '"obligatoire"' in shown  # the required body's mark, drawn by the style sheet
        # The document's own French texts are shown as written.
        assert "Déposer une demande de laissez-passer" in shown
        assert errors == []
    finally:
        browser.close()
