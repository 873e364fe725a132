from django.urls import include, path

app_name = "listings"

# Back Market listings and bulk tasks, and brick inventory, each in its own module.
urlpatterns = [
    path("", include("listings.urls_backmarket")),
    path("inventory/", include("listings.urls_inventory")),
]
