"""Credentials at rest: encrypted in the column, rotatable to a new key."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection as db

from connections import services
from connections.crypto import _multifernet
from connections.models import Connection

pytestmark = pytest.mark.django_db


def _raw_row(pk: int) -> dict:
    with db.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Connection._meta.db_table} WHERE id = %s", [pk])
        names = [col[0] for col in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


@pytest.fixture
def keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    _multifernet.cache_clear()
    yield old, new
    _multifernet.cache_clear()


def test_plaintext_is_never_in_any_column(org, secret):
    created = services.connection_create(
        organization=org,
        marketplace="bricklink",
        credentials={"consumer_key": secret + "ck", "consumer_secret": secret + "cs", "token_value": secret + "tv", "token_secret": secret},
    )
    row = _raw_row(created.pk)
    assert row["credentials_encrypted"]
    dump = repr(row)
    assert secret not in dump
    assert secret[:12] not in dump  # nor a recognisable prefix
    assert row["credentials_hint"] == "…" + (secret + "ck")[-4:]
    assert Connection.objects.get(pk=created.pk).credentials["token_secret"] == secret


def test_rotation_reencrypts_every_row_under_the_newest_key(org, keys, settings, secret):
    old, new = keys
    beta_org = type(org).objects.create(slug="beta", name="Beta")
    first = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": secret})
    second = services.connection_create(organization=beta_org, marketplace="brickowl", credentials={"api_key": secret + "2"})
    wiped = services.connection_create(organization=org, marketplace="backmarket", credentials={"api_key": "wipe-me-000001"})
    services.connection_disable(connection=wiped, wipe_credentials=True)
    before = {pk: _raw_row(pk)["credentials_encrypted"] for pk in (first.pk, second.pk)}
    Fernet(old.encode()).decrypt(before[first.pk].encode())  # written under the old key

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = __import__("io").StringIO()
    call_command("rotate_credentials_key", stdout=out)
    assert "2 connection(s)" in out.getvalue()

    for pk in (first.pk, second.pk):
        token = _raw_row(pk)["credentials_encrypted"]
        assert token != before[pk]
        Fernet(new.encode()).decrypt(token.encode())
        with pytest.raises(InvalidToken):
            Fernet(old.encode()).decrypt(token.encode())
    assert _raw_row(wiped.pk)["credentials_encrypted"] == ""

    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key dropped
    assert Connection.objects.get(pk=first.pk).credentials == {"api_key": secret}
    assert Connection.objects.get(pk=second.pk).credentials == {"api_key": secret + "2"}


def test_rotation_without_the_old_key_changes_nothing_and_names_the_rows(org, keys, settings):
    old, new = keys
    created = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": "old-key-0000001"})
    before = _raw_row(created.pk)["credentials_encrypted"]
    settings.FIELD_ENCRYPTION_KEYS = [new]
    with pytest.raises(CommandError, match=f"connection\\(s\\) {created.pk};"):
        call_command("rotate_credentials_key")
    assert _raw_row(created.pk)["credentials_encrypted"] == before
