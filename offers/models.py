"""Refurbed offers and market offers (an offer's price and visibility on one market).

Both are kept in full sweeps: a row no longer returned by a complete sweep gets
``removed_at`` (kept, hidden by default), and comes back if it reappears.
"""

from __future__ import annotations

from django.db import models

from connections.models import Connection, Organization
from inventory.models import StockLinkFields


class OfferFields(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=80)
    sku = models.CharField(max_length=256, blank=True, default="")
    version = models.CharField(max_length=20, blank=True, default="")
    instance_id = models.CharField(max_length=20, blank=True, default="")
    instance_name = models.CharField(max_length=300, blank=True, default="")
    state = models.CharField(max_length=20, blank=True, default="", help_text="OK, UNVERIFIED, SUBMITTED, PENDING_REVIEW, REJECTED")
    grading = models.CharField(max_length=8, blank=True, default="")
    warranty = models.CharField(max_length=8, blank=True, default="")
    stock = models.IntegerField(default=0)
    shipping_profile_id = models.CharField(max_length=20, blank=True, default="")
    shipping_profile_name = models.CharField(max_length=200, blank=True, default="")
    taxation = models.CharField(max_length=12, blank=True, default="")
    reference_currency_code = models.CharField(max_length=3, blank=True, default="")
    reference_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    reference_min_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    battery_condition = models.CharField(max_length=12, blank=True, default="")
    marketplace_created_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    first_synced_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class Offer(OfferFields, StockLinkFields):
    """A Refurbed offer, linked to the stock item it sells (by SKU on import; an owner can change it)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="offers")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="offers")
    stock_item = models.ForeignKey("inventory.InventoryItem", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="offers")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="offer_unique_per_connection")]
        indexes = [
            # The unlinked queue walks only the offers without a stock item.
            models.Index(fields=["organization", "id"], condition=models.Q(stock_item__isnull=True),
                         name="offer_org_unlinked_idx"),
            models.Index(fields=["organization", "-marketplace_created_at", "-id"], name="offer_org_created_idx"),
            models.Index(fields=["organization", "state", "-marketplace_created_at", "-id"], name="offer_org_state_id_idx"),
            models.Index(fields=["organization", "sku"], name="offer_org_sku_idx"),
            models.Index(fields=["connection", "last_seen_at"], name="offer_conn_seen_idx"),
        ]
        ordering = ["-marketplace_created_at", "-id"]

    def __str__(self) -> str:
        return f"offer {self.external_id} {self.sku}".strip()


class MarketOffer(OfferFields):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="market_offers")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="market_offers")
    offer_external_id = models.CharField(max_length=20)
    market_code = models.CharField(max_length=8)
    market_name = models.CharField(max_length=100, blank=True, default="")
    is_site_market = models.BooleanField(default=False)
    is_calculated = models.BooleanField(default=False)
    currency = models.CharField(max_length=3, blank=True, default="")
    price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    min_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    visibility = models.CharField(max_length=12, blank=True, default="", help_text="FULL, NONE, LIMITED, HIDDEN")
    buybox_state = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="marketoffer_unique_per_connection")]
        indexes = [
            models.Index(fields=["organization", "offer_external_id", "market_code"], name="marketoffer_org_offer_idx"),
            models.Index(fields=["organization", "market_code"], name="marketoffer_org_market_idx"),
            models.Index(fields=["connection", "last_seen_at"], name="marketoffer_conn_seen_idx"),
        ]
        ordering = ["offer_external_id", "market_code"]

    def __str__(self) -> str:
        return f"market offer {self.external_id}"
