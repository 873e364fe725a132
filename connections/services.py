"""Connection lifecycle, organizations and the audit log. Admin, CLI and pages are doors onto these functions.

Every function here refuses bad input with ``LifecycleError`` (a ``ValueError``) whose message names what was
wrong and never contains a credential; nothing stored changes when it is raised.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_slug
from django.db import IntegrityError, transaction
from django.db.models import CASCADE, QuerySet

from connections import selectors
from connections.crypto import CredentialsUnreadable
from connections.models import AuditEntry, Connection, EntitySync, Membership, Organization
from marketsync.marketplaces import SUPPORTED_ENTITIES, CredentialsError, Entity, Marketplace, validate_credentials
from marketsync.marketplaces.backmarket.client import LocalValidationError
from marketsync.redaction import redact
from marketsync.sync.clients import marketplace_client
from marketsync.sync.errors import MarketplaceError
from marketsync.sync.http import build_http_client

logger = logging.getLogger(__name__)

BACKMARKET_PLATFORMS = ("eu", "us", "ap")


class LifecycleError(ValueError):
    """Input a lifecycle service refuses; the message says what was wrong (and never holds a secret)."""


# Control characters other than tab and line breaks, and lone surrogates (what a byte that is not UTF-8 becomes on a
# command line): PostgreSQL refuses NUL and cannot encode a surrogate, and none belongs in what a merchant types.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def printable(value: Any) -> Any:
    """``value`` as JSON and PostgreSQL can hold it: control characters and lone surrogates removed from every
    string in it, and what JSON has no place for (a Decimal, a date, NaN, bytes) written as text.

    PostgreSQL refuses ``\\u0000`` and ``NaN`` in ``jsonb`` and NUL in ``text``: what a user typed, or a marketplace
    answered, is audited as it can be stored rather than not at all.
    """
    if isinstance(value, str):
        return CONTROL_CHARACTERS.sub("", value)
    if isinstance(value, dict):
        return {printable(str(k)): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [printable(v) for v in value]
    if value is None or isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, bytes):
        return printable(value.decode("utf-8", "replace"))
    return printable(str(value))


def _connection_secrets(connection: Connection | None) -> tuple[str, ...]:
    if connection is None or not connection.has_credentials:
        return ()
    try:
        return tuple(connection.credentials.values())
    except Exception:  # unreadable credentials must not stop the audit row
        return ()


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
    the error is redacted against the connection's credentials all the same. Never fails on content: every text is
    stored as ``printable`` makes it, cut to its column."""
    return AuditEntry.objects.create(
        organization=organization,
        connection=connection,
        user=user if user is not None and getattr(user, "is_authenticated", False) else None,
        actor=printable(actor or (user.get_username() if user is not None and getattr(user, "is_authenticated", False)
                                  else "system"))[:100],  # a username may be longer than the column
        action=printable(action)[:60],
        target_type=printable(target_type)[:40],
        target_id=printable(str(target_id))[:100],
        order=order,
        request_summary=printable(request_summary or {}),
        outcome=outcome,
        error=printable(redact(error, _connection_secrets(connection))),
    )


def audit_outcome_record(*, entry: AuditEntry, outcome: str, error: str = "", target_id: str | None = None) -> AuditEntry:
    """Record how a write announced by ``audit_record`` (outcome pending) ended, on that same row."""
    entry.outcome = outcome
    entry.error = printable(redact(error, _connection_secrets(entry.connection)))
    fields = ["outcome", "error"]
    if target_id is not None:
        entry.target_id = printable(str(target_id))[:100]
        fields.append("target_id")
    entry.save(update_fields=fields)
    return entry


# --- organizations ---------------------------------------------------------------------------------------


def organization_create(*, slug: str, name: str, owner=None) -> Organization:
    """A new organization; ``owner`` (a user) becomes its owner."""
    slug = (slug or "").strip()
    name = (name or "").strip()
    try:
        validate_slug(slug)
    except ValidationError as exc:
        raise LifecycleError(f"Organization slug '{slug}' is not valid: use letters, digits, hyphens and underscores.") from exc
    if not name:
        raise LifecycleError("Organization name must not be empty.")
    if Organization.objects.filter(slug=slug).exists():
        raise LifecycleError(f"An organization with slug '{slug}' already exists.")
    with transaction.atomic():
        organization = Organization.objects.create(slug=slug, name=name)
        if owner is not None:
            membership_add(organization=organization, user=owner, role=Membership.Role.OWNER)
    logger.info("organization created slug=%s id=%s", organization.slug, organization.pk)
    return organization


