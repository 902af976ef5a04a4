"""Errors whose message is meant for the user: shells print them without a traceback."""


class UserError(Exception):
    """Bad input or a missing prerequisite; the message says what to do."""
