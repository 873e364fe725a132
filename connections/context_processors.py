from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from connections.health import organization_health_alert
from connections.middleware import user_organizations


def workspace(request):
    """The organization switcher's choices, the owner flag and the sync-health banner (each evaluated lazily)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"time_zone_name": timezone.get_current_timezone_name()}
    organization = getattr(request, "organization", None)

    def alert():
        return organization_health_alert(organization=organization) if organization else None

    return {
        "current_organization": organization if organization else None,
        "user_organizations": SimpleLazyObject(lambda: user_organizations(request)),
        "is_org_owner": getattr(request, "is_org_owner", False),
        "health_alert": SimpleLazyObject(alert),
        "time_zone_name": timezone.get_current_timezone_name(),
    }
