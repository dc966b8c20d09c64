"""Generated non-speech: coloured noise, hum, impulsive events (bangs, knocks, ticks, scrapes)
and solo-instrument tunes (`melody`, the recipe's `--melodies`).

All at 16 kHz, float32, peak-normalised; the mixer sets their level. The events are the sounds a
memoryless detector confuses with syllables, so the training mix has plenty of them; the tunes are
pitched and phrased like a voice.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from classrec.train.soundfont import Note

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


SCALES = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 7, 9), (0, 3, 5, 7, 10))
"""Major, natural minor and the two pentatonic scales, in semitones above the tonic."""


def _release(n: int) -> np.ndarray:
    """1, fading to 0 over the last 30 ms of an n-sample note, so that no note ends in a click."""
    return np.minimum(1, (n - np.arange(n)) / (0.03 * RATE))


def _note(rng: np.random.Generator, pitch: np.ndarray, timbre: dict) -> np.ndarray:
    """One note: harmonics of the pitch contour `pitch` (Hz per sample) with the instrument's
    envelope; plucked and struck notes decay (upper harmonics faster), bowed and blown ones
    swell and hold."""
    n = len(pitch)
    t = np.arange(n) / RATE
    k = np.arange(1, min(timbre["harmonics"], int(7000 / pitch.max())) + 1)[:, None]
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    stretch = np.sqrt(1 + timbre["inharmonic"] * k**2)  # stiff strings and bells
    amps = k ** -timbre["tilt"] * np.where(k % 2 == 0, timbre["even"], 1.0)
    if timbre["struck"]:
        env = np.exp(-t[None, :] * timbre["decay"] * (1 + 0.4 * (k - 1)))
        env = env * np.minimum(1, t / 0.003)[None, :]
    else:
        attack = np.minimum(1, t / timbre["attack"])
        env = (attack * _release(n))[None, :]
    return np.sum(
        amps * env * np.sin(k * stretch * phase[None, :] + rng.uniform(0, 6, (len(k), 1))), 0
    )


def _instrument(rng: np.random.Generator) -> dict:
    """A random instrument: plucked/struck (guitar, harp, piano, bell) or sustained (bowed
    strings, flute, clarinet, brass, organ), with its harmonic tilt, vibrato and attack."""
    struck = bool(rng.random() < 0.5)
    return {
        "struck": struck,
        "harmonics": int(rng.integers(4, 30)),
        "tilt": rng.uniform(0.5, 2.0),
        "even": rng.uniform(0.05, 1.0) if rng.random() < 0.3 else 1.0,  # clarinet-like
        "inharmonic": rng.uniform(0, 3e-4) if rng.random() < 0.5 else 0.0,
        "decay": rng.uniform(1.5, 8.0),
        "attack": rng.uniform(0.01, 0.15),
        "vibrato": 0.0 if struck else rng.uniform(0, 0.015),
        "glide": 0.0 if struck else rng.uniform(0, 0.5),  # share of notes slid into
    }


def _sampled(note: Note, pitch: np.ndarray) -> np.ndarray:
    """A recorded note replayed at the pitch contour `pitch` (Hz per sample): read at a
    varying speed, its loop repeated while the note is held, released over 30 ms."""
    step = pitch / note.pitch_hz * note.rate / RATE  # recorded samples per output sample
    pos = np.cumsum(step) - step[0]
    first, last = note.loop
    if last > first:
        pos = np.where(pos < last, pos, first + (pos - first) % (last - first))
    pos = pos[pos < len(note.samples) - 1]
    x = np.interp(pos, np.arange(len(note.samples)), note.samples)
    return x * _release(len(x))


def melody(rng: np.random.Generator, n: int, notes: list[Note] | None = None) -> np.ndarray:
    """A solo instrument playing a tune (a random walk on a scale, 60–200 beats per minute,
    with rests), sometimes over a drone, through a random body resonance. Harmonic, pitched
    and phrased like a voice, yet not speech: the kind of sound a detector must not call speech
    (a solo guitar and a flute lead are where detectors' music false alarms pile up). The
    instrument is generated (`_instrument`) or, given recorded `notes`, one of them transposed
    to play within a fifth of its recorded pitch."""
    if notes:
        scale = SCALES[int(rng.integers(len(SCALES)))]
        note = notes[int(rng.integers(len(notes)))]
        tonic, vibrato = note.pitch_hz, rng.uniform(0, 0.01)
        span = (-(len(scale) // 2), len(scale) // 2)
        glide = rng.uniform(0, 0.3)
        play = functools.partial(_sampled, note)
    else:
        timbre, scale = _instrument(rng), SCALES[int(rng.integers(len(SCALES)))]
        tonic, span, vibrato, glide = (
            rng.uniform(100, 600),
            (-7, 10),
            timbre["vibrato"],
            timbre["glide"],
        )
        play = functools.partial(_note, rng, timbre=timbre)
    beat = 60 / rng.uniform(60, 200)
    out, pos, degree, last = np.zeros(n), 0, 0, None
    while pos < n:
        m = int(beat * rng.choice([0.25, 0.5, 0.5, 1, 1, 1.5, 2]) * RATE)
        if rng.random() < 0.12:
            pos += m  # a rest
            continue
        degree = int(np.clip(degree + rng.integers(-3, 4), *span))
        f = tonic * 2 ** ((12 * (degree // len(scale)) + scale[degree % len(scale)]) / 12)
        pitch = np.full(m, f)
        if last is not None and rng.random() < glide:
            g = min(m, int(0.08 * RATE))
            pitch[:g] = np.geomspace(last, f, g)
        rate = rng.uniform(4, 7)
        pitch *= 1 + vibrato * np.sin(2 * np.pi * rate * np.arange(m) / RATE)
        sound = play(pitch)[: n - pos]
        out[pos : pos + len(sound)] += sound * rng.uniform(0.6, 1.0)
        pos, last = pos + m, f
    if rng.random() < 0.4:  # a drone or held fifth under the tune
        for step in (0, 7) if rng.random() < 0.5 else (0,):
            pitch = np.full(n, (tonic if notes else tonic / 2) * 2 ** (step / 12))
            drone = (
                _sampled(note, pitch)
                if notes
                else _note(rng, pitch, {**timbre, "struck": False, "attack": 0.5})
            )
            out[: len(drone)] += drone * rng.uniform(0.1, 0.4)
    for _ in range(int(rng.integers(0, 3))):  # the body's resonances
        out += _resonance(out, rng.uniform(300, 3500), rng.uniform(0.5, 2.0))
    return _norm(out)


def _resonance(x: np.ndarray, centre_hz: float, gain: float) -> np.ndarray:
    """`x` through a band-pass (one octave around `centre_hz`), times `gain`."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    return np.fft.irfft(
        spec * gain * np.exp(-0.5 * (np.log2(np.maximum(f, 1) / centre_hz) / 0.5) ** 2), len(x)
    )


