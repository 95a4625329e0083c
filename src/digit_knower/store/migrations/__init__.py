"""Alembic migrations, shipped inside the package so `digit-knower db upgrade` works from a wheel."""
