"""The unified order status, and each marketplace's own statuses mapped onto it.

One table, so a merchant on four marketplaces filters one way. The
marketplace's own status is always stored beside the unified one; a status
this table does not know maps to UNKNOWN and is shown as such, never an error.

| unified           | meaning                                   | Refurbed            | Back Market (order state) | BrickLink                         | Brick Owl (status id)     |
|-------------------|-------------------------------------------|---------------------|---------------------------|-----------------------------------|---------------------------|
| awaiting_payment  | placed, not paid: do not ship             | —                   | 0 (payment pending)       | PENDING, UPDATED                  | 0 Pending, 1 Payment Submitted |
| new               | paid, waiting for the seller to accept    | NEW                 | 1 (to accept)             | PAID                              | 2 Payment Received        |
| accepted          | accepted / being prepared: ready to ship  | ACCEPTED            | 3 (accepted, to ship)     | PACKED, READY, PROCESSING         | 3 Processing, 4 Processed |
| shipped           | handed to the carrier                     | SHIPPED             | 9 (shipped)               | SHIPPED                           | 5 Shipped                 |
| delivered         | received by the buyer                     | —                   | —                         | RECEIVED, COMPLETED               | 6 Received                |
| cancelled         | cancelled before shipping                 | CANCELLED, REJECTED | cancelled                 | CANCELLED, PURGED                 | 8 Cancelled               |
| returned          | sent back by the buyer                    | RETURNED            | returned                  | —                                 | —                         |
| refunded          | money given back                          | —                   | refunded                  | —                                 | —                         |
| on_hold           | needs attention (disputes, alerts)        | —                   | —                         | NPB, NSS, NRS, NPX, OCR           | 7 On Hold                 |
| unknown           | a status this table does not know         |                     |                           |                                   |                           |

The per-marketplace maps live in each adapter's ``mapping.py``; they use
these values only.
"""

from django.db import models


class UnifiedStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
    NEW = "new", "New"
    ACCEPTED = "accepted", "Accepted"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    RETURNED = "returned", "Returned"
    REFUNDED = "refunded", "Refunded"
    ON_HOLD = "on_hold", "On hold"
    UNKNOWN = "unknown", "Unknown"


# Statuses in which an order still needs the seller (re-read by syncs that lack an update filter).
OPEN_STATUSES = frozenset(
    {UnifiedStatus.AWAITING_PAYMENT, UnifiedStatus.NEW, UnifiedStatus.ACCEPTED, UnifiedStatus.ON_HOLD, UnifiedStatus.UNKNOWN}
)
# "Ready to ship" in the order book: paid and not yet shipped.
READY_TO_SHIP_STATUSES = frozenset({UnifiedStatus.NEW, UnifiedStatus.ACCEPTED})


def unified_status(mapping: dict[str, str], marketplace_status: object) -> str:
    """Look a marketplace status up in an adapter's map; unknown statuses stay visible as UNKNOWN."""
    return mapping.get(str(marketplace_status), UnifiedStatus.UNKNOWN)
