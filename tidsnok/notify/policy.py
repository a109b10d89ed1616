"""Who sees what in notify: a user sees her own notifications, nothing else."""

from tidsnok.access.policy import register
from tidsnok.notify.models import Notification


def notifications_visible(user, action="view"):
    if action not in ("view", "edit"):
        return Notification.objects.none()
    return Notification.objects.shown().filter(user=user)


register(Notification, notifications_visible)
