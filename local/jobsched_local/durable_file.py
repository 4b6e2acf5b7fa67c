"""Replace a state file so that a crash leaves either the old content or the new one, never a torn file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_durably(path: Path, text: str, prefix: str) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, rename it over `path`, then fsync the folder:
    the rename itself is durable only once the folder's entry is on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
