"""Admin for Back Market listings and bulk tasks. Writes go through ``listings.writes``, re-reads through ``record_refresh``."""

from django.contrib import admin, messages

from listings import writes
from listings.models import BulkListingResult, BulkListingTask, Listing
from marketsync.sync.errors import MarketplaceError
from marketsync.sync.refresh import record_refresh
from marketsync.sync.writes import WriteRefused


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ("sku", "title", "connection", "price", "min_price", "quantity", "publication_state", "grade", "removed_at")
    list_filter = ("publication_state", "grade", "connection__organization")
    search_fields = ("sku", "title", "external_id", "legacy_id")
    readonly_fields = [f.name for f in Listing._meta.fields]
    actions = ["take_offline", "refresh_from_back_market"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Take offline at Back Market (quantity 0)")
    def take_offline(self, request, queryset):
        for listing in queryset.select_related("connection"):
            try:
                writes.listing_update(listing=listing, quantity=0, user=request.user, actor="admin")
            except WriteRefused as exc:
                self.message_user(request, f"{listing.sku}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{listing.sku}: offline.")

    @admin.action(description="Re-read from Back Market")
    def refresh_from_back_market(self, request, queryset):
        for listing in queryset.select_related("connection"):
            try:
                record_refresh(connection=listing.connection, entity="listings", external_id=listing.external_id)
            except MarketplaceError as exc:
                self.message_user(request, f"{listing.sku}: {exc}", messages.ERROR)


class BulkListingResultInline(admin.TabularInline):
    model = BulkListingResult
    extra = 0
    readonly_fields = ("sku", "success", "message")
    can_delete = False


@admin.register(BulkListingTask)
class BulkListingTaskAdmin(admin.ModelAdmin):
    list_display = ("marketplace_task_id", "connection", "file_name", "line_count", "status", "polls", "created_at", "finished_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in BulkListingTask._meta.fields]
    inlines = [BulkListingResultInline]

    def has_add_permission(self, request):
        return False
