"""The REST API: the same inference core and prediction store as the web page, for programs.

`create_app` (FastAPI) is imported on first use, so that `digit-knower --help`, which reaches
`api.api_command`, stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digit_knower.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name != "create_app":
        raise AttributeError(f"module 'digit_knower.api' has no attribute {name!r}")
    from digit_knower.api.app import create_app

    return create_app
