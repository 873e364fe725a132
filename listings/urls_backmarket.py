from django.urls import path

from listings import views

# Mounted under /listings/ in the "listings" namespace.
urlpatterns = [
    path("", views.listing_list, name="listing_list"),
    path("<int:pk>/", views.listing_detail, name="listing_detail"),
    path("bulk/", views.bulk_upload, name="bulk_upload"),
    path("bulk/<int:pk>/", views.bulk_task_detail, name="bulk_task_detail"),
    # The audit log moved next to the audit model; this address showed Back Market's changes.
    path("backmarket/audit/", views.moved_to("connections:audit_log", marketplace="backmarket"), name="bm_audit_log"),
    # Back Market actions on an order moved to /orders/<id>/...: a 308 re-sends the POST there as it was.
    path("backmarket/orders/<int:pk>/lines/<int:item_id>/identifiers/", views.moved_to("orders:orderline_identifiers"),
         name="bm_orderline_identifiers"),
    path("backmarket/orders/<int:pk>/lines/<int:item_id>/accept/", views.moved_to("orders:orderline_accept"),
         name="bm_orderline_accept"),
    path("backmarket/orders/<int:pk>/lines/<int:item_id>/cancel/", views.moved_to("orders:orderline_cancel"),
         name="bm_orderline_cancel"),
    path("backmarket/orders/<int:pk>/ship/", views.moved_to("orders:order_ship"), name="bm_order_ship"),
    path("backmarket/orders/<int:pk>/invoice/", views.moved_to("orders:order_invoice"), name="bm_order_invoice"),
]
