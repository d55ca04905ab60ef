"""The team service's parts for one runtime (one per process): accounts (sign-in, sessions, resets)."""

from __future__ import annotations

from dataclasses import dataclass

from kassa_platform.runtime import Runtime

from .accounts import Accounts

KEY = "team.module"


@dataclass
class TeamModule:
    accounts: Accounts


def team_of(runtime: Runtime) -> TeamModule:
    module = runtime.services.get(KEY)
    if module is None:
        module = runtime.services[KEY] = TeamModule(Accounts(runtime.db, runtime.clock, runtime.settings,
                                                             runtime.limiter))
    return module  # type: ignore[no-any-return]
