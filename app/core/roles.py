"""The shipped role list (`roles.json`): read without a database, e.g. by process validation."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

ROLES_FILE = Path(__file__).with_name("roles.json")
SCOPES = ("self", "departments", "hospital")


@lru_cache(maxsize=1)
def shipped() -> dict:
    data = json.loads(ROLES_FILE.read_text(encoding="utf-8"))
    for role in data["roles"]:
        if role["scope"] not in SCOPES:
            raise ValueError(f"role {role['code']}: unknown scope {role['scope']!r}")
        for perm in role["permissions"]:
            if perm != "*" and perm not in data["permissions"]:
                raise ValueError(f"role {role['code']}: unknown permission {perm!r}")
    return data


def role_codes() -> set[str]:
    return {role["code"] for role in shipped()["roles"]}


def permission_codes() -> set[str]:
    return set(shipped()["permissions"])
