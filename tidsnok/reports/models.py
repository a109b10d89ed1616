"""The reports room's own data: requests for an access copy (GDPR art. 15)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tidsnok.org.models import Organisation, Person


class AccessRequest(models.Model):
    """An employee's request for her access copy. The employer must answer within one
    month of receiving it (GDPR art. 12 (3)); HR marks it delivered when it exports the
    copy, in the export's transaction, so the audit log shows both."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="access_requests")
    received_on = models.DateField()
    due_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    # The SHA-256 of the copy that answered the request, as in its export event.
    delivered_sha256 = models.CharField(max_length=64, blank=True)
    # The last reminder HR was sent about it ("", "soon", "overdue"): each is sent once, and a
    # sweep round that finds nothing new to say reads one index and writes nothing.
    reminded = models.CharField(max_length=10, blank=True, default="")

    class Meta:
        constraints = [
            # One open request per person: asking again while one is open changes nothing.
            models.UniqueConstraint(fields=["person"], condition=Q(delivered_at__isnull=True),
                                    name="access_request_one_open"),
        ]
        indexes = [
            # HR's list of open requests, the most urgent first.
            models.Index(fields=["organisation", "delivered_at", "due_on"], name="access_request_open_idx"),
        ]
        ordering = ["due_on", "pk"]

    @property
    def is_open(self) -> bool:
        return self.delivered_at is None