def membership_add(*, organization: Organization, user, role: str = Membership.Role.MEMBER) -> Membership:
    """Give a user access to an organization (or change the role of an existing membership)."""
    if role not in Membership.Role.values:
        raise LifecycleError(f"Unknown role '{role}'; expected one of {', '.join(Membership.Role.values)}.")
    membership, created = Membership.objects.get_or_create(user=user, organization=organization, defaults={"role": role})
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def user_login_reset(*, username: str, password: str):
    """The user ``username`` — created when missing — active, with ``password`` (the demo's login)."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        user = get_user_model().objects.create_user(username=username)
    user.set_password(password)
    user.is_active = True
    user.save()
    return user


def user_get_by_username(*, username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise LifecycleError(f"No user with username '{username}'.")
    return user


# --- connections -------------------------------------------------------------------------------------------


def _marketplace(value: str) -> Marketplace:
    try:
        return Marketplace(value)
    except ValueError:
        raise LifecycleError(
            f"Unknown marketplace '{value}'; expected one of {', '.join(m.value for m in Marketplace)}."
        ) from None


def _credentials(marketplace: Marketplace, credentials: object) -> dict[str, str]:
    try:
        return validate_credentials(marketplace, credentials)
    except CredentialsError as exc:
        raise LifecycleError(str(exc)) from None


def _check_settings(
    marketplace: Marketplace, *, environment: str, base_url: str, platform: str, options: object
) -> None:
    if environment not in Connection.Environment.values:
        raise LifecycleError(
            f"Unknown environment '{environment}'; expected one of {', '.join(Connection.Environment.values)}."
        )
    if base_url:
        try:
            URLValidator(schemes=["http", "https"])(base_url)
        except ValidationError:
            raise LifecycleError(f"Base URL '{base_url}' is not an http(s) URL.") from None
    if platform:
        if marketplace != Marketplace.BACKMARKET:
            raise LifecycleError(f"A platform applies to Back Market connections only, not {marketplace.label}.")
        if platform not in BACKMARKET_PLATFORMS:
            raise LifecycleError(f"Unknown Back Market platform '{platform}'; expected one of {', '.join(BACKMARKET_PLATFORMS)}.")
    if not isinstance(options, dict):
        raise LifecycleError("Connection options must be a JSON object.")
    if printable(options) != options:  # PostgreSQL's jsonb refuses \u0000; no setting needs one
        raise LifecycleError("Connection options must not contain control characters.")


def connection_create(
    *,
    organization: Organization,
    marketplace: str,
    credentials: dict[str, str],
    environment: str = Connection.Environment.PRODUCTION,
    platform: str = "",
    options: dict[str, Any] | None = None,
    base_url: str = "",
    ops: bool = False,
) -> Connection:
    """Connect an organization to a marketplace, with one sync state per entity the marketplace supports.

    At most one connection per organization and marketplace. ``base_url`` (a sandbox, a proxy, the local
    simulator) may be set only by staff and ops: pass ``ops=True`` from the admin and the CLI.
    """
    market = _marketplace(marketplace)
    options = {} if options is None else options
    base_url = (base_url or "").strip()
    platform = (platform or "").strip().lower()
    if base_url and not ops:
        raise LifecycleError("Only staff and ops may set a connection's base URL.")
    _check_settings(market, environment=environment, base_url=base_url, platform=platform, options=options)
    if market == Marketplace.BACKMARKET and not platform:
        platform = "eu"
    cleaned = _credentials(market, credentials)
    existing = Connection.objects.filter(organization=organization, marketplace=market.value).first()
    if existing is not None:
        raise LifecycleError(_duplicate_message(organization, market, existing.pk))
    connection = Connection(
        organization=organization,
        marketplace=market.value,
        environment=environment,
        platform=platform,
        base_url=base_url,
        options=options,
    )
    connection.set_credentials(cleaned)
    try:
        with transaction.atomic():
            connection.save()
            EntitySync.objects.bulk_create(
                EntitySync(connection=connection, entity=entity.value) for entity in SUPPORTED_ENTITIES[market]
            )
    except IntegrityError:  # a concurrent create won the race
        raise LifecycleError(_duplicate_message(organization, market, None)) from None
    logger.info("connection created id=%s org=%s marketplace=%s", connection.pk, organization.slug, market.value)
    return connection


def _duplicate_message(organization: Organization, market: Marketplace, existing_id: int | None) -> str:
    which = f" (connection {existing_id})" if existing_id else ""
    return (
        f"Organization '{organization.slug}' already has a {market.label} connection{which}; "
        "rotate its credentials or delete it instead of creating a second one."
    )


def connection_update_settings(
    *,
    connection: Connection,
    environment: str | None = None,
    platform: str | None = None,
    options: dict[str, Any] | None = None,
    base_url: str | None = None,
    ops: bool = False,
) -> Connection:
    """Change a connection's non-secret settings (base URL: staff and ops only)."""
    market = Marketplace(connection.marketplace)
    new_env = connection.environment if environment is None else environment
    new_platform = connection.platform if platform is None else platform.strip().lower()
    if market == Marketplace.BACKMARKET and not new_platform:
        new_platform = "eu"
    new_options = connection.options if options is None else options
    new_base_url = connection.base_url if base_url is None else base_url.strip()
    if new_base_url != connection.base_url and not ops:
        raise LifecycleError("Only staff and ops may set a connection's base URL.")
    _check_settings(market, environment=new_env, base_url=new_base_url, platform=new_platform, options=new_options)
    connection.environment, connection.platform = new_env, new_platform
    connection.options, connection.base_url = new_options, new_base_url
    connection.save(update_fields=["environment", "platform", "options", "base_url", "updated_at"])
    return connection


