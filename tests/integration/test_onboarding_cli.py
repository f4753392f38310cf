"""Onboarding from the command line (issue 15): `cirqliz authority create|list`, `cirqliz user
invite|disable|list`, run in process against a database migrated with `cirqliz db upgrade`."""

from __future__ import annotations

import stat

import pytest
from cli_driver import Run, run_cli
from deployment import BASE_URL, PASSWORD, SECRET, Install, accept, links_in
from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import Invitation, Membership, Organisation, UserAccount
from cirqliz.issuance import onboarding
from cirqliz.issuance.api_tokens import authenticate_token, create_api_token
from cirqliz.passcode.bundle import open_bundle
from cirqliz.passcode.keys import VerifyKey
from cirqliz.web.app import create_app

# The whole path once on PostgreSQL too (the first test); the other cases on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def create(capsys, code: str = "lyon", *extra: str, admin: str = "Admin@Lyon.fr") -> Run:
    return run_cli(capsys, "authority", "create", code, "--name", "Métropole de Lyon", "--admin", admin, *extra)




def test_authority_create_then_the_admin_signs_in_through_the_printed_link(install: Install, capsys) -> None:
    run = create(capsys, "Lyon", "--siren", "200046977", "--timezone", "Europe/Paris")
    assert run.rc == 0, run.err
    links = links_in(run)
    assert len(links) == 1 and links[0].startswith(f"{BASE_URL}/invitation/")  # once, absolute, on its own line
    assert run.out.count("/invitation/") == 1
    folder = install.keys / "lyon"  # the code as organisations keep it: lower-case
    private = list((folder / "private").glob("*.pem"))
    assert len(private) == 2 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in private)
    assert (folder / "bundles" / "1.cose").is_file()
    assert list((install.root / "outbox").glob("*.eml")), "the invitation mail goes to the outbox as well"

    with TestClient(create_app(install.settings())) as client:
        assert accept(client, links[0]) == "/autorite"
        assert client.get("/autorite").status_code == 200
        bundle = client.get("/bundle/lyon.cose")
        assert bundle.status_code == 200 and bundle.headers["x-bundle-seq"] == "1"
        root = VerifyKey.from_pem(client.get("/bundle/lyon/root.pem").content)
    content = open_bundle(bundle.content, [root]).content
    assert content.iss == "lyon" and len(content.keys) == 1  # the signing key is published

    async def state(session):  # type: ignore[no-untyped-def]
        org = (await session.exec(select(Organisation).where(col(Organisation.code) == "lyon"))).one()
        user = (await session.exec(select(UserAccount).where(col(UserAccount.email) == "admin@lyon.fr"))).one()
        roles = sorted((await session.exec(select(Membership.role).where(col(Membership.user_id) == user.id))).all())
        pending = (await session.exec(select(Invitation).where(col(Invitation.accepted_at).is_(None)))).all()
        return org, roles, pending

    org, roles, pending = install.query(state)
    assert (org.kind, org.name, org.siren, org.time_zone, org.last_bundle_seq) == (
        "authority", "Métropole de Lyon", "200046977", "Europe/Paris", 1)
    assert roles == ["authority_admin", "reviewer"]  # one link grants both roles
    assert pending == []

    listing = run_cli(capsys, "authority", "list")
    assert listing.rc == 0
    line = next(x for x in listing.out.splitlines() if x.startswith("lyon "))
    assert line.split()[:5] == ["lyon", "200046977", "Europe/Paris", "1", "1"]  # code, SIREN, tz, users, seq


@SQLITE_ONLY
def test_two_authorities_each_have_their_own_keys_and_bundle(install: Install, capsys) -> None:
    assert create(capsys, "lyon").rc == 0
    assert create(capsys, "grenoble", "--timezone", "Europe/Paris", admin="chef@grenoble.fr").rc == 0
    with TestClient(create_app(install.settings())) as client:
        roots = {code: VerifyKey.from_pem(client.get(f"/bundle/{code}/root.pem").content)
                 for code in ("lyon", "grenoble")}
        for code, other in (("lyon", "grenoble"), ("grenoble", "lyon")):
            data = client.get(f"/bundle/{code}.cose")
            assert data.status_code == 200
            assert open_bundle(data.content, [roots[code]]).content.iss == code
            with pytest.raises(Exception):  # noqa: B017 (any refusal: signed by another root)
                open_bundle(data.content, [roots[other]])
    assert roots["lyon"].kid != roots["grenoble"].kid


