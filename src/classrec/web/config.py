"""Settings from environment variables, with defaults that work on a fresh machine.

Everything the app writes lives under one data directory, so `make run` needs no setup and a
test can point a whole server at a temporary directory with one variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return raw in {"1", "true", "yes", "on"} if raw else default


@dataclass(frozen=True)
class Settings:
    """Runtime settings; `Settings.from_env()` reads them, tests may build one directly."""

    data_dir: Path = field(default_factory=lambda: Path("data").resolve())
    database_url: str = ""
    max_upload_mb: int = 500
    host: str = "127.0.0.1"
    port: int = 8000
    secure_cookies: bool = False
    session_days: int = 14
    login_attempts: int = 5
    login_window_s: int = 300
    fsync_interval_s: float = 0.5
    max_frame_bytes: int = 256 * 1024
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not self.database_url:
            db_path = self.data_dir / "classrec.sqlite3"
            object.__setattr__(self, "database_url", f"sqlite:///{db_path}")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def lectures_dir(self) -> Path:
        return self.data_dir / "lectures"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @classmethod
    def from_env(cls) -> Settings:
        """Read CLASSREC_* variables and DATABASE_URL; unset ones keep their defaults."""
        return cls(
            data_dir=Path(os.environ.get("CLASSREC_DATA_DIR", "data")).resolve(),
            database_url=os.environ.get("DATABASE_URL", ""),
            max_upload_mb=_env_int("CLASSREC_MAX_UPLOAD_MB", 500),
            host=os.environ.get("CLASSREC_HOST", "127.0.0.1"),
            port=_env_int("CLASSREC_PORT", 8000),
            secure_cookies=_env_bool("CLASSREC_SECURE_COOKIES", False),
            login_attempts=_env_int("CLASSREC_LOGIN_ATTEMPTS", 5),
            log_level=os.environ.get("CLASSREC_LOG_LEVEL", "INFO").upper(),
        )
