"""Connection lifecycle and the audit log. Admin, CLI and pages are doors onto these functions."""

from __future__ import annotations

from typing import Any

from connections.models import AuditEntry, Connection, Organization
from marketsync.redaction import redact


def audit_record(
    *,
    organization: Organization,
    action: str,
    target_type: str,
    target_id: str,
    outcome: str,
    connection: Connection | None = None,
    user=None,
    actor: str = "",
    order=None,
    request_summary: dict[str, Any] | None = None,
    error: str = "",
) -> AuditEntry:
    """Record one write (to a marketplace or to local stock). Summaries must not carry secrets;
    the error is redacted against the connection's credentials all the same."""
    secrets: tuple[str, ...] = ()
    if connection is not None and connection.has_credentials:
        try:
            secrets = tuple(connection.credentials.values())
        except Exception:  # unreadable credentials must not stop the audit row
            secrets = ()
    return AuditEntry.objects.create(
        organization=organization,
        connection=connection,
        user=user if user is not None and getattr(user, "is_authenticated", False) else None,
        actor=actor or (user.get_username() if user is not None and getattr(user, "is_authenticated", False) else "system"),
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        order=order,
        request_summary=request_summary or {},
        outcome=outcome,
        error=redact(error, secrets),
    )
