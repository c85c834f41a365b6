"""What every kind of incoming record shares: the look-ups of one batch (`Context`), set-based key
matching, and the `Kind` base class whose subclasses say how a row becomes column values.

References use the sender's keys: 工号 for staff, department codes, `*_source_id` for records sent
earlier. A code missing from its dictionary does not refuse the row; it is listed for dictionary
maintenance (`Context.unknown`).
"""
from __future__ import annotations

from collections import Counter
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.modules.clinical.services.parsing import RowReader

CHUNK = 900  # keys per IN (...) query


def chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def matching(column, values):
    """WHERE clauses selecting rows whose `column` is in `values`: one `= ANY(array)` on PostgreSQL
    (one parameter, however many values), chunked IN lists elsewhere."""
    values = list(values)
    if not values:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import Text, any_, bindparam, cast
        from sqlalchemy.dialects.postgresql import ARRAY

        yield column == any_(cast(bindparam(None, array_literal(values), type_=Text()), ARRAY(column.type)))
        return
    for part in chunks(values):
        yield column.in_(part)


def fetch_by(column, values, *columns, unique: bool = True) -> list:
    """Rows (`column`, *`columns`) of the records whose `column` (unique unless said) is one of `values`.

    PostgreSQL: one index probe per key (`unnest` joined LATERAL to a one-row lookup). A plain
    `= ANY(...)` of thousands of keys makes the planner expect thousands of hits and scan the whole
    table, which costs more the bigger the table grows; per-key probes cost what the batch is.
    """
    values = list(dict.fromkeys(values))  # each key once
    if not values:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import Text, bindparam, cast, func, true
        from sqlalchemy.dialects.postgresql import ARRAY

        keys = func.unnest(cast(bindparam(None, array_literal(values), type_=Text()), ARRAY(column.type))) \
            .table_valued("key").render_derived(name="k")
        found = select(column, *columns).where(column == keys.c.key)
        found = (found.limit(1) if unique else found).lateral("found")
        return db.session.execute(select(*found.c).select_from(keys).join(found, true())).all()
    rows = []
    for clause in matching(column, values):
        rows.extend(db.session.execute(select(column, *columns).where(clause)).all())
    return rows


def array_literal(values) -> str:
    """A PostgreSQL array literal ('{"a","b"}') of plain values: one text parameter that the server
    parses far faster than an ARRAY[...] of thousands of bound values."""
    values = list(values)
    texts = ["" if v is None else str(v) for v in values]
    if not texts:
        return "{}"
    plain = "".join(texts)
    if '"' not in plain and "\\" not in plain and None not in values:
        return '{"' + '","'.join(texts) + '"}'
    return "{" + ",".join("NULL" if v is None else '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for v, t in zip(values, texts)) + "}"


def month_of(value) -> date:
    return date(value.year, value.month, 1)


# Messages of references that resolve to nothing (formatted only when a row fails).
NOT_FOUND = {"staff": _l("No staff member with employee no. %(key)s."),
             "department": _l("No department with code %(key)s."),
             "stay": _l("No stay with source id %(key)s."),
             "operation": _l("No operation with source id %(key)s.")}


class Context:
    """Look-ups shared by the rows of one batch, loaded once per batch."""

    def __init__(self):
        self._staff: dict[str, int] | None = None
        self._departments: dict[str, int] | None = None
        self.refs: dict[str, dict] = {}
        self.codes: dict[str, dict] = {}
        self.unknown: Counter = Counter()
        self.unknown_names: dict[tuple[str, str], str | None] = {}

    @property
    def staff(self) -> dict[str, int]:
        """Every staff member's id by 工号, loaded once per batch (a few thousand rows at most: one
        query beats looking up the 工号 of each row)."""
        if self._staff is None:
            from app.modules.org.models import Staff

            self._staff = dict(db.session.execute(select(Staff.employee_no, Staff.id)).all())
        return self._staff

    @property
    def departments(self) -> dict[str, int]:
        if self._departments is None:
            from app.modules.org.models import Department

            self._departments = dict(db.session.execute(select(Department.code, Department.id)).all())
        return self._departments

    def load_refs(self, name: str, model, rows: list[dict], field: str, *columns) -> dict:
        """Records referred to by `field` (a source id), keyed by source id."""
        keys = sorted({str(r.get(field)).strip() for r in rows if isinstance(r, dict) and r.get(field)})
        found = {row[0]: row for row in fetch_by(model.source_id, keys, model.id, *columns)}
        self.refs[name] = found
        return found

    def load_codes(self, dictionary: str, model, codes: set[str], *columns) -> dict:
        found: dict = {}
        for clause in matching(model.code, sorted(c for c in codes if c)):
            for row in db.session.execute(select(model.code, *columns).where(clause)):
                found[row[0]] = row
        self.codes[dictionary] = found
        return found

    def check_code(self, dictionary: str, code: str | None, name: str | None = None):
        if not code:
            return None
        found = self.codes[dictionary].get(code)
        if found is None:
            self.unknown[(dictionary, code)] += 1
            self.unknown_names.setdefault((dictionary, code), name)
        return found


def _codes_in(rows: list[dict], *fields: str) -> set[str]:
    codes = set()
    for row in rows:
        if not isinstance(row, dict):
            continue
        for field in fields:
            value = row.get(field)
            if value:
                codes.add(str(value).strip())
    return codes


class Kind:
    name: str
    label = None
    model = None
    key = "source_id"
    fields: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    compare: tuple[str, ...] = ()
    fetch_extra: tuple[str, ...] = ()  # columns of the stored record the metrics keys need
    need_ids = False
    dictionary: str | None = None  # dictionary kinds resolve unknown codes of this dictionary

    def prepare(self, ctx: Context, rows: list[dict]) -> None:
        pass

    def convert(self, ctx: Context, r: RowReader) -> dict | None:
        raise NotImplementedError

    def finish(self, ctx: Context, prepared: list[dict]) -> None:
        pass

    def before_write(self, ctx: Context, new: list[dict], changed: list[tuple]) -> None:
        pass

    def after_write(self, ctx: Context, new: list[dict], changed: list[tuple], ids: dict[str, int]) -> None:
        pass

    def affected(self, ctx: Context, new: list[dict], changed: list[tuple]) -> set:
        return set()

    def deltas(self, ctx: Context, new: list[dict]) -> dict | None:
        """Metric increments of the new records when they can simply be added (None: recount)."""
        return None

    def children_differ(self, existing: dict, prepared: list[dict]) -> set:
        """Keys of existing records whose child rows (not compared as columns) would change."""
        return set()

    def staff_ref(self, ctx: Context, r: RowReader, field: str, required: bool = False):
        return r.ref(field, ctx.staff, NOT_FOUND["staff"], required)

    def department_ref(self, ctx: Context, r: RowReader, field: str, required: bool = False):
        return r.ref(field, ctx.departments, NOT_FOUND["department"], required)
