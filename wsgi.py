"""WSGI entry point for production servers: `gunicorn wsgi:app`."""
from app import create_app, freeze_startup_objects

app = create_app()
freeze_startup_objects()  # the app lives as long as the process: keep it out of full GC passes
