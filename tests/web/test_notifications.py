"""Mail on every application status change made through the pages (outbox in the test's folder)."""

from __future__ import annotations

from .conftest import login, post_form
from .mailbox import mails_to
from .test_professional import submitted_application


def test_submit_mails_reviewers_and_a_rejection_mails_the_applicant(client, web_world) -> None:
    login(client, "pro")
    app_id = submitted_application(client)
    assert mails_to(web_world, "instructeur@demo.cirqliz.fr"), "reviewers are told a new application arrived"

    post_form(client, "/deconnexion")
    login(client, "reviewer")
    response = post_form(client, f"/autorite/demandes/{app_id}/refuser", {"reason": "Justificatif illisible"},
                         follow_redirects=False)
    assert response.status_code == 303
    mails = mails_to(web_world, "pro@demo.cirqliz.fr")
    assert any("Justificatif illisible" in m.body for m in mails), [m.subject for m in mails]


def test_ask_for_information_then_answer_mails_both_sides(client, web_world) -> None:
    login(client, "pro")
    app_id = submitted_application(client)
    post_form(client, "/deconnexion")
    login(client, "reviewer")
    post_form(client, f"/autorite/demandes/{app_id}/complement", {"reason": "Quel est le chantier ?"})
    assert any("Quel est le chantier ?" in m.body for m in mails_to(web_world, "pro@demo.cirqliz.fr"))
    before = len(mails_to(web_world, "instructeur@demo.cirqliz.fr"))

    post_form(client, "/deconnexion")
    login(client, "pro")
    response = post_form(client, f"/pro/demandes/{app_id}/completer", {"comment": "Rue de Rivoli, n° 12"},
                         follow_redirects=False)
    assert response.status_code == 303
    assert len(mails_to(web_world, "instructeur@demo.cirqliz.fr")) > before