@SQLITE_ONLY
@pytest.mark.parametrize(("args", "rc", "message"), [
    (("authority", "create", "lyon", "--name", "Autre", "--admin", "x@lyon.fr"), 1, "le code lyon est déjà pris"),
    (("authority", "create", "LYON", "--name", "Autre", "--admin", "x@lyon.fr"), 1, "le code lyon est déjà pris"),
    (("authority", "create", "nice", "--name", "Nice", "--siren", "123456789", "--admin", "x@nice.fr"), 2,
     "SIREN invalide"),
    (("authority", "create", "nice", "--name", "Nice", "--timezone", "Europe/Nice", "--admin", "x@nice.fr"), 2,
     "fuseau horaire inconnu : 'Europe/Nice'"),
    (("authority", "create", "nice", "--name", "Nice", "--timezone", "Europe", "--admin", "x@nice.fr"), 2,
     "fuseau horaire inconnu : 'Europe'"),
    (("authority", "create", "nice", "--name", "Nice", "--timezone", "posix/Europe/Paris", "--admin", "x@nice.fr"), 2,
     "fuseau horaire inconnu : 'posix/Europe/Paris'"),
    (("authority", "create", "../nice", "--name", "Nice", "--admin", "x@nice.fr"), 2, "code d'autorité invalide"),
    (("authority", "create", "ni ce", "--name", "Nice", "--admin", "x@nice.fr"), 2, "code d'autorité invalide"),
    (("authority", "create", "nice", "--name", "Nice", "--admin", "pas-une-adresse"), 2,
     "adresse électronique invalide"),
    (("authority", "create", "nice", "--name", "Nice"), 2, "arguments obligatoires manquants : --admin"),
    (("user", "invite", "--authority", "paris", "--role", "agent", "a@paris.fr"), 1,
     "autorité inconnue : paris (autorités connues : lyon)"),
    (("user", "invite", "--authority", "lyon", "--role", "chef", "a@lyon.fr"), 2, "choix invalide : 'chef'"),
    (("user", "invite", "--authority", "lyon", "--role", "agent", "a@"), 2, "adresse électronique invalide"),
    (("user", "disable", "personne@lyon.fr"), 1, "aucun compte n'a l'adresse personne@lyon.fr"),
    (("user", "list", "--authority", "paris"), 1, "autorité inconnue : paris"),
])
def test_refusals_have_their_exit_code_and_a_french_message(install: Install, capsys, args, rc, message) -> None:
    assert create(capsys, "lyon").rc == 0
    run = run_cli(capsys, *args)
    assert (run.rc, message in run.err) == (rc, True), run.err
    assert "error:" not in run.err and "usage:" not in run.err and "Traceback" not in run.err
    assert not (install.keys / "nice").exists()


@SQLITE_ONLY
def test_a_failure_after_the_keys_were_made_leaves_nothing_behind(install: Install, capsys, monkeypatch) -> None:
    async def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    # The last step of the use case: the organisation, keys and bundle exist by then.
    monkeypatch.setattr(onboarding, "_invite", broken)
    run = create(capsys, "lyon")
    assert run.rc == 1 and "inaccessible" in run.err, run.err
    assert not (install.keys / "lyon").exists()

    async def rows(session):  # type: ignore[no-untyped-def]
        return (await session.exec(select(Organisation))).all(), (await session.exec(select(Invitation))).all()

    assert install.query(rows) == ([], [])
    monkeypatch.undo()
    for name, value in {"CIRQLIZ_DATABASE_URL": install.database_url, "CIRQLIZ_ENV": "production",
                        "CIRQLIZ_SECRET_KEY": SECRET, "CIRQLIZ_KEYS_DIR": str(install.keys),
                        "CIRQLIZ_OUTBOX_DIR": str(install.root / "outbox"), "CIRQLIZ_BASE_URL": BASE_URL}.items():
        monkeypatch.setenv(name, value)
    assert create(capsys, "lyon").rc == 0  # the code is free again


