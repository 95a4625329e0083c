"""The REST API: the same inference core and prediction store as the web page, for programs."""

from digit_knower.api.app import create_app

__all__ = ["create_app"]
