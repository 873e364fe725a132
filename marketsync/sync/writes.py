"""The one way to change something at a marketplace.

Every outbound change — an orderline's IMEI, shipping an order, a listing's price, a bulk CSV — goes through
``marketplace_write``:

1. the connection is checked: enabled, credentials readable, not waiting for new credentials after the
   marketplace refused them;
2. the caller's full local validation runs; a refusal is audited as refused locally and nothing is sent;
3. the audit entry is written as an *intent* (outcome pending) before the call, so a crash after the call
   never loses what was sent;
4. the marketplace is called through ``marketplace_client``; the outcome (success, or the marketplace's error
   text) is recorded on that same entry;
5. the changed record is re-read with ``record_refresh``; a failed re-read is logged and left to the next
   sync — the write itself succeeded.

A batch call (Brick Owl's ``bulk/batch``, Refurbed's ``BatchUpdateOffers``) goes through the same helper with
``batch``: one audit entry per target, each recorded with its own outcome from the marketplace's per-item answer.

Whatever goes wrong reaches the caller as one exception, ``WriteRefused``, whose ``message`` is worded for the
merchant (the marketplace's own words for a refused request, never a credential).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from django.db import transaction

from connections.budget import api_calls_batched
from connections.crypto import CredentialsUnreadable
from connections.health import connection_refusals
from connections.models import AuditEntry, Connection, EntitySync
from connections.services import CONTROL_CHARACTERS, audit_outcome_record, audit_record
from marketsync.marketplaces.backmarket.client import LocalValidationError
from marketsync.sync.clients import MarketplaceClient, marketplace_client
from marketsync.sync.errors import (
    AuthError,
    BadResponse,
    Forbidden,
    InvalidRequest,
    MarketplaceError,
    NotFound,
    RateLimited,
    TransientError,
    public_message,
)
from marketsync.sync.http import build_http_client
from marketsync.sync.refresh import record_refresh

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from orders.models import Order

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class WriteTarget:
    """One target of a batch write: audited as its own entry."""

    target_id: str
    summary: Mapping[str, Any]


class WriteRefused(Exception):
    """A change that was not made: refused here before sending, or refused (or not confirmed) by the marketplace.

    ``message`` is for the merchant; ``errors`` lists the details when there are several (a CSV's lines);
    ``refused_locally`` is true when nothing was sent.
    """

    def __init__(self, message: str, *, errors: Sequence[str] = (), refused_locally: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.errors = list(errors)
        self.refused_locally = refused_locally


def refuse_control_characters(label: str, value: str) -> None:
    """Refuse text with control characters (other than tab and line breaks) or bytes that are not text: marketplaces
    and PostgreSQL reject them."""
    if CONTROL_CHARACTERS.search(value):
        raise WriteRefused(f"{label} contains a control character (or a byte that is not text); type it again without it.")


def connection_write_problem(connection: Connection) -> str:
    """Why nothing can be sent through this connection now, or "" when it can."""
    label = connection.marketplace_label
    if not connection.enabled:
        return f"The {label} connection is disconnected: reconnect it on the Connections page to send changes."
    if not connection.has_credentials:
        return f"The {label} connection has no credentials: add them on the Connections page to send changes."
    try:
        readable = bool(connection.credentials)
    except CredentialsUnreadable:
        readable = False
    if not readable:
        return f"The {label} connection's credentials cannot be read here: replace them on the Connections page."
    if EntitySync.objects.filter(connection=connection, error_kind=EntitySync.ErrorKind.AUTH).exists():
        return (f"{label} refused the connection's credentials: replace them on the Connections page, "
                "then send the change again.")
    refusals = connection_refusals(connection=connection)
    if refusals:  # the banner's words: what the marketplace refuses and what to fix
        return (f"{' '.join(refusals)} Nothing was sent. Once it is fixed, press Test connection on the Connections "
                "page (or wait for the next automatic check), then send the change again.")
    return ""


def merchant_message(exc: MarketplaceError, *, label: str) -> str:
    """What the merchant reads about a marketplace error: its own words for a refused request, never a credential
    nor our API paths (``public_message``; the audit entry keeps the full text)."""
    if isinstance(exc, InvalidRequest):
        return public_message(exc)
    if isinstance(exc, Forbidden):  # the marketplace's own words on what it refuses and what to fix
        return public_message(exc)
    if isinstance(exc, AuthError):
        return f"{label} refused the connection's credentials: replace them on the Connections page, then try again."
    if isinstance(exc, RateLimited):
        return f"{label} is limiting how often we may call it; nothing was changed. Try again in a minute."
    if isinstance(exc, NotFound):
        return f"{label} does not know this record (404): it may have been removed there. The next sync will show it."
    if isinstance(exc, TransientError):
        return (f"{label} did not answer properly ({public_message(exc)}). The change may or may not have been made: "
                "check after the next sync before sending it again.")
    return f"{label} answered something we could not read ({public_message(exc)}); check after the next sync before sending it again."


def marketplace_write(
    *,
    connection: Connection,
    action: str,
    target_type: str,
    target_id: str = "",
    summary: Mapping[str, Any] | None = None,
    send: Callable[[MarketplaceClient], T],
    validate: Callable[[], Mapping[str, Any] | None] | None = None,
    refresh: tuple[str, str] | None = None,
    identify: Callable[[T], str] | None = None,
    order: Order | None = None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    actor: str = "",
    transport: httpx.BaseTransport | None = None,
    batch: Sequence[WriteTarget] | None = None,
) -> T:
    """Send one change to ``connection``'s marketplace, audited from intent to outcome, then re-read what changed.

    - ``summary``: what is audited (never a secret); ``validate()`` may return the summary of what will
      actually be sent instead (a listing update's normalised body).
    - ``validate``: the caller's full local check; raises ``WriteRefused`` to refuse.
    - ``send(client)``: the call; its result is returned.
    - ``refresh``: ``(entity, external_id)`` of the record to re-read after a success.
    - ``identify(result)``: the target's id once the marketplace made it (a bulk task's id).
    - ``batch``: one call changing many targets (instead of ``target_id`` and ``summary``): each is audited as
      its own entry; ``send(client)`` returns one answer per target, in order, a ``MarketplaceError`` for a target
      the marketplace refused. The result is that list with each error replaced by the ``WriteRefused`` the
      caller would have had from a write of that target alone (its ``__cause__`` the marketplace's error).

    Raises ``WriteRefused`` for every refusal and marketplace error (of the whole call, for a batch). Any other
    exception out of ``send`` leaves the audit entries pending: the call may have reached the marketplace.
    """
    label = connection.marketplace_label
    targets = list(batch) if batch is not None else [WriteTarget(target_id, summary or {})]

    def audit(target: WriteTarget, outcome: str, details: Mapping[str, Any] | None, error: str = "") -> AuditEntry:
        return audit_record(
            organization=connection.organization, connection=connection, user=user, actor=actor, action=action,
            target_type=target_type, target_id=target.target_id, order=order,
            request_summary=dict(target.summary if details is None else details), outcome=outcome, error=error,
        )

    # The write counts its BrickLink calls in memory and writes them once, when it ends (failed or not).
    with build_http_client(transport=transport) as http, api_calls_batched(connection_id=connection.pk):
        refusal: WriteRefused | None = None
        try:
            problem = connection_write_problem(connection)
            if problem:
                raise WriteRefused(problem)
            client = marketplace_client(connection, http)
            validated = validate() if validate is not None else None
        except WriteRefused as exc:
            refusal = exc
        except (LocalValidationError, MarketplaceError) as exc:  # a connection setting the client cannot use
            refusal = WriteRefused(str(exc))
        if refusal is not None:
            for target in targets:
                audit(target, AuditEntry.Outcome.FAILURE, {**target.summary, "refused_locally": True},
                      "; ".join(refusal.errors[:20]) or refusal.message)
            raise refusal
        # Committed before the call (durable: refused inside a caller's transaction, which could roll it back).
        with transaction.atomic(durable=True):
            entries = [audit(target, AuditEntry.Outcome.PENDING, validated) for target in targets]
        try:
            result = send(client)
            if batch is not None and (not isinstance(result, list) or len(result) != len(entries)):
                raise BadResponse(f"{action}: {label} answered {len(result) if isinstance(result, list) else 'no list'} "
                                  f"for {len(entries)} changes.")
        except MarketplaceError as exc:
            for entry in entries:
                audit_outcome_record(entry=entry, outcome=AuditEntry.Outcome.FAILURE, error=str(exc))
            raise WriteRefused(merchant_message(exc, label=label), refused_locally=False) from exc
        except BaseException as exc:
            # The request may have reached the marketplace: the entries stay pending, saying what is known.
            try:
                for entry in entries:
                    audit_outcome_record(entry=entry, outcome=AuditEntry.Outcome.PENDING,
                                         error=f"Outcome unknown: {type(exc).__name__} after the call was made.")
            except Exception:
                logger.exception("%s %s %s: could not note the unknown outcome", label, action, entries[0].target_id)
            raise
        if batch is not None:
            answers: list = []
            for entry, answer in zip(entries, result, strict=True):
                if isinstance(answer, MarketplaceError):
                    audit_outcome_record(entry=entry, outcome=AuditEntry.Outcome.FAILURE, error=str(answer))
                    refused = WriteRefused(merchant_message(answer, label=label), refused_locally=False)
                    refused.__cause__ = answer
                    answers.append(refused)
                else:
                    audit_outcome_record(entry=entry, outcome=AuditEntry.Outcome.SUCCESS)
                    answers.append(answer)
            return answers  # type: ignore[return-value]
        audit_outcome_record(entry=entries[0], outcome=AuditEntry.Outcome.SUCCESS,
                             target_id=identify(result) if identify is not None else None)
        if refresh is not None:
            entity, external_id = refresh
            try:
                record_refresh(connection=connection, entity=entity, external_id=external_id, http=http)
            except Exception:  # the write succeeded; the next sync brings the local copy up to date
                logger.warning("%s %s %s: re-read after %s failed; left to the next sync", label, entity, external_id,
                               action, exc_info=True)
    return result
