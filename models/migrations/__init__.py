"""Alembic migrations for Deskmail's schema (`deskmail db upgrade`)."""
