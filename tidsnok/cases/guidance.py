"""Short guidance shown beside the case forms, from the seed ("TIL LEDERE").

English msgids; the bokmål translations in locale/nb keep the seed's own wording,
so a manager reads the same sentences she was given on paper. Kept here, not in
the templates, so the same text can be reused (exports, e-mails) and tested.
An organisation's own guidance on a factor (Factor.guidance_nb/_en) wins over the
default here.
"""

from django.utils.translation import gettext_lazy as _

# Seed, point 5: what a manager must be able to show in every case.
DOCUMENT = _(
    "You must document assessments and measures. In individual cases you must be able to show what you "
    "knew, what you did, and when you did it."
)

# DOMAIN §4.4: deadlines run from when the manager first knew.
KNOWN_AT = _(
    "The deadlines run from when you first knew, not from when the case is registered. Early action saves "
    "time and reduces sick leave."
)

_AT_ONCE = _(
    "Conflict and harassment must be handled at once. When there is a report, a conflict or a claim of "
    "harassment you must act quickly and involve HR to secure the right process."
)

BY_KIND = {
    "psychosocial": [
        _(
            "Early action saves time and reduces sick leave. Quick follow-up of signs of strain prevents "
            "escalation and long absence."
        ),
    ],
    "conflict": [
        _AT_ONCE,
        _("Talk to HR if the conflict affects someone's ability to work, or several people in the team."),
    ],
    "harassment": [
        _AT_ONCE,
        _(
            "Retaliation is forbidden and can have serious consequences. Employees who report or raise a "
            "concern must not see negative changes in their work situation."
        ),
        _("Hear both sides, separately. A manager who is a party to the case must not handle it."),
    ],
    "violence": [
        _(
            "Follow up the person affected at once: the same day or the next working day. Employees shall be "
            "protected against violence, threats and undue strain from contact with others."
        ),
    ],
}

# Per factor code in the default catalogue (DOMAIN §2).
BY_FACTOR = {
    "workload": _(
        "Workload and time pressure are your responsibility to regulate. You must keep an eye on whether the "
        "workload is sound, and adjust it when needed."
    ),
    "role": _("Make tasks, priorities and expectations clear; unclear or conflicting demands are a risk factor."),
    "emotional": _("Work with people can be emotionally demanding: plan for support, breaks and debriefing."),
    "support": _("Lack of support and follow-up is a risk factor: agree how and how often you follow up."),
    "conflict": _AT_ONCE,
    "harassment": _(
        "A claim of harassment: act at once and involve HR to secure the right process."
    ),
    "violence": _("Violence and threats: follow up the person affected at once, and assess protective measures."),
}

# Seed: "Når du bør snakke med HR".
WHEN_TO_TALK_TO_HR = [
    _("A claim of harassment or retaliation"),
    _("A conflict that affects someone's ability to work, or several people in the team"),
    _("Work-related sick leave that lasts or comes back"),
    _("You are unsure of the right process, or of your own impartiality"),
]

# Seed, point 8: shown to the concerned employee.
PARTICIPATION = _(
    "You have the right to take part in decisions that affect your work situation. You can comment on the "
    "case and say whether you agree with each measure."
)


def for_kind(kind: str) -> list:
    return list(BY_KIND.get(kind, []))


def for_factor(factor, lang: str) -> str:
    """The organisation's own guidance on a factor if it has written one, else ours."""
    own = factor.guidance_en if lang == "en" else factor.guidance_nb
    if own:
        return own
    text = BY_FACTOR.get(factor.code)
    return str(text) if text else ""
