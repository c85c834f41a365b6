"""`medtech processes validate FILE…`: check BPMN files without a database.

Forms and decisions are looked up in the shipped `forms/` and `rules/` folders (plus any `.dmn`
files given on the command line), roles in the shipped role list, operations in the registry the
application's modules fill at start-up. Exit status 1 when any file has an error; warnings alone
(e.g. "no executable process") exit 0.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

import click
from lxml import etree

from app.config import PROJECT_ROOT

from . import assignment, operations, parsing
from .extensions import BPMN_NS
from .validation import Catalog, Issue, Report, validate_bpmn

DMN_SUFFIXES = (".dmn", ".dmn11.xml", ".dmn13.xml")


def _load_application() -> str | None:
    """Create the app so that domain modules register their operations; None or why it failed."""
    from flask import current_app

    if current_app:
        return None
    ctx = click.get_current_context(silent=True)
    try:
        from flask.cli import ScriptInfo

        info = ctx.find_object(ScriptInfo) if ctx is not None else None
        if info is not None:
            info.load_app()
        else:
            from app import create_app

            create_app()
    except Exception as exc:  # a broken configuration must not hide the validation report
        return f"{type(exc).__name__}: {exc}"
    return None


def _decision_ids(path: Path) -> set[str]:
    try:
        root = parsing.read_xml(path.read_bytes())
    except (OSError, etree.XMLSyntaxError):
        return set()
    return {el.get("id") for el in root.iter() if isinstance(el.tag, str)
            and etree.QName(el).localname == "decision" and el.get("id")}


def _is_dmn(path: Path) -> bool:
    return path.name.lower().endswith(DMN_SUFFIXES)


class _ProcessIndex:
    """Process id -> document, over the given files and the shipped `processes/` folder."""

    def __init__(self, files: Iterable[Path]):
        self.files = list(files)
        self._index: dict[str, tuple[bytes, str]] | None = None

    def find(self, process_id: str) -> tuple[bytes, str] | None:
        if self._index is None:
            self._index = {}
            shipped = sorted((PROJECT_ROOT / "processes").rglob("*")) if (PROJECT_ROOT / "processes").is_dir() else []
            for path in [*shipped, *self.files]:
                if not path.is_file() or _is_dmn(path):
                    continue
                try:
                    data = path.read_bytes()
                    root = parsing.read_xml(data)
                except (OSError, etree.XMLSyntaxError):
                    continue
                for process in root.iter(f"{{{BPMN_NS}}}process"):
                    if process.get("id"):
                        self._index[process.get("id")] = (data, str(path))
        return self._index.get(process_id)


def shipped_catalog(files: Iterable[Path] = ()) -> Catalog:
    """What processes may refer to, from the shipped folders and the registries."""
    from app.core.roles import role_codes

    files = list(files)
    forms_dir, rules_dir = PROJECT_ROOT / "forms", PROJECT_ROOT / "rules"
    forms = {path.stem for path in forms_dir.rglob("*.json")} if forms_dir.is_dir() else set()
    decisions: set[str] = set()
    dmn_files = [p for p in rules_dir.rglob("*") if _is_dmn(p)] if rules_dir.is_dir() else []
    for path in [*dmn_files, *(f for f in files if _is_dmn(f))]:
        decisions |= _decision_ids(path)
    return Catalog(forms=forms, decisions=decisions, roles=role_codes() | assignment.resolver_roles(),
                   operations=operations.registered(), find_process=_ProcessIndex(files).find)


def validate_file(path: Path, catalog: Catalog) -> Report:
    try:
        data = path.read_bytes()
    except OSError as exc:
        report = Report(str(path))
        report.issues.append(Issue("error", f"cannot read the file: {exc.strerror or exc}"))
        return report
    if _is_dmn(path):
        from .rules import validate_definitions

        report = Report(str(path))
        for issue in validate_definitions(data):
            report.issues.append(Issue(issue.level, issue.message, element_id=issue.decision))
        return report
    return validate_bpmn(data, str(path), catalog)


def _summary(report: Report) -> str:
    if report.ok and not report.warnings:
        ids = ", ".join(report.executable_ids) or "-"
        return f"OK ({ids})" if report.processes else "OK"
    parts = []
    if report.errors:
        parts.append(f"{len(report.errors)} error" + ("s" if len(report.errors) != 1 else ""))
    if report.warnings:
        parts.append(f"{len(report.warnings)} warning" + ("s" if len(report.warnings) != 1 else ""))
    return ", ".join(parts)


@click.group("processes")
def processes():
    """BPMN processes: validate files (no database needed)."""


@processes.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report per file.")
def validate(files: tuple[Path, ...], as_json: bool):
    """Check BPMN files (.bpmn, .bpmn20.xml, any name); DMN files given count as known decisions."""
    problem = _load_application()
    if problem:
        click.echo(f"note: the application could not be loaded ({problem}); only kernel operations "
                   "are known", err=True)
    catalog = shipped_catalog(files)
    failed = False
    for path in files:
        try:
            report = validate_file(path, catalog)
        except Exception as exc:  # never a traceback: report what went wrong for this file
            report = Report(str(path), [Issue("error", f"validation failed: {type(exc).__name__}: {exc}")])
        failed = failed or not report.ok
        if as_json:
            click.echo(json.dumps({"file": report.filename, "ok": report.ok,
                                   "processes": [{"id": p.id, "name": p.name, "executable": p.executable}
                                                 for p in report.processes],
                                   "issues": [issue.as_dict() for issue in report.issues]},
                                  ensure_ascii=False))
            continue
        click.echo(f"{report.filename}: {_summary(report)}")
        for issue in report.issues:
            click.echo(f"  {issue}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":  # python -m app.workflow.process_cli validate …
    processes()
