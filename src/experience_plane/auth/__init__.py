"""Who is calling: principals and how they are derived from a connection."""

from experience_plane.auth.principal import Principal, principal_from_connection

__all__ = ["Principal", "principal_from_connection"]
