"""The operations page, served at /operations/ (HTML, CSS, JavaScript of our own)."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent
OPERATIONS_HTML = STATIC_DIR / "operations.html"
