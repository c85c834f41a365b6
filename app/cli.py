"""The `medtech` command: a Flask CLI group (run, shell, routes) plus our commands."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import FlaskGroup, with_appcontext

from app.config import ConfigError


def _create_app():
    from app import create_app

    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


class MedtechGroup(FlaskGroup):
    def _load_plugin_commands(self) -> None:
        # Our own `db` group replaces Flask-Migrate's plugin: upgrade also syncs shipped data.
        self._loaded_plugin_commands = True


main = MedtechGroup(create_app=_create_app, load_dotenv=False, set_debug_flag=False,
                    help="MedTech 医疗技术管理系统")


# --- db ---------------------------------------------------------------------------------------

@main.group("db")
def db_group():
    """Database migrations (Alembic) and shipped data."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str):
    """Migrate the schema, then sync shipped roles, dictionaries, processes, rules and forms."""
    import flask_migrate

    from app.core import sync, uow

    flask_migrate.upgrade(revision=revision)
    changed = sync.run_all()
    uow.commit()
    click.echo("synced: " + ", ".join(f"{k}={v}" for k, v in changed.items()))


@db_group.command("downgrade")
@click.option("--revision", default="-1", show_default=True)
@with_appcontext
def db_downgrade(revision: str):
    """Step the schema back."""
    import flask_migrate

    flask_migrate.downgrade(revision=revision)


@db_group.command("migrate")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_migrate(message: str):
    """Autogenerate a migration from the models (review it before committing)."""
    import flask_migrate

    flask_migrate.migrate(message=message)


@db_group.command("current")
@with_appcontext
def db_current():
    """Show the current revision."""
    import flask_migrate

    flask_migrate.current()


# --- demo -------------------------------------------------------------------------------------

@main.command("demo")
@click.option("--scale", type=click.Choice(["tiny", "small", "medium", "large"]), default="tiny",
              show_default=True)
@click.option("--password", default=None, help="Password for the demo logins (default: demo).")
@click.option("--if-empty", is_flag=True, help="Do nothing when a hospital is already loaded.")
@click.option("--seed", default=20260301, show_default=True, type=int)
@with_appcontext
def demo(scale: str, password: str | None, if_empty: bool, seed: int):
    """Build the deterministic synthetic demo hospital and print the demo logins."""
    from flask import current_app

    from app.core import uow
    from app.demo import build_demo, demo_loaded

    if demo_loaded():
        if if_empty:
            click.echo("demo hospital already loaded")
            _print_logins(password or current_app.config["DEMO_PASSWORD"])
            return
        raise click.ClickException("a hospital is already loaded; use a fresh database")
    report = build_demo(scale=scale, password=password or current_app.config["DEMO_PASSWORD"],
                        seed=seed)
    uow.commit()
    click.echo(json.dumps(report.counts, ensure_ascii=False))
    _print_logins(password or current_app.config["DEMO_PASSWORD"])


def _print_logins(password: str) -> None:
    from app.demo import demo_logins

    click.echo(f"Demo logins (password: {password}):")
    for username, role_name, who in demo_logins():
        click.echo(f"  {username:<14} {role_name:<10} {who}")


# --- audit ------------------------------------------------------------------------------------

@main.group("audit")
def audit_group():
    """The hash-chained audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify():
    """Check the chain; exit 1 when any entry was edited, removed or reordered."""
    from app.core import audit

    result = audit.verify()
    click.echo(json.dumps(result.as_dict()))
    if not result.ok:
        click.echo(result.reason, err=True)
        sys.exit(1)


# --- users ------------------------------------------------------------------------------------

@main.command("create-admin")
@click.option("--username", required=True)
@click.password_option()
@with_appcontext
def create_admin(username: str, password: str):
    """Create a system administrator (first start of a production install)."""
    from app.core import uow
    from app.modules.accounts import services

    try:
        user = services.create_user(None, username=username, password=password,
                                    display_name=username)
        services.set_password(user, password, actor=user)
        services.set_grants(None, user, [services.GrantSpec("admin", "hospital")])
    except services.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    uow.commit()
    click.echo(f"created administrator {username}")


# --- jobs -------------------------------------------------------------------------------------

@main.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@with_appcontext
def worker(burst: bool):
    """Run an RQ worker (needs REDIS_URL)."""
    from app.core import jobs

    jobs.run_worker(burst=burst)


@main.command("scheduler")
@with_appcontext
def scheduler():
    """Run RQ's cron scheduler for periodic jobs (needs REDIS_URL)."""
    from app.core import jobs

    jobs.run_scheduler()


def _register_kernel_groups() -> None:
    """Command groups that need no database (rules, processes) live with the kernel."""
    from app.workflow.process_cli import processes
    from app.workflow.rules_cli import rules

    main.add_command(rules)
    main.add_command(processes)


_register_kernel_groups()


if __name__ == "__main__":  # python -m app.cli …
    main()
