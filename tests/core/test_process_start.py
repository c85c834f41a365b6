"""Long-running processes freeze what they loaded at start out of the garbage collector's full
passes (a full collection over ~200k startup objects is a 0.1 s pause in whatever request runs)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wsgi_entry_point_freezes_the_startup_objects(tmp_path):
    env = {**os.environ, "MEDTECH_INSTANCE": str(tmp_path), "SECRET_KEY": "test-secret-key-0123456789abcdef",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}", "REDIS_URL": ""}
    probe = "import gc, wsgi; print(gc.get_freeze_count(), len(gc.get_objects()))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    frozen, tracked = int(out[-2]), int(out[-1])
    assert frozen > 50_000, "the app's objects are in the permanent generation"
    assert tracked < frozen / 10, "few objects are left for the collector to walk"
