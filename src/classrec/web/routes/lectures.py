"""Lectures: list, create (live), upload, rename, delete, and everything the lecture page reads."""

from __future__ import annotations

import asyncio
import errno
import re
import time
import unicodedata
from pathlib import Path

import anyio
import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy import delete as delete_rows
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from classrec.errors import ClassRecError
from classrec.outputs import format_segments
from classrec.segments import VadOptions
from classrec.speech_only import cut_to_speech, speech_only_options
from classrec.web import analysis, crud, playback, schemas, storage, upload_jobs
from classrec.web.config import Settings
from classrec.web.deps import (
    DbDep,
    LectureDep,
    SettingsDep,
    ShortUserDep,
    UserDep,
    ViewableLectureDep,
    lecture_files,
    request_quota_left,
)
from classrec.web.limits import LimitReached
from classrec.web.models import Lecture, User, new_id
from classrec.web.schemas import LectureCreate, LectureOut, LectureUpdate

router = APIRouter(prefix="/api/lectures", tags=["lectures"])

SEGMENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "rttm": "text/plain",
    "srt": "application/x-subrip",
}
CURVE_POINTS = 4000
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
UPLOAD_KEY = r"^[0-9a-f]{16,64}$"
"""The page sends the SHA-256 (hex) of the chosen file's name, size and modification time."""


def display_name(name: str | None) -> str:
    """A file name as shown to users: last path part only, no control characters. Never a path."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:255] or "recording"


def file_id(title: str) -> str:
    """A title as a file name stem or RTTM/JSON file id: safe characters, no trailing dot."""
    return (re.sub(r"[^A-Za-z0-9._-]+", "_", title).strip("._") or "lecture")[:80].rstrip("._")


def download_name(title: str, ext: str) -> str:
    return f"{file_id(title)}.{ext}"


@router.get("", response_model=list[LectureOut])
def list_lectures(user: UserDep, db: DbDep) -> list[Lecture]:
    return crud.list_lectures(db, user)


@router.post("", response_model=LectureOut, status_code=201)
def create_live(body: LectureCreate, user: UserDep, db: DbDep) -> Lecture:
    """A new live recording; audio then arrives over /api/lectures/{id}/live."""
    return crud.create_lecture(db, user, body.title.strip(), "live", status="recording")


async def _receive_upload(
    request: Request, target: Path, limit: int, too_large: str, settings: Settings
) -> None:
    """Stream the body to `target`, stopping as soon as it passes `limit` bytes, waits
    `upload_idle_s` for a byte, or averages under `upload_min_bytes_per_s` after that long (a
    client sending 1 byte every 2 s would otherwise hold its slot and socket for months)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, too_large)
    size, started, chunks = 0, time.monotonic(), request.stream()
    with open(target, "wb") as out:
        while True:
            try:
                chunk = await asyncio.wait_for(anext(chunks), settings.upload_idle_s)
            except StopAsyncIteration:
                break
            except asyncio.TimeoutError:
                raise HTTPException(408, "the upload stalled: send the file again") from None
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, too_large)
            out.write(chunk)
            elapsed = time.monotonic() - started
            if (
                elapsed > settings.upload_idle_s
                and size < elapsed * settings.upload_min_bytes_per_s
            ):
                raise HTTPException(408, "the upload is too slow: try a faster connection")
    if size == 0:
        raise HTTPException(400, "empty upload: choose an audio or video file")


