"""The stock models' ``django_content_type`` rows, for inventory 0001 and listings 0004 only (frozen with them).

Permissions granted on the models and the admin's history of their rows point at
these rows, so the move relabels them (listings <-> inventory) instead of letting
post_migrate create new ones. Between inventory 0001 and listings 0004 both apps
hold the models; a migrate that stops there (``migrate listings 0003``,
``migrate inventory 0001``) makes post_migrate add a second row under the other
label. ``settle`` leaves one row per model under ``owner``: of two rows it keeps
the one something refers to (a granted permission, an admin history entry), or
else the older one, deleting the other with its never-granted permissions; if
both are referred to, both are left for the operator to merge.
"""

from django.db.models import Q

MODELS = ("inventoryitem", "inventorylot", "reservation", "stockmovement")


def settle(apps, *, owner: str, other: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    LogEntry = apps.get_model("admin", "LogEntry")

    def referred_to(content_type) -> bool:
        granted = Permission.objects.filter(content_type=content_type).filter(Q(user__isnull=False) | Q(group__isnull=False))
        return granted.exists() or LogEntry.objects.filter(content_type=content_type).exists()

    for model in MODELS:
        theirs = ContentType.objects.filter(app_label=other, model=model).first()
        if theirs is None:
            continue
        mine = ContentType.objects.filter(app_label=owner, model=model).first()
        if mine is not None:
            mine_used, theirs_used = referred_to(mine), referred_to(theirs)
            if mine_used and theirs_used:
                continue
            if mine_used or (not theirs_used and mine.pk < theirs.pk):
                theirs.delete()
                continue
            mine.delete()
        theirs.app_label = owner
        theirs.save(update_fields=["app_label"])


def to_inventory(apps, schema_editor) -> None:
    settle(apps, owner="inventory", other="listings")


def to_listings(apps, schema_editor) -> None:
    settle(apps, owner="listings", other="inventory")
