"""Decode any audio or video file with PyAV and resample with soxr to the model rate.

Files are decoded in-process (no ffmpeg subprocess) and streamed in blocks, so a 10-hour recording
never has to be held in memory. PyAV gathers the decoder's frames into blocks of `DECODE_SECONDS`
(in C) and converts each block to float mono, so Python runs once per block, not once per 20 ms
frame (an hour of MP3 is 138,000 frames); one soxr stream then resamples block by block.
`load_audio` is the same generator concatenated, for short files.

Every way a file can be unusable (missing, empty, not audio, truncated, no audio stream, unknown
codec, NaN samples, a header declaring an absurd rate or channel count) becomes one
`ClassRecError` whose message starts with the path. `open_media` is the one place files are
opened for reading, so the CLI, speech-only cutting and web uploads share these checks.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import soxr

from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE

MEDIA_EXTENSIONS = frozenset(
    ".wav .flac .mp3 .ogg .oga .opus .m4a .aac .wma .aif .aiff .webm .mp4 .m4v .mkv .mov .avi"
    " .mka .3gp".split()
)
"""File name endings `classrec detect DIR` picks up when it walks a folder."""
STDIN = "-"
"""The input name that reads standard input (formats that need seeking, like MP4, cannot)."""
BLOCK_SECONDS = 30.0
"""Default length of a streamed block (s): large enough to batch the front end, small in memory."""
DECODE_SECONDS = 1.0
"""Length (s) of the blocks PyAV gathers decoded frames into before Python sees them: 3,600
Python steps per hour instead of one per 20-40 ms frame (138,000 for an hour of 44.1 kHz MP3);
larger blocks make the float/mono conversion slower (3.0 s CPU per hour at 5 s, 2.2 s at 1 s)."""
MIN_SAMPLE_RATE = 4000
"""Lowest input rate (Hz) accepted: a header saying 1 Hz would be "resampled" into hours."""
MAX_CHANNELS = 64
"""Most channels accepted (22.2 surround is 24); more means a damaged header."""
FLOAT_FORMATS = frozenset({"flt", "fltp"})
"""Sample formats that are float32 already: a mono frame in one is used as decoded (through
PyAV's converter an hour of 16 kHz MP3 took 0.051 s CPU more than to_ndarray's 0.017 s)."""
_TRUNCATION_SLACK = 0.9  # decoded / declared duration below this (and 0.5 s short) = truncated


def _fail(name: str | Path, what: str) -> ClassRecError:
    return ClassRecError(f"{name}: {what}")


def _label(path: str | Path) -> str:
    """How messages name an input: its path, or "stdin"."""
    return "stdin" if str(path) == STDIN else str(path)


def _unreadable(name: str, decoded_s: float = 0.0) -> ClassRecError:
    """The error for data FFmpeg cannot parse, `decoded_s` seconds in."""
    where = f" after {decoded_s:.1f} s" if decoded_s else ""
    hint = "; MP4/M4A/MOV need seeking: give the file, not a pipe" if name == "stdin" else ""
    return _fail(name, f"not a readable audio/video file, or corrupt/truncated{where}{hint}")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise _fail(path, "no such file")
    if not path.is_file():
        raise _fail(path, "not a regular file")
    if path.stat().st_size == 0:
        raise _fail(path, "file is empty (0 bytes)")


@contextlib.contextmanager
def media_errors(name: str) -> Iterator[None]:
    """PyAV failures inside the block become one-line ClassRecErrors naming input `name`."""
    try:
        yield
    except av.DecoderNotFoundError:
        raise _fail(name, "unsupported audio codec: convert it to WAV or FLAC first") from None
    except av.InvalidDataError:
        raise _unreadable(name) from None
    except av.FFmpegError as exc:
        raise _fail(name, f"cannot decode audio ({exc.__class__.__name__}: {exc})") from None


@contextlib.contextmanager
def open_media(path: str | Path) -> Iterator[av.container.InputContainer]:
    """Open a media file ("-": standard input) for reading with PyAV, refusing (one line) a
    missing, empty or unreadable one. Errors of the block itself are the caller's: decoding
    wraps itself in `media_errors`, writing another file names that file.

    Tags are decoded with `metadata_errors="replace"`: they are never used, and bad UTF-8 in
    them (a damaged title) must not fail the file.
    """
    name = _label(path)
    if name != "stdin":
        _check_file(Path(path))
    with media_errors(name):
        container = av.open("pipe:0" if name == "stdin" else str(path), metadata_errors="replace")
    with container:
        yield container


def audio_stream(container: av.container.InputContainer, path: str | Path) -> av.AudioStream:
    """The first audio stream, refused (one line) when there is none or its codec is unknown."""
    if not container.streams.audio:
        kind = "video with no audio stream" if container.streams.video else "no audio"
        raise _fail(_label(path), f"{kind}: nothing to analyse")
    stream = container.streams.audio[0]
    if stream.codec_context is None:
        raise _fail(_label(path), "unsupported audio codec: convert it to WAV or FLAC first")
    return stream


def check_format(path: str | Path, rate: int, channels: int) -> None:
    """Refuse a rate (Hz) or channel count no real recording has, before any work: a 130 kB
    WAV whose header says 1 Hz would otherwise become 18 hours of audio at 16 kHz."""
    if rate < MIN_SAMPLE_RATE:
        raise _fail(
            _label(path),
            f"sample rate {rate} Hz is below {MIN_SAMPLE_RATE} Hz: damaged header, not a recording",
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise _fail(_label(path), f"{channels} channels (at most {MAX_CHANNELS}): damaged header?")


def _wav_declared_bytes(path: Path) -> tuple[int, int] | None:
    """(declared, present) byte counts of a RIFF/WAVE file's data chunk, None if not a WAV.

    FFmpeg silently shortens a WAV whose data chunk was cut off, so we check the header ourselves.
    """
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        while chunk := f.read(8):
            if len(chunk) < 8:
                return None
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"data":
                present = path.stat().st_size - f.tell()
                return (size, present) if size not in (0, 0xFFFFFFFF) else None
            f.seek(size + (size & 1), 1)
    return None


def _check_complete(path: str | Path, decoded_s: float, declared_s: float | None) -> None:
    """Raise if the file stopped well before the duration (s) its audio stream declares.
    A WAV is known by its RIFF/WAVE header, not its name: an upload is stored without one."""
    name = _label(path)
    wav = _wav_declared_bytes(Path(path)) if name != "stdin" else None
    if wav is not None and wav[1] < wav[0]:
        raise _fail(name, f"truncated WAV: header declares {wav[0]} data bytes, file has {wav[1]}")
    if declared_s and decoded_s < _TRUNCATION_SLACK * declared_s and decoded_s < declared_s - 0.5:
        raise _fail(
            name, f"truncated or corrupt: decoded {decoded_s:.1f} s of {declared_s:.1f} s declared"
        )


def _clock_seconds(text: str) -> float | None:
    """ "HH:MM:SS.fraction" (a Matroska DURATION tag) in seconds, None if it is not one."""
    try:
        hours, minutes, seconds = text.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def _audio_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    """Duration (s) the file declares for its audio stream, None if it does not say.

    Only the stream's own duration may judge truncation: a container's duration is its longest
    stream's, and a valid MKV/WebM whose audio stops before its video (OBS writes these) is
    not a truncated file. Matroska keeps per-track durations in a DURATION tag.
    """
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if tag := stream.metadata.get("DURATION"):
        return _clock_seconds(tag)
    if len(container.streams) == 1 and container.duration:
        return container.duration / av.time_base
    return None


def probe_duration(path: str | Path) -> float:
    """Duration (s) the file's header declares, 0.0 if unknown (or stdin); cheap, for progress
    bars."""
    if _label(path) == "stdin":
        return 0.0
    try:
        with open_media(path) as container, media_errors(_label(path)):
            if not container.streams.audio:
                return 0.0
            declared = _audio_seconds(container, container.streams.audio[0])
            if declared is None and container.duration:
                declared = container.duration / av.time_base
            return declared or 0.0
    except ClassRecError:
        return 0.0


def _decoded_blocks(
    path: str | Path, layout: str | None, block_seconds: float
) -> Iterator[tuple[np.ndarray, int]]:
    """(float32 samples, native rate in Hz) in blocks of `block_seconds` (the last shorter):
    (n,) when `layout` is "mono" (channels averaged), else (n, channels) in the file's layout."""
    name, decoded = _label(path), 0.0
    with open_media(path) as container, media_errors(name):
        stream = audio_stream(container, path)
        declared = _audio_seconds(container, stream)
        convert = None
        try:
            for frame in _gathered(container.decode(stream), path, block_seconds):
                if convert is None:
                    convert = av.AudioResampler(format="flt", layout=layout or frame.layout.name)
                samples = _float_samples(convert, frame, name)
                decoded += len(samples) / frame.sample_rate
                yield samples, frame.sample_rate
        except av.InvalidDataError:
            raise _unreadable(name, decoded) from None
    if decoded == 0.0:
        raise _fail(name, "contains no audio samples (zero length)")
    _check_complete(path, decoded, declared)


