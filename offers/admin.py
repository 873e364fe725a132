"""Admin for Refurbed offers and market offers: synced rows, read-only (they change at Refurbed and arrive by sync;
an edit here would be overwritten by the next sync, a row added here would exist nowhere else)."""

from django.contrib import admin

from offers.models import MarketOffer, Offer


class SyncedAdmin(admin.ModelAdmin):
    """No Add, every field read-only; delete stays (a connection's delete removes its rows too)."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Offer)
class OfferAdmin(SyncedAdmin):
    list_display = ("external_id", "sku", "instance_name", "state", "grading", "stock", "reference_price", "organization",
                    "last_seen_at", "removed_at")
    list_filter = ("state", "grading", "organization")
    search_fields = ("external_id", "sku", "instance_name")
    list_select_related = ("organization",)


@admin.register(MarketOffer)
class MarketOfferAdmin(SyncedAdmin):
    list_display = ("external_id", "sku", "market_code", "price", "currency", "visibility", "buybox_state", "stock",
                    "organization", "removed_at")
    list_filter = ("market_code", "visibility", "organization")
    search_fields = ("external_id", "offer_external_id", "sku")
    list_select_related = ("organization",)
