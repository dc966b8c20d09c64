"""Remove non-speech from an audio or video file, keeping the video in sync with the audio.

    speech segments (padded: separate margins before/after) ─► ranges to keep (pauses between
    speech kept, shortened to a fixed length, or scaled: Audacity's Truncate Silence model)
    ─► snapped to the video frame grid ─► one PyAV pass that cuts audio and video together

Sync cannot drift, however long the file and however many cuts: every kept audio sample and
video frame gets its output time from the same map (source time → output time, in whole audio
samples), instead of counting frames on one side and samples on the other. The cut list is
written as JSON and as a CMX3600 EDL that video editors import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from classrec.audio import STDIN, audio_stream, open_media
from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE
from classrec.outputs import atomic_path, check_writable, write_atomic
from classrec.pipeline import detect_file, shared_detector
from classrec.segments import Segment, VadOptions

Range = tuple[float, float]
"""Kept stretch of the source, (start, end) in seconds."""


@dataclass(frozen=True)
class PauseOptions:
    """What happens to a pause between two (padded) speech segments, in ms.

    Pauses up to `keep_ms` are kept whole. Longer ones are shortened to `pause_ms`, or, when
    `ratio` is set, to keep_ms + (pause - keep_ms) * ratio ("compress excess silence"). The
    kept part is taken half from each side, so the cut sits in the middle of the pause.
    """

    keep_ms: int = 200
    pause_ms: int = 200
    ratio: float | None = None

    def __post_init__(self) -> None:
        if self.keep_ms < 0 or self.pause_ms < 0:
            raise ClassRecError("pause lengths must be >= 0 ms")
        if self.ratio is not None and not 0.0 <= self.ratio <= 1.0:
            raise ClassRecError(f"pause ratio must be between 0 and 1, got {self.ratio}")

    def kept_s(self, pause_s: float) -> float:
        """Seconds kept of a pause of `pause_s` seconds."""
        keep = self.keep_ms / 1000.0
        if pause_s <= keep:
            return pause_s
        if self.ratio is not None:
            return keep + (pause_s - keep) * self.ratio
        return min(pause_s, self.pause_ms / 1000.0)


def keep_ranges(segments: list[Segment], pauses: PauseOptions) -> list[Range]:
    """Source ranges to keep: the segments, each pause between them shortened around its middle.
    Silence before the first and after the last segment is dropped (apart from the margins)."""
    ranges: list[Range] = []
    for seg in segments:
        if ranges:
            prev_start, prev_end = ranges[-1]
            half = pauses.kept_s(seg.start - prev_end) / 2
            if seg.start - half <= prev_end + half:
                ranges[-1] = (prev_start, seg.end)
                continue
            ranges[-1] = (prev_start, prev_end + half)
            ranges.append((seg.start - half, seg.end))
        else:
            ranges.append((seg.start, seg.end))
    return ranges


def snap(ranges: list[Range], step: float, offset: float = 0.0) -> list[Range]:
    """Round range ends to the grid offset + k * step (video frames), dropping empty ranges and
    merging ranges that touch, so audio and video are cut at the same instants."""

    def grid(t: float) -> float:
        return offset + round((t - offset) / step) * step

    out: list[Range] = []
    for start, end in ranges:
        start, end = max(grid(start), 0.0), grid(end)
        if end <= start:
            continue
        if out and start <= out[-1][1] + 1e-9:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


@dataclass(frozen=True)
class CutList:
    """The kept source ranges and how they map onto the output, in whole samples at `rate`."""

    source: str
    ranges: list[Range]
    duration_s: float
    rate: int
    fps: float | None = None

    @property
    def sample_ranges(self) -> list[tuple[int, int]]:
        return [(round(a * self.rate), round(b * self.rate)) for a, b in self.ranges]

    @property
    def out_starts(self) -> list[int]:
        """Output sample index at which each range starts."""
        lengths = [b - a for a, b in self.sample_ranges]
        return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int).tolist()

    @property
    def kept_s(self) -> float:
        return sum(b - a for a, b in self.sample_ranges) / self.rate

    def summary(self) -> str:
        pct = 100 * self.kept_s / self.duration_s if self.duration_s else 0.0
        return (
            f"kept {self.kept_s:.1f} s of {self.duration_s:.1f} s ({pct:.0f}%) "
            f"in {len(self.ranges)} ranges"
        )

    def to_json(self) -> str:
        rows = [
            {"start": round(a, 6), "end": round(b, 6), "out_start": round(o / self.rate, 6)}
            for (a, b), o in zip(self.ranges, self.out_starts, strict=True)
        ]
        return json.dumps(
            {
                "source": self.source,
                "duration_s": round(self.duration_s, 6),
                "kept_s": round(self.kept_s, 6),
                "ranges": rows,
            },
            indent=1,
        )

    def to_edl(self, title: str) -> str:
        """CMX3600 EDL: one cut per range, source and record timecodes at the video frame rate
        (25 for audio), non-drop frame; record times run on without gaps."""
        fps = round(self.fps or 25)
        track = "AA/V" if self.fps else "AA"
        lines = [f"TITLE: {title}", "FCM: NON-DROP FRAME", ""]
        rec = 0
        for i, (a, b) in enumerate(self.ranges, 1):
            src_in, src_out = round(a * fps), round(b * fps)
            rec_out = rec + src_out - src_in
            times = " ".join(_timecode(f, fps) for f in (src_in, src_out, rec, rec_out))
            lines += [f"{i:03d}  AX       {track:<5} C        {times}"]
            lines += [f"* FROM CLIP NAME: {self.source}", ""]
            rec = rec_out
        return "\n".join(lines)


def _timecode(frames: int, fps: int) -> str:
    s, f = divmod(frames, fps)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{f:02d}"


# -- cutting -------------------------------------------------------------------------------------
class _Cutter:
    """Maps source time to output time through the kept ranges (in whole samples at `rate`)."""

    def __init__(self, cuts: CutList) -> None:
        ranges = np.array(cuts.sample_ranges, dtype=np.int64).reshape(-1, 2)
        self.firsts, self.stops = ranges[:, 0], ranges[:, 1]
        self.starts, self.rate = np.array(cuts.out_starts, dtype=np.int64), cuts.rate

    def out_time(self, t: float) -> float | None:
        """Output time (s) of source time `t` (s), None if `t` is cut out."""
        k = t * self.rate
        i = int(np.searchsorted(self.firsts, k, side="right")) - 1
        if i < 0 or k >= self.stops[i]:
            return None
        return float(self.starts[i] + k - self.firsts[i]) / self.rate

    def kept_samples(self, first: int, count: int) -> list[tuple[int, int, int]]:
        """(offset in block, length, output sample index) of kept parts of samples
        [first, first + count); binary search, so thousands of cuts cost nothing per frame."""
        lo = int(np.searchsorted(self.stops, first, side="right"))
        hi = int(np.searchsorted(self.firsts, first + count, side="left"))
        parts = []
        for a, b, out in zip(
            self.firsts[lo:hi], self.stops[lo:hi], self.starts[lo:hi], strict=True
        ):
            start, stop = max(int(a), first), min(int(b), first + count)
            parts.append((start - first, stop - start, int(out) + start - int(a)))
        return parts


def _audio_rate(codec: av.Codec, rate: int) -> int:
    rates = codec.audio_rates
    return rate if not rates or rate in rates else (48000 if 48000 in rates else max(rates))


def _open_streams(inp, out, want_video: bool):
    a_in = inp.streams.audio[0]
    a_codec = av.Codec(out.default_audio_codec, "w")
    layout = a_in.codec_context.layout.name
    a_out = out.add_stream(a_codec.name, rate=_audio_rate(a_codec, a_in.rate), layout=layout)
    v_in = v_out = None
    if want_video and inp.streams.video and out.default_video_codec not in (None, "none"):
        v_in = inp.streams.video[0]
        fps = v_in.average_rate or v_in.guessed_rate or Fraction(25)
        v_out = out.add_stream(out.default_video_codec, rate=fps)
        v_out.width, v_out.height = v_in.codec_context.width, v_in.codec_context.height
        formats = [f.name for f in (v_out.codec_context.codec.video_formats or [])]
        v_out.pix_fmt = "yuv420p" if not formats or "yuv420p" in formats else formats[0]
        v_out.codec_context.time_base = Fraction(1, 1000)
    return a_in, a_out, v_in, v_out


def cut_media(
    source: Path, dest: Path, cuts: CutList, on_audio: Callable[[float], None] | None = None
) -> None:
    """Write the kept ranges of `source` to `dest` (format from its suffix) in one pass.

    Audio is cut to the sample; video frames are kept when their time falls in a kept range and
    re-timed by the same map, so both stay in sync. `on_audio` sees the seconds of source audio
    each decoded frame covered (progress)."""
    cutter = _Cutter(cuts)
    with open_media(source) as inp, av.open(str(dest), "w") as out:
        a_in, a_out, v_in, v_out = _open_streams(inp, out, cuts.fps is not None)
        to_float = av.AudioResampler(format="flt", layout=a_in.codec_context.layout.name)
        audio_start = _start_s(a_in)
        first, last_pts = 0, -1
        for packet in inp.demux(*[s for s in (a_in, v_in) if s is not None]):
            for frame in packet.decode():
                if packet.stream is a_in:
                    for f in to_float.resample(frame):
                        first = _cut_audio(f, first, cutter, a_out, out)
                    if on_audio is not None:
                        on_audio(frame.samples / frame.sample_rate)
                elif (t := cutter.out_time((frame.time or 0.0) - audio_start)) is not None:
                    pts = round(t * 1000)
                    if pts > last_pts:
                        frame.pts, frame.time_base, last_pts = pts, Fraction(1, 1000), pts
                        frame.pict_type = av.video.frame.PictureType.NONE
                        out.mux(v_out.encode(frame.reformat(format=v_out.pix_fmt)))
        for f in to_float.resample(None):
            first = _cut_audio(f, first, cutter, a_out, out)
        for stream in (a_out, v_out):
            if stream is not None:
                out.mux(stream.encode(None))


def _cut_audio(frame: av.AudioFrame, first: int, cutter: _Cutter, a_out, out) -> int:
    """Encode the kept samples of one decoded frame; returns the next frame's first sample."""
    channels = frame.layout.nb_channels
    data = frame.to_ndarray().reshape(-1, channels)
    for offset, length, out_index in cutter.kept_samples(first, len(data)):
        piece = np.ascontiguousarray(data[offset : offset + length]).reshape(1, -1)
        kept = av.AudioFrame.from_ndarray(piece, format="flt", layout=frame.layout.name)
        kept.sample_rate, kept.pts = frame.sample_rate, out_index
        kept.time_base = Fraction(1, frame.sample_rate)
        out.mux(a_out.encode(kept))
    return first + len(data)


