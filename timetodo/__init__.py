"""Time to DO: the project package (settings, ASGI, URLs) and project-wide pieces."""

__version__ = "0.1.0"
