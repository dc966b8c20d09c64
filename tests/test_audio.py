"""Decoding: every container/codec users send, any rate and channel count, and clear errors."""

from __future__ import annotations

import io
import math
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest
from helpers import BAD, LECTURE, ffmpeg

from classrec.audio import (
    DECODE_SECONDS,
    _decoded_blocks,
    iter_blocks,
    load_audio,
    open_media,
    pcm16_to_float,
    probe_duration,
)
from classrec.errors import ClassRecError
from classrec.pipeline import as_mono, resample


def test_every_format_decodes_to_the_same_signal(encoded: dict[str, Path]) -> None:
    reference = load_audio(LECTURE, 16000)
    for name, path in encoded.items():
        samples = load_audio(path, 16000)
        assert samples.dtype == np.float32 and samples.ndim == 1, name
        assert abs(len(samples) - len(reference)) < 0.06 * 16000, name  # codec priming/padding
        n = min(len(samples), len(reference))
        # lossy codecs may shift by their delay: compare loudness per 100 ms instead of samples
        env = [
            np.sqrt((x[: n // 1600 * 1600].reshape(-1, 1600) ** 2).mean(1))
            for x in (samples, reference)
        ]
        assert np.corrcoef(*env)[0, 1] > 0.97, name


def test_rates_and_channels(encoded: dict[str, Path]) -> None:
    eight = load_audio(encoded["flac-44k-stereo"], 8000)
    assert abs(len(eight) - 9.91 * 8000) < 8 and np.abs(eight).max() > 0.1
    assert probe_duration(encoded["wav"]) == pytest.approx(9.91, abs=0.01)


def test_blocks_are_whole_and_equal_the_whole_file(encoded: dict[str, Path]) -> None:
    blocks = list(iter_blocks(encoded["mp3"], 16000, block_samples=512 * 10))
    assert all(len(b) == 5120 for b in blocks[:-1]) and 0 < len(blocks[-1]) <= 5120
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(encoded["mp3"], 16000))


def test_streaming_memory_does_not_grow_with_length(tmp_path: Path) -> None:
    long = tmp_path / "long.flac"
    ffmpeg("-stream_loop", "11", "-i", LECTURE, long)  # 2 minutes
    tracemalloc.start()
    seconds = sum(len(b) for b in iter_blocks(long, 16000)) / 16000
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds == pytest.approx(118.9, abs=0.1)
    assert peak < 6e6  # a 30 s block at 16 kHz is 1.9 MB; the whole file would be 7.6 MB


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_one_clear_error(bad_files: dict[str, Path], name: str) -> None:
    with pytest.raises(ClassRecError) as info:
        load_audio(bad_files[name], 16000)
    message = str(info.value)
    assert BAD[name] in message and "\n" not in message
    assert message.startswith(str(bad_files[name]))


def test_arrays_and_pcm_bytes_in_memory() -> None:
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    pcm = (tone * 32767).astype("<i2")
    np.testing.assert_allclose(pcm16_to_float(pcm.tobytes()), tone, atol=1e-4)
    np.testing.assert_allclose(pcm16_to_float(pcm.tobytes()), as_mono(pcm))
    for layout in (np.stack([tone, tone], axis=1), np.stack([tone, tone]), tone[None, :]):
        np.testing.assert_allclose(as_mono(layout), tone, atol=1e-6)
    assert len(resample(tone, 16000, 8000)) == 8000
    with pytest.raises(ClassRecError, match="even number of bytes"):
        pcm16_to_float(b"\x00\x01\x02")
    with pytest.raises(ClassRecError, match="NaN"):
        as_mono(np.array([0.0, np.nan]))


def wav_with_header(path: Path, rate: int, channels: int, data_bytes: int = 130_000) -> Path:
    """A PCM16 WAV of real noise whose header declares `rate` Hz and `channels` channels."""
    samples = np.random.default_rng(0).standard_normal(data_bytes // 2) * 3000
    data = samples.astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.mark.parametrize(
    ("rate", "channels", "message"),
    [
        (1, 1, "sample rate 1 Hz is below 4000 Hz"),
        (3, 2, "sample rate 3 Hz is below 4000 Hz"),
        (16000, 65, "65 channels (at most 64)"),
    ],
)
def test_absurd_header_refused_at_once(
    tmp_path: Path, rate: int, channels: int, message: str
) -> None:
    bad = wav_with_header(tmp_path / "bad.wav", rate, channels)
    started = time.process_time()
    with pytest.raises(ClassRecError) as info:
        load_audio(bad, 16000)  # at 1 Hz: 18 hours of audio at 16 kHz if it were decoded
    assert time.process_time() - started < 0.5
    assert str(info.value) == f"{bad}: {message}" + str(info.value).split(message)[1]
    assert "\n" not in str(info.value)
    assert len(load_audio(wav_with_header(tmp_path / "ok.wav", 4000, 2), 16000)) == 130_000


@pytest.mark.parametrize("suffix", [".webm", ".mkv"])
def test_audio_ending_before_the_video_is_not_truncation(tmp_path: Path, suffix: str) -> None:
    """OBS writes MKV/WebM whose video runs on after the audio: the container's duration is the
    video's (20 s), the audio's own is 9.9 s, and the file is whole."""
    video = tmp_path / f"obs{suffix}"
    audio = "libopus" if suffix == ".webm" else "libvorbis"
    codecs = ["-c:v", "libvpx" if suffix == ".webm" else "mpeg4", "-c:a", audio]
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x48:r=5:d=20", "-i", LECTURE, *codecs, video)
    with av.open(str(video)) as container:
        assert container.duration / av.time_base > 19.9  # what the old check compared with
    samples = load_audio(video, 16000)
    assert abs(len(samples) / 16000 - 9.91) < 0.06
    reference = load_audio(LECTURE, 16000)
    n = min(len(samples), len(reference)) // 1600 * 1600
    env = [np.sqrt((x[:n].reshape(-1, 1600) ** 2).mean(1)) for x in (samples, reference)]
    assert np.corrcoef(*env)[0, 1] > 0.97


def test_truncated_audio_only_matroska_still_refused(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mka"
    ffmpeg("-stream_loop", "5", "-i", LECTURE, "-c:a", "flac", whole)
    cut = tmp_path / "cut.mka"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ClassRecError, match="truncated"):
        load_audio(cut, 16000)


def test_non_utf8_title_tag_opens(tmp_path: Path) -> None:
    tagged = tmp_path / "tagged.flac"
    ffmpeg("-i", LECTURE, "-metadata", "title=caf\udce9", tagged)
    assert b"caf\xe9" in tagged.read_bytes()[:4096]  # the raw Latin-1 byte, invalid UTF-8
    with open_media(tagged) as container:
        assert container.metadata["title"].startswith("caf")
    np.testing.assert_array_equal(load_audio(tagged), load_audio(LECTURE))


def test_python_runs_once_per_block_not_per_frame(tmp_path: Path) -> None:
    """An MP3 at 44.1 kHz is 1152-sample frames (38 per second); PyAV gathers them, so Python
    sees one block per DECODE_SECONDS (3,600 steps an hour instead of 138,000)."""
    mp3 = tmp_path / "three-minutes.mp3"
    ffmpeg("-stream_loop", "17", "-i", LECTURE, "-ar", "44100", "-ac", "2", mp3)
    with av.open(str(mp3)) as container:
        frames = sum(1 for _ in container.decode(audio=0))
    blocks = list(_decoded_blocks(mp3, "mono", DECODE_SECONDS))
    seconds = sum(len(b) for b, _ in blocks) / 44100
    assert frames > 30 * seconds and seconds == pytest.approx(178.4, abs=0.2)
    assert len(blocks) == math.ceil(seconds / DECODE_SECONDS)
    assert all(len(b) == 44100 for b, _ in blocks[:-1])


def test_stdin_is_read_as_a_pipe() -> None:
    """`-` is standard input (here: the FLAC fixture on fd 0 of a child process)."""
    code = (
        "import sys, numpy as np; from classrec.audio import load_audio; "
        "np.save(sys.stdout.buffer, load_audio('-'))"
    )
    with LECTURE.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-c", code], stdin=stdin, capture_output=True, check=True
        )
    np.testing.assert_array_equal(np.load(io.BytesIO(done.stdout)), load_audio(LECTURE))
