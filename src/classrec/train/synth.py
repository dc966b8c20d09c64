"""Generated non-speech: coloured noise, hum, and impulsive events (bangs, knocks, ticks, scrapes).

All at 16 kHz, float32, peak-normalised; the mixer sets their level. These are the sounds a
memoryless detector confuses with syllables, so the training mix has plenty of them.
"""

from __future__ import annotations

import numpy as np

RATE = 16000


def _norm(x: np.ndarray) -> np.ndarray:
    return (x / (np.abs(x).max() + 1e-9)).astype(np.float32)


PERIOD = 1 << 15  # 2 s: noise is shaped at this length and tiled (the FFT dominated mixing time)
_FREQS = np.maximum(np.fft.rfftfreq(PERIOD, 1 / RATE), 20.0)


def coloured_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Noise with a 1/f^alpha spectrum, alpha in [0, 2] (white … pink … brown)."""
    spec = np.fft.rfft(rng.standard_normal(PERIOD))
    period = _norm(np.fft.irfft(spec * _FREQS ** (-rng.uniform(0, 2) / 2), PERIOD))
    return np.resize(period, n)


def hum(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mains hum: 50 or 60 Hz and a few harmonics, plus a little noise."""
    t = np.arange(n) / RATE
    base = rng.choice([50.0, 60.0])
    x = sum(
        rng.uniform(0, 1) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6))
        for k in range(1, 8)
    )
    return _norm(x + 0.01 * rng.standard_normal(n))


def _decay(rng: np.random.Generator, n: int, tau_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau_s * RATE))


def _lowpass(x: np.ndarray, cutoff_hz: float) -> np.ndarray:
    spec = np.fft.rfft(x)
    spec[np.fft.rfftfreq(len(x), 1 / RATE) > cutoff_hz] = 0
    return np.fft.irfft(spec, len(x))


def bang(rng: np.random.Generator) -> np.ndarray:
    """Door slam / desk bang: a low thump and a filtered noise burst decaying over 50–400 ms."""
    n = int(rng.uniform(0.2, 0.8) * RATE)
    t = np.arange(n) / RATE
    thump = np.sin(2 * np.pi * rng.uniform(40, 150) * t) * _decay(rng, n, rng.uniform(0.03, 0.15))
    burst = _lowpass(rng.standard_normal(n), rng.uniform(800, 7000)) * _decay(
        rng, n, rng.uniform(0.02, 0.2)
    )
    return _norm(rng.uniform(0.3, 1) * thump + burst)


def knock(rng: np.random.Generator) -> np.ndarray:
    """Two to four knocks on wood: short resonant bursts ~100–250 ms apart."""
    gap = int(rng.uniform(0.1, 0.25) * RATE)
    count = int(rng.integers(2, 5))
    out = np.zeros(gap * count + RATE // 10)
    freq = rng.uniform(200, 1200)
    for k in range(count):
        m = RATE // 10
        t = np.arange(m) / RATE
        out[k * gap : k * gap + m] += np.sin(2 * np.pi * freq * t) * _decay(
            rng, m, 0.015
        ) + 0.3 * rng.standard_normal(m) * _decay(rng, m, 0.005)
    return _norm(out)


def ticks(rng: np.random.Generator) -> np.ndarray:
    """Keyboard typing or clicks: sharp 2–8 ms ticks at irregular 60–300 ms intervals for 1–4 s."""
    n = int(rng.uniform(1, 4) * RATE)
    out = np.zeros(n)
    pos = 0
    while pos < n - 200:
        m = int(rng.uniform(0.002, 0.008) * RATE)
        out[pos : pos + m] += rng.standard_normal(m) * _decay(rng, m, 0.002) * rng.uniform(0.3, 1)
        pos += int(rng.uniform(0.06, 0.3) * RATE)
    return _norm(np.diff(out, prepend=0) if rng.random() < 0.5 else out)


def scrape(rng: np.random.Generator) -> np.ndarray:
    """Chair scrape: noise through a resonance sweeping over 0.3–1.2 s (formant-like)."""
    n = int(rng.uniform(0.3, 1.2) * RATE)
    f0, f1 = rng.uniform(200, 3000, size=2)
    freq = np.linspace(f0, f1, n) * (1 + 0.1 * np.sin(np.linspace(0, rng.uniform(5, 40), n)))
    carrier = np.sin(2 * np.pi * np.cumsum(freq) / RATE)
    env = np.sin(np.linspace(0, np.pi, n)) ** 0.5
    return _norm(carrier * env * (1 + 0.5 * rng.standard_normal(n)))


def burst(rng: np.random.Generator) -> np.ndarray:
    """Cough-like or sneeze-like burst: 150–500 ms band-limited noise with a fast attack."""
    n = int(rng.uniform(0.15, 0.5) * RATE)
    x = _lowpass(rng.standard_normal(n), rng.uniform(1500, 6000))
    env = (1 - np.exp(-np.arange(n) / (0.01 * RATE))) * _decay(rng, n, rng.uniform(0.05, 0.2))
    return _norm(x * env)


EVENTS = (bang, knock, ticks, scrape, burst)


def event(rng: np.random.Generator) -> np.ndarray:
    """One random impulsive event."""
    return EVENTS[int(rng.integers(len(EVENTS)))](rng)


def background(rng: np.random.Generator, n: int) -> np.ndarray:
    """Stationary synthetic background: coloured noise or hum."""
    return coloured_noise(rng, n) if rng.random() < 0.75 else hum(rng, n)