# -- the whole operation -------------------------------------------------------------------------
def _media_info(path: Path) -> tuple[int, float | None, float]:
    """(audio rate in Hz, video frames per second or None, video's first frame time relative to
    the audio's start in s)."""
    with open_media(path) as c:
        a = audio_stream(c, path)
        if not c.streams.video:
            return a.rate, None, 0.0
        v = c.streams.video[0]
        fps = float(v.average_rate or v.guessed_rate or 25)
        return a.rate, fps, _start_s(v) - _start_s(a)


def _start_s(stream: av.stream.Stream) -> float:
    """Time (s) of a stream's first frame; audio sample k of the source plays at start + k/rate."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def check_output_format(output: Path) -> None:
    """Refuse, before any work, an output whose suffix names no container PyAV can write audio
    to (`.xyz`, `.txt`, `.png`)."""
    try:
        with av.open(str(output), "w") as container:  # creates no file until a packet is written
            codec = container.default_audio_codec
    except ValueError:
        codec = None
    if codec in (None, "none"):
        raise ClassRecError(
            f"{output}: cannot write audio in a '{output.suffix}' file; "
            "use an audio or video suffix such as .wav, .flac, .opus, .m4a or .mp4"
        )


def cut_paths(output: Path) -> tuple[Path, Path]:
    """Where the cut list goes: OUT.cuts.json and OUT.edl beside OUT."""
    return output.with_suffix(".cuts.json"), output.with_suffix(".edl")


SPEECH_ONLY_PADS_MS = (100, 150)
"""Margins (ms) before and after speech in a speech-only cut: wider than the regions' 30 ms, so a
soft onset or a trailing consonant is not clipped where the audio is cut."""


def speech_only_options(options: VadOptions = VadOptions()) -> VadOptions:  # noqa: B008 - frozen
    """The segmentation of a speech-only cut: `options` with the speech-only margins. The CLI's
    defaults and the web app's download both come from here, so one lecture gives one audio."""
    before, after = SPEECH_ONLY_PADS_MS
    return replace(options, pad_before_ms=before, pad_after_ms=after)


