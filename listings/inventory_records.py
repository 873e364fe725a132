"""The typed lot record BrickLink and Brick Owl adapters produce for the inventory import (no Django)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

NEW, USED = "new", "used"


def condition_coarse(value: object) -> str:
    """BrickLink ``N``/``U`` and Brick Owl condition codes (``new``, ``news``, ``usedg``, ...) as new or used."""
    text = str(value or "").strip().lower()
    if text in ("n", "new") or text.startswith("new"):
        return NEW
    if text in ("u", "used") or text.startswith("used"):
        return USED
    return text or USED


@dataclass
class LotRecord:
    external_id: str
    part_number: str
    item_type: str
    color_id: str
    condition: str  # new | used
    quantity: int
    location: str = ""
    color_name: str = ""
    name: str = ""
    unit_price: Decimal | None = None
    external_bricklink_id: str = ""
    remarks: str = ""
    raw: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.part_number, self.item_type, self.color_id, self.condition, self.location)
