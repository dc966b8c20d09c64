"""Decode any audio or video file with PyAV and resample with soxr to the model rate.

Files are decoded in-process (no ffmpeg subprocess) and streamed in blocks, so a 10-hour recording
never has to be held in memory: `iter_blocks` keeps one decoded packet, the soxr filter state and
one output block. `load_audio` is the same generator concatenated, for short files.

Every way a file can be unusable (missing, empty, not audio, truncated, no audio stream, unknown
codec, NaN samples) becomes one `ClassRecError` whose message starts with the path.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import soxr

from classrec.errors import ClassRecError
from classrec.model import as_samples

MEDIA_EXTENSIONS = frozenset(
    ".wav .flac .mp3 .ogg .oga .opus .m4a .aac .wma .aif .aiff .webm .mp4 .m4v .mkv .mov .avi"
    " .mka .3gp".split()
)
"""File name endings `classrec detect DIR` picks up when it walks a folder."""
BLOCK_SECONDS = 30.0
"""Default length of a streamed block (s): large enough to batch the front end, small in memory."""
_TRUNCATION_SLACK = 0.9  # decoded / declared duration below this (and 0.5 s short) = truncated
# tags are never used: bad UTF-8 in them (a damaged FLAC comment) must not fail the decode


def _fail(path: Path, what: str) -> ClassRecError:
    return ClassRecError(f"{path}: {what}")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise _fail(path, "no such file")
    if not path.is_file():
        raise _fail(path, "not a regular file")
    if path.stat().st_size == 0:
        raise _fail(path, "file is empty (0 bytes)")


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


def _check_complete(path: Path, decoded_s: float, declared_s: float | None) -> None:
    """Raise if the file stopped well before the duration its header declares."""
    wav = _wav_declared_bytes(path) if path.suffix.lower() in (".wav", ".wave") else None
    if wav is not None and wav[1] < wav[0]:
        raise _fail(path, f"truncated WAV: header declares {wav[0]} data bytes, file has {wav[1]}")
    if declared_s and decoded_s < _TRUNCATION_SLACK * declared_s and decoded_s < declared_s - 0.5:
        raise _fail(
            path, f"truncated or corrupt: decoded {decoded_s:.1f} s of {declared_s:.1f} s declared"
        )


def _declared_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container.duration / av.time_base if container.duration else 0.0


def probe_duration(path: str | Path) -> float:
    """Duration (s) the file's header declares, 0.0 if unknown; cheap, for progress bars."""
    path = Path(path)
    _check_file(path)
    try:
        with av.open(str(path), metadata_errors="replace") as container:
            if not container.streams.audio:
                return 0.0
            return _declared_seconds(container, container.streams.audio[0])
    except av.FFmpegError:
        return 0.0


def _decoded_frames(path: Path, layout: str | None) -> Iterator[tuple[np.ndarray, int]]:
    """(samples (n,) mono or (n, channels), native rate) for each decoded frame, float32.

    Converts every PyAV failure into a ClassRecError naming the path and what to do.
    """
    _check_file(path)
    decoded = 0.0
    try:
        with av.open(str(path), metadata_errors="replace") as container:
            if not container.streams.audio:
                kind = "video with no audio stream" if container.streams.video else "no audio"
                raise _fail(path, f"{kind}: nothing to analyse")
            stream = container.streams.audio[0]
            if stream.codec_context is None:
                raise _fail(path, "unsupported audio codec: convert it to WAV or FLAC first")
            declared = _declared_seconds(container, stream)
            resampler = None
            for frame in container.decode(stream):
                if resampler is None:
                    out_layout = layout or frame.layout.name
                    resampler = av.AudioResampler(format="flt", layout=out_layout)
                for out in resampler.resample(frame):
                    data = out.to_ndarray().reshape(-1, out.layout.nb_channels)
                    decoded += len(data) / out.sample_rate
                    yield (data[:, 0] if layout == "mono" else data), out.sample_rate
    except av.DecoderNotFoundError:
        raise _fail(path, "unsupported audio codec: convert it to WAV or FLAC first") from None
    except av.InvalidDataError:
        where = f" after {decoded:.1f} s" if decoded else ""
        raise _fail(path, f"not a readable audio/video file, or corrupt/truncated{where}") from None
    except av.FFmpegError as exc:
        raise _fail(path, f"cannot decode audio ({exc.__class__.__name__}: {exc})") from None
    if decoded == 0.0:
        raise _fail(path, "contains no audio samples (zero length)")
    _check_complete(path, decoded, declared)


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


