from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="order_list"),
    path("poll/", views.order_poll, name="order_poll"),
    path("export.csv", views.order_export, name="order_export"),
    path("ship/", views.orders_ship, name="orders_ship"),
    path("ship/batches/<int:pk>/", views.ship_batch_detail, name="ship_batch"),
    path("print/slips/", views.orders_packing_slips, name="packing_slips"),
    path("print/pick-list/", views.orders_pick_list, name="pick_list"),
    path("<int:pk>/", views.order_detail, name="order_detail"),
    path("<int:pk>/refresh/", views.order_refresh, name="order_refresh"),
    # Fulfilment actions on the order page (POST only), for every marketplace (the names are Back Market's first ones).
    path("<int:pk>/lines/<int:item_id>/identifiers/", views.orderline_identifiers, name="orderline_identifiers"),
    path("<int:pk>/lines/<int:item_id>/accept/", views.orderline_decide, {"decision": "accept"}, name="orderline_accept"),
    path("<int:pk>/lines/<int:item_id>/cancel/", views.orderline_decide, {"decision": "cancel"}, name="orderline_cancel"),
    path("<int:pk>/ship/", views.order_ship, name="order_ship"),
    path("<int:pk>/paid/", views.order_step, {"step": "paid"}, name="order_mark_paid"),
    path("<int:pk>/packed/", views.order_step, {"step": "packed"}, name="order_mark_packed"),
    path("<int:pk>/invoice/", views.order_invoice, name="order_invoice"),
]
