from django.contrib import admin
from django.utils.html import format_html

from backship.models import Delivery, Return
from backship.selectors import shipment_label_url


class ShipmentAdmin(admin.ModelAdmin):
    list_display = ("external_id", "order_external_id", "connection", "carrier_name", "tracking_number", "created_at", "label")
    search_fields = ("external_id", "order_external_id", "tracking_number")
    list_filter = ("hub_scanned", "connection__organization")
    exclude = ("label_file",)
    readonly_fields = ("label",)

    def get_readonly_fields(self, request, obj=None):
        return ["label"] + [f.name for f in self.model._meta.fields if f.name != "label_file"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="label")
    def label(self, obj):
        url = shipment_label_url(shipment=obj)
        return format_html('<a href="{}">PDF</a>', url) if url else (obj.label_error or "—")


@admin.register(Delivery)
class DeliveryAdmin(ShipmentAdmin):
    pass


@admin.register(Return)
class ReturnAdmin(ShipmentAdmin):
    pass
