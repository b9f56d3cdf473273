"""CloudNexus: file storage and metadata API."""

__version__ = "0.1.0"
