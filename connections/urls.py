from django.urls import path

from connections import views

app_name = "connections"

urlpatterns = [
    path("switch-organization/", views.organization_switch, name="organization_switch"),
]
