"""The skeleton: pages, health, sign-in, CSRF, guards, language."""

from __future__ import annotations

from .conftest import csrf_token, login, post_form


def test_home_is_french_by_default_and_english_on_request(client) -> None:
    assert "Laissez-passer pour les zones" in client.get("/").text
    assert "Passes for restricted-access zones" in client.get("/?lang=en").text
    assert "Passes for restricted-access zones" in client.get("/").text  # remembered in a cookie


def test_health_and_readiness(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"


def test_protected_page_redirects_to_sign_in(client) -> None:
    response = client.get("/moi", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?next=/moi"


def test_the_page_asked_for_comes_back_whole_after_sign_in(client) -> None:
    from cirqliz.demo.seed import DEMO_PASSWORD

    response = client.get("/pro/laissez-passer?statut=active&page=2", follow_redirects=False)
    assert response.headers["location"] == "/connexion?next=/pro/laissez-passer%3Fstatut%3Dactive%26page%3D2"
    form = client.get(response.headers["location"])
    assert 'value="/pro/laissez-passer?statut=active&amp;page=2"' in form.text
    signed_in = post_form(client, "/connexion", {"email": "pro@demo.cirqliz.fr", "password": DEMO_PASSWORD,
                                                 "next": "/pro/laissez-passer?statut=active&page=2"},
                          follow_redirects=False)
    assert signed_in.headers["location"] == "/pro/laissez-passer?statut=active&page=2"


def test_form_without_csrf_token_is_refused(client) -> None:
    client.get("/connexion")
    response = client.post("/connexion", data={"email": "pro@demo.cirqliz.fr", "password": "x"})
    assert response.status_code == 403


def test_wrong_password_then_rate_limit(client) -> None:
    for _ in range(5):
        response = post_form(client, "/connexion", {"email": "pro@demo.cirqliz.fr", "password": "wrong-password-1"})
        assert response.status_code == 400
        assert "Adresse ou mot de passe incorrect" in response.text
    response = post_form(client, "/connexion", {"email": "pro@demo.cirqliz.fr", "password": "wrong-password-1"})
    assert response.status_code == 429
    assert "Trop de tentatives" in response.text


def test_sign_in_lands_on_the_audience_home_and_sign_out(client) -> None:
    login(client, "pro")
    response = client.get("/moi", follow_redirects=False)
    assert response.headers["location"] == "/pro"
    post_form(client, "/deconnexion", follow_redirects=False)
    assert client.get("/moi", follow_redirects=False).status_code == 303
    assert csrf_token(client)


def test_next_parameter_never_leaves_the_site(client) -> None:
    from cirqliz.demo.seed import DEMO_PASSWORD

    response = post_form(client, "/connexion", {"email": "pro@demo.cirqliz.fr", "password": DEMO_PASSWORD,
                                                "next": "//evil.example/"}, follow_redirects=False)
    assert response.headers["location"] == "/pro"
