from tidsnok.org import scope
from tidsnok.reports import yearly


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_is_admin": scope.is_admin(user),
        "nav_is_hr": scope.is_hr(user),
        "nav_manages": bool(scope.managed_unit_ids(user)),
        "nav_yearly_report": yearly.may_view(user),
    }
