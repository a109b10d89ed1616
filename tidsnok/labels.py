"""A choice's label, for rows shown many at a time.

Not a model's get_FOO_display(): that builds a dict of the field's choices on every call,
hashing each lazy label (a translation lookup each), so a list of 25 or 50 rows looked up its
kinds' 26 labels in every row.
"""


def choice_label(choices, value) -> str:
    """The label of `value` in `choices` (a TextChoices), or the value itself when unknown."""
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")
