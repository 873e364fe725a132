from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from connections.middleware import SESSION_KEY
from connections.selectors import organization_list_for_user


@login_required
@require_POST
def organization_switch(request):
    organization = organization_list_for_user(user=request.user).filter(pk=request.POST.get("organization")).first()
    if organization is None:
        raise Http404("No such organization.")
    request.session[SESSION_KEY] = organization.pk
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)
