"""Front end: one log-mel vector per 32 ms window, computed with numpy.

The same function serves the runtime and the training recipe, so the two can never drift apart.

Both supported rates use 32 ms windows (512 samples at 16 kHz, 256 at 8 kHz). A 256-point FFT at
8 kHz has exactly the bin spacing of a 512-point FFT at 16 kHz (31.25 Hz), so an 8 kHz window maps
onto the lower half of the 16 kHz spectrum and one set of weights serves both rates: the mel bands
above 4 kHz are simply empty at 8 kHz, as they are for band-limited (telephone) audio.
"""

from __future__ import annotations

import functools

import numpy as np

from classrec.errors import ClassRecError

SAMPLE_RATE = 16000
"""The model's rate (Hz) unless told otherwise: files and arrays are resampled to it."""
WINDOW_SAMPLES = {16000: 512, 8000: 256}
"""Samples per 32 ms window for each supported sample rate (Hz)."""
WINDOW_SECONDS = 0.032
N_MELS = 40
N_BINS = 257  # rfft bins of a 512-sample window at 16 kHz
LOG_FLOOR = 1e-10
_FLOOR = np.float32(LOG_FLOOR)


def window_samples(sample_rate: int) -> int:
    """Samples per window at `sample_rate`, or a ClassRecError listing the supported rates."""
    try:
        return WINDOW_SAMPLES[sample_rate]
    except (KeyError, TypeError):
        rates = ", ".join(f"{r} Hz" for r in sorted(WINDOW_SAMPLES))
        raise ClassRecError(
            f"unsupported sample rate {sample_rate!r}: the model runs at {rates}; "
            "resample first (classrec.audio.load_audio does it for files)"
        ) from None


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(n_mels: int = N_MELS, fmin: float = 60.0, fmax: float = 8000.0) -> np.ndarray:
    """Triangular mel filters, shape (N_BINS, n_mels), over the 16 kHz spectrum (31.25 Hz bins)."""
    freqs = np.linspace(0.0, 8000.0, N_BINS)
    edges = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array(fmin)), _hz_to_mel(np.array(fmax)), n_mels + 2)
    )
    bank = np.zeros((N_BINS, n_mels), dtype=np.float64)
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rising = (freqs - lo) / (mid - lo)
        falling = (hi - freqs) / (hi - mid)
        bank[:, m] = np.clip(np.minimum(rising, falling), 0.0, None)
    bank /= np.maximum(bank.sum(axis=0, keepdims=True), 1e-9)  # each band = mean power it covers
    return bank.astype(np.float32)


HANN = {n: np.hanning(n + 1)[:-1].astype(np.float32) for n in WINDOW_SAMPLES.values()}
"""The periodic Hann window for each window size (16 kHz: 512, 8 kHz: 256)."""


@functools.cache
def power_to_mel(window: int, n_mels: int = N_MELS) -> np.ndarray:
    """Power spectrum → mel in one matmul (speed): the rfft output viewed as interleaved (re, im)
    reals is squared, and each filterbank row is repeated for the re and im parts, scaled by the
    window normalisation. Same values as summing re² + im² first, up to float32 rounding. The
    band count belongs to the weights (their first layer's width), so it is a parameter."""
    bank = mel_filterbank(n_mels)[: window // 2 + 1]
    scale = np.float64(HANN[window].sum()) ** 2
    return (np.repeat(bank, 2, axis=0) / scale).astype(np.float32)


def _pocketfft_kernel():  # noqa: ANN202 - a numpy gufunc, or None
    """numpy's compiled real-FFT kernel (numpy >= 2.0, private module), or None.

    The public `np.fft.rfft` wraps the same kernel in Python that costs about 6 µs per call and,
    for batches, an extra copy: more than half the time of one 512-point transform, and 2.5× the
    time on 2048 windows at once. The kernel is used only if it gives what the public function
    gives on a test input (to float32 rounding: the public call iterates differently), so a numpy
    that changes it falls back, never miscomputes.
    """
    try:
        from numpy.fft import _pocketfft_umath

        kernel = _pocketfft_umath.rfft_n_even
        probe = np.random.default_rng(0).standard_normal((2, 512)).astype(np.float32)
        got = kernel(probe, np.float32(1.0), out=np.empty((2, 257), np.complex64))
        want = np.fft.rfft(probe, axis=-1)
        return kernel if np.allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max()) else None
    except Exception:  # noqa: BLE001 - any surprise means: use the public function
        return None


_RFFT_KERNEL = _pocketfft_kernel()
_UNIT = np.float32(1.0)  # the kernel's scale factor, made once (0.2 µs a call otherwise)


def rfft_into(windowed: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Real FFT of float32 rows (even length n) into `out` (complex64, n // 2 + 1 columns)."""
    if _RFFT_KERNEL is not None:
        return _RFFT_KERNEL(windowed, _UNIT, out)
    return np.fft.rfft(windowed, axis=-1, out=out)


def log_mel_into(
    windows: np.ndarray,
    windowed: np.ndarray,
    spectrum: np.ndarray,
    out: np.ndarray,
    to_mel: np.ndarray,
) -> np.ndarray:
    """`log_mel` written into caller-owned buffers, so the per-window runtime path allocates
    nothing: `windowed` float32 like `windows`, `spectrum` complex64 (n, bins), `out` float32
    (n, n_mels), C-contiguous (np.dot, a microsecond cheaper than matmul on one window), and
    `to_mel` = `power_to_mel(window, n_mels)`, looked up once by the caller. Returns `out`."""
    n = windows.shape[-1]
    np.multiply(windows, HANN[n], windowed)  # outputs positional: cheaper than `out=`
    parts = rfft_into(windowed, spectrum).view(np.float32)  # (…, 2 * bins): re, im interleaved
    np.square(parts, parts)
    np.dot(parts, to_mel, out)
    np.add(out, _FLOOR, out)
    return np.log(out, out)


def log_mel(windows: np.ndarray, n_mels: int = N_MELS) -> np.ndarray:
    """Log-mel features for windows of shape (n, 512) at 16 kHz or (n, 256) at 8 kHz → (n, n_mels).

    Power is normalised by the squared window sum so a tone of a given amplitude gives the same
    value at both rates; at 8 kHz the bins above 4 kHz are zero. Computed in float32.
    """
    size = windows.shape[-1]
    lead = windows.shape[:-1]
    return log_mel_into(
        windows,
        np.empty((*lead, size), np.float32),
        np.empty((*lead, size // 2 + 1), np.complex64),
        np.empty((*lead, n_mels), np.float32),
        power_to_mel(size, n_mels),
    )


def frame(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Split a 1-D signal into whole 32 ms windows (n, window); a trailing partial window is
    zero-padded so every sample is scored."""
    size = window_samples(sample_rate)
    n = -(-len(samples) // size)
    padded = np.zeros(n * size, dtype=np.float32)
    padded[: len(samples)] = samples
    return padded.reshape(n, size)
