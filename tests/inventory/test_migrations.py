"""The stock models' move from ``listings`` to ``inventory`` keeps every table, row, constraint and content type."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from inventory.models import InventoryItem, InventoryLot, Reservation, StockMovement
from orders.models import Order, OrderItem
from tests.factories import make_connection, make_organization, make_user

# Before the move: listings 0003 applied, inventory (and listings 0004, which depends on it) not.
BEFORE_NODE = ("listings", "0003_movement_outlives_reservation")
BEFORE = [BEFORE_NODE, ("inventory", None)]
MODELS = (InventoryItem, InventoryLot, Reservation, StockMovement)


def _migrate(targets) -> None:
    MigrationExecutor(connection).migrate(targets)
    ContentType.objects.clear_cache()


def _migrate_to_latest() -> None:
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.fixture
def before_the_move():
    """Yield the historical models of the database as it was before the move; leave it fully migrated."""
    for model in MODELS:
        ContentType.objects.get_for_model(model)  # as post_migrate left them
    _migrate(BEFORE)
    try:
        yield MigrationExecutor(connection).loader.project_state(BEFORE_NODE).apps
    finally:
        _migrate_to_latest()


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_move_are_found_through_inventory_models(before_the_move):
    old = before_the_move
    org = make_organization("bricks")
    conn = make_connection(org, "bricklink")
    order = Order.objects.create(organization=org, connection=conn, marketplace="bricklink", external_id="77", status="new")
    line = OrderItem.objects.create(organization=org, connection=conn, order=order, external_id="77:1", quantity=3)

    item = old.get_model("listings", "InventoryItem").objects.create(
        organization_id=org.pk, part_number="3001", color_id="5", condition="new", location="B07", name="Brick 2 x 4",
        quantity_on_hand=40, quantity_reserved=3, version=2,
    )
    old.get_model("listings", "InventoryLot").objects.create(
        organization_id=org.pk, connection_id=conn.pk, item_id=item.pk, external_id="900", marketplace_quantity=40,
    )
    reservation = old.get_model("listings", "Reservation").objects.create(
        organization_id=org.pk, item_id=item.pk, order_item_id=line.pk, quantity=3, version=1,
    )
    Movement = old.get_model("listings", "StockMovement")
    Movement.objects.create(organization_id=org.pk, item_id=item.pk, sequence=1, kind="adjust", on_hand_before=0,
                            on_hand_after=40, reserved_before=0, reserved_after=0, source="import:bricklink")
    Movement.objects.create(organization_id=org.pk, item_id=item.pk, sequence=2, kind="reserve", reservation_id=reservation.pk,
                            reservation_sequence=1, order_item_id=line.pk, on_hand_before=40, on_hand_after=40,
                            reserved_before=0, reserved_after=3, source="sync")
    # Admin history and a permission, on the content type the listings app had for the item.
    old_type = ContentType.objects.get(app_label="listings", model="inventoryitem")
    clerk = make_user("clerk", org)
    clerk.user_permissions.add(Permission.objects.get(content_type=old_type, codename="view_inventoryitem"))
    LogEntry.objects.create(user=clerk, content_type=old_type, object_id=str(item.pk), object_repr="3001", action_flag=CHANGE)

    _migrate_to_latest()

    moved = InventoryItem.objects.get(pk=item.pk)
    assert (moved.part_number, moved.location, moved.quantity_on_hand, moved.quantity_reserved, moved.version) == (
        "3001", "B07", 40, 3, 2
    )
    assert list(moved.lots.values_list("external_id", "connection_id")) == [("900", conn.pk)]
    held = Reservation.objects.get(order_item=line)
    assert (held.pk, held.item_id, held.quantity, held.state) == (reservation.pk, item.pk, 3, "open")
    assert list(StockMovement.objects.filter(item=moved).values_list("sequence", "kind", "reservation_id")) == [
        (1, "adjust", None), (2, "reserve", reservation.pk),
    ]
    assert list(line.reservations.all()) == [held] and org.inventory_items.get() == moved

    new_type = ContentType.objects.get_for_model(InventoryItem)
    assert new_type.pk == old_type.pk and new_type.app_label == "inventory"
    assert not ContentType.objects.filter(app_label="listings", model__in=["inventoryitem", "inventorylot", "reservation",
                                                                          "stockmovement"]).exists()
    assert type(clerk).objects.get(pk=clerk.pk).has_perm("inventory.view_inventoryitem")
    assert LogEntry.objects.get(object_id=str(item.pk)).get_edited_object() == moved

    with pytest.raises(IntegrityError), transaction.atomic():  # the ledger's constraints still hold the moved rows
        StockMovement.objects.create(organization=org, item=moved, sequence=2, kind="adjust", on_hand_before=40,
                                     on_hand_after=41, reserved_before=3, reserved_after=3, source="test")


def _stock_types() -> list[tuple[int, str, str]]:
    ContentType.objects.clear_cache()
    return list(ContentType.objects.filter(model__in=[m._meta.model_name for m in MODELS]).order_by("pk")
                .values_list("pk", "app_label", "model"))


@pytest.mark.django_db(transaction=True)
def test_stopping_between_the_two_migrations_leaves_one_content_type_per_model_with_its_history():
    """``migrate listings 0003`` leaves both apps holding the models, so post_migrate adds empty listings rows."""
    item_type = ContentType.objects.get_for_model(InventoryItem)
    moved = _stock_types()
    assert {label for _, label, _ in moved} == {"inventory"} and len(moved) == 4
    clerk = make_user("clerk", make_organization("bricks"))
    clerk.user_permissions.add(Permission.objects.get(content_type=item_type, codename="change_inventoryitem"))
    LogEntry.objects.create(user=clerk, content_type=item_type, object_id="1", object_repr="3001", action_flag=CHANGE)
    try:
        call_command("migrate", "listings", BEFORE_NODE[1], verbosity=0)
        assert len(_stock_types()) == 8  # the four empty listings duplicates
        call_command("migrate", verbosity=0)
        assert _stock_types() == moved  # duplicates gone, the same rows kept

        call_command("migrate", "listings", BEFORE_NODE[1], verbosity=0)
        call_command("migrate", "inventory", "zero", verbosity=0)  # back to before the move, in two steps
        assert _stock_types() == [(pk, "listings", model) for pk, _, model in moved]
        assert type(clerk).objects.get(pk=clerk.pk).has_perm("listings.change_inventoryitem")
        assert LogEntry.objects.get().content_type_id == item_type.pk
    finally:
        call_command("migrate", verbosity=0)
    assert _stock_types() == moved
    assert type(clerk).objects.get(pk=clerk.pk).has_perm("inventory.change_inventoryitem")


@pytest.mark.django_db
def test_stock_models_keep_their_tables_constraints_and_indexes():
    with connection.cursor() as cursor:
        for model in MODELS:
            table = model._meta.db_table
            assert table == f"listings_{model._meta.model_name}"
            names = set(connection.introspection.get_constraints(cursor, table))
            expected = {c.name for c in model._meta.constraints} | {i.name for i in model._meta.indexes}
            assert expected <= names, (table, expected - names)


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # exits 1 if a migration is missing


BEFORE_SKU = [("inventory", "0003_brickowl_catalog_translation"), ("listings", "0005_listing_index_serves_the_page_order"),
              ("offers", "0002_offer_state_index_ends_in_id")]


@pytest.mark.django_db(transaction=True)
def test_existing_brick_items_become_brick_stock_items_remembering_their_first_lots_connection():
    _migrate(BEFORE_SKU)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE_SKU).apps
        org = make_organization("bricks")
        bricklink, brickowl = make_connection(org, "bricklink"), make_connection(org, "brickowl")
        Item = old.get_model("inventory", "InventoryItem")
        item = Item.objects.create(organization_id=org.pk, part_number="3001", color_id="5", condition="new", location="B07",
                                   quantity_on_hand=40, version=1)
        lonely = Item.objects.create(organization_id=org.pk, part_number="3002", color_id="5", condition="new")
        Lot = old.get_model("inventory", "InventoryLot")
        Lot.objects.create(organization_id=org.pk, connection_id=bricklink.pk, item_id=item.pk, external_id="900",
                           marketplace_quantity=40)
        Lot.objects.create(organization_id=org.pk, connection_id=brickowl.pk, item_id=item.pk, external_id="7",
                           marketplace_quantity=40)
    finally:
        _migrate_to_latest()
    moved = InventoryItem.objects.get(pk=item.pk)
    assert (moved.sku, moved.imported_from_id, moved.imported_at, moved.quantity_on_hand) == (
        "", bricklink.pk, moved.created_at, 40)
    assert InventoryItem.objects.get(pk=lonely.pk).imported_from_id is None
    assert set(InventoryLot.objects.values_list("item_id", "link_manual", "pushed_quantity")) == {(item.pk, False, None)}
    with pytest.raises(IntegrityError), transaction.atomic():  # the key still refuses the same part twice
        InventoryItem.objects.create(organization=org, part_number="3001", color_id="5", condition="new", location="B07")