def room(rng: np.random.Generator) -> np.ndarray:
    """A generated room impulse response: the direct sound, then exponentially decaying noise
    that is 60 dB down after a reverberation time of 0.2–1.2 s (an office to a lecture hall), at
    a direct-to-reverberant ratio of −6…12 dB (a far or a near microphone). The corpus has four
    measured rooms; real lectures are recorded in many more."""
    rt60 = rng.uniform(0.2, 1.2)
    n = int(rt60 * RATE)
    tail = rng.standard_normal(n) * np.exp(-6.91 * np.arange(n) / n)
    tail *= 10 ** (-rng.uniform(-6, 12) / 20) / np.sqrt(np.sum(tail**2))
    delay = int(rng.uniform(0.002, 0.02) * RATE)  # to the first reflection
    h = np.zeros(delay + n)
    h[0] = 1.0
    h[delay:] += tail
    return h.astype(np.float32)


def channel(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """`x` as a random microphone and line hear it: a roll-off below 50–300 Hz (small
    capsules, low-cut switches), half the time one above 3.4–7.5 kHz (cheap microphones,
    codecs), a tilt of ±6 dB per decade and two peaks or dips of up to ±8 dB (capsule and room
    colour). Zero-phase, as the features only hear magnitudes; the rms is kept."""
    f = np.maximum(np.fft.rfftfreq(len(x), 1 / RATE), 1.0)
    octaves = np.log2(f / 1000)
    gain_db = rng.uniform(-6, 6) * np.log10(f / 1000)
    for _ in range(2):
        width = rng.uniform(0.3, 1.0)
        gain_db += rng.uniform(-8, 8) * np.exp(
            -0.5 * ((octaves - rng.uniform(-1.7, 2.3)) / width) ** 2
        )
    gain = 10 ** (gain_db / 20) / np.sqrt(1 + (rng.uniform(50, 300) / f) ** 4)
    if rng.random() < 0.5:
        gain /= np.sqrt(1 + (f / rng.uniform(3400, 7500)) ** 8)
    y = np.fft.irfft(np.fft.rfft(x) * gain, len(x))
    return (y * np.sqrt(np.mean(x**2) / max(np.mean(y**2), 1e-20))).astype(np.float32)


def melodies(
    rng: np.random.Generator, minutes: float, seconds: float = 30.0, notes: list[Note] | None = None
) -> list[np.ndarray]:
    """`minutes` of tunes (`melody`, on recorded `notes` if given), each `seconds` long, as
    float32 pieces for the mixer."""
    n = int(seconds * RATE)
    return [melody(rng, n, notes) for _ in range(math.ceil(minutes * 60 / seconds))]
