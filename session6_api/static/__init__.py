"""Files served at /static (HTML, CSS, JavaScript of our own; nothing fetched at run time)."""

from pathlib import Path

INDEX_HTML = Path(__file__).with_name("index.html")
TASK_HTML = Path(__file__).with_name("task.html")
