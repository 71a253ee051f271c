"""mailtop: a terminal operations dashboard and health check for mail servers."""

__version__ = "0.1.0"
