"""The web page as Streamlit's AppTest runs it: the page's script, by path."""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "src" / "digit_knower" / "web" / "app.py"
