"""Route-crawl values of the portal's routes (tests/test_route_crawl.py ARG_VALUES): for each role
an application of its own (in scope), and a marker application in the marker department started
by the marker user — visible only to hospital-wide oversight (医务科, admin), else 404."""
from __future__ import annotations

# 1×1 PNG
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a730000"
                    "001649444154789c633c2127c7c0c0c0c4c0c0c0c0c000000d0401087d71ca660000000049454e44ae426082")


def _plant(world) -> dict:
    from app.extensions import db
    from app.modules.accounts.models import User
    from app.modules.portal import access
    from app.workflow import runtime
    from tests.portal.conftest import PROCESS, publish_fixtures, user

    publish_fixtures()
    marker_user = db.session.get(User, world.markers["user"].id)
    marker = runtime.start(marker_user, PROCESS, business_key="CRAWL-MARKER", department_id=world.markers["dept"].id,
                           data={"title": "标记申请", "amount": 1}, title="标记申请")
    marker_file = runtime.add_attachment(marker_user, marker, "marker.png", PNG, "image/png")
    me = user(world.username) if world.username else None
    values = {"marker": marker, "marker_task": runtime.open_tasks(marker.id)[0], "marker_file": marker_file,
              "visible": me is not None and access.can_view_instance(me, marker)}
    if me is not None:
        own = runtime.start(me, PROCESS, business_key="CRAWL-OWN",
                            department_id=me.staff.department_id if me.staff else None,
                            data={"title": "本人申请", "amount": 2}, title="本人申请")
        values.update(own=own, own_task=runtime.open_tasks(own.id)[0],
                      own_file=runtime.add_attachment(me, own, "own.png", PNG, "image/png"))
    else:
        values.update(own=marker, own_task=values["marker_task"], own_file=marker_file)
    db.session.flush()
    return values


def values(world, marker_class, arg: str) -> tuple[list, list]:
    """(in-scope values, marker records) of a portal route argument."""
    planted = getattr(world, "_portal", None)
    if planted is None:
        planted = world._portal = _plant(world)
    if arg == "key":
        return [planted["own"].process_key], []
    own, marker = {"task_id": ("own_task", "marker_task"), "instance_id": ("own", "marker"),
                   "attachment_id": ("own_file", "marker_file")}[arg]
    record = planted[marker]
    return [planted[own].id], [marker_class(f"portal_{arg}", f"portal-{arg}-{record.id}", record.id,
                                            planted["visible"])]