@router.post("/upload", response_model=LectureOut, status_code=201)
async def upload(
    request: Request,
    response: Response,
    user: ShortUserDep,
    settings: SettingsDep,
    filename: str = Query("", max_length=1000),
    title: str = Query("", max_length=200),
    key: str | None = Query(None, pattern=UPLOAD_KEY),
) -> Lecture:
    """Upload a recording as the raw request body (any format the decoder reads); it is decoded
    and analysed before the response, so a non-audio file is refused here, with nothing kept.
    The analysis runs in a task of its own under a `processing` lecture: a client that leaves
    (reload, closed tab) does not stop it. `key` names the chosen file: an upload with the key
    of an existing lecture answers 200 with that lecture and stores nothing.
    No database session is held while the body arrives or is analysed; each user has
    `uploads_per_user` slots, and analyses run `cpu_slots` at a time."""
    if key and (known := await run_in_threadpool(_lecture_by_key, request, user.id, key)):
        response.status_code = 200
        return known
    try:
        with request.app.state.upload_slots.hold(user.id):
            lecture = await _upload(request, user, settings, display_name(filename), title, key)
    except LimitReached as exc:
        raise HTTPException(429, str(exc)) from None
    if lecture.status != "ready":  # another request with this key made it
        response.status_code = 200
    return lecture


@router.get("/upload/{key}", response_model=LectureOut)
def uploaded(key: str, user: UserDep, db: DbDep) -> Lecture:
    """The lecture made from the file with this key (404 if none): the page asks before sending."""
    lecture = crud.lecture_by_upload_key(db, user.id, key)
    if lecture is None:
        raise HTTPException(404, "no lecture from this file yet")
    return lecture


@router.get("/progress")
async def progress(request: Request, user: UserDep, settings: SettingsDep) -> dict[str, dict]:
    """Uploads of this user being analysed: {lecture id: {done_s, total_s, fraction, eta_s}}.
    A `processing` lecture with no analysis in this process (the server restarted meanwhile)
    is analysed again from its stored original here, so none stays processing forever."""
    jobs = _upload_jobs(request)
    waiting = await run_in_threadpool(_processing_ids, request, user.id)
    for lecture_id in waiting:
        if not jobs.running(lecture_id):
            await _restart_analysis(request, user, settings, lecture_id)
    return jobs.progress_of(user.id)


def _processing_ids(request: Request, user_id: int) -> list[str]:
    with request.app.state.db.session() as db:
        user = db.get(crud.User, user_id)
        return [x.id for x in crud.list_lectures(db, user) if x.status == "processing"]


async def _restart_analysis(
    request: Request, user: User, settings: Settings, lecture_id: str
) -> None:
    files = storage.LectureFiles.of(settings.lectures_dir, lecture_id)
    quota_left = await run_in_threadpool(request_quota_left, request, user)
    size = files.original.stat().st_size if files.original.is_file() else 0  # 0: fails, removed
    rewritten = files.audio.stat().st_size if files.audio.is_file() else 0
    decode_limit = analysis.upload_limit(settings, size, quota_left + rewritten)
    job = upload_jobs.Job(lecture_id, user.id, files, upload_jobs.declared_seconds(files.original))
    _upload_jobs(request).start(job, _analyse(request, files, decode_limit))


def _upload_jobs(request: Request) -> upload_jobs.UploadJobs:
    """The app's running analyses (made on first use)."""
    if not hasattr(request.app.state, "upload_jobs"):
        request.app.state.upload_jobs = upload_jobs.UploadJobs()
    return request.app.state.upload_jobs


def _lecture_by_key(request: Request, user_id: int, key: str) -> Lecture | None:
    with request.app.state.db.session() as db:
        return crud.lecture_by_upload_key(db, user_id, key)


