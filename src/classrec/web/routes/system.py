"""Health check and free storage."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from classrec.web import storage
from classrec.web.deps import DbDep, SettingsDep, UserDep

router = APIRouter(tags=["system"])


@router.get("/health")
def health(db: DbDep) -> dict:
    db.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/api/storage")
def storage_left(settings: SettingsDep, _user: UserDep) -> dict:
    """Free disk where recordings go, shown while recording; seconds at 16 kHz PCM16."""
    free = storage.free_bytes(settings.data_dir)
    return {"free_bytes": free, "free_seconds": free // (storage.SAMPLE_RATE * 2)}
