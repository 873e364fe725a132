from django.urls import path

from inventory import views

app_name = "inventory"

# Mounted at /inventory/. The old /listings/inventory/ addresses redirect here (see marketsync/urls.py).
urlpatterns = [
    path("", views.inventory_list, name="inventory_list"),
    path("unmatched/", views.unmatched_items, name="inventory_unmatched"),
    path("ledger/", views.ledger, name="ledger"),
    path("unmapped/", views.unmapped_items, name="inventory_unmapped"),
    path("unlinked/", views.unlinked_listings, name="inventory_unlinked"),
    path("reconcile/", views.reconcile, name="reconcile"),
    path("reconcile/push/", views.reconcile_push, name="reconcile_push"),
    path("link/", views.stock_link_change, name="stock_link_change"),
    path("<int:pk>/", views.inventory_item_detail, name="inventory_item"),
    path("<int:pk>/adjust/", views.inventory_item_adjust, name="inventory_item_adjust"),
]
