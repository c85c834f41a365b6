"""Published processes a user may start, their start forms, and task forms by name.

A process can be started from the portal when its (top-level) start event names a form
(`mt:form` or `camunda:formKey`) that is published. When the start event names roles (`mt:role`
or `camunda:candidateStarterGroups` on the process), only holders of one of them may start it.

A module can start one of its processes from a page of its own, which checks and shows more than
the generic start form can (eligibility per item, computed history, the department's catalog):
`register_start_page` names it, and the portal sends users there instead of starting the process
itself — so nobody starts it around the module's checks.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.core import scopes
from app.extensions import db
from app.workflow import forms, parsing
from app.workflow.errors import NotFound
from app.workflow.extensions import BPMN_NS, CAMUNDA_NAMESPACES, read_process
from app.workflow.forms import FormDef
from app.workflow.models import PUBLISHED, FormVersion, ProcessDefinition, ProcessVersion
from app.workflow.permissions import is_admin


@dataclass(frozen=True)
class StartInfo:
    key: str
    name: str
    description: str
    form: str | None
    roles: tuple[str, ...]


_cache: OrderedDict[tuple, StartInfo] = OrderedDict()
_lock = threading.Lock()


def start_info(version: ProcessVersion) -> StartInfo:
    """What the portal needs to start a version (cached by content)."""
    key = (version.id, version.checksum)
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    root = parsing.read_xml(version.bpmn_xml)
    info = StartInfo(version.key, version.definition.name, "", None, ())
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") != version.key:
            continue
        ext = read_process(process)
        doc = process.find(f"{{{BPMN_NS}}}documentation")
        starts = process.findall(f"{{{BPMN_NS}}}startEvent")
        node = ext.node(starts[0].get("id")) if len(starts) == 1 else None
        roles = list(node.roles) if node else []
        for ns in CAMUNDA_NAMESPACES:
            groups = process.get(f"{{{ns}}}candidateStarterGroups")
            if groups:
                roles += [part.strip() for part in groups.split(",") if part.strip()]
        info = StartInfo(version.key, ext.name or version.definition.name,
                         " ".join((doc.text or "").split()) if doc is not None else "",
                         node.form if node else None, tuple(dict.fromkeys(roles)))
    with _lock:
        _cache[key] = info
        while len(_cache) > 256:
            _cache.popitem(last=False)
    return info


def published_versions() -> list[ProcessVersion]:
    return list(db.session.scalars(select(ProcessVersion).join(ProcessDefinition)
                                   .where(ProcessVersion.status == PUBLISHED).order_by(ProcessDefinition.name)))


def may_start(user, info: StartInfo) -> bool:
    if not info.roles or is_admin(user):
        return True
    return any(scopes.has_role(user, role) for role in info.roles)


def task_form(name: str | None) -> FormDef | None:
    """The published form `name` (None when there is none: a retired form no longer binds)."""
    if not name:
        return None
    version = db.session.scalar(select(FormVersion).where(FormVersion.name == name,
                                                          FormVersion.status == PUBLISHED))
    if version is None:
        return None
    try:
        return forms.load_form(version.content, version.name)
    except forms.FormError:
        return None


# Process key → function of the user giving the URL of the module's start page (None: not for them).
_start_pages: dict[str, Callable[[Any], str | None]] = {}


def register_start_page(process_key: str, url_for_user: Callable[[Any], str | None]) -> None:
    _start_pages[process_key] = url_for_user


def has_start_page(process_key: str) -> bool:
    return process_key in _start_pages


def start_page(process_key: str, user) -> str | None:
    """The module's own start page of the process for `user` (None when there is none for them)."""
    page = _start_pages.get(process_key)
    return page(user) if page is not None else None


def startable(user) -> list[tuple[ProcessVersion, StartInfo, str]]:
    """Published processes with a published start form that `user` may start, each with the URL
    to start it at (the module's own page, when it has one, else the portal's start form)."""
    from flask import url_for

    published_forms = set(db.session.scalars(select(FormVersion.name).where(FormVersion.status == PUBLISHED)))
    found = []
    for version in published_versions():
        info = start_info(version)
        if not (info.form and info.form in published_forms and may_start(user, info)):
            continue
        url = start_page(info.key, user) if has_start_page(info.key) else \
            url_for("portal.start_process", key=info.key)
        if url:
            found.append((version, info, url))
    return found


def get_startable(user, key: str) -> tuple[ProcessVersion, StartInfo, FormDef]:
    """The published version of `key` if `user` may start it from its form, else NotFound."""
    version = db.session.scalar(select(ProcessVersion).join(ProcessDefinition)
                                .where(ProcessDefinition.key == key, ProcessVersion.status == PUBLISHED))
    if version is None:
        raise NotFound("no such process")
    info = start_info(version)
    form = task_form(info.form)
    if form is None or not may_start(user, info):
        raise NotFound("no such process")
    return version, info, form
