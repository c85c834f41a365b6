"""The registry of what comes in: every record and dictionary kind by the name the API and the
import page use (`/api/v1/clinical/<name>`)."""
from __future__ import annotations

from app.modules.clinical.services.base import Context, Kind, chunks, matching  # noqa: F401
from app.modules.clinical.services.dictionary_kinds import Diagnoses, Drugs, Procedures
from app.modules.clinical.services.records import (Complications, Operations, Patients, Prescriptions,
                                                   RecordEvents, Registrations, Stays)

KINDS: dict[str, Kind] = {k.name: k for k in (
    Patients(), Stays(), Operations(), Registrations(), Prescriptions(), RecordEvents(), Complications(),
    Procedures(), Drugs(), Diagnoses())}
RECORD_KINDS = ("patients", "stays", "operations", "registrations", "prescriptions", "record-events",
                "complications")
DICTIONARY_KINDS = ("procedures", "drugs", "diagnoses")
