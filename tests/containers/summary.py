"""Lines for the run's summary: which engine ran, which public images were stood in for, which
images were reused or built, their sizes. tests/containers/conftest.py prints them at the end."""

from __future__ import annotations

LINES: list[str] = []


def note(line: str) -> None:
    LINES.append(line)
