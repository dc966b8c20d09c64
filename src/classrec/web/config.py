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


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


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
    # fair use: what one account may take from the others (docs/reliability.md)
    user_quota_mb: int = 20_000
    max_upload_minutes: int = 360
    max_expansion: int = 1000
    """An upload may decode to at most this many times its size (16 kHz PCM16 bytes per byte
    uploaded; 6 kbit/s Opus is 43x, ten hours of silence in a 72 kB FLAC 16,000x)."""
    uploads_per_user: int = 2
    upload_idle_s: float = 30.0
    upload_min_bytes_per_s: int = 16 * 1024
    max_recording_minutes: int = 360
    live_speed: float = 2.0
    """Sustained audio a socket may send, in multiples of real time (2: a reconnect catches up)."""
    live_burst_s: float = 30.0
    """Seconds of audio a socket may send at once above `live_speed` (after a reconnect)."""
    streams_per_user: int = 3
    max_streams: int = 1000
    cpu_slots: int = field(default_factory=lambda: os.cpu_count() or 1)
    """Password hashes (and, separately, upload analyses) run at once; more wait their turn."""
    max_uploads: int = 64
    signups_per_hour: int = 30
    """Per address: a class signing up from one school address at the start of term fits."""
    trust_proxy_headers: bool = False

    def __post_init__(self) -> None:
        if not self.database_url:
            db_path = self.data_dir / "classrec.sqlite3"
            object.__setattr__(self, "database_url", f"sqlite:///{db_path}")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def user_quota_bytes(self) -> int:
        return self.user_quota_mb * 1024 * 1024

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
            user_quota_mb=_env_int("CLASSREC_USER_QUOTA_MB", 20_000),
            max_upload_minutes=_env_int("CLASSREC_MAX_UPLOAD_MINUTES", 360),
            uploads_per_user=_env_int("CLASSREC_UPLOADS_PER_USER", 2),
            upload_idle_s=_env_float("CLASSREC_UPLOAD_IDLE_S", 30.0),
            max_recording_minutes=_env_int("CLASSREC_MAX_RECORDING_MINUTES", 360),
            live_speed=_env_float("CLASSREC_LIVE_SPEED", 2.0),
            live_burst_s=_env_float("CLASSREC_LIVE_BURST_S", 30.0),
            streams_per_user=_env_int("CLASSREC_STREAMS_PER_USER", 3),
            max_streams=_env_int("CLASSREC_MAX_STREAMS", 1000),
            signups_per_hour=_env_int("CLASSREC_SIGNUPS_PER_HOUR", 30),
            trust_proxy_headers=_env_bool("CLASSREC_TRUST_PROXY_HEADERS", False),
            log_level=os.environ.get("CLASSREC_LOG_LEVEL", "INFO").upper(),
        )
