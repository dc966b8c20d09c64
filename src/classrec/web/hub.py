"""The batching hub: every live recording of the server, advanced by the detector together.

- One asyncio task (`LiveHub._run`) wakes every TICK_S, collects the complete windows of all
  live streams and advances them together (`step_batch`): each round is one `Detector.step`
  with the streams' states stacked, so N streams cost one matmul per round, not N. The
  computing runs on the event loop itself (a few ms per tick at 300 streams): under one GIL a
  separate detector thread gave no parallelism, only hand-offs that delayed every socket
  (measured in BENCHMARKS.md, section "Live server under load"). Anything that waits for the
  disk (opening, fsync, closing, WAV header fixes) runs in the thread pool, outside the compute
  lock, so 500 streams starting or stopping at once never delay the other streams.
- Fair use (docs/reliability.md): a stream gets at most WINDOWS_PER_TICK windows per tick, its
  socket stops reading while BACKLOG_S of audio waits, and owners and the server have a
  maximum of streams (`_make_room`), a recording length and a storage quota (`_set_limits`).
- The socket protocol (routes/live.py) feeds streams with `LiveStream.append` and reads
  `Connection.outbox`; the files and their durability are `recording.Recording`'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass, field

import numpy as np
from fastapi import WebSocket
from starlette.concurrency import run_in_threadpool

from classrec.model import Detector, State
from classrec.segments import VadOptions
from classrec.web import analysis, crud, playback, presets, storage
from classrec.web.config import Settings
from classrec.web.db import Database
from classrec.web.limits import TokenBucket
from classrec.web.recording import Recording, sync_all
from classrec.web.storage import LectureFiles

log = logging.getLogger("classrec.web.live")

WINDOW = analysis.WINDOW_SAMPLES
WINDOW_BYTES = WINDOW * 2
BYTES_PER_S = storage.SAMPLE_RATE * 2
TICK_S = 0.025
"""How often the hub advances the streams (s): a window waits for the next tick, 12 ms on
average (a 50 ms tick doubled the median latency for the same CPU)."""
WINDOWS_PER_TICK = 16
"""Most windows one stream gets per tick (20x real time): a stream with a backlog cannot make a
tick long for the others; its backlog drains over the next ticks."""
BACKLOG_S = 10.0
"""Seconds of audio a stream may have waiting for the detector before its socket stops reading."""
REPLACED = "a newer connection took over this recording"


class ProtocolError(Exception):
    """A client mistake: reported in an `error` message, then the socket closes with `code`."""

    def __init__(self, code: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.code, self.kind, self.message = code, kind, message


@dataclass
class Connection:
    """The socket currently feeding a stream and its outgoing queue (so a slow reader only
    delays itself, never the hub)."""

    ws: WebSocket
    outbox: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=512))

    def send(self, message: dict | None) -> None:
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:  # reader stalled: drop display data; stored probs are complete
            pass


class LiveStream:
    """One lecture being recorded: its files, bytes not yet in a full window, LSTM state."""

    def __init__(
        self,
        lecture_id: str,
        owner_id: int,
        recording: Recording,
        state: State,
        samples: int,
        tail: np.ndarray,
    ) -> None:
        """`samples` stored so far, the last `tail` of them not yet a whole window."""
        self.lecture_id, self.owner_id, self.state = lecture_id, owner_id, state
        self.recording = recording
        self.received = samples * 2
        self.windows = (samples - len(tail)) // WINDOW
        self.pending = bytearray(tail.astype("<i2").tobytes())
        self.conn: Connection | None = None
        self.suspended = True  # no open files; the detector skips it (set by the hub)
        self.speech = False
        self.light = presets.SpeechLight()  # with the owner's options: set by LiveHub._open
        self.idle_since = time.monotonic()
        self.limit_bytes = 2**63
        self.limit_reason = ""
        self.bucket: TokenBucket | None = None
        recording.open()

    @property
    def files(self) -> LectureFiles:
        return self.recording.files

    def append(self, offset: int, payload: memoryview) -> None:
        """Store the part of a frame the server does not have yet (idempotent on resend)."""
        if offset > self.received:
            raise ProtocolError(
                4400,
                "gap",
                f"frame starts at byte {offset} but the server has "
                f"{self.received}; resend from {self.received}",
            )
        if offset + len(payload) > self.limit_bytes:
            raise ProtocolError(4413, "too_long", self.limit_reason)
        new = payload[self.received - offset :] if offset + len(payload) > self.received else b""
        while new:
            written = self.recording.write_audio(new)
            self.pending += new[:written]
            self.received += written
            new = new[written:]

    def take_windows(self, most: int | None = None) -> np.ndarray:
        """Remove and return the complete windows waiting (at most `most`), as int16 (n, WINDOW)."""
        n = len(self.pending) // WINDOW_BYTES
        n = n if most is None else min(n, most)
        data = np.frombuffer(bytes(self.pending[: n * WINDOW_BYTES]), dtype="<i2")
        del self.pending[: n * WINDOW_BYTES]
        return data.reshape(n, WINDOW)

    def publish(self, probs: np.ndarray, free: int) -> None:
        """Store probabilities and tell the client, with the speech light the page shows (it
        follows the owner's preset, as the stored regions do)."""
        first = self.windows
        self.windows += len(probs)
        self.recording.write_probs(probs)
        if not len(probs):
            return
        self.speech = self.light.feed(probs)
        if self.conn is not None:
            self.conn.send(
                {
                    "type": "probs",
                    "first_window": first,
                    "probs": np.round(probs.astype(np.float64), 4).tolist(),
                    "speech": self.speech,
                    "received_bytes": self.received,
                    "free_bytes": free,
                }
            )


Job = tuple[State, np.ndarray]


def step_batch(det: Detector, jobs: list[Job]) -> list[tuple[np.ndarray, State]]:
    """Advance each stream through its windows: round r is one `Detector.step` over the stacked
    states of every stream that has an r-th window.

    Streams are ordered by their number of windows (most first), so each round's streams are a
    prefix of one stacked state and one array of windows: a round costs a few numpy calls
    whatever the number of streams (per-stream Python work in every round was half the tick's
    time at 500 streams).
    """
    if not jobs:
        return []
    counts = np.array([len(w) for _, w in jobs])
    order = np.argsort(-counts, kind="stable")
    ranked = counts[order]
    h = np.concatenate([jobs[i][0].h for i in order])
    c = np.concatenate([jobs[i][0].c for i in order])
    windows = np.concatenate([jobs[i][1] for i in order])
    first = np.cumsum(ranked) - ranked  # row of each stream's first window in `windows`
    probs = np.empty((len(jobs), ranked[0]), np.float32)
    for r in range(ranked[0]):
        k = int(np.count_nonzero(ranked > r))
        p, new = det.step(windows[first[:k] + r], State(h[:k], c[:k]))
        probs[:k, r], h[:k], c[:k] = p, new.h, new.c
    results: list[tuple[np.ndarray, State]] = [None] * len(jobs)  # type: ignore[list-item]
    for row, i in enumerate(order):
        results[i] = (probs[row, : counts[i]], State(h[row : row + 1], c[row : row + 1]))
    return results


class LiveHub:
    """All live streams, the tick that advances them and the fsync timer."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db
        self.streams: dict[str, LiveStream] = {}
        self.idle_s = 600.0
        self._compute = asyncio.Lock()
        # checking the stream limits and claiming a place are one step (see attach)
        self._room = asyncio.Lock()
        self._opening: list[int] = []  # owners of streams being opened, counted by _make_room
        # per lecture: opening, closing and reopening never overlap (dropped when unused)
        self._lecture_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._tasks: list[asyncio.Task] = []

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="classrec-detector"),
            asyncio.create_task(self._sync_loop(), name="classrec-fsync"),
        ]

    async def shutdown(self) -> None:
        """Stop the tick; streams still open become `interrupted` (playable, resumable)."""
        for task in self._tasks:
            task.cancel()
        for stream in list(self.streams.values()):
            await self._interrupt(stream)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self._tick()
                await self._reap_idle()
            except Exception:  # keep serving the other streams whatever one did
                log.exception("live worker tick failed")

    async def _sync_loop(self) -> None:
        """Make every stored byte durable within about `fsync_interval_s`, in the thread pool."""
        while True:
            await asyncio.sleep(self.settings.fsync_interval_s)
            recordings = [s.recording for s in self.streams.values()]
            try:
                await run_in_threadpool(sync_all, recordings, self.settings.lectures_dir)
            except Exception:  # a failing disk must not stop detection; closes still fsync
                log.exception("live fsync failed")

    async def _tick(self) -> None:
        async with self._compute:
            ready = [
                s
                for s in self.streams.values()
                if len(s.pending) >= WINDOW_BYTES and not s.suspended
            ]
            if not ready:
                return
            jobs = [(s.state, s.take_windows(WINDOWS_PER_TICK)) for s in ready]
            results = step_batch(analysis.detector(), jobs)
            free = storage.free_bytes(self.settings.data_dir)
            for stream, (probs, state) in zip(ready, results, strict=True):
                stream.state = state
                stream.publish(probs, free)

    async def _reap_idle(self) -> None:
        now = time.monotonic()
        for stream in list(self.streams.values()):
            if stream.conn is None and now - stream.idle_since > self.idle_s:
                await self._interrupt(stream)

    # -- streams -------------------------------------------------------------------------------
    def _open(self, lecture_id: str, owner_id: int) -> LiveStream:
        """Open a new recording, or reopen one (after a restart) with the LSTM state rebuilt from
        the stored audio so it continues exactly where it stopped."""
        files = LectureFiles.of(self.settings.lectures_dir, lecture_id)
        if not files.audio.is_file():
            storage.start_wav(files.audio)
        storage.fix_wav_header(files.audio)
        state, samples, tail = analysis.rebuild(files)
        stream = LiveStream(lecture_id, owner_id, Recording(files), state, samples, tail)
        stream.light = presets.SpeechLight(self._options(owner_id))
        return stream

    async def attach(
        self, lecture_id: str, ws: WebSocket, owner_id: int, quota_left: int
    ) -> tuple[LiveStream, Connection]:
        """Make `ws` the feeder of the lecture's stream, replacing an older connection. Opening
        (file creation, fsync, state rebuilt from stored audio) runs in the thread pool under a
        lock for this lecture only: other streams keep flowing while sockets connect.
        Raises ProtocolError when the owner or the server has too many streams."""
        async with self._lecture_lock(lecture_id):
            stream, opened = self.streams.get(lecture_id), False
            if stream is None:
                if not await run_in_threadpool(self._exists, lecture_id):  # deleted meanwhile
                    raise ProtocolError(4404, "not_found", "no such lecture")
                async with self._room:
                    await self._make_room(owner_id)
                    self._opening.append(owner_id)
                try:
                    stream = await run_in_threadpool(self._open, lecture_id, owner_id)
                finally:
                    self._opening.remove(owner_id)
                self.streams[lecture_id], opened = stream, True
            elif stream.suspended:
                await run_in_threadpool(stream.recording.open)
            # registered and connected with no await between: never counted as an idle stream
            self._set_limits(stream, quota_left)
            stream.suspended = False
            old, stream.conn = stream.conn, Connection(ws)
            if opened:
                await self._set_status(lecture_id, status="recording")
        if old is not None:
            old.send({"type": "error", "code": "replaced", "message": REPLACED})
            old.send(None)
        return stream, stream.conn

    def _lecture_lock(self, lecture_id: str) -> asyncio.Lock:
        lock = self._lecture_locks.get(lecture_id)
        if lock is None:
            lock = self._lecture_locks[lecture_id] = asyncio.Lock()
        return lock

    def _set_limits(self, stream: LiveStream, quota_left: int) -> None:
        """Rate (`live_speed` x real time, `live_burst_s` at once) and length (the recording
        limit or the owner's quota, whichever comes first) for the stream's next connection."""
        s = self.settings
        stream.bucket = TokenBucket(BYTES_PER_S * s.live_speed, BYTES_PER_S * s.live_burst_s)
        longest = s.max_recording_minutes * 60 * BYTES_PER_S
        if longest <= stream.received + quota_left:
            stream.limit_bytes = longest
            stream.limit_reason = (
                f"recordings are limited to {s.max_recording_minutes} min: "
                "stop this one and start a new lecture"
            )
        else:
            stream.limit_bytes = stream.received + max(0, quota_left)
            stream.limit_reason = (
                f"your {s.user_quota_mb} MB of storage is full: stop, then delete lectures"
            )

    async def _make_room(self, owner_id: int) -> None:
        """Before a new stream opens: streams without a client (oldest first) are interrupted
        to stay within `streams_per_user` and `max_streams`; if every stream counted has a
        client, the new one is refused. Streams still being opened count as having one: sockets
        that connect at once must not all pass the check before any is registered."""
        s = self.settings
        for limit, mine in ((s.streams_per_user, True), (s.max_streams, False)):
            counted = [x for x in self.streams.values() if x.owner_id == owner_id or not mine]
            idle = sorted((x for x in counted if x.conn is None), key=lambda x: x.idle_since)
            opening = sum(1 for owner in self._opening if owner == owner_id or not mine)
            if len(counted) - len(idle) + opening >= limit:
                who = "per account" if mine else "on this server"
                raise ProtocolError(
                    4429, "too_many_streams", f"at most {limit} live recordings at once {who}"
                )
            for stream in idle[: max(0, len(counted) - limit + 1)]:
                await self._interrupt(stream)

    async def detach(self, stream: LiveStream, conn: Connection) -> None:
        """The client left: close the stream's files until one reconnects (the detector skips
        it meanwhile; its waiting windows are kept)."""
        if stream.conn is not conn:
            return
        stream.conn = None
        stream.idle_since = time.monotonic()
        async with self._lecture_lock(stream.lecture_id):
            if stream.conn is not None or self.streams.get(stream.lecture_id) is not stream:
                return
            async with self._compute:
                stream.suspended = True
            await run_in_threadpool(stream.recording.close)

    async def drop(self, lecture_id: str) -> None:
        """Forget a stream whose lecture is being deleted: files closed, its client told."""
        async with self._lecture_lock(lecture_id):
            async with self._compute:
                stream = self.streams.pop(lecture_id, None)
                if stream is None:
                    return
                stream.suspended = True
                # detach the client before closing the files: its receive loop checks
                # `stream.conn` before every append, so no frame can reach a closed file
                conn, stream.conn = stream.conn, None
            await run_in_threadpool(stream.recording.close)
        if conn is not None:
            conn.send({"type": "error", "code": "deleted", "message": "the lecture was deleted"})
            conn.send(None)

    async def finish(self, stream: LiveStream) -> dict:
        """Stop: run the last windows (the final partial one zero-padded, as offline), close the
        files, fix the WAV header and store the summary."""
        async with self._lecture_lock(stream.lecture_id):
            return await self._finish(stream)

    async def _finish(self, stream: LiveStream) -> dict:
        if stream.suspended:  # a stop that raced a drop or an interrupt
            raise ProtocolError(4409, "finished", "this recording was stopped or deleted")
        async with self._compute:
            windows = stream.take_windows()
            if stream.pending:
                tail = np.zeros(WINDOW, np.int16)
                tail[: len(stream.pending) // 2] = np.frombuffer(bytes(stream.pending), "<i2")
                windows = np.concatenate([windows, tail[None, :]])
                stream.pending.clear()
            if len(windows):
                ((probs, stream.state),) = step_batch(
                    analysis.detector(), [(stream.state, windows)]
                )
                stream.publish(probs, storage.free_bytes(self.settings.data_dir))
            self.streams.pop(stream.lecture_id, None)
        duration = stream.received / 2 / storage.SAMPLE_RATE
        ratio = await run_in_threadpool(self._close_finished, stream, duration)
        await self._set_status(
            stream.lecture_id, status="ready", duration_s=duration, speech_ratio=ratio
        )
        playback.prepare_soon(stream.files)  # the compressed player file, made once, now
        return {"duration_s": duration, "speech_ratio": ratio, "received_bytes": stream.received}

    def _close_finished(self, stream: LiveStream, duration: float) -> float:
        """Disk work of a stop (fsync, WAV header), in the thread pool; returns the speech ratio
        (with the owner's segmentation preset)."""
        stream.recording.close()
        storage.fix_wav_header(stream.files.audio)
        probs = storage.read_probs(stream.files.probs)
        return analysis.speech_ratio(probs, duration, self._options(stream.owner_id))

    def _close_interrupted(self, stream: LiveStream) -> tuple[float, float]:
        stream.recording.close()
        return analysis.recover(stream.files, self._options(stream.owner_id))

    def _options(self, owner_id: int) -> VadOptions:
        with self.db.session() as db:
            return crud.segment_options(db, owner_id)

    async def _interrupt(self, stream: LiveStream) -> None:
        async with self._lecture_lock(stream.lecture_id):
            async with self._compute:
                if self.streams.get(stream.lecture_id) is not stream:
                    return  # already finished or interrupted
                self.streams.pop(stream.lecture_id)
                stream.suspended = True
            duration, ratio = await run_in_threadpool(self._close_interrupted, stream)
        await self._set_status(
            stream.lecture_id, status="interrupted", duration_s=duration, speech_ratio=ratio
        )
        if stream.conn is not None:
            stream.conn.send(None)

    def _exists(self, lecture_id: str) -> bool:
        with self.db.session() as db:
            return db.get(crud.Lecture, lecture_id) is not None

    async def _set_status(self, lecture_id: str, **fields) -> None:
        def update() -> None:
            with self.db.session() as db:
                crud.update_lecture(db, lecture_id, **fields)

        await run_in_threadpool(update)


def recover_interrupted(settings: Settings, db: Database) -> int:
    """At startup: lectures a dead server left `recording` become `interrupted` and playable."""
    with db.session() as session:
        lectures = crud.lectures_with_status(session, "recording")
        for lecture in lectures:
            files = LectureFiles.of(settings.lectures_dir, lecture.id)
            options = crud.segment_options(session, lecture.owner_id)
            lecture.duration_s, lecture.speech_ratio = analysis.recover(files, options)
            lecture.status = "interrupted"
            log.info("recovered interrupted lecture", extra={"lecture": lecture.id})
        return len(lectures)
