"""Decode any audio or video file with PyAV and resample with soxr to the model rate."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soxr

from classrec.errors import ClassRecError


def load_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Whole file as mono float32 at `sample_rate` Hz (channels averaged)."""
    path = Path(path)
    if not path.is_file():
        raise ClassRecError(f"{path}: no such file")
    chunks, rate = [], None
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise ClassRecError(f"{path}: has no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono")
            for packet_frame in container.decode(stream):
                rate = packet_frame.sample_rate
                for out in resampler.resample(packet_frame):
                    chunks.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:
        raise ClassRecError(f"{path}: cannot decode audio ({exc.__class__.__name__})") from None
    if not chunks:
        raise ClassRecError(f"{path}: contains no audio samples")
    samples = np.concatenate(chunks).astype(np.float32)
    if rate != sample_rate:
        samples = soxr.resample(samples, rate, sample_rate).astype(np.float32)
    return samples
