"""Where the index is when no ``--db`` is given: one rule for every command, the API and the actions."""

from __future__ import annotations

import os

from platformdirs import user_cache_path

DB_ENV_VAR = "IMGTWIN_DB"


def default_db_path() -> str:
    """``$IMGTWIN_DB``, else ``index.sqlite3`` in the user's cache folder."""
    return os.environ.get(DB_ENV_VAR) or str(user_cache_path("imgtwin", ensure_exists=True) / "index.sqlite3")