def _gathered(
    frames: Iterator[av.AudioFrame], path: str | Path, block_seconds: float
) -> Iterator[av.AudioFrame]:
    """The decoder's frames (20-40 ms each) joined into frames of `block_seconds` in PyAV's
    AudioFifo, in C; the first frame's rate and channels are checked before anything else."""
    fifo, size = av.AudioFifo(), 0
    for frame in frames:
        if not size:
            check_format(path, frame.sample_rate, frame.layout.nb_channels)
            size = max(1, int(block_seconds * frame.sample_rate))
        frame.pts = None  # the FIFO would demand gapless timestamps; gaps are not ours to judge
        try:
            fifo.write(frame)
        except ValueError:
            raise _fail(
                _label(path),
                "sample rate or channels change mid-stream: convert it to WAV or FLAC first",
            ) from None
        while fifo.samples >= size:
            yield fifo.read(size)
    if fifo.samples:
        yield fifo.read()


def _float_samples(convert: av.AudioResampler, frame: av.AudioFrame, name: str) -> np.ndarray:
    """A gathered frame as float32 (n,) mono or (n, channels); NaN or infinity refused."""
    channels = convert.layout.nb_channels if convert.layout else frame.layout.nb_channels
    if frame.format.name in FLOAT_FORMATS and frame.layout.nb_channels == 1:
        data = frame.to_ndarray().reshape(-1, 1)  # already what we want: no conversion
    else:
        parts = [out.to_ndarray().reshape(-1, channels) for out in convert.resample(frame)]
        if len(parts) != 1:  # a conversion at the same rate gives one frame per frame
            parts = [np.concatenate([np.zeros((0, channels), np.float32), *parts])]
        data = parts[0]
    if not np.isfinite(data).all():
        raise _fail(name, "contains NaN or infinite samples: repair or re-export the audio")
    return data[:, 0] if channels == 1 else data


