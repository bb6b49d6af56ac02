"""The three kinds of refusal every operator surface must tell apart (CLI: one red line;
operator API: 422, 404, 409), whatever layer raises them."""

from __future__ import annotations


class InvalidInput(ValueError):
    """The request itself is wrong; the message says how to fix it."""


class NotFound(LookupError):
    """The request names something that does not exist (in this environment)."""


class Conflict(Exception):
    """The request clashes with what exists (a duplicate name, a code already cancelled)."""
