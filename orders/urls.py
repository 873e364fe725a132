from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="order_list"),
    path("poll/", views.order_poll, name="order_poll"),
    path("export.csv", views.order_export, name="order_export"),
    path("<int:pk>/", views.order_detail, name="order_detail"),
    path("<int:pk>/refresh/", views.order_refresh, name="order_refresh"),
]
