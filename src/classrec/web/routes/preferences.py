"""The user's own settings: the segmentation preset their lectures are cut with, chosen by name,
uploaded as a `classrec tune` file, or tuned here on a labelled sample (web.preset_tuning)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Coroutine
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from classrec.errors import ClassRecError
from classrec.segments import VadOptions
from classrec.web import crud, preset_tuning, presets
from classrec.web.config import Settings
from classrec.web.deps import DbDep, SettingsDep, ShortUserDep, UserDep, lecture_files
from classrec.web.models import User
from classrec.web.preset_tuning import TuningJob
from classrec.web.routes.lectures import display_name
from classrec.web.schemas import PresetIn, PresetOut
from classrec.web.upload_jobs import declared_seconds

router = APIRouter(prefix="/api/me", tags=["preferences"])
log = logging.getLogger("classrec.web.presets")


def _preset_out(user: User) -> PresetOut:
    name, options = presets.chosen(user.segment_preset)
    return PresetOut(
        name=name,
        options=presets.options_json(options),
        rooms=list(presets.ROOMS),
        about=presets.about(user.segment_preset),
    )


def _save(db: Session, settings: Settings, user: User, value: str | None) -> None:
    """Set the user's preset. Their speech-only files were cut with the old options, so they
    are removed (made again on the next request)."""
    user.segment_preset = value
    for lecture in crud.list_lectures(db, user):
        for path in lecture_files(settings, lecture).root.glob("speech-only.*"):
            path.unlink(missing_ok=True)


@router.get("/preset", response_model=PresetOut)
def get_preset(user: UserDep) -> PresetOut:
    return _preset_out(user)


@router.put("/preset", response_model=PresetOut)
def set_preset(body: PresetIn, user: UserDep, db: DbDep, settings: SettingsDep) -> PresetOut:
    """Choose a room or upload a preset file (a bad one is refused with 422, nothing changed)."""
    try:
        value = presets.stored(body.name, body.file)
    except ClassRecError as exc:
        raise HTTPException(422, str(exc)) from None
    _save(db, settings, user, value)
    return _preset_out(user)


# -- tuned on a labelled sample ------------------------------------------------------------------
@router.post("/preset/sample", response_model=PresetOut)
async def tune_on_sample(request: Request, user: ShortUserDep, settings: SettingsDep) -> PresetOut:
    """Tune the preset on a labelled sample: a multipart form with `audio` (any format the
    decoder reads), `labels` (.rttm, .txt, .json or .csv) and optionally `objective`
    (frame_f1 or segment_f1). Answers when the tuned preset is saved; the search runs in a
    task of its own, so a client that leaves does not stop it, and GET /preset/sample shows
    its progress. Bad input is refused with one line (413 too large, 422 otherwise) and
    changes nothing; a second tuning while one runs is 409, and a failure of the server's own
    is 500 with one line. No database session is held while the body arrives or the search
    runs."""
    _check_size(request, settings)
    jobs = request.app.state.tuning_jobs
    if running := jobs.running(user.id):
        raise HTTPException(409, f"a preset is being tuned on {running.audio_name}: wait for it")
    folder = jobs.new_folder()
    try:
        receiving = _receive_sample(request, user, folder)
        job, audio, labels = await _within_deadline(receiving, request, settings)
        if jobs.running(user.id):  # another request got there while this one arrived
            raise HTTPException(409, "a preset is already being tuned: wait for it")
    except BaseException:
        preset_tuning.remove(folder)
        raise
    jobs.add(job)
    task = asyncio.get_running_loop().create_task(_tune(request, job, folder, audio, labels))
    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # answered, or nobody left
    try:
        await asyncio.shield(task)
    except preset_tuning.SampleTooLong as exc:
        raise HTTPException(413, str(exc)) from None
    except ClassRecError as exc:
        raise HTTPException(422, str(exc)) from None
    except Exception:  # logged by the task; nothing was changed
        raise HTTPException(500, job.error) from None
    with request.app.state.db.session() as db:
        return _preset_out(db.get(User, user.id))


@router.get("/preset/sample")
def tuning_progress(request: Request, user: UserDep) -> dict:
    """The user's latest tuning in this server process: {state: running, done or failed, phase:
    decoding or searching, fraction, elapsed_s, audio, labels, error}; {state: none} if none."""
    job = request.app.state.tuning_jobs.jobs.get(user.id)
    return job.progress() if job is not None else {"state": "none"}


def _check_size(request: Request, settings: Settings) -> None:
    """Refuse a body over the upload limit before reading it. The declared length is required
    (browsers send it with a form) and the server reads no further than it declares."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise HTTPException(411, "send the sample with its length (Content-Length)")
    if int(declared) > settings.max_upload_bytes:
        raise HTTPException(
            413, f"the sample is larger than the {settings.max_upload_mb} MB upload limit"
        )