def _finite(path: Path, samples: np.ndarray) -> np.ndarray:
    if not np.isfinite(samples).all():
        raise _fail(path, "contains NaN or infinite samples: repair or re-export the audio")
    return samples


def _resampled(path: Path, sample_rate: int) -> Iterator[np.ndarray]:
    """Mono float32 pieces at `sample_rate`, resampled by one soxr stream (filter state kept)."""
    resampler, in_rate = None, None
    for samples, rate in _decoded_frames(path, "mono"):
        samples = _finite(path, samples)
        if in_rate is None:
            in_rate = rate
            if rate != sample_rate:
                resampler = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32")
        if rate != in_rate:
            raise _fail(path, f"sample rate changes mid-stream ({in_rate} → {rate} Hz)")
        yield samples if resampler is None else resampler.resample_chunk(samples)
    if resampler is not None:
        yield resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def iter_blocks(
    path: str | Path, sample_rate: int = 16000, block_samples: int | None = None
) -> Iterator[np.ndarray]:
    """Stream a file as mono float32 blocks of `block_samples` at `sample_rate` Hz.

    Every block but the last has exactly `block_samples` samples (default: 30 s), so a caller that
    picks a multiple of the model window gets whole windows in every block. Memory stays bounded
    whatever the file's length. Errors (even a truncation found at the end) raise ClassRecError.
    """
    size = block_samples or int(BLOCK_SECONDS * sample_rate)
    yield from _rechunk(_resampled(Path(path), sample_rate), size)


def iter_native_blocks(
    path: str | Path, block_seconds: float = BLOCK_SECONDS
) -> Iterator[tuple[np.ndarray, int]]:
    """Stream a file at its own rate and channel count: ((n, channels) float32 block, rate).

    For cutting the original audio (speech-only output) without resampling or downmixing.
    """
    path = Path(path)
    frames = _decoded_frames(path, None)
    first = next(frames)
    rate = first[1]

    def pieces() -> Iterator[np.ndarray]:
        yield _finite(path, first[0])
        for samples, _ in frames:
            yield _finite(path, samples)

    for block in _rechunk(pieces(), max(1, int(block_seconds * rate))):
        yield block, rate


def load_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Whole file as mono float32 at `sample_rate` Hz (channels averaged)."""
    blocks = list(iter_blocks(path, sample_rate))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Raw little-endian 16-bit PCM bytes (mono) → float32 in [-1, 1]."""
    if len(data) % 2:
        raise ClassRecError(f"raw PCM16 must have an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def to_mono(samples: object, sample_rate: int, input_rate: int | None = None) -> np.ndarray:
    """Audio given in memory → mono float32 at `sample_rate` Hz.

    Accepts a numpy array (1-D, or 2-D (samples, channels) which is averaged; float in [-1, 1] or
    int16/int32 PCM), raw PCM16 bytes, or a file path. `input_rate` (Hz) is the rate of an array
    or bytes; default: already at `sample_rate`.
    """
    if isinstance(samples, (str, Path)):
        return load_audio(samples, sample_rate)
    if isinstance(samples, (bytes, bytearray, memoryview)):
        samples = pcm16_to_float(bytes(samples))
    array = as_samples(samples, "audio")
    if array.ndim == 2:
        array = array.mean(axis=1, dtype=np.float32)
    if array.ndim != 1:
        raise ClassRecError(f"audio must be 1-D or (samples, channels), got shape {array.shape}")
    if input_rate and input_rate != sample_rate and len(array):
        array = soxr.resample(array, input_rate, sample_rate).astype(np.float32)
    return array