def connection_list(*, organization: Organization | None = None) -> list[dict[str, Any]]:
    """JSON-ready summaries of connections and their sync state: never a credential, at most its hint."""
    return [connection_summary(connection=c) for c in selectors.connection_list(organization=organization, with_entity_syncs=True)]


def connection_summary(*, connection: Connection) -> dict[str, Any]:
    def iso(value):
        return value.isoformat() if value else None

    return {
        "id": connection.pk,
        "organization": connection.organization.slug,
        "marketplace": connection.marketplace,
        "environment": connection.environment,
        "platform": connection.platform,
        "base_url": connection.base_url,
        "options": connection.options,
        "enabled": connection.enabled,
        "credentials_hint": connection.credentials_hint,
        "credentials_wiped": connection.credentials_wiped,
        "created_at": iso(connection.created_at),
        "entities": [
            {
                "entity": sync.entity,
                "enabled": sync.enabled,
                "last_success_at": iso(sync.last_success_at),
                "error_kind": sync.error_kind,
                "last_error": sync.last_error,
                "consecutive_failures": sync.consecutive_failures,
            }
            for sync in connection.entity_syncs.all()
        ],
    }


def connection_rotate_credentials(*, connection: Connection, credentials: dict[str, str]) -> Connection:
    """Replace the credentials; a refusal (401, 403, IP) on the connection's entities is cleared so sync resumes next tick."""
    cleaned = _credentials(Marketplace(connection.marketplace), credentials)
    with transaction.atomic():
        connection.set_credentials(cleaned)
        connection.save(update_fields=["credentials_encrypted", "credentials_hint", "credentials_wiped", "updated_at"])
        _clear_refusals(connection)
    logger.info("connection credentials rotated id=%s", connection.pk)
    return connection


REFUSAL_KINDS = (EntitySync.ErrorKind.AUTH, EntitySync.ErrorKind.FORBIDDEN)


def _clear_refusals(connection: Connection) -> list[str]:
    """Lift the stops a refused key or call put on the connection's entities: due at once. The entities lifted."""
    stopped = EntitySync.objects.filter(connection=connection, error_kind__in=REFUSAL_KINDS)
    entities = sorted(stopped.values_list("entity", flat=True))
    stopped.update(error_kind="", last_error="", next_attempt_at=None, consecutive_failures=0)
    return entities


@dataclass(frozen=True)
class ConnectionTestResult:
    ok: bool
    message: str  # for the owner: what the marketplace said, never a credential
    resumed: tuple[str, ...] = ()  # entities whose stop (refused key or call) the test lifted


