"""Every message a person reads is French: Litestar's own English texts (CSRF, 405, validation of
optional values) are replaced, a 404 never echoes the URL, and `cirqliz opendata --help` is French."""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from cirqliz.cli import build_parser
from cirqliz.demo.seed import AUTHORITY_CODE, DEMO_PASSWORD, USERS
from cirqliz.web.errors import validation_message_fr

from .conftest import csrf_token, text_of

ENGLISH = re.compile(r"verification|\bfailed\b|\bMethod\b|\bAllowed\b|int \| null|\bExpected\b|\bgot\b|"
                     r"\btoken\b|\bnot found\b", re.I)


def _message(response) -> str:
    try:
        return response.json()["detail"]
    except ValueError:
        return text_of(response.text)


def test_a_missing_or_wrong_csrf_token_is_a_french_403(client: TestClient) -> None:
    form = {"email": USERS["pro"][0], "password": DEMO_PASSWORD}
    csrf_token(client)  # the cookie is set: only the form's token is missing or wrong
    for token in (None, "pas-le-bon-jeton"):
        data = form if token is None else {**form, "_csrf_token": token}
        response = client.post("/connexion", data=data)
        assert response.status_code == 403, response.text[:300]
        message = _message(response)
        assert "jeton de sécurité" in message, message[:300]
        assert not ENGLISH.search(message), message[:300]
    json_answer = client.post("/connexion", data=form, headers={"accept": "application/json"})
    assert json_answer.status_code == 403
    assert "jeton de sécurité" in json_answer.json()["detail"]


def test_a_method_not_allowed_is_a_french_405(client: TestClient) -> None:
    for headers in ({}, {"accept": "application/json"}):
        response = client.delete("/connexion", headers={"x-csrftoken": csrf_token(client), **headers})
        assert response.status_code == 405, response.text[:300]
        message = _message(response)
        assert "Méthode non autorisée" in message, message[:300]
        assert not ENGLISH.search(message), message[:300]


def test_a_bad_optional_number_in_a_query_says_so_in_french(client: TestClient) -> None:
    response = client.get(f"/bundle/{AUTHORITY_CODE}.cose?since=abc")
    assert response.status_code == 400, response.text[:300]
    message = _message(response)
    assert "since : un nombre entier attendu" in message, message[:300]
    assert not ENGLISH.search(message), message[:300]


@pytest.mark.parametrize(("english", "french"), [
    ("Expected `int | null`, got `str`", "un nombre entier attendu, reçu un texte"),
    ("Expected `str | null`, got `int`", "un texte attendu, reçu un nombre entier"),
    ("Expected `int | float`, got `str`", "un nombre entier ou un nombre attendu, reçu un texte"),
    ("Expected `Foo`, got `str`", "une valeur valide attendu, reçu un texte"),
])
def test_msgspec_type_names_with_unions_are_french(english: str, french: str) -> None:
    assert validation_message_fr(english, "since") == f"since : {french}"


def test_an_unknown_authority_bundle_is_the_fixed_french_404_without_the_url(client: TestClient) -> None:
    hostile = "inconnue-" + "A" * 5000 + "<script>x</script>"
    for url in (f"/bundle/{hostile}.cose", f"/bundle/{hostile}/root.pem", "/bundle/nulle-part.cose"):
        for headers in ({}, {"accept": "application/json"}):
            response = client.get(url, headers=headers)
            assert response.status_code == 404, (url[:80], response.text[:300])
            message = _message(response)
            assert "introuvable" in message or "inconnue" in message, message[:300]
            assert "AAAAAAAA" not in response.text and "nulle-part" not in message, message[:300]
    response = client.get("/bundle/nulle-part.cose", headers={"accept": "application/json"})
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("command", [["opendata"], ["opendata", "fetch"], ["opendata", "status"]])
def test_opendata_help_is_french(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "utilisation :" in text and "afficher cette aide" in text
    english = re.compile(r"\b(published|schemas|install|folder|default|instead|print|which|where|"
                         r"validation is|offline|mirror|the|from a)\b")
    # Option names (--from, --dir…) are not prose: look at the help texts only.
    prose = re.sub(r"--[\w-]+|\{[\w,]+\}", "", text)
    assert not english.search(prose), english.search(prose)
    if command == ["opendata"]:
        assert "schémas publiés" in text.lower()
