"""The live recording socket: `/api/lectures/{id}/live`.

Protocol (full spec in docs/web.md): the client sends binary frames `<uint64 LE byte offset>
<PCM16 LE samples>` (the page sends one per 100 ms of microphone audio) and text frames
`{"type": "stop"}` / `{"type": "ping"}`; the server answers `ready`, then `probs` messages (one
per hub tick with every window finished since the last), `stopped`, `pong` or `error` (followed
by a close with a 44xx code).

The byte offset makes resending idempotent: after a reconnect the client resends everything
from `received_bytes` in `ready`; bytes the server already has are skipped, a gap is an error.
Each frame is stored as it arrives (hub.LiveStream.append → recording.Recording), and the
socket reads no faster than the owner's rate allows (`_pace`), so TCP pushes back on a client
that sends too much.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from classrec.web import crud, storage
from classrec.web.auth import SESSION_COOKIE
from classrec.web.config import Settings
from classrec.web.db import Database
from classrec.web.deps import quota_left
from classrec.web.hub import (
    BACKLOG_S,
    BYTES_PER_S,
    TICK_S,
    WINDOW,
    Connection,
    LiveHub,
    LiveStream,
    ProtocolError,
)

log = logging.getLogger("classrec.web.live")
router = APIRouter()

OFFSET = struct.Struct("<Q")
Access = ProtocolError | tuple[int, int]


def _origin_ok(ws: WebSocket) -> bool:
    """Browsers always send Origin: refuse other sites (cookies would be sent cross-site)."""
    origin = ws.headers.get("origin")
    host = ws.headers.get("host", "")
    return origin is None or origin in {f"http://{host}", f"https://{host}"}


def _authorize(settings: Settings, db: Database, token: str | None, lecture_id: str) -> Access:
    """Who may feed this lecture, and how many bytes their quota has left."""
    with db.session() as session:
        user = crud.user_for_token(session, token)
        if user is None:
            return ProtocolError(4401, "unauthenticated", "log in first (session cookie missing)")
        lecture = crud.get_lecture(session, user.id, lecture_id)
        if lecture is None:
            return ProtocolError(4404, "not_found", "no such lecture")
        if lecture.status not in {"recording", "interrupted"} or lecture.source != "live":
            return ProtocolError(4409, "finished", "not a live recording in progress")
        return user.id, quota_left(settings, session, user.id)


def _parse_binary(data: bytes, max_bytes: int) -> tuple[int, memoryview]:
    if len(data) > max_bytes:
        raise ProtocolError(4413, "too_large", f"frames are limited to {max_bytes} bytes")
    if len(data) < OFFSET.size or (len(data) - OFFSET.size) % 2:
        raise ProtocolError(
            4400, "bad_frame", "binary frame must be an 8-byte offset plus whole int16 samples"
        )
    return OFFSET.unpack_from(data)[0], memoryview(data)[OFFSET.size :]


def _parse_text(text: str) -> str:
    try:
        kind = json.loads(text).get("type")
    except (ValueError, AttributeError, RecursionError):  # RecursionError: [[[[... nested
        kind = None
    if not isinstance(kind, str) or kind not in {"stop", "ping"}:  # {"type": []} is unhashable
        raise ProtocolError(4400, "bad_message", 'text frames must be {"type": "stop" | "ping"}')
    return kind


async def _pump(ws: WebSocket, outbox: asyncio.Queue) -> None:
    """Send queued messages until the `None` sentinel."""
    while (message := await outbox.get()) is not None:
        await ws.send_text(json.dumps(message))


async def _reject(ws: WebSocket, error: ProtocolError) -> None:
    await ws.send_json({"type": "error", "code": error.kind, "message": error.message})
    await ws.close(error.code, error.kind)


@router.websocket("/api/lectures/{lecture_id}/live")
async def live_socket(ws: WebSocket, lecture_id: str) -> None:
    hub: LiveHub = ws.app.state.hub
    settings: Settings = ws.app.state.settings
    await ws.accept()
    if not _origin_ok(ws):
        return await _reject(ws, ProtocolError(4403, "bad_origin", "cross-site socket refused"))
    token = ws.cookies.get(SESSION_COOKIE)
    access = await run_in_threadpool(_authorize, settings, ws.app.state.db, token, lecture_id)
    if isinstance(access, ProtocolError):
        return await _reject(ws, access)
    try:
        stream, conn = await hub.attach(lecture_id, ws, *access)
    except ProtocolError as exc:
        return await _reject(ws, exc)
    conn.send(
        {
            "type": "ready",
            "lecture_id": lecture_id,
            "sample_rate": storage.SAMPLE_RATE,
            "window_samples": WINDOW,
            "received_bytes": stream.received,
            "windows": stream.windows,
            "free_bytes": storage.free_bytes(settings.data_dir),
            "max_frame_bytes": settings.max_frame_bytes,
        }
    )
    sender = asyncio.create_task(_pump(ws, conn.outbox))
    close_code, reason = 1000, "stopped"
    try:
        close_code, reason = await _receive_loop(ws, hub, stream, conn, settings)
    except ProtocolError as exc:
        log.info("live protocol error", extra={"lecture": lecture_id, "error": exc.kind})
        conn.send({"type": "error", "code": exc.kind, "message": exc.message})
        close_code, reason = exc.code, exc.kind
    except OSError as exc:  # disk full or similar: the stored part stays valid
        log.error("live storage error", extra={"lecture": lecture_id, "error": str(exc)})
        conn.send({"type": "error", "code": "storage", "message": "server could not store audio"})
        close_code, reason = 4507, "storage"
    finally:
        conn.send(None)
        await hub.detach(stream, conn)
    await _close(ws, sender, close_code, reason)


async def _receive_loop(
    ws: WebSocket, hub: LiveHub, stream: LiveStream, conn: Connection, settings: Settings
) -> tuple[int, str]:
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return 0, "gone"
        if stream.conn is not conn:
            return 4409, "replaced"
        if message.get("bytes") is not None:
            offset, payload = _parse_binary(message["bytes"], settings.max_frame_bytes)
            stream.append(offset, payload)
            await _pace(stream, len(payload))
        elif _parse_text(message.get("text") or "") == "ping":
            conn.send({"type": "pong", "received_bytes": stream.received})
        else:
            summary = await hub.finish(stream)
            conn.send({"type": "stopped", "lecture_id": stream.lecture_id, **summary})
            return 1000, "stopped"


async def _pace(stream: LiveStream, size: int) -> None:
    """Read no further until the stream is within its rate and its backlog is small: the
    client's sends then block in TCP, so one socket cannot flood the disk or the detector."""
    if delay := stream.bucket.delay(size):  # within the rate: read on without yielding
        await asyncio.sleep(delay)
    while len(stream.pending) > BACKLOG_S * BYTES_PER_S and not stream.suspended:
        await asyncio.sleep(TICK_S)


async def _close(ws: WebSocket, sender: asyncio.Task, code: int, reason: str) -> None:
    try:
        await asyncio.wait_for(sender, timeout=5)
    except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - peer may be gone already
        sender.cancel()
    if code:
        try:
            await ws.close(code, reason)
        except (RuntimeError, WebSocketDisconnect):  # already closed by the peer (a client
            pass  # that closes right after `stopped`): not an error worth a traceback