async def _upload(
    request: Request, user: User, settings: Settings, name: str, title: str, key: str | None
) -> Lecture:
    quota_left = await run_in_threadpool(request_quota_left, request, user)
    if quota_left < settings.max_upload_bytes:
        limit, too_large = (
            quota_left,
            f"your {settings.user_quota_mb} MB of storage is full: delete lectures first",
        )
    else:
        limit, too_large = (
            settings.max_upload_bytes,
            f"file is larger than the {settings.max_upload_mb} MB upload limit",
        )
    lecture_id = new_id()
    files = storage.LectureFiles.of(settings.lectures_dir, lecture_id)
    files.root.mkdir(parents=True)
    try:
        await _receive_upload(request, files.original, limit, too_large, settings)
        decode_limit = analysis.upload_limit(settings, files.original.stat().st_size, quota_left)
        lecture = await run_in_threadpool(
            _store_upload, request, user.id, lecture_id, name, title, key
        )
    except BaseException as exc:
        files.remove()
        raise _as_http(exc, files) from None
    if lecture.id != lecture_id:  # the same file, sent twice at once: the other one counts
        files.remove()
        return lecture
    job = upload_jobs.Job(lecture_id, user.id, files, upload_jobs.declared_seconds(files.original))
    task = _upload_jobs(request).start(job, _analyse(request, files, decode_limit))
    try:
        return await asyncio.shield(task)
    except Exception as exc:  # the task removed the lecture; say why
        raise _as_http(exc, files) from None


def _as_http(exc: BaseException, files: storage.LectureFiles) -> BaseException:
    """What the client is told when an upload fails (nothing of it is kept by then)."""
    if isinstance(exc, analysis.TooMuchAudio):
        return HTTPException(413, str(exc))
    if isinstance(exc, ClassRecError):  # the decoder's reason, without the server's file name
        reason = str(exc).removeprefix(f"{files.original}: ")
        return HTTPException(415, f"this file has no audio the server can decode: {reason}")
    if isinstance(exc, ClientDisconnect):  # the client went away: nothing to answer
        return HTTPException(400, "the upload was cut off")
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:  # a clear answer, not a 500
        return HTTPException(507, "the server's storage is full: nothing was stored")
    return exc


async def _analyse(
    request: Request, files: storage.LectureFiles, decode_limit: analysis.DecodeLimit
) -> Lecture:
    """Decode and analyse a stored upload, then mark its lecture ready and prepare its playback
    file. On any failure the lecture and its files are removed (no half-analysed lecture)."""
    lecture_id = files.root.name
    try:
        async with request.app.state.analysis_slots:
            options = await run_in_threadpool(_owner_options, request, lecture_id)
            duration, ratio = await run_in_threadpool(
                analysis.process_upload, files.original, files, decode_limit, options
            )
        lecture = await run_in_threadpool(_finish_upload, request, lecture_id, duration, ratio)
    except BaseException:
        files.remove()
        await run_in_threadpool(_forget_upload, request, lecture_id)
        raise
    playback.prepare_soon(files)
    return lecture


def _owner_options(request: Request, lecture_id: str) -> VadOptions:
    """The segmentation preset of the lecture's owner (the default if it is gone)."""
    with request.app.state.db.session() as db:
        lecture = db.get(Lecture, lecture_id)
        return crud.segment_options(db, lecture.owner_id if lecture else -1)


def _upload_title(title: str, name: str) -> str:
    """The upload's title, cleaned like every title (schemas.clean_title); the file name when
    nothing visible is left of it."""
    for candidate in (title, Path(name).stem, name):
        try:
            return schemas.clean_title(candidate)[:200]
        except ValueError:
            continue
    return "Upload"


def _store_upload(
    request: Request, user_id: int, lecture_id: str, name: str, title: str, key: str | None
) -> Lecture:
    """The `processing` lecture, or the one already made with this key (a concurrent twin)."""
    try:
        with request.app.state.db.session() as db:
            user = db.get(crud.User, user_id)
            return crud.create_lecture(
                db,
                user,
                _upload_title(title, name),
                "upload",
                id=lecture_id,
                status="processing",
                original_name=name,
                upload_key=key,
            )
    except IntegrityError:
        known = _lecture_by_key(request, user_id, key) if key else None
        if known is None:
            raise
        return known


