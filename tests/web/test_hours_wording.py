"""Issue 17: hours and periods read one French way on every page and e-mail that shows them
("lun.–ven. 7 h 30–10 h", "du 24/11/2026 au 10/12/2026 inclus"), never "07:30–10:00" nor the
OpenStreetMap syntax ("Mo-Fr"); English pages give the English wording."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from litestar.testing import TestClient

from cirqliz.demo.seed import ZONE_IDS

from .conftest import login, post_form
from .mailbox import in_db, mails_to, outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)
from .test_event_suppliers import _approved_event, _csv, _passes, _upload
from .test_event_suppliers import text_of as supplier_text
from .test_pro_journey_passes import PRO, _approved_and_mailed
from .test_professional import submitted_application, visible

WINDOW = {"w1_days": ["0", "1", "2", "3", "4"], "w1_start": "07:30", "w1_end": "10:00"}
HOURS_FR = "lun.–ven. 7 h 30–10 h"
HOURS_EN = "Mon–Fri 07:30–10:00"
PERIOD_FR = "du 24/11/2026 au 10/12/2026 inclus"
# A moment (a date then a time, as in a journal: "23/11/2026 09:00") is not hours: it is left out.
MOMENT = re.compile(r"\d{2}/\d{2}/\d{4},? (?:à )?\d{2}:\d{2}")
CLOCK_TIME = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?![\d:])")
OSM_DAYS = re.compile(r"\b(?:Mo|Tu|We|Th|Fr|Sa|Su|PH)(?:-(?:Mo|Tu|We|Th|Fr|Sa|Su)|,(?:Mo|Tu|We|Th|Fr|Sa|Su))")


# Where the syntax to type is documented (a CSV column, the advanced opening_hours field): input, not
# hours shown.
SYNTAX_HELP = ("(ex. « Lu-Ve 07:00-11:00 »)", "Par exemple « Mo-Fr 07:00-11:00; PH off ».")


def assert_french_hours(text: str, where: str) -> None:
    """No "HH:MM" hour and no OpenStreetMap day syntax in what a person reads."""
    for example in SYNTAX_HELP:
        text = text.replace(example, "")
    rest = MOMENT.sub("", text)
    assert not CLOCK_TIME.search(rest), f"{where}: {CLOCK_TIME.search(rest).group(0)!r} in {rest[:2000]}"
    assert not OSM_DAYS.search(text), f"{where}: {OSM_DAYS.search(text).group(0)!r}"


def test_pro_authority_pages_and_mails_show_hours_and_periods_in_french(client: TestClient, web_world) -> None:
    login(client, "pro")
    app_id = submitted_application(client, extra=WINDOW)
    issued = _approved_and_mailed(web_world, app_id)
    assert issued.windows
    shown = {f"/pro/demandes/{app_id}", f"/pro/laissez-passer/{issued.id}",
             f"/pro/laissez-passer/{issued.id}/telephone", f"/pro/laissez-passer/{issued.id}/imprimer"}
    for url in ["/pro", "/pro/demandes", "/pro/laissez-passer", "/pro/demandes/nouvelle", *sorted(shown)]:
        text = visible(client.get(url).text)
        assert_french_hours(text, url)
        if url in shown:
            assert HOURS_FR in text and PERIOD_FR in text, url
    # The zones offered in the form say their hours the same way (PARIS-CENTRE: Mo-Sa 07:00-13:00).
    assert "lun.–sam. 7 h–13 h" in visible(client.get("/pro/demandes/nouvelle").text)

    [approved] = [m for m in mails_to(web_world, PRO) if "acceptée" in m.subject]
    assert f"{PERIOD_FR}, {HOURS_FR}" in approved.body
    for mail in mails_to(web_world, PRO):
        assert_french_hours(mail.body, mail.subject)

    post_form(client, "/deconnexion")
    login(client, "admin")
    for url in (f"/autorite/demandes/{app_id}", f"/autorite/laissez-passer/{issued.id}"):
        text = visible(client.get(url).text)
        assert_french_hours(text, url)
        assert HOURS_FR in text and PERIOD_FR in text, url
    zone = visible(client.get(f"/autorite/zones/{ZONE_IDS['PARIS-CENTRE']}").text)
    assert_french_hours(zone, "zone")
    assert "lun.–sam. 7 h–13 h" in zone


def test_english_pages_show_the_english_wording(client: TestClient, web_world) -> None:
    login(client, "pro")
    issued = _approved_and_mailed(web_world, submitted_application(client, extra=WINDOW))
    for url in (f"/pro/laissez-passer/{issued.id}", f"/pro/laissez-passer/{issued.id}/telephone",
                f"/pro/demandes/{issued.application_id}"):
        text = visible(client.get(url, params={"lang": "en"}).text)
        assert HOURS_EN in text and "from 24/11/2026 to 10/12/2026 inclusive" in text, url
        assert "lun." not in text and " h–" not in text and "inclus " not in text, url


def test_period_not_on_whole_days_reads_in_french_hours(client: TestClient, web_world) -> None:
    login(client, "pro")
    issued = _approved_and_mailed(web_world, submitted_application(client, extra=WINDOW))

    async def work(session):
        row = await session.get(type(issued), issued.id)
        row.not_before = datetime(2026, 11, 24, 8, tzinfo=UTC)  # 09:00 in Paris
        row.expires_at = datetime(2026, 11, 24, 17, tzinfo=UTC)  # 18:00 in Paris, the same day
        session.add(row)

    in_db(web_world, work)
    for url in (f"/pro/laissez-passer/{issued.id}", f"/pro/laissez-passer/{issued.id}/telephone"):
        text = visible(client.get(url).text)
        assert "le 24/11/2026 de 9 h à 18 h" in text, url
        assert_french_hours(text, url)


def test_organiser_supplier_pass_pages_show_hours_in_french(client: TestClient, web_world) -> None:
    event_id, code = _approved_event(client, web_world)
    assert _upload(client, event_id, _csv(code)).status_code in (200, 303)
    rows = _passes(web_world, event_id)
    assert rows[0].windows  # "Lu-Ve 07:00-11:00" in the CSV
    base = f"/organisateur/evenements/{event_id}"
    for url in (base, f"{base}/laissez-passer/{rows[0].id}/imprimer"):
        text = supplier_text(client.get(url).text)
        assert_french_hours(text, url)
    assert "lun.–ven. 7 h–11 h" in supplier_text(client.get(f"{base}/laissez-passer/{rows[0].id}/imprimer").text)
    [mail] = [m for m in mails_to(web_world, "regie@son-lumiere.example.fr")]
    assert "horaires : lun.–ven. 7 h–11 h" in mail.body
    assert_french_hours(mail.body, mail.subject)
