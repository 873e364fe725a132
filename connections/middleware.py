"""Puts the user's current organization on the request (``request.organization``).

The choice is kept in the session; a user in several organizations switches
between them. Every merchant-facing view scopes its queries to it.
"""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from connections.selectors import organization_list_for_user

SESSION_KEY = "current_organization_id"


def current_organization(request):
    organizations = organization_list_for_user(user=request.user)
    chosen = request.session.get(SESSION_KEY)
    if chosen is not None:
        organization = organizations.filter(pk=chosen).first()
        if organization is not None:
            return organization
    return organizations.first()


class CurrentOrganizationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.organization = SimpleLazyObject(lambda: current_organization(request))
        return self.get_response(request)