def _rechunk(pieces: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Regroup arrays into blocks of exactly `size` rows (the last one may be shorter)."""
    pending: list[np.ndarray] = []
    count = 0
    for piece in pieces:
        pending.append(piece)
        count += len(piece)
        if count < size:
            continue
        joined = np.concatenate(pending)
        cut = len(joined) - len(joined) % size
        yield from (joined[i : i + size] for i in range(0, cut, size))
        pending, count = [joined[cut:]], len(joined) - cut
    if count:
        yield np.concatenate(pending)


def _resampled(path: str | Path, sample_rate: int) -> Iterator[np.ndarray]:
    """Mono float32 pieces at `sample_rate`, resampled by one soxr stream (filter state kept)."""
    resampler = None
    for samples, rate in _decoded_blocks(path, "mono", DECODE_SECONDS):
        if resampler is None and rate != sample_rate:
            resampler = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32")
        yield samples if resampler is None else resampler.resample_chunk(samples)
    if resampler is not None:
        yield resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def iter_blocks(
    path: str | Path, sample_rate: int = SAMPLE_RATE, block_samples: int | None = None
) -> Iterator[np.ndarray]:
    """Stream a file ("-": stdin) as mono float32 blocks of `block_samples` at `sample_rate` Hz.

    Every block but the last has exactly `block_samples` samples (default: 30 s), so a caller that
    picks a multiple of the model window gets whole windows in every block. Memory stays bounded
    whatever the file's length. Errors (even a truncation found at the end) raise ClassRecError.
    """
    size = block_samples or int(BLOCK_SECONDS * sample_rate)
    yield from _rechunk(_resampled(path, sample_rate), size)


def iter_native_blocks(
    path: str | Path, block_seconds: float = BLOCK_SECONDS
) -> Iterator[tuple[np.ndarray, int]]:
    """Stream a file at its own rate and channel count: ((n, channels) float32 block, rate).

    For cutting the original audio (speech-only output) without resampling or downmixing.
    """
    for samples, rate in _decoded_blocks(path, None, block_seconds):
        yield samples.reshape(len(samples), -1), rate


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Whole file as mono float32 at `sample_rate` Hz (channels averaged)."""
    blocks = list(iter_blocks(path, sample_rate))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Raw little-endian 16-bit PCM bytes (mono) → float32 in [-1, 1]."""
    if len(data) % 2:
        raise ClassRecError(f"raw PCM16 must have an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