async def _within_deadline(receiving: Coroutine, request: Request, settings: Settings) -> tuple:
    """Await the sample's arrival for at most `upload_idle_s` plus its declared length at
    `upload_min_bytes_per_s` (the upload's rules), else 408: a client trickling a byte now
    and then would otherwise hold a socket and a temporary folder for as long as it likes."""
    deadline = settings.upload_idle_s + int(request.headers["content-length"]) / (
        settings.upload_min_bytes_per_s
    )
    try:
        return await asyncio.wait_for(receiving, deadline)
    except TimeoutError:
        raise HTTPException(408, "the sample upload is too slow: try a faster connection") from None


async def _receive_sample(request: Request, user: User, folder: Path) -> tuple:
    """(job, audio path, labels path): the form's files stored in `folder`."""
    async with request.form(max_files=2, max_fields=2) as form:
        audio, labels = form.get("audio"), form.get("labels")
        if not isinstance(audio, UploadFile) or not isinstance(labels, UploadFile):
            raise HTTPException(422, "send the audio and its labels (form fields audio, labels)")
        if (labels.size or 0) > preset_tuning.MAX_LABELS_MB * 1024 * 1024:
            limit = preset_tuning.MAX_LABELS_MB
            raise HTTPException(413, f"the labels file is larger than {limit:g} MB: is it labels?")
        objective = form.get("objective") or "frame_f1"
        try:
            objective = preset_tuning.check_objective(str(objective))
        except ClassRecError as exc:
            raise HTTPException(422, str(exc)) from None
        names = [display_name(f.filename) for f in (audio, labels)]
        job = TuningJob(user.id, *names, objective=objective)
        paths = []
        for upload, kind in ((audio, "audio"), (labels, "labels")):
            path = folder / preset_tuning.stored_name(kind, upload.filename or "")
            await run_in_threadpool(_copy, upload, path)
            paths.append(path)
    job.total_s = await run_in_threadpool(declared_seconds, paths[0])
    return job, *paths


async def _tune(request: Request, job: TuningJob, folder: Path, audio: Path, labels: Path) -> None:
    """Read the labels, run the search (in a process of its own, holding one of the server's
    analysis slots), then save the preset; the job records how it ended and the sample's files
    are removed either way."""
    app = request.app
    try:
        await run_in_threadpool(preset_tuning.check_labels, labels, job)
        async with app.state.analysis_slots:
            best, about = await run_in_threadpool(preset_tuning.tune_in_child, job, audio, labels)
        await run_in_threadpool(_save_tuned, request, job.user_id, best, about)
        job.done = True
    except ClassRecError as exc:
        job.error = str(exc)
        raise
    except BaseException:
        job.error = "the tuning failed on the server: try again"
        log.exception("preset tuning failed", extra={"user_id": job.user_id})
        raise
    finally:
        preset_tuning.remove(folder)


def _save_tuned(request: Request, user_id: int, best: VadOptions, about: dict) -> None:
    with request.app.state.db.session() as db:
        user = db.get(User, user_id)
        if user is not None:  # the account may have gone meanwhile
            _save(db, request.app.state.settings, user, presets.stored_tuned(best, about))


def _copy(upload: UploadFile, path: Path) -> None:
    """A form's file (spooled by the parser) to `path`."""
    upload.file.seek(0)
    with open(path, "wb") as out:
        shutil.copyfileobj(upload.file, out, 1 << 20)