@SQLITE_ONLY
def test_an_existing_keys_folder_is_never_overwritten(install: Install, capsys) -> None:
    (install.keys / "lyon").mkdir(parents=True)
    (install.keys / "lyon" / "keyring.json").write_text("{}")
    run = create(capsys, "lyon")
    assert run.rc == 1 and "un dossier de clés existe déjà" in run.err
    assert (install.keys / "lyon" / "keyring.json").read_text() == "{}"
    assert install.query(lambda s: _count_orgs(s)) == 0


async def _count_orgs(session) -> int:  # type: ignore[no-untyped-def]
    return len((await session.exec(select(Organisation))).all())


@SQLITE_ONLY
def test_invite_then_disable_ends_the_session_at_once(install: Install, capsys) -> None:
    assert create(capsys, "lyon").rc == 0
    run = run_cli(capsys, "user", "invite", "--authority", "LYON", "--role", "agent", "Agent@Lyon.fr")
    assert run.rc == 0, run.err
    [link] = links_in(run)
    with TestClient(create_app(install.settings())) as client:
        assert accept(client, link, "Alain Agent") == "/scan"
        assert client.get("/scan").status_code == 200
        listing = run_cli(capsys, "user", "list", "--authority", "lyon")
        assert "agent@lyon.fr" in listing.out and "lyon : Agent de contrôle" in listing.out and "actif" in listing.out
        assert "admin@lyon.fr" in listing.out and "en attente" in listing.out

        token = install.run(_token_created_by("agent@lyon.fr"))
        assert install.query(lambda s: authenticate_token(s, token)) is not None
        run = run_cli(capsys, "user", "disable", "agent@lyon.fr")
        assert run.rc == 0 and "désactivé" in run.out and "jetons d'API qu'il a créés sont révoqués" in run.out, run.err
        after = client.get("/scan", follow_redirects=False)
        assert after.status_code == 303 and after.headers["location"].startswith("/connexion")
    assert "désactivé" in run_cli(capsys, "user", "list").out
    assert install.query(lambda s: authenticate_token(s, token)) is None  # the token they created ends too
    # a team's new invitation does not undo the operator's decision, even with the right password
    again = run_cli(capsys, "user", "invite", "--authority", "lyon", "--role", "reviewer", "agent@lyon.fr")
    assert again.rc == 0, (again.out, again.err)
    [link] = links_in(again)
    with TestClient(create_app(install.settings())) as client:
        path = link.removeprefix(BASE_URL)
        client.get(path)
        form = {"display_name": "Alain Agent", "password": PASSWORD, "password_again": PASSWORD,
                "_csrf_token": client.cookies.get("cirqliz_csrf")}
        refused = client.post(path, data=form, follow_redirects=False)
        assert refused.status_code == 400 and "désactivé par l" in refused.text and "exploitant" in refused.text


def _token_created_by(email: str):  # type: ignore[no-untyped-def]
    """A service that gives the person's authority an API token created by that person."""

    async def work(session):  # type: ignore[no-untyped-def]
        from cirqliz.clock import SystemClock

        user = (await session.exec(select(UserAccount).where(col(UserAccount.email) == email))).one()
        member = (await session.exec(select(Membership).where(col(Membership.user_id) == user.id))).first()
        _, token = await create_api_token(session, organisation_id=member.organisation_id, name="contrôles",
                                          scopes=["verify"], created_by=user.id, clock=SystemClock())
        return token

    return work


@SQLITE_ONLY
def test_with_smtp_the_invitation_is_mailed_not_printed(install: Install, capsys, monkeypatch) -> None:
    from cirqliz.issuance.mail import Mailer

    sent = []
    monkeypatch.setenv("CIRQLIZ_SMTP_HOST", "smtp.example.fr")
    monkeypatch.setattr(Mailer, "send_smtp", lambda self, message: sent.append(message))
    run = create(capsys, "lyon")
    assert run.rc == 0, run.err
    assert links_in(run) == [] and "/invitation/" not in run.out
    assert [m["To"] for m in sent] == ["admin@lyon.fr"]
    assert f"{BASE_URL}/invitation/" in sent[0].get_content()
