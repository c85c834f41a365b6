"""The demo hospital: `medtech demo --scale tiny|small|medium|large`.

Deterministic for a seed. Modules add their own demo data with `register_step`; steps run in
registration order after the organisation, staff and accounts exist, inside one transaction.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date
from collections.abc import Callable

from sqlalchemy import select

from app.extensions import db

SCALES = ("tiny", "small", "medium", "large")
# Dates in the demo are relative to this day, not to today, so every build is identical.
REFERENCE_DATE = date(2026, 10, 31)


@dataclass
class DemoContext:
    scale: str
    rng: random.Random
    password: str
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    shared: dict = field(default_factory=dict)  # what one step hands to the next


@dataclass
class DemoReport:
    counts: dict[str, int]
    timings: dict[str, float]


_STEPS: list[tuple[str, Callable[[DemoContext], None]]] = []


def register_step(name: str, step: Callable[[DemoContext], None]) -> None:
    if all(existing != name for existing, _ in _STEPS):
        _STEPS.append((name, step))


def demo_loaded() -> bool:
    from app.modules.org.models import Hospital

    return db.session.scalar(select(Hospital.id).limit(1)) is not None


def build_demo(scale: str = "tiny", password: str = "demo", seed: int = 20260301) -> DemoReport:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}")
    from app.core import sync
    from app.demo import hospital

    sync.run_all()  # roles and dictionaries, in case `db upgrade` ran before a module was added
    ctx = DemoContext(scale=scale, rng=random.Random(seed), password=password)
    for name, step in [("hospital", hospital.build), *_STEPS]:
        started = time.perf_counter()
        step(ctx)
        db.session.flush()
        ctx.timings[name] = round(time.perf_counter() - started, 3)
    return DemoReport(ctx.counts, ctx.timings)


def demo_logins() -> list[tuple[str, str, str]]:
    """(username, role name, who) of the named demo accounts, for printing."""
    from app.demo.hospital import DEMO_ACCOUNTS
    from app.modules.accounts.models import Role, User

    users = {u.username: u for u in db.session.scalars(
        select(User).where(User.username.in_([a.username for a in DEMO_ACCOUNTS])))}
    names = dict(db.session.execute(select(Role.code, Role.name)).all())
    rows = []
    for account in DEMO_ACCOUNTS:
        user = users.get(account.username)
        if user is not None:
            rows.append((account.username, names.get(account.role, account.role), user.display_name))
    return rows
