"""Law-as-code: the deadline rule catalogue and the Norwegian working-day calendar.

Everything here except models.py and queries.py is pure: it knows nothing of cases.
"""
