"""Errors whose message is safe, and meant, to be shown to a member."""


class UserError(Exception):
    """A mistake the member can fix; the message says how, politely."""


class NotFoundError(UserError):
    """The thing the member named does not exist here."""


class PermissionDeniedError(UserError):
    """The member may not do this (for example, change someone else's goal)."""
