"""No credential in repr(), str(), log lines, error messages or audit rows."""

import logging

import pytest

from connections import services
from connections.models import EntitySync

pytestmark = pytest.mark.django_db


def test_repr_str_and_summaries_never_show_the_credential(org, secret):
    connection = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": secret})
    sync = EntitySync.objects.filter(connection=connection).first()
    texts = [repr(connection), str(connection), repr(sync), str(sync), str(services.connection_summary(connection=connection))]
    for text in texts:
        assert secret not in text
    assert secret[-4:] in services.connection_summary(connection=connection)["credentials_hint"]


def test_lifecycle_log_lines_never_show_the_credential(org, secret, caplog):
    caplog.set_level(logging.DEBUG)
    connection = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": secret})
    services.connection_rotate_credentials(connection=connection, credentials={"api_key": secret + "new"})
    services.connection_disable(connection=connection, wipe_credentials=True)
    services.connection_delete(connection=connection)
    assert "connection created" in caplog.text and "connection deleted" in caplog.text
    assert secret not in caplog.text


def test_validation_errors_never_echo_a_value(org, secret):
    with pytest.raises(services.LifecycleError) as excinfo:
        services.connection_create(
            organization=org,
            marketplace="bricklink",
            credentials={"consumer_key": secret, "consumer_secret": secret, "token_value": secret},
        )
    assert "token_secret" in str(excinfo.value)
    assert secret not in str(excinfo.value)


def test_audit_errors_are_redacted_against_the_connections_credentials(org, secret):
    connection = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": secret})
    entry = services.audit_record(
        organization=org, connection=connection, action="offer.update", target_type="offer", target_id="1",
        outcome="failure", error=f"401 for request with key {secret}",
    )  # fmt: skip
    entry.refresh_from_db()
    assert secret not in entry.error and "[redacted]" in entry.error


def test_the_logging_filter_scrubs_auth_headers(secret, caplog):
    from marketsync.redaction import RedactingFilter

    logger = logging.getLogger("tests.leaks")
    handler_filter = RedactingFilter()
    logger.addFilter(handler_filter)
    try:
        caplog.set_level(logging.INFO, logger="tests.leaks")
        logger.info("sending Authorization: Bearer %s", secret)
    finally:
        logger.removeFilter(handler_filter)
    assert "Authorization" in caplog.text
    assert secret not in caplog.text
