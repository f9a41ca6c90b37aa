"""Authentication (OIDC access tokens, API keys, the bootstrap admin key) and the HTTP side of
access control; the rules themselves are in ``kg.access.rules`` and ``kg.access.workflow``."""

from api.auth.principal import (
    AdminPrincipalDep,
    PrincipalDep,
    UserDep,
    get_access,
    get_principal,
    principal_sync,
)

__all__ = [
    "AdminPrincipalDep",
    "PrincipalDep",
    "UserDep",
    "get_access",
    "get_principal",
    "principal_sync",
]
