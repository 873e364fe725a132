"""Admin for stock items, their lots, listings and offers, reservations and the ledger.

Quantities and links are read-only here: stock moves only through the ledger (orders,
or ``manage.py inventory adjust`` / the item page), so the admin cannot break
``quantity_reserved`` = open reservations; links change on the pages or with
``manage.py inventory link`` / ``unlink`` (audited).
"""

from django.contrib import admin

from inventory.models import CatalogColor, CatalogItem, InventoryItem, InventoryLot, Reservation, StockMovement, UnmappedLot
from listings.models import Listing
from offers.models import Offer


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InventoryLotInline(ReadOnlyInline):
    model = InventoryLot
    fields = ("connection", "external_id", "external_bricklink_id", "marketplace_quantity", "pushed_quantity", "pushed_at",
              "link_manual", "unit_price", "remarks", "removed_at")
    readonly_fields = fields


class ListingInline(ReadOnlyInline):
    model = Listing
    fields = ("connection", "external_id", "sku", "quantity", "pushed_quantity", "pushed_at", "link_manual", "removed_at")
    readonly_fields = fields


class OfferInline(ReadOnlyInline):
    model = Offer
    fields = ("connection", "external_id", "sku", "stock", "pushed_quantity", "pushed_at", "link_manual", "removed_at")
    readonly_fields = fields


@admin.register(InventoryItem)
class InventoryItemAdmin(admin.ModelAdmin):
    list_display = ("__str__", "sku", "part_number", "color_name", "condition", "location", "quantity_on_hand", "quantity_reserved",
                    "organization")
    list_filter = ("organization", "condition", "item_type")
    search_fields = ("sku", "part_number", "name", "color_name", "location")
    readonly_fields = ("organization", "sku", "part_number", "item_type", "color_id", "condition", "location", "quantity_on_hand",
                       "quantity_reserved", "version", "imported_from", "imported_at", "created_at", "updated_at")
    fields = readonly_fields[:7] + ("color_name", "name") + readonly_fields[7:]
    inlines = [InventoryLotInline, ListingInline, OfferInline]

    def has_add_permission(self, request):
        return False


@admin.register(InventoryLot)
class InventoryLotAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "connection", "item", "marketplace_quantity", "pushed_quantity", "link_manual", "removed_at")
    list_filter = ("connection__marketplace",)
    search_fields = ("external_id", "external_bricklink_id", "item__part_number")
    raw_id_fields = ("item",)


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ("pk", "item", "order_item", "quantity", "state", "updated_at")
    list_filter = ("state",)
    raw_id_fields = ("item", "order_item")


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = ("item", "sequence", "kind", "on_hand_before", "on_hand_after", "reserved_before", "reserved_after", "source",
                    "created_at")
    list_filter = ("kind", "source")
    raw_id_fields = ("item", "reservation", "order_item")


# Brick Owl's catalog tables are built from its API only (inventory/catalog_sync.py): read-only here.
@admin.register(CatalogColor)
class CatalogColorAdmin(ReadOnlyAdmin):
    list_display = ("brickowl_color_id", "name", "bricklink_color_ids", "refreshed_at")
    search_fields = ("brickowl_color_id", "name")


@admin.register(CatalogItem)
class CatalogItemAdmin(ReadOnlyAdmin):
    list_display = ("boid", "brickowl_type", "bricklink_item_no", "state", "looked_up_at", "lookup_error")
    list_filter = ("state",)
    search_fields = ("boid", "bricklink_item_no")


@admin.register(UnmappedLot)
class UnmappedLotAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "organization", "connection", "brickowl_boid", "brickowl_type", "quantity", "reason")
    list_select_related = ("organization", "connection")
    search_fields = ("brickowl_boid", "external_id")
    exclude = ("raw",)
