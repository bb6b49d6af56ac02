"""An Authenticator used as the gateway uses it, for tests that drive one directly."""

from __future__ import annotations

import asyncio

from saglik.services.authn import Account, Authenticator
from saglik.store import state


def current_account(authn: Authenticator, env: str, username: str) -> Account | None:
    """The gateway's first two steps: the users made current with the store's credentials
    version (read as a request begins), then the lookup by name."""
    with authn._engine.connect() as conn:
        version = state.versions(conn).credentials
    asyncio.run(authn.sync(version))
    return authn.account(env, username)
