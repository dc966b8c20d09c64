"""The user's own settings: the segmentation preset their lectures are cut with."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from classrec.errors import ClassRecError
from classrec.web import crud, presets
from classrec.web.deps import DbDep, SettingsDep, UserDep, lecture_files
from classrec.web.models import User
from classrec.web.schemas import PresetIn, PresetOut

router = APIRouter(prefix="/api/me", tags=["preferences"])


def _preset_out(user: User) -> PresetOut:
    name, options = presets.chosen(user.segment_preset)
    return PresetOut(name=name, options=presets.options_json(options), rooms=list(presets.ROOMS))


@router.get("/preset", response_model=PresetOut)
def get_preset(user: UserDep) -> PresetOut:
    return _preset_out(user)


@router.put("/preset", response_model=PresetOut)
def set_preset(body: PresetIn, user: UserDep, db: DbDep, settings: SettingsDep) -> PresetOut:
    """Choose a room or upload a preset file (a bad one is refused with 422, nothing changed).
    The user's speech-only files were cut with the old options, so they are removed (made again
    on the next request)."""
    try:
        user.segment_preset = presets.stored(body.name, body.file)
    except ClassRecError as exc:
        raise HTTPException(422, str(exc)) from None
    for lecture in crud.list_lectures(db, user):
        for path in lecture_files(settings, lecture).root.glob("speech-only.*"):
            path.unlink(missing_ok=True)
    return _preset_out(user)
