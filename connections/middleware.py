"""Per-request workspace state: the user's current organization and time zone.

``request.organization`` is the current organization (may be None): the choice is kept in the session;
a user in several organizations switches between them. Every merchant-facing view scopes its queries to
it. ``request.is_org_owner`` says whether the user owns it (owners manage connections).

Times are shown in the user's time zone: a tiny script in ``base.html`` stores the browser's IANA zone in
the ``tz`` cookie, and this middleware activates it (falling back to ``settings.TIME_ZONE``).
"""

from __future__ import annotations

import zoneinfo
from urllib.parse import unquote

from django.http import Http404
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from connections.models import Membership
from connections.selectors import membership_get, organization_list_for_user

SESSION_KEY = "current_organization_id"
TZ_COOKIE = "tz"


def user_organizations(request) -> list:
    """The user's organizations, read once per request (the switcher and the current organization share it)."""
    if not hasattr(request, "_user_organizations"):
        request._user_organizations = list(organization_list_for_user(user=request.user))
    return request._user_organizations


def current_organization(request):
    organizations = user_organizations(request)
    chosen = request.session.get(SESSION_KEY)
    if chosen is not None:
        for organization in organizations:
            if organization.pk == chosen:
                return organization
    return organizations[0] if organizations else None


def organization_or_404(request):
    """The current organization of a merchant page: every view's one way to get it. A user in no organization
    gets a 404 (never a 403 that would confirm a page exists)."""
    organization = getattr(request, "organization", None)
    if not organization:
        raise Http404("You are not a member of any organization.")
    return organization


def _is_owner(request) -> bool:
    organization = request.organization
    if not organization or not request.user.is_authenticated:
        return False
    membership = membership_get(user=request.user, organization=organization)
    return membership is not None and membership.role == Membership.Role.OWNER


def timezone_from_cookie(value: str | None) -> zoneinfo.ZoneInfo | None:
    if not value or len(value) > 96:
        return None
    value = unquote(value)  # the script stores encodeURIComponent(zone)
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class _LazyBool:
    def __init__(self, compute):
        self._compute, self._value = compute, None

    def __bool__(self) -> bool:
        if self._value is None:
            self._value = bool(self._compute())
        return self._value


class CurrentOrganizationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.organization = SimpleLazyObject(lambda: current_organization(request))
        request.is_org_owner = _LazyBool(lambda: _is_owner(request))
        tz = timezone_from_cookie(request.COOKIES.get(TZ_COOKIE))
        if tz is not None:
            timezone.activate(tz)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
