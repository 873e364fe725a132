"""Back Market BackShip deliveries and returns, with their label files."""

from __future__ import annotations

from django.db import models

from connections.models import Connection, Organization


def label_upload_to(instance: Shipment, filename: str) -> str:
    return f"backship/labels/{instance.organization_id}/{instance.connection_id}/{instance.kind}-{instance.external_id}.pdf"


class Shipment(models.Model):
    """What deliveries and returns share. ``external_id`` is BackShip's ``shipmentId``."""

    kind = ""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=64)
    order = models.ForeignKey("orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    order_external_id = models.CharField(max_length=64, blank=True, default="")
    carrier_id = models.CharField(max_length=32, blank=True, default="")
    carrier_name = models.CharField(max_length=120, blank=True, default="")
    reference_number = models.CharField(max_length=120, blank=True, default="")
    tracking_number = models.CharField(max_length=120, blank=True, default="")
    tracking_url = models.CharField(max_length=500, blank=True, default="")
    hub_scanned = models.BooleanField(default=False)
    invoiced_price = models.IntegerField(null=True, blank=True, help_text="As Back Market sends it (an integer).")
    invoiced_currency = models.CharField(max_length=3, blank=True, default="")
    created_at = models.DateTimeField(null=True, blank=True)
    pickup_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    label_url = models.CharField(max_length=500, blank=True, default="")
    label_file = models.FileField(upload_to=label_upload_to, blank=True, max_length=300)
    label_downloaded_at = models.DateTimeField(null=True, blank=True)
    label_error = models.CharField(max_length=300, blank=True, default="")
    label_attempts = models.PositiveIntegerField(default=0)
    raw = models.JSONField(default=dict, blank=True)
    first_synced_at = models.DateTimeField(auto_now_add=True)
    last_synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.external_id} (order {self.order_external_id})"


class Delivery(Shipment):
    kind = "delivery"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="backship_deliveries")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="backship_deliveries")
    order = models.ForeignKey("orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="backship_deliveries")
    items = models.ManyToManyField("orders.OrderItem", blank=True, related_name="backship_deliveries")
    orderline_ids = models.JSONField(default=list, blank=True)
    pickup_info = models.JSONField(default=dict, blank=True)

    class Meta(Shipment.Meta):
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="delivery_unique_per_connection")]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="delivery_org_created_idx"),
            models.Index(fields=["connection", "order_external_id"], name="delivery_conn_order_idx"),
        ]


class Return(Shipment):
    kind = "return"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="backship_returns")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="backship_returns")
    order = models.ForeignKey("orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="backship_returns")
    order_item = models.ForeignKey(
        "orders.OrderItem", on_delete=models.SET_NULL, null=True, blank=True, related_name="backship_returns"
    )
    orderline_external_id = models.CharField(max_length=64, blank=True, default="")

    class Meta(Shipment.Meta):
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="return_unique_per_connection")]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="return_org_created_idx"),
            models.Index(fields=["connection", "order_external_id"], name="return_conn_order_idx"),
        ]
