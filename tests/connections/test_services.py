import pytest
from django.apps import apps
from django.utils import timezone

from connections import services
from connections.models import Connection, EntitySync, Membership
from orders.models import Order, OrderItem
from tests.factories import make_organization, make_user

pytestmark = pytest.mark.django_db

BRICKLINK = {
    "consumer_key": "ck-123456789",
    "consumer_secret": "cs-123456789",
    "token_value": "tv-123456789",
    "token_secret": "ts-123456789",
}


def test_create_stores_one_entity_sync_per_supported_entity(org, secret):
    connection = services.connection_create(organization=org, marketplace="backmarket", credentials={"api_key": secret})
    assert sorted(connection.entity_syncs.values_list("entity", flat=True)) == ["deliveries", "listings", "orders", "returns"]
    assert all(connection.entity_syncs.values_list("enabled", flat=True))
    assert connection.credentials == {"api_key": secret}
    assert connection.platform == "eu"
    assert connection.credentials_hint == "…" + secret[-4:]


def test_bricklink_needs_all_four_oauth_values_and_names_the_missing_one(org):
    with pytest.raises(services.LifecycleError, match="token_secret"):
        services.connection_create(organization=org, marketplace="bricklink", credentials={**BRICKLINK, "token_secret": ""})
    partial = {k: v for k, v in BRICKLINK.items() if k != "consumer_secret"}
    with pytest.raises(services.LifecycleError, match="Missing credential field 'consumer_secret'"):
        services.connection_create(organization=org, marketplace="bricklink", credentials=partial)
    assert not Connection.objects.exists()
    connection = services.connection_create(organization=org, marketplace="bricklink", credentials=BRICKLINK)
    assert sorted(connection.entity_syncs.values_list("entity", flat=True)) == ["inventory", "orders"]


def test_second_connection_for_the_same_org_and_marketplace_is_refused(org):
    first = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": "first-key-0001"})
    with pytest.raises(services.LifecycleError, match="already has a Refurbed connection"):
        services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": "second-key-0002"})
    assert list(Connection.objects.values_list("pk", flat=True)) == [first.pk]
    assert Connection.objects.get().credentials == {"api_key": "first-key-0001"}
    # Another organization may connect the same marketplace.
    other = services.connection_create(organization=make_organization("beta"), marketplace="refurbed", credentials={"api_key": "k" * 12})
    assert other.pk != first.pk


def test_unknown_marketplace_environment_and_platform_are_named(org):
    with pytest.raises(services.LifecycleError, match="Unknown marketplace 'ebay'"):
        services.connection_create(organization=org, marketplace="ebay", credentials={"api_key": "x"})
    with pytest.raises(services.LifecycleError, match="Unknown environment 'staging'"):
        services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": "x"}, environment="staging")
    with pytest.raises(services.LifecycleError, match="platform 'mars'"):
        services.connection_create(organization=org, marketplace="backmarket", credentials={"api_key": "x"}, platform="mars")


def test_base_url_is_for_staff_and_ops_only(org):
    with pytest.raises(services.LifecycleError, match="staff and ops"):
        services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": "x"}, base_url="http://127.0.0.1:8765/refurbed")
    connection = services.connection_create(
        organization=org, marketplace="refurbed", credentials={"api_key": "x"}, base_url="http://127.0.0.1:8765/refurbed", ops=True
    )
    assert connection.base_url == "http://127.0.0.1:8765/refurbed"


def test_rotate_replaces_credentials_and_clears_only_auth_errors(org, secret):
    connection = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": "old-key-00000001"})
    later = timezone.now() + timezone.timedelta(hours=1)
    EntitySync.objects.filter(connection=connection, entity="orders").update(
        error_kind="auth", last_error="401 Unauthorized", consecutive_failures=4, next_attempt_at=later
    )
    EntitySync.objects.filter(connection=connection, entity="offers").update(
        error_kind="transient", last_error="503", consecutive_failures=2, next_attempt_at=later
    )
    services.connection_rotate_credentials(connection=connection, credentials={"api_key": secret})
    connection.refresh_from_db()
    assert connection.credentials == {"api_key": secret}
    orders = EntitySync.objects.get(connection=connection, entity="orders")
    assert (orders.error_kind, orders.last_error, orders.consecutive_failures, orders.next_attempt_at) == ("", "", 0, None)
    offers = EntitySync.objects.get(connection=connection, entity="offers")
    assert (offers.error_kind, offers.consecutive_failures) == ("transient", 2)


