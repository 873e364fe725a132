from django.urls import path

from offers import views

app_name = "offers"

urlpatterns = [
    path("", views.offer_list, name="offer_list"),
    path("<int:pk>/", views.offer_detail, name="offer_detail"),
    path("reference/<int:connection_id>/", views.reference_data, name="reference"),
]
