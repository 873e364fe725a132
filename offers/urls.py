from django.urls import path

from offers import views

app_name = "offers"

urlpatterns = [
    path("", views.offer_list, name="offer_list"),
    path("<int:pk>/", views.offer_detail, name="offer_detail"),
    path("markets/", views.market_offer_list, name="market_offer_list"),
    path("reference/", views.reference_index, name="reference_index"),
    path("reference/<int:connection_id>/", views.reference_data, name="reference"),
]
