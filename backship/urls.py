from django.urls import path

from backship import views

app_name = "backship"

urlpatterns = [
    path("deliveries/", views.delivery_list, name="delivery_list"),
    path("returns/", views.return_list, name="return_list"),
    path("<str:kind>/<int:pk>/", views.shipment_detail, name="shipment_detail"),
    path("<str:kind>/<int:pk>/label.pdf", views.label, name="label"),
]
