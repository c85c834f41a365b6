"""The privilege decision tables (`rules/privileges/*.dmn`), evaluated by the kernel's rules engine.

Rule authors tune them in the rules studio; the published version is what counts. Lookups that the
live check repeats (title ceilings, terms, the reason a title does not qualify) are memoised per
decision version.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from app.workflow import decisions, registry
from app.workflow.rules import EvaluationResult

TITLE_CEILING = "privileges_title_ceiling"
ELIGIBILITY = "privileges_eligibility"
AUTO_DECISION = "privileges_auto_decision"
REVIEWERS = "privileges_reviewers"
TERM = "privileges_term"
KEYS = (TITLE_CEILING, ELIGIBILITY, AUTO_DECISION, REVIEWERS, TERM)

_VERSION_SECONDS = 10.0  # how long a process trusts that the published version did not change
_versions: dict[str, tuple[float, Any]] = {}
_memo: dict[tuple, Any] = {}
_lock = threading.Lock()


def _version(key: str):
    now = time.monotonic()
    with _lock:
        found = _versions.get(key)
    if found is not None and now - found[0] < _VERSION_SECONDS:
        return found[1]
    version = registry.published_decision(key)
    # Keep only what evaluation needs: the checksum and the parsed definitions.
    entry = (version.checksum, registry.load_decision(version), version.id, version.version)
    with _lock:
        _versions[key] = (now, entry)
    return entry


def forget() -> None:
    """Drop memoised versions and answers (after publishing a decision in this process)."""
    with _lock:
        _versions.clear()
        _memo.clear()


def evaluate(key: str, inputs: Mapping[str, Any]) -> EvaluationResult:
    _checksum, definitions, _id, _number = _version(key)
    return definitions.evaluate_detailed(key, dict(inputs))


def evaluate_logged(key: str, inputs: Mapping[str, Any]) -> tuple[Any, EvaluationResult]:
    """Evaluate the published version through the kernel (returns the version row too)."""
    return decisions.evaluate(key, inputs)


def _memoised(key: str, inputs: tuple[tuple[str, Any], ...]) -> dict:
    checksum, definitions, _id, _number = _version(key)
    memo_key = (key, checksum, inputs)
    with _lock:
        found = _memo.get(memo_key)
    if found is not None:
        return found
    result = definitions.evaluate(key, dict(inputs))
    with _lock:
        if len(_memo) > 20000:
            _memo.clear()
        _memo[memo_key] = result
    return result


def title_ceiling(title_code: str | None, years_in_title: int | None) -> int:
    result = _memoised(TITLE_CEILING, (("title_code", title_code or ""),
                                       ("years_in_title", min(int(years_in_title or 0), 40))))
    if isinstance(result, dict):  # a table with more outputs than the ceiling
        result = result.get("ceiling")
    return int(result or 0)


def term(ptype: str, level: int | None) -> tuple[int, int]:
    """(term in years, days before the end to remind)."""
    result = _memoised(TERM, (("ptype", ptype), ("level", level)))
    if not isinstance(result, dict):
        return 3, 60
    return int(result.get("term_years") or 3), int(result.get("remind_days") or 60)


def eligibility_memoised(inputs: dict) -> dict:
    """The eligibility answer for a set of inputs, memoised (the live check asks it repeatedly)."""
    result = _memoised(ELIGIBILITY, tuple(sorted(inputs.items())))
    return result if isinstance(result, dict) else {"allowed": True, "reason": ""}