def connection_test(*, connection: Connection, transport: httpx.BaseTransport | None = None) -> ConnectionTestResult:
    """Make one cheap authenticated call to the connection's marketplace ("Test connection").

    On success, a stop left by a refused key (401) or call (403, BrickLink's IP check) is lifted so those entities
    are due at once; on failure, the result says what the marketplace answered. Sync state is otherwise unchanged:
    the entities' own runs decide it. Nothing is written at the marketplace, so nothing goes to the audit log.
    """
    label = connection.marketplace_label
    if not connection.has_credentials:
        return ConnectionTestResult(False, f"The {label} connection has no API key to test: replace the API key first.")
    try:
        secrets_ = tuple(connection.credentials.values())
    except CredentialsUnreadable:
        return ConnectionTestResult(False, f"The {label} connection's API key cannot be read here: replace the API key.")
    with build_http_client(transport=transport) as http:
        try:
            marketplace_client(connection, http).probe()
        except (MarketplaceError, LocalValidationError) as exc:
            message = printable(redact(str(exc), secrets_))
            logger.info("connection test failed id=%s kind=%s", connection.pk, getattr(exc, "kind", "settings"))
            return ConnectionTestResult(False, f"{label} did not accept the test call: {message}")
    with transaction.atomic():
        resumed = tuple(_clear_refusals(connection))
    logger.info("connection test passed id=%s resumed=%s", connection.pk, ",".join(resumed) or "-")
    if resumed:
        return ConnectionTestResult(True, f"{label} answered the test call: syncing of {', '.join(resumed)} resumes now.", resumed)
    return ConnectionTestResult(True, f"{label} answered the test call: the connection works.")


def connection_disable(*, connection: Connection, wipe_credentials: bool = False) -> Connection:
    """Stop syncing the connection; with ``wipe_credentials`` its credentials are erased for good."""
    connection.enabled = False
    fields = ["enabled", "updated_at"]
    if wipe_credentials:
        connection.wipe_credentials()
        fields += ["credentials_encrypted", "credentials_hint", "credentials_wiped"]
    connection.save(update_fields=fields)
    logger.info("connection disabled id=%s wiped=%s", connection.pk, wipe_credentials)
    return connection


def connection_enable(*, connection: Connection) -> Connection:
    """Resume syncing; refused while the connection has no credentials."""
    if connection.credentials_wiped or not connection.has_credentials:
        reason = "were wiped when it was disabled" if connection.credentials_wiped else "are missing"
        raise LifecycleError(
            f"Connection {connection.pk} cannot be enabled: its credentials {reason}. "
            "Rotate its credentials first, then enable it."
        )
    connection.enabled = True
    connection.save(update_fields=["enabled", "updated_at"])
    logger.info("connection enabled id=%s", connection.pk)
    return connection


def connection_delete(*, connection: Connection) -> dict[str, int]:
    """Delete the connection and every row synced through it (orders, items, offers, listings, ...).

    Every synced table references its connection with ON DELETE CASCADE, so this removes exactly that
    connection's rows and nothing of any other. ``connections.signals.connection_deleting`` is sent first, in
    the same transaction, for state that outlives the connection. Returns the number of rows deleted per model.
    """
    from connections.signals import connection_deleting

    connection_id = connection.pk
    with transaction.atomic():
        # The connection's row first: the cascade empties its tables one by one and deletes the connection last, and
        # a worker's row committed in between (a push's audit entry, a synced page) would fail this delete at its
        # commit. Holding the row makes such a write wait for the delete and fail alone (its foreign key's check).
        list(Connection.objects.select_for_update().filter(pk=connection_id).values_list("pk", flat=True))
        connection_deleting.send(sender=Connection, connection=connection)
        _total, per_model = connection.delete()
    logger.info("connection deleted id=%s rows=%s", connection_id, per_model)
    return per_model


def connection_rows_count(*, connections: Iterable[Connection]) -> dict[str, int]:
    """Rows that deleting these connections removes directly, per table (verbose name plural), for confirmations
    (rows cascading further, such as stock reservations of deleted order items, are not counted)."""
    from django.apps import apps

    ids = [c.pk for c in connections]
    counts: dict[str, int] = {str(Connection._meta.verbose_name_plural): len(ids)}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is Connection and field.remote_field.on_delete is CASCADE:
                n = model._default_manager.filter(**{f"{field.attname}__in": ids}).count()
                label = str(model._meta.verbose_name_plural)
                counts[label] = counts.get(label, 0) + n
    return counts


# --- entity sync toggles -------------------------------------------------------------------------------------


STOCK_PUSH = "stock_push"


