"""The one access policy: `can(user, action, obj)` and `visible(user, Model)`.

Deny by default. Each room registers the rules for its own models with
`register()` from its policy.py (imported in its AppConfig.ready), so this
module never imports a higher room.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Model, QuerySet
from django.http import Http404


@dataclass(frozen=True)
class ModelPolicy:
    visible: Callable[[object, str], QuerySet]
    can: Callable[[object, str, Model], bool] | None = None


_registry: dict[type, ModelPolicy] = {}


def register(model: type, visible: Callable, can: Callable | None = None) -> None:
    _registry[model] = ModelPolicy(visible=visible, can=can)


def _policy(model: type) -> ModelPolicy | None:
    return _registry.get(model)


def visible(user, model: type, action: str = "view") -> QuerySet:
    """The objects of `model` that `user` may see (or act on with `action`).

    An unregistered model or an anonymous user yields nothing."""
    policy = _policy(model)
    if policy is None or user is None or not user.is_authenticated or not user.is_active:
        return model._default_manager.none()
    return policy.visible(user, action)


def can(user, action: str, obj: Model) -> bool:
    policy = _policy(type(obj))
    if policy is None or user is None or not user.is_authenticated or not user.is_active:
        return False
    if policy.can is not None:
        return bool(policy.can(user, action, obj))
    return policy.visible(user, action).filter(pk=obj.pk).exists()


def get_visible_or_404(user, model: type, action: str = "view", **lookup):
    """Look an object up through the policy; what the user may not see does not exist."""
    try:
        return visible(user, model, action).get(**lookup)
    except (model.DoesNotExist, ValueError, TypeError):
        raise Http404


class AccessDenied(Exception):
    """Raised by services when the actor may not perform the action."""


def require(user, action: str, obj: Model) -> None:
    if not can(user, action, obj):
        raise AccessDenied(action)
