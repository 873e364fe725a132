from django.contrib import admin

from offers.models import MarketOffer, Offer


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ("external_id", "sku", "instance_name", "state", "grading", "stock", "reference_price", "organization",
                    "last_seen_at", "removed_at")
    list_filter = ("state", "grading", "organization")
    search_fields = ("external_id", "sku", "instance_name")
    list_select_related = ("organization",)
    readonly_fields = ("first_synced_at", "last_seen_at", "removed_at", "raw")
    show_full_result_count = False


@admin.register(MarketOffer)
class MarketOfferAdmin(admin.ModelAdmin):
    list_display = ("external_id", "sku", "market_code", "price", "currency", "visibility", "buybox_state", "stock",
                    "organization", "removed_at")
    list_filter = ("market_code", "visibility", "organization")
    search_fields = ("external_id", "offer_external_id", "sku")
    list_select_related = ("organization",)
    readonly_fields = ("first_synced_at", "last_seen_at", "removed_at", "raw")
    show_full_result_count = False
