from django.urls import path

from listings import views
from orders import backmarket_views

# Mounted under /listings/ in the "listings" namespace.
urlpatterns = [
    path("", views.listing_list, name="listing_list"),
    path("<int:pk>/", views.listing_detail, name="listing_detail"),
    path("bulk/", views.bulk_upload, name="bulk_upload"),
    path("bulk/<int:pk>/", views.bulk_task_detail, name="bulk_task_detail"),
    path("backmarket/audit/", views.audit_log, name="bm_audit_log"),
    # Back Market actions on an order's page.
    path("backmarket/orders/<int:order_id>/lines/<int:item_id>/identifiers/", backmarket_views.orderline_identifiers,
         name="bm_orderline_identifiers"),
    path("backmarket/orders/<int:order_id>/lines/<int:item_id>/accept/", backmarket_views.orderline_accept,
         name="bm_orderline_accept"),
    path("backmarket/orders/<int:order_id>/lines/<int:item_id>/cancel/", backmarket_views.orderline_cancel,
         name="bm_orderline_cancel"),
    path("backmarket/orders/<int:order_id>/ship/", backmarket_views.order_ship, name="bm_order_ship"),
    path("backmarket/orders/<int:order_id>/invoice/", backmarket_views.order_invoice, name="bm_order_invoice"),
]
