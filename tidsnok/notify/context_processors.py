from django.utils.functional import SimpleLazyObject


def notifications(request):
    """The bell's unread count, counted only when a template shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def unread():
        from tidsnok.notify.models import Notification

        return Notification.objects.shown().filter(user=user, read_at__isnull=True).count()

    return {"unread_notifications": SimpleLazyObject(unread)}