def _entities(names: Iterable[str]) -> set[str]:
    result: set[str] = set()
    for name in names:
        if name == "all":
            result |= {e.value for e in Entity}
            continue
        try:
            result.add(Entity(name).value)
        except ValueError:
            raise LifecycleError(
                f"Unknown entity '{name}'; expected 'all' or one of {', '.join(e.value for e in Entity)}."
            ) from None
    return result


def entity_sync_toggle(
    *,
    connection: Connection | None = None,
    organization: Organization | None = None,
    enable: Iterable[str] = (),
    disable: Iterable[str] = (),
) -> int:
    """Turn entity syncs on and off for one connection, or (no connection) for every connection — of one
    organization when given. ``'all'`` stands for every entity. Returns the number of rows changed."""
    # ``stock_push`` is no entity but a switch of the connection (inventory/push.py), at the same doors.
    push_on, push_off = STOCK_PUSH in enable, STOCK_PUSH in disable
    if push_on and push_off:
        raise LifecycleError("stock_push cannot be both enabled and disabled.")
    enable = [n for n in enable if n != STOCK_PUSH]
    disable = [n for n in disable if n != STOCK_PUSH]
    pushed = 0
    if push_on or push_off:
        targets = Connection.objects.all()
        if connection is not None:
            targets = targets.filter(pk=connection.pk)
        elif organization is not None:
            targets = targets.filter(organization=organization)
        pushed = targets.exclude(stock_push=push_on).update(stock_push=push_on)
    enable_set, disable_set = _entities(enable), _entities(disable)
    both = enable_set & disable_set
    if both:
        raise LifecycleError(f"Entity {', '.join(sorted(both))} cannot be both enabled and disabled.")
    syncs = EntitySync.objects.all()
    if connection is not None:
        supported = {e.value for e in SUPPORTED_ENTITIES[Marketplace(connection.marketplace)]}
        named = {n for n in (*enable, *disable) if n != "all"}
        unsupported = sorted(named - supported)
        if unsupported:
            raise LifecycleError(
                f"{connection.marketplace_label} does not sync {', '.join(unsupported)}; "
                f"it syncs {', '.join(sorted(supported))}."
            )
        syncs = syncs.filter(connection=connection)
    elif organization is not None:
        syncs = syncs.filter(connection__organization=organization)
    changed = 0
    with transaction.atomic():
        if enable_set:
            changed += syncs.filter(entity__in=enable_set, enabled=False).update(enabled=True)
        if disable_set:
            changed += syncs.filter(entity__in=disable_set, enabled=True).update(enabled=False)
    return changed + pushed


def entity_sync_set_enabled(*, entity_syncs: QuerySet[EntitySync], enabled: bool) -> int:
    """Set the toggle on a chosen set of entity syncs (admin actions)."""
    return entity_syncs.exclude(enabled=enabled).update(enabled=enabled)


def entity_sync_skipped_dismiss(*, entity_syncs: QuerySet[EntitySync]) -> int:
    """Forget the skipped records kept on these entity syncs (``EntitySync.skipped_records``): an owner or ops has
    seen them. Returns the number of entity syncs that had some."""
    return entity_syncs.exclude(skipped_records=[]).update(skipped_records=[])


# --- encryption keys ---------------------------------------------------------------------------------------


def credentials_reencrypt_all() -> int:
    """Re-encrypt every stored credential under the newest key of FIELD_ENCRYPTION_KEYS (all or nothing).

    Raises LifecycleError naming the connections whose credentials no configured key can read."""
    from cryptography.fernet import InvalidToken

    from connections.crypto import reencrypt

    with transaction.atomic():
        rows = list(Connection.objects.select_for_update().exclude(credentials_encrypted="").only("pk", "credentials_encrypted"))
        unreadable = []
        for row in rows:
            try:
                row.credentials_encrypted = reencrypt(row.credentials_encrypted)
            except InvalidToken:
                unreadable.append(row.pk)
        if unreadable:
            raise LifecycleError(
                f"No key in FIELD_ENCRYPTION_KEYS decrypts the credentials of connection(s) "
                f"{', '.join(map(str, unreadable))}; keep the old key in the list until rotation succeeds. Nothing was changed."
            )
        Connection.objects.bulk_update(rows, ["credentials_encrypted"], batch_size=500)
    logger.info("credentials re-encrypted under the newest key rows=%s", len(rows))
    return len(rows)