def _finish_upload(request: Request, lecture_id: str, duration: float, ratio: float) -> Lecture:
    with request.app.state.db.session() as db:
        lecture = db.get(Lecture, lecture_id)
        if lecture is None:  # deleted while it was analysed
            raise HTTPException(404, "the lecture was deleted while it was analysed")
        lecture.status, lecture.duration_s, lecture.speech_ratio = "ready", duration, ratio
        return lecture


def _forget_upload(request: Request, lecture_id: str) -> None:
    with request.app.state.db.session() as db:
        db.execute(delete_rows(Lecture).where(Lecture.id == lecture_id))


@router.get("/{lecture_id}", response_model=LectureOut)
def get_lecture(lecture: ViewableLectureDep) -> Lecture:
    return lecture


@router.patch("/{lecture_id}", response_model=LectureOut)
def rename(body: LectureUpdate, lecture: LectureDep) -> Lecture:
    lecture.title = body.title.strip()
    return lecture


@router.delete("/{lecture_id}", status_code=204)
def delete(lecture: LectureDep, request: Request, db: DbDep, settings: SettingsDep) -> None:
    """Delete a lecture and its files; a live stream of it is closed first (an abandoned
    recording must not be undeletable, and a connected client is told). The row goes first:
    a socket opening after that finds no lecture, one opened before is closed by `drop`, so no
    files outlive their row."""
    db.delete(lecture)
    db.commit()
    anyio.from_thread.run(request.app.state.hub.drop, lecture.id)
    lecture_files(settings, lecture).remove()


def _playable(lecture: Lecture, settings: SettingsDep) -> storage.LectureFiles:
    files = lecture_files(settings, lecture)
    if lecture.status == "processing":
        raise HTTPException(409, "the upload is still being analysed")
    if lecture.status == "recording" or not files.audio.is_file():
        raise HTTPException(409, "the lecture is still being recorded")
    return files


@router.get("/{lecture_id}/audio")
def audio(lecture: ViewableLectureDep, settings: SettingsDep) -> FileResponse:
    """The stored 16 kHz WAV (range requests supported, so seeking works)."""
    return FileResponse(_playable(lecture, settings).audio, media_type="audio/wav")


@router.get("/{lecture_id}/playback")
def playback_audio(lecture: ViewableLectureDep, settings: SettingsDep) -> FileResponse:
    """Opus in WebM for the player (range requests supported); 409 while it is being made."""
    ready = playback.ready_file(_playable(lecture, settings))
    if ready is None:
        raise HTTPException(409, "the compressed audio is being prepared: play /audio meanwhile")
    return FileResponse(ready, media_type=playback.MEDIA_TYPE)


def _player_url(lecture: Lecture, files: storage.LectureFiles) -> str:
    """What the page's player should load: the compressed file when ready (starting it
    otherwise), else the WAV. The version query keeps browsers from reusing a stale copy."""
    ready = playback.ready_file(files)
    if ready is None:
        return f"/api/lectures/{lecture.id}/audio"
    return f"/api/lectures/{lecture.id}/playback?v={ready.stat().st_mtime_ns}"


@router.get("/{lecture_id}/original")
def original(lecture: ViewableLectureDep, settings: SettingsDep) -> FileResponse:
    files = _playable(lecture, settings)
    if lecture.source == "live":
        return FileResponse(
            files.audio, media_type="audio/wav", filename=download_name(lecture.title, "wav")
        )
    return FileResponse(
        files.original,
        media_type="application/octet-stream",
        filename=lecture.original_name or download_name(lecture.title, "bin"),
    )


def _segments(lecture: Lecture, settings: SettingsDep, db: DbDep, cutting: bool = False) -> list:
    """The lecture's speech regions, cut with its owner's preset (so every viewer sees the same);
    `cutting`: with the speech-only margins, as `classrec speech-only` cuts."""
    files = _playable(lecture, settings)
    options = crud.segment_options(db, lecture.owner_id)
    options = speech_only_options(options) if cutting else options
    return analysis.lecture_segments(storage.read_probs(files.probs), lecture.duration_s, options)


