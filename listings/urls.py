from django.urls import include, path

app_name = "listings"

# Back Market listings and bulk tasks. (Brick inventory has its own app and URLs: /inventory/.)
urlpatterns = [
    path("", include("listings.urls_backmarket")),
]
