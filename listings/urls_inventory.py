from django.urls import path

from listings import inventory_views

# Mounted at /listings/inventory/ inside the "listings" namespace.
urlpatterns = [
    path("", inventory_views.inventory_list, name="inventory_list"),
    path("unmatched/", inventory_views.unmatched_items, name="inventory_unmatched"),
    path("<int:pk>/", inventory_views.inventory_item_detail, name="inventory_item"),
    path("<int:pk>/adjust/", inventory_views.inventory_item_adjust, name="inventory_item_adjust"),
]
