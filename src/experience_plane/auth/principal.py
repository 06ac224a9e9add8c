"""The principal a request acts as.
Everything past the transport receives a `Principal` and never looks at headers or tokens;
`Authenticator` is what turns credentials into one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the tenant whose data it may see, the user acting, their roles,
    and when the credentials stop being valid (`None`: they do not expire, e.g. the dev principal).
    """

    tenant_id: str
    user_id: str
    roles: frozenset[str] = frozenset()
    expires_at: datetime | None = None
    token_id: str | None = None

    def seconds_until_expiry(self, now: datetime) -> float | None:
        """Seconds left before the credentials expire (never negative), `None` if they never do.

        A long-lived subscription uses this to end itself when the token expires instead of
        streaming on credentials that are no longer valid. `now` must be timezone-aware.
        """
        if self.expires_at is None:
            return None
        return max(0.0, (self.expires_at - now).total_seconds())