def test_rotate_with_bad_credentials_keeps_the_stored_ones(org):
    connection = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": "keep-me-00000001"})
    with pytest.raises(services.LifecycleError, match="api_key"):
        services.connection_rotate_credentials(connection=connection, credentials={"api_key": "  "})
    assert Connection.objects.get(pk=connection.pk).credentials == {"api_key": "keep-me-00000001"}


def test_disable_with_wipe_then_enable_is_refused_until_rotated(org, secret):
    connection = services.connection_create(organization=org, marketplace="brickowl", credentials={"api_key": secret})
    services.connection_disable(connection=connection, wipe_credentials=True)
    connection.refresh_from_db()
    assert (connection.enabled, connection.credentials_encrypted, connection.credentials_wiped) == (False, "", True)
    with pytest.raises(services.LifecycleError, match="wiped"):
        services.connection_enable(connection=connection)
    assert Connection.objects.get(pk=connection.pk).enabled is False
    services.connection_rotate_credentials(connection=connection, credentials={"api_key": secret})
    services.connection_enable(connection=connection)
    assert Connection.objects.get(pk=connection.pk).enabled is True


def test_disable_without_wipe_keeps_credentials_and_enable_works(org, secret):
    connection = services.connection_create(organization=org, marketplace="brickowl", credentials={"api_key": secret})
    services.connection_disable(connection=connection)
    services.connection_enable(connection=connection)
    connection.refresh_from_db()
    assert connection.enabled and connection.credentials == {"api_key": secret}


def _order_with_items(connection, external_id: str, items: int = 2) -> Order:
    order = Order.objects.create(
        organization=connection.organization, connection=connection, marketplace=connection.marketplace, external_id=external_id
    )
    OrderItem.objects.bulk_create(
        OrderItem(organization=connection.organization, connection=connection, order=order, external_id=f"{external_id}-{n}")
        for n in range(items)
    )
    return order


def _rows_per_connection_model(connection_id: int) -> dict[str, int]:
    """Rows of every model that references a connection, for one connection (models other parts add included)."""
    counts = {}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is Connection:
                counts[f"{model._meta.label}.{field.name}"] = model._default_manager.filter(**{field.attname: connection_id}).count()
    return counts


def test_delete_removes_that_connections_rows_and_nothing_of_another(org):
    beta = make_organization("beta")
    doomed = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": "a" * 12})
    kept_same_org = services.connection_create(organization=org, marketplace="backmarket", credentials={"api_key": "b" * 12})
    kept_other_org = services.connection_create(organization=beta, marketplace="refurbed", credentials={"api_key": "c" * 12})
    for n in range(3):
        _order_with_items(doomed, f"D{n}")
    _order_with_items(kept_same_org, "S1", items=3)
    _order_with_items(kept_other_org, "D0")  # same external id as one of the doomed orders
    services.audit_record(organization=org, connection=doomed, action="x", target_type="order", target_id="D0", outcome="success")
    before_same, before_other = _rows_per_connection_model(kept_same_org.pk), _rows_per_connection_model(kept_other_org.pk)

    deleted = services.connection_delete(connection=doomed)

    assert deleted["orders.Order"] == 3 and deleted["orders.OrderItem"] == 6
    assert not Connection.objects.filter(pk=doomed.pk).exists()
    assert all(n == 0 for n in _rows_per_connection_model(doomed.pk).values())
    assert _rows_per_connection_model(kept_same_org.pk) == before_same
    assert _rows_per_connection_model(kept_other_org.pk) == before_other
    assert Order.objects.filter(connection=kept_other_org, external_id="D0").exists()
    assert OrderItem.objects.filter(organization=beta).count() == 2
    assert before_same["orders.Order.connection"] == 1 and before_same["orders.OrderItem.connection"] == 3


def test_toggles_for_one_connection_validate_entities(org):
    connection = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": "x" * 12})
    assert services.entity_sync_toggle(connection=connection, disable=["offers", "market_offers"]) == 2
    assert dict(connection.entity_syncs.values_list("entity", "enabled")) == {"orders": True, "offers": False, "market_offers": False}
    with pytest.raises(services.LifecycleError, match="does not sync inventory"):
        services.entity_sync_toggle(connection=connection, enable=["inventory"])
    with pytest.raises(services.LifecycleError, match="Unknown entity 'sales'"):
        services.entity_sync_toggle(connection=connection, enable=["sales"])
    with pytest.raises(services.LifecycleError, match="both enabled and disabled"):
        services.entity_sync_toggle(connection=connection, enable=["orders"], disable=["orders"])
    assert services.entity_sync_toggle(connection=connection, enable=["all"]) == 2
    assert all(connection.entity_syncs.values_list("enabled", flat=True))


