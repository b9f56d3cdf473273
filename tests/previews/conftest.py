"""A real `cloudnexus serve` for the previews' tests, as tests/test_serving.py starts it."""

from tests.test_serving import serve_factory

__all__ = ["serve_factory"]
