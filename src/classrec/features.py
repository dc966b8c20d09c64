"""Front end: one log-mel vector per 32 ms window, computed with numpy.

The same function serves the runtime and the training recipe, so the two can never drift apart.

Both supported rates use 32 ms windows (512 samples at 16 kHz, 256 at 8 kHz). A 256-point FFT at
8 kHz has exactly the bin spacing of a 512-point FFT at 16 kHz (31.25 Hz), so an 8 kHz window maps
onto the lower half of the 16 kHz spectrum and one set of weights serves both rates: the mel bands
above 4 kHz are simply empty at 8 kHz, as they are for band-limited (telephone) audio.
"""

from __future__ import annotations

import numpy as np

from classrec.errors import ClassRecError

WINDOW_SAMPLES = {16000: 512, 8000: 256}
"""Samples per 32 ms window for each supported sample rate (Hz)."""
WINDOW_SECONDS = 0.032
N_MELS = 40
N_BINS = 257  # rfft bins of a 512-sample window at 16 kHz
LOG_FLOOR = 1e-10


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


_MEL = mel_filterbank()
_HANN = {n: np.hanning(n + 1)[:-1].astype(np.float32) for n in WINDOW_SAMPLES.values()}
# Power spectrum → mel in one matmul (speed): the rfft output viewed as interleaved (re, im) reals
# is squared, and each filterbank row is repeated for the re and im parts, scaled by the window
# normalisation. Same values as summing re² + im² first, up to float32 rounding.
_POWER_MEL = {
    n: (np.repeat(_MEL[: n // 2 + 1], 2, axis=0) / np.float64(hann.sum()) ** 2).astype(np.float32)
    for n, hann in _HANN.items()
}


def log_mel(windows: np.ndarray) -> np.ndarray:
    """Log-mel features for windows of shape (n, 512) at 16 kHz or (n, 256) at 8 kHz → (n, N_MELS).

    Power is normalised by the squared window sum so a tone of a given amplitude gives the same
    value at both rates; at 8 kHz the bins above 4 kHz are zero.
    """
    n = windows.shape[-1]
    spectrum = np.fft.rfft(windows * _HANN[n], axis=-1)
    parts = spectrum.view(spectrum.real.dtype)  # (…, 2 * bins): re, im interleaved
    np.square(parts, out=parts)
    mel = parts @ _POWER_MEL[n]
    mel += np.float32(LOG_FLOOR)
    return np.log(mel, out=mel).astype(np.float32, copy=False)


def frame(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Split a 1-D signal into whole 32 ms windows (n, window); a trailing partial window is
    zero-padded so every sample is scored."""
    size = window_samples(sample_rate)
    n = -(-len(samples) // size)
    padded = np.zeros(n * size, dtype=np.float32)
    padded[: len(samples)] = samples
    return padded.reshape(n, size)