def test_toggles_across_all_connections_and_per_organization(org):
    beta = make_organization("beta")
    a = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": "x" * 12})
    b = services.connection_create(organization=org, marketplace="bricklink", credentials=BRICKLINK)
    c = services.connection_create(organization=beta, marketplace="brickowl", credentials={"api_key": "y" * 12})
    assert services.entity_sync_toggle(disable=["orders"]) == 3
    assert not EntitySync.objects.filter(entity="orders", enabled=True).exists()
    assert services.entity_sync_toggle(organization=org, disable=["all"]) == 3  # offers, market_offers, inventory of org
    assert EntitySync.objects.filter(connection=c, entity="inventory", enabled=True).exists()
    assert services.entity_sync_toggle(enable=["all"]) == 6
    assert EntitySync.objects.filter(enabled=True).count() == 3 + 2 + 2
    assert {a.pk, b.pk, c.pk} == set(EntitySync.objects.values_list("connection_id", flat=True))


def test_list_never_carries_credentials(org, secret):
    services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": secret})
    rows = services.connection_list()
    assert rows[0]["marketplace"] == "refurbed" and rows[0]["credentials_hint"] == "…" + secret[-4:]
    assert secret not in repr(rows)
    assert not any("credentials_encrypted" in row for row in rows)


def test_organization_create_with_owner_and_membership_add():
    owner, member = make_user("olga"), make_user("max")
    organization = services.organization_create(slug="shop", name="Shop", owner=owner)
    assert Membership.objects.get(organization=organization, user=owner).role == "owner"
    services.membership_add(organization=organization, user=member)
    services.membership_add(organization=organization, user=member, role="owner")
    assert Membership.objects.get(organization=organization, user=member).role == "owner"
    with pytest.raises(services.LifecycleError, match="already exists"):
        services.organization_create(slug="shop", name="Again")
    with pytest.raises(services.LifecycleError, match="slug 'no spaces'"):
        services.organization_create(slug="no spaces", name="X")
    with pytest.raises(services.LifecycleError, match="Unknown role"):
        services.membership_add(organization=organization, user=member, role="admin")


def test_delete_keeps_the_other_connections_stock_reservations_and_ledger(org):
    from inventory.models import InventoryItem, InventoryLot, Reservation, StockMovement

    bricklink = services.connection_create(organization=org, marketplace="bricklink", credentials=BRICKLINK)
    brickowl = services.connection_create(organization=org, marketplace="brickowl", credentials={"api_key": "o" * 12})
    item = InventoryItem.objects.create(organization=org, part_number="3001", color_id="5", condition="new", quantity_on_hand=10)
    for n, connection in enumerate((bricklink, brickowl), start=1):
        InventoryLot.objects.create(organization=org, connection=connection, item=item, external_id=f"L{n}")
        order = _order_with_items(connection, f"O{n}", items=1)
        reservation = Reservation.objects.create(organization=org, item=item, order_item=order.items.get(), quantity=1)
        StockMovement.objects.create(
            organization=org, item=item, sequence=n, kind="reserve", reservation=reservation, reservation_sequence=1,
            order_item=order.items.get(), on_hand_before=10, on_hand_after=10, reserved_before=n - 1, reserved_after=n,
            source="sync",
        )  # fmt: skip

    services.connection_delete(connection=bricklink)

    assert InventoryItem.objects.filter(pk=item.pk).exists()
    assert list(InventoryLot.objects.values_list("connection_id", flat=True)) == [brickowl.pk]
    assert list(Reservation.objects.values_list("order_item__connection_id", flat=True)) == [brickowl.pk]
    assert StockMovement.objects.filter(reservation__order_item__connection=brickowl).count() == 1


def test_connection_deleting_receivers_run_first_and_can_veto(org):
    from connections.signals import connection_deleting

    connection = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": "r" * 12})
    _order_with_items(connection, "A1")
    seen = []

    def receiver(sender, connection, **kwargs):
        seen.append(Order.objects.filter(connection=connection).count())
        raise RuntimeError("cannot settle")

    connection_deleting.connect(receiver)
    try:
        with pytest.raises(RuntimeError):
            services.connection_delete(connection=connection)
    finally:
        connection_deleting.disconnect(receiver)
    assert seen == [1]  # the receiver saw the rows before anything was deleted
    assert Connection.objects.filter(pk=connection.pk).exists() and Order.objects.count() == 1