def cut_to_speech(
    source: Path,
    output: Path,
    segments: list[Segment],
    duration_s: float,
    pauses: PauseOptions = PauseOptions(),  # noqa: B008 - frozen, so a shared default is safe
    on_cut: Callable[[float], None] | None = None,
) -> CutList:
    """Write the speech `segments` of `source` (and the pauses kept between them) to `output`,
    in one pass, and return the cut list. Cuts fall on video frames when both files hold video,
    else on audio samples. `duration_s` is the source's (s); `on_cut` sees the seconds of source
    audio done. The caller makes the write atomic (speech_only, the web app's derived files)."""
    rate, fps, offset = _media_info(source)
    wants_video = fps is not None and _output_takes_video(output)
    step, grid0 = (1 / fps, offset) if wants_video else (1 / rate, 0.0)
    ranges = snap(keep_ranges(segments, pauses), step, grid0)
    cuts = CutList(source.name, ranges, duration_s, rate, fps if wants_video else None)
    cut_media(source, output, cuts, on_cut)
    return cuts


def speech_only(
    source: str | Path,
    output: str | Path,
    options: VadOptions = speech_only_options(),  # noqa: B008 - frozen, so a shared default is safe
    pauses: PauseOptions = PauseOptions(),  # noqa: B008
    sample_rate: int = SAMPLE_RATE,
    force: bool = False,
    cut_list: bool = True,
    on_block: Callable[[np.ndarray], None] | None = None,
    on_cut: Callable[[float], None] | None = None,
) -> CutList:
    """Detect speech in `source`, write only the speech (and kept pauses) to `output`, and the
    cut list beside it. Returns the cut list. Outputs are checked before the work starts and
    written atomically. `on_block` sees each decoded block of the detection pass, `on_cut` the
    seconds of source audio the cutting pass has done (progress)."""
    if str(source) == STDIN:
        raise ClassRecError("speech-only reads its input twice (detect, then cut): give a file")
    source, output = Path(source), Path(output)
    extra = cut_paths(output) if cut_list else ()
    for path in (output, *extra):
        check_writable(path, force)
    check_output_format(output)
    if output.resolve() == source.resolve():
        raise ClassRecError(f"{output}: is the input; choose another output file")
    det = shared_detector(sample_rate)
    segments, _, duration = detect_file(source, options, sample_rate, det, on_block)
    if not segments:
        raise ClassRecError(f"{source}: no speech found; nothing to write")
    try:
        with atomic_path(check_writable(output, force)) as tmp:
            cuts = cut_to_speech(source, tmp, segments, duration, pauses, on_cut)
    except av.FFmpegError as exc:
        raise ClassRecError(f"{output}: cannot write ({exc.__class__.__name__}: {exc})") from None
    if cut_list:
        write_atomic(extra[0], cuts.to_json() + "\n", force)
        write_atomic(extra[1], cuts.to_edl(output.stem) + "\n", force)
    return cuts


AUDIO_ONLY_SUFFIXES = frozenset(".wav .flac .mp3 .ogg .oga .opus .m4a .aac .mka .wma .aiff".split())


def _output_takes_video(output: Path) -> bool:
    """Whether the output's container (from its suffix) holds video (.mp4 yes, .m4a/.wav no)."""
    return output.suffix.lower() not in AUDIO_ONLY_SUFFIXES