@router.get("/{lecture_id}/segments")
def segments(
    lecture: ViewableLectureDep,
    settings: SettingsDep,
    db: DbDep,
    format: str = Query("json"),  # noqa: A002
) -> Response:
    """Speech regions as JSON, CSV, RTTM or SRT (formatted by classrec.outputs)."""
    if format not in SEGMENT_TYPES:
        raise HTTPException(400, f"format must be one of {', '.join(SEGMENT_TYPES)}")
    text = format_segments(_segments(lecture, settings, db), format, file_id(lecture.title))
    disposition = f'attachment; filename="{download_name(lecture.title, format)}"'
    return Response(
        text, media_type=SEGMENT_TYPES[format], headers={"content-disposition": disposition}
    )


@router.get("/{lecture_id}/regions")
def regions(lecture: ViewableLectureDep, settings: SettingsDep, db: DbDep) -> dict:
    """Speech regions and a probability curve (max-pooled to at most CURVE_POINTS) for the page."""
    files = _playable(lecture, settings)
    probs = storage.read_probs(files.probs)
    step = max(1, -(-len(probs) // CURVE_POINTS))
    padded = np.pad(probs, (0, -len(probs) % step)) if len(probs) else probs
    curve = padded.reshape(-1, step).max(axis=1) if len(probs) else probs
    found = analysis.lecture_segments(
        probs, lecture.duration_s, crud.segment_options(db, lecture.owner_id)
    )
    return {
        "duration_s": lecture.duration_s,
        "segments": [[round(s.start, 3), round(s.end, 3)] for s in found],
        "curve_step_s": step * analysis.WINDOW_S,
        "curve": [round(float(p), 3) for p in curve],
        "audio_url": _player_url(lecture, files),
    }


SPEECH_ONLY_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}


@router.get("/{lecture_id}/speech-only")
async def speech_only(
    lecture: ViewableLectureDep,
    settings: SettingsDep,
    db: DbDep,
    format: str = Query("wav"),  # noqa: A002
) -> FileResponse:
    """The lecture with non-speech cut out, as WAV or MP3: made on the first request, then kept
    until the lecture's audio changes (a continued recording)."""
    if format not in SPEECH_ONLY_TYPES:
        raise HTTPException(400, f"format must be one of {', '.join(SPEECH_ONLY_TYPES)}")
    files = _playable(lecture, settings)
    target = files.root / f"speech-only.{format}"
    if not playback.is_fresh(target, files.audio):
        found = _segments(lecture, settings, db, cutting=True)
        await run_in_threadpool(_prepare_speech_only, files, found, lecture.duration_s, format)
    return FileResponse(
        target,
        media_type=SPEECH_ONLY_TYPES[format],
        filename=download_name(lecture.title + "-speech", format),
    )


def _prepare_speech_only(
    files: storage.LectureFiles,
    found: list,
    duration: float,
    format: str,  # noqa: A002
) -> None:
    """Write speech-only.wav (and from it speech-only.mp3 when asked), each stamped with the
    stored audio's time, so they are made again only after the lecture changes."""
    wav = files.root / "speech-only.wav"
    if not playback.is_fresh(wav, files.audio):
        playback.write_derived(
            files.audio, wav, lambda tmp: _write_speech_only(files, found, duration, tmp)
        )
    if format == "mp3":
        mp3 = files.root / "speech-only.mp3"
        playback.write_derived(wav, mp3, lambda tmp: playback.encode(wav, tmp, playback.MP3))


def _write_speech_only(
    files: storage.LectureFiles, found: list, duration: float, tmp: Path
) -> None:
    """Cut the stored WAV to its speech (pauses shortened) with classrec.speech_only's cut, the
    CLI's; no speech gives an empty WAV rather than an error."""
    if found:
        cut_to_speech(files.audio, tmp, found, duration)
    else:
        storage.start_wav(tmp)
