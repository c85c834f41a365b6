"""MedTech — 医疗技术管理系统.

`create_app` wires configuration, extensions, blueprints and CLI commands — nothing else. Shipped
processes, rules and roles are synced into the database by `medtech db upgrade`, not here.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from app.config import PROJECT_ROOT, load_config
from app.core import fastsql
from app.extensions import babel, csrf, db, login_manager, migrate

# Modules are registered in this order; each exposes `blueprint` and may expose `init_app(app)`.
MODULES = (
    "app.modules.accounts",
    "app.modules.org",
    "app.modules.portal",
    "app.modules.admin",
    "app.modules.lookup",
    "app.modules.notifications",
    "app.modules.studio",
    "app.modules.clinical",
    "app.modules.dossier",
    "app.modules.catalog",
    "app.modules.privileges",
    "app.api",
)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    instance_path = Path(os.environ.get("MEDTECH_INSTANCE", PROJECT_ROOT / "instance")).resolve()
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(load_config(dict(os.environ), instance_path, overrides))
    logging.basicConfig(level=app.config["LOG_LEVEL"])

    db.init_app(app)
    fastsql.configure(server_prepare=app.config["DB_PREPARED_STATEMENTS"])
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)

    from app.core import i18n, notify, security, uow, web

    babel.init_app(app, locale_selector=i18n.select_locale)
    security.init_app(app)
    uow.init_app(app)
    web.init_app(app)
    notify.init_app(app)

    from app import workflow

    workflow.init_app(app)

    import importlib

    for name in MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "init_app"):
            module.init_app(app)
        app.register_blueprint(module.blueprint)
    return app


def freeze_startup_objects() -> None:
    """Move everything a long-running process has loaded at start (the app, its modules, parsed
    statement caches) out of the cyclic garbage collector's reach. A full collection then walks only what was
    made since — without this it walks ~200k startup objects each time, a pause of about 0.1 s (bench/engine.py) in
    whatever request or job is running — and forked job processes share those pages instead of
    copying them when the collector touches them."""
    import gc

    gc.collect()
    gc.freeze()
