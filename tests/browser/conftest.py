"""The browser tier uses the e2e tier's real-model fixtures."""

from tests.e2e.conftest import model_path  # noqa: F401
