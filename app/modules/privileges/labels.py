"""Words the privilege pages show for statuses and actions (UI.md terms), with their colours."""
from flask_babel import lazy_gettext as _l

GRANT_STATUS_LABELS = {"active": _l("In force"), "suspended": _l("Privilege suspended"),
                       "terminated": _l("Privilege terminated"), "expired": _l("Privilege expired")}
GRANT_STATUS_CLASSES = {"active": "success", "suspended": "warning", "terminated": "danger", "expired": "secondary"}
APPLICATION_STATUS_LABELS = {"pending": _l("Under review"), "approved": _l("Approved"), "rejected": _l("Rejected"),
                             "withdrawn": _l("Withdrawn"), "cancelled": _l("Cancelled")}
APPLICATION_STATUS_CLASSES = {"pending": "warning", "approved": "success", "rejected": "danger",
                              "withdrawn": "secondary", "cancelled": "secondary"}
AUTO_LABELS = {"approve": _l("Approved automatically"), "reject": _l("Rejected automatically"),
               "review": _l("Manual review")}
AUTO_CLASSES = {"approve": "success", "reject": "danger", "review": "info"}
CHANGE_LABELS = {"grant": _l("Granted"), "renew": _l("Renewed"), "suspend": _l("Suspend"), "restore": _l("Restore"),
                 "terminate": _l("Terminate"), "narrow": _l("Narrow the scope"), "widen": _l("Widen the scope"),
                 "expire": _l("Expired")}
FIELD_LABELS = {"status": _l("Status"), "level": _l("Level"), "scope": _l("Scope of the grant")}
OVERRIDE_STATUS_LABELS = {"open": _l("To review"), "accepted": _l("Accepted"), "questioned": _l("Questioned")}
OVERRIDE_STATUS_CLASSES = {"open": "warning", "accepted": "success", "questioned": "danger"}
