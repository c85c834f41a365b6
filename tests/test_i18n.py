"""Every UI string has its Chinese translation (zh_CN is the default language)."""
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "app/translations/zh_Hans_CN/LC_MESSAGES/messages.po"


def test_every_message_is_translated(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
                    "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "app", "templates"],
                   cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with PO.open("rb") as fh:
        catalog = {m.id: m.string for m in read_po(fh, locale="zh_CN") if m.id}
    missing = sorted(str(i) for i in wanted if not catalog.get(i))
    assert not missing, f"add Chinese for: {missing[:20]} (run `make messages`, then translate)"
