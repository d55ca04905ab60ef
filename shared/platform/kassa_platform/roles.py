"""The roles of a team: the one table of what each role may do (docs/team.md is rendered from it).

A signed-in user's call names its application (`Kassa-Application`); its scopes are the union of
what the user's workspace role grants and what the user's role on that application grants, and the
same scope checks as for an API key decide (`auth.authorize`), so the API and the dashboard never
disagree. Workspace owners and admins hold every API scope on every application of the workspace;
a member holds only what their application roles give, and nothing on an application they have no
role on.

Team permissions sit beside the API scopes in the same namespace: `members:read`, `members:write`
(see and manage the workspace's members and invitations), `applications:manage` (create and rename
applications) and `owners:manage` (make or unmake owners). `*` on a key never includes them
(`kassa_contract.api_keys.EXPLICIT_SCOPES`); a key may be given `members:*` by name, and then
manages only members of its own application (kassa_team.workspaces).
"""

from __future__ import annotations

from dataclasses import dataclass

from kassa_contract.api_keys import SCOPES

API_SCOPES: frozenset[str] = SCOPES - {"members:read", "members:write"}
TEAM_PERMISSIONS: tuple[str, ...] = ("members:read", "members:write", "applications:manage", "owners:manage")

_READS = frozenset(s for s in API_SCOPES if s.endswith(":read")) - {"keys:read"}


@dataclass(frozen=True)
class Role:
    name: str
    summary: str
    scopes: frozenset[str]  # API scopes (on the application, or every application of the workspace)
    permissions: frozenset[str] = frozenset()  # team permissions (the workspace)


WORKSPACE_ROLES: dict[str, Role] = {
    "owner": Role("owner", "Everything, on every application of the workspace, including making and removing owners. "
                  "A workspace always keeps one.", API_SCOPES, frozenset(TEAM_PERMISSIONS)),
    "admin": Role("admin", "Everything on every application, and the team (members, invitations, applications), "
                  "but not the owners.", API_SCOPES,
                  frozenset({"members:read", "members:write", "applications:manage"})),
    "member": Role("member", "Sees the team; on applications, what their application roles give.", frozenset(),
                   frozenset({"members:read"})),
}

APPLICATION_ROLES: dict[str, Role] = {
    "admin": Role("admin", "Everything on the application.", API_SCOPES),
    "developer": Role("developer", "Builds the integration: catalog, carts, checkout, promotions, settings, keys, "
                      "webhooks; reads orders and customers, cannot refund.",
                      frozenset({"carts:read", "carts:write", "catalog:read", "catalog:write", "settings:read",
                                 "settings:write", "checkout:read", "checkout:write", "orders:read", "payments:read",
                                 "promotions:read", "promotions:write", "customers:read", "webhooks:manage",
                                 "keys:read", "keys:write", "application:read", "application:write"})),
    "finance": Role("finance", "Money: orders and refunds, payment settings; reads the rest.",
                    _READS | {"orders:write", "payments:write"}),
    "viewer": Role("viewer", "Reads everything but the keys; changes nothing (support staff).", _READS),
}


def grants(workspace_role: str | None, application_role: str | None) -> frozenset[str]:
    """The scopes and team permissions of a user with these roles, on one application."""
    granted: set[str] = set()
    if workspace_role in WORKSPACE_ROLES:
        role = WORKSPACE_ROLES[workspace_role]
        granted |= role.scopes | role.permissions
    if application_role in APPLICATION_ROLES:
        granted |= APPLICATION_ROLES[application_role].scopes
    return frozenset(granted)


def effective_application_role(workspace_role: str | None, application_role: str | None) -> str | None:
    """The role the user acts with on an application: owners and admins are its admins."""
    if workspace_role in ("owner", "admin"):
        return "admin"
    return application_role


def split(granted: frozenset[str]) -> tuple[list[str], list[str]]:
    """(API scopes, team permissions), each sorted."""
    return sorted(granted & API_SCOPES), sorted(p for p in TEAM_PERMISSIONS if p in granted)


def role_table() -> str:
    """docs/team.md's table: every scope and permission, and which roles hold it."""
    names = [f"workspace `{n}`" for n in WORKSPACE_ROLES] + [f"application `{n}`" for n in APPLICATION_ROLES]
    roles = [*WORKSPACE_ROLES.values(), *APPLICATION_ROLES.values()]
    lines = ["| scope or permission | " + " | ".join(names) + " |", "|---|" + "---|" * len(roles)]
    for scope in [*sorted(API_SCOPES), *TEAM_PERMISSIONS]:
        cells = ["✓" if scope in role.scopes | role.permissions else "" for role in roles]
        lines.append(f"| `{scope}` | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| role | what it is for |")
    lines.append("|---|---|")
    for kind, table in (("workspace", WORKSPACE_ROLES), ("application", APPLICATION_ROLES)):
        for role in table.values():
            lines.append(f"| {kind} `{role.name}` | {role.summary} |")
    return "\n".join(lines) + "\n"
