"""Mixing: clean speech + noise, music, reverberation, impulsive events and level changes → one
training clip with a speech target per 32 ms window.

Utterances are placed on window boundaries so their clean-source labels carry over unchanged; every
non-speech sound is labelled 0 whatever its level. One clip in five is turned into 8 kHz audio so
the shared weights learn the band-limited input of the 8 kHz path.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soxr
from scipy.signal import fftconvolve

from classrec.features import N_MELS, frame, log_mel
from classrec.train import synth
from classrec.train.corpus import RATE, WINDOW, Corpus, Utterance

NARROW_RATE = 8000
"""The rate one clip in five is made at, so the shared weights learn the 8 kHz path."""

SPEECHLESS = 0.25
"""Share of clips with no speech at all: only noise, music, events or near-silence."""


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9)


def _db(gain_db: float) -> float:
    return 10.0 ** (gain_db / 20.0)


def _crop(rng: np.random.Generator, x: np.ndarray, n: int) -> np.ndarray:
    """A random n-sample stretch of x, looped if x is shorter."""
    if len(x) < n:
        x = np.tile(x, -(-n // len(x)) + 1)
    start = int(rng.integers(0, len(x) - n + 1))
    return x[start : start + n]


def _reverb(rng: np.random.Generator, x: np.ndarray, rirs: list[np.ndarray]) -> np.ndarray:
    wet = fftconvolve(x, rirs[int(rng.integers(len(rirs)))])[: len(x)]
    return (wet * _rms(x) / _rms(wet)).astype(np.float32)


def _speech_pool(rng: np.random.Generator, corpus: Corpus) -> list[Utterance]:
    """Where the next utterance comes from: 25 % generated, 30 % the multilingual real voices
    (when loaded), the rest the corpus's read English speech."""
    r = rng.random()
    if corpus.tts and r < 0.25:
        return corpus.tts
    if corpus.multilingual and r < 0.55:
        return corpus.multilingual
    return corpus.speech


def _speech_track(
    rng, corpus: Corpus, n_windows: int, rooms: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Utterances separated by pauses of 0.1–4 s, each at its own level, some reverberant: 30 %
    in a measured room and, of the rest, a share `rooms` in a generated one (`synth.room`)."""
    audio = np.zeros(n_windows * WINDOW, dtype=np.float32)
    labels = np.zeros(n_windows, dtype=np.float32)
    pos = int(rng.integers(0, 60))
    while pos < n_windows - 8:
        pool = _speech_pool(rng, corpus)
        utt: Utterance = pool[int(rng.integers(len(pool)))]
        u_win = len(utt.labels)
        take = min(u_win, n_windows - pos)
        first = int(rng.integers(0, u_win - take + 1))
        clip = utt.audio[first * WINDOW : (first + take) * WINDOW]
        if corpus.rirs and rng.random() < 0.3:
            clip = _reverb(rng, clip, corpus.rirs)
        elif rooms and rng.random() < rooms:
            clip = _reverb(rng, clip, [synth.room(rng)])
        active = utt.labels[first : first + take] > 0.5
        level = _rms(clip[np.repeat(active, WINDOW)]) if active.any() else _rms(clip)
        audio[pos * WINDOW : pos * WINDOW + len(clip)] = clip / level * _db(rng.uniform(-15, 0))
        labels[pos : pos + take] = utt.labels[first : first + take]
        gap = rng.integers(3, 15) if rng.random() < 0.5 else rng.integers(15, 125)
        pos += take + int(gap)
    return audio, labels


def _retuned(rng: np.random.Generator, x: np.ndarray, n: int, semitones: float) -> np.ndarray:
    """A random n-sample stretch of x played up to `semitones` higher or lower, faster or
    slower, as a tape would: the same music in another key and tempo, with its instruments'
    resonances moved too, so a few hours of soundtracks sound like more instruments."""
    factor = 2.0 ** (rng.uniform(-semitones, semitones) / 12.0)
    played = soxr.resample(_crop(rng, x, int(np.ceil(n * factor)) + 1), RATE * factor, RATE)
    return np.pad(played, (0, max(0, n - len(played))))[:n]


def _background(rng, corpus: Corpus, n: int, retune: float = 0.0) -> tuple[np.ndarray, bool]:
    """Real noise, music or synthetic noise (sometimes two), with a slow level drift; and
    whether music is in it. With `retune` > 0, music is played up to that many semitones
    higher or lower (`_retuned`)."""

    def one() -> tuple[np.ndarray, bool]:
        r = rng.random()
        if r < 0.45 and corpus.noise:
            return _crop(rng, corpus.noise[int(rng.integers(len(corpus.noise)))], n), False
        if r < 0.75 and corpus.music:
            music = corpus.music[int(rng.integers(len(corpus.music)))]
            return (_retuned(rng, music, n, retune) if retune else _crop(rng, music, n)), True
        return synth.background(rng, n), False

    x, music = one()
    x = x / _rms(x)
    if rng.random() < 0.3:
        y, music2 = one()
        x = x + y / _rms(y) * _db(rng.uniform(-15, 0))
        music = music or music2
    if rng.random() < 0.3:
        x = x * np.interp(np.arange(n), [0, n], _db(rng.uniform(-12, 0, size=2)))
    return x.astype(np.float32), music


def _add_events(
    rng, corpus: Corpus, audio: np.ndarray, level: float, count: int, noise: np.ndarray
) -> None:
    """Impulsive sounds (bangs, knocks, ticks, scrapes, real effects) at `level` rms ± 15 dB;
    the windows they cover are marked in `noise`."""
    for _ in range(count):
        if corpus.events and rng.random() < 0.5:
            ev = corpus.events[int(rng.integers(len(corpus.events)))]
        else:
            ev = synth.event(rng)
        ev = ev[: len(audio)]
        start = int(rng.integers(0, len(audio) - len(ev) + 1))
        audio[start : start + len(ev)] += ev / _rms(ev) * level * _db(rng.uniform(-10, 15))
        noise[start // WINDOW : -(-(start + len(ev)) // WINDOW)] = 1.0


def snr_db(rng: np.random.Generator) -> float:
    """Speech-to-background ratio: half the clips at −5…10 dB (a noisy lecture hall), half at
    10…30 dB: the low SNRs are where detectors fail, so they get the weight."""
    return float(rng.uniform(-5, 10) if rng.random() < 0.5 else rng.uniform(10, 30))


def make_clip(
    rng: np.random.Generator, corpus: Corpus, n_windows: int, speechless: float = SPEECHLESS
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """One mixed clip: (samples, speech target per window, sample rate, classes) where classes
    is (n_windows, 2): music audible, other noise audible (the mixer knows both)."""
    speech, labels, classes, narrowband = mix_clip(rng, corpus, n_windows, speechless)
    audio, rate = heard_at(speech, narrowband)
    return audio, labels, rate, classes


def heard_at(audio: np.ndarray, narrowband: bool) -> tuple[np.ndarray, int]:
    """(samples, rate) of a 16 kHz mix as the model hears it: downsampled to 8 kHz when
    `narrowband`, unchanged otherwise."""
    if narrowband:
        return soxr.resample(audio, RATE, NARROW_RATE).astype(np.float32), NARROW_RATE
    return audio, RATE


def mix_clip(
    rng: np.random.Generator,
    corpus: Corpus,
    n_windows: int,
    speechless: float = SPEECHLESS,
    retune: float = 0.0,
    channel: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """make_clip before any resampling: (16 kHz samples, speech target, classes, whether the
    clip is to be heard at 8 kHz), so a teacher can listen to the 16 kHz mix. A share
    `speechless` of the clips holds no speech at all; `retune` is `_background`'s. A share
    `channel` of the clips is heard through a random microphone (`synth.channel`), and of the
    utterances not in a measured room that share is put in a generated one. Off (0), the mixes
    are bit-identical to before."""
    n = n_windows * WINDOW
    kind = rng.random()
    if kind < 0.08 and corpus.meetings:
        utt = corpus.meetings[int(rng.integers(len(corpus.meetings)))]
        first = int(rng.integers(0, len(utt.labels) - n_windows + 1))
        speech = utt.audio[first * WINDOW :][:n].copy()
        labels = utt.labels[first : first + n_windows].copy()
        speech = np.pad(speech, (0, n - len(speech)))
    elif kind < 1 - speechless:
        speech, labels = _speech_track(rng, corpus, n_windows, channel)
    else:
        speech, labels = np.zeros(n, np.float32), np.zeros(n_windows, np.float32)
    classes = np.zeros((n_windows, 2), np.float32)
    has_speech = bool((labels > 0.5).any())
    ref = _rms(speech[np.repeat(labels > 0.5, WINDOW)]) if has_speech else 1.0
    if rng.random() < 0.9:
        snr = snr_db(rng) if has_speech else 0.0
        background, music = _background(rng, corpus, n, retune)
        speech = speech + background * ref * _db(-snr)
        if snr < 25:
            classes[:, 0 if music else 1] = 1.0
    if rng.random() < (0.4 if has_speech else 0.6):
        _add_events(rng, corpus, speech, ref, int(rng.integers(1, 6)), classes[:, 1])
    if channel and rng.random() < channel:
        speech = synth.channel(rng, speech)
    speech = speech + synth.coloured_noise(rng, n) * ref * _db(rng.uniform(-70, -40))
    speech *= _db(rng.uniform(-50, -15)) / _rms(speech)
    peak = np.abs(speech).max()
    if peak > 1.0:
        speech = speech / peak * (0.99 if rng.random() < 0.8 else 1.3)
        speech = np.clip(speech, -1.0, 1.0)
    return speech.astype(np.float32), labels, classes, bool(rng.random() < 0.2)


# -- building a dataset of features ------------------------------------------------------------
@dataclass(frozen=True)
class Mixing:
    """How clips are mixed and which targets they carry (the recipe's options, see TrainConfig).

    teacher: a fourth target column, a teacher's speech probability on the 16 kHz mix.
    speechless: share of clips with no speech. retune: `_background`'s. channel: `mix_clip`'s.
    co_teacher: weights (.npz) of a ClassRec model whose probability on the mix is averaged with
        Silero's in the teacher column (see `_teacher_probabilities`); empty: Silero alone.
    co_teacher_rule: "mean" everywhere, or "lower-in-silence": the lower of the two where the
        clean source is silent and their mean elsewhere.
    mels: mel bands of the features.
    """

    teacher: bool = False
    speechless: float = SPEECHLESS
    retune: float = 0.0
    channel: float = 0.0
    co_teacher: str = ""
    co_teacher_rule: str = "mean"
    mels: int = N_MELS

    def __post_init__(self) -> None:
        if self.co_teacher_rule not in CO_TEACHER_RULES:
            rules = ", ".join(CO_TEACHER_RULES)
            raise ValueError(f"co-teacher rule {self.co_teacher_rule!r} is not one of {rules}")


CO_TEACHER_RULES = ("mean", "lower-in-silence")


_CORPUS: Corpus | None = None
_TEACHERS: dict = {}  # per process, made on first use (onnxruntime and fork)


def _teacher_probabilities(audio: np.ndarray, mixing: Mixing, speech: np.ndarray) -> np.ndarray:
    """A strong peer's speech probability per window of the 16 kHz mix (the distillation
    target: what is audibly speech in this mix, where the clean-source label cannot know).

    With `mixing.co_teacher`, the mean of Silero's and that ClassRec model's: the two err in
    different places, so on the dev recordings their mean ranks speech better than either and
    calls less noise speech. One student of that mean did not keep the gain (model card,
    "Ensembles, and Silero and v3 as two teachers"): where the co-teacher calls music speech and
    Silero does not, the mean pulls the student up on that music. The rule "lower-in-silence"
    takes the lower of the two wherever the clean source (`speech`, the clean-source target) is
    silent, so neither teacher's false alarms are taught; its two students did not beat v3's
    recipe either (same section). Both are off by default."""
    co_teacher = mixing.co_teacher
    if "silero" not in _TEACHERS:
        from classrec.lab.peers import Silero

        _TEACHERS["silero"] = Silero()
    probs = _TEACHERS["silero"].probabilities(audio)
    if not co_teacher:
        return probs
    if co_teacher not in _TEACHERS:
        from classrec.model import Detector

        _TEACHERS[co_teacher] = Detector(RATE, Path(co_teacher))
    ours = _TEACHERS[co_teacher].probabilities(audio, sample_rate=RATE)
    n = min(len(probs), len(ours), len(speech))
    probs, ours = probs[:n], ours[:n]
    mean = 0.5 * (probs + ours)
    if mixing.co_teacher_rule == "mean":
        return mean
    return np.where(speech[:n] > 0, mean, np.minimum(probs, ours))


def _clip_features(args: tuple[int, int, int, Mixing]) -> tuple[np.ndarray, np.ndarray]:
    """Features (n_windows, mixing.mels) float16 and targets (n_windows, 3 or 4): speech, music,
    noise and, with a teacher, the teacher's speech probability on the mix."""
    seed, index, n_windows, mixing = args
    rng = np.random.default_rng([seed, index])
    audio, labels, classes, narrowband = mix_clip(
        rng, _CORPUS, n_windows, mixing.speechless, mixing.retune, mixing.channel
    )
    targets = [labels, classes]
    if mixing.teacher:
        targets.append(_teacher_probabilities(audio, mixing, labels)[:n_windows])
    audio, rate = heard_at(audio, narrowband)
    feats = log_mel(frame(audio, rate), mixing.mels)[:n_windows]
    if not np.isfinite(feats).all():
        raise ValueError(f"clip {index} of seed {seed} is not finite")
    return feats.astype(np.float16), np.column_stack(targets)


def build_features(
    corpus: Corpus,
    n_clips: int,
    n_windows: int,
    seed: int,
    workers: int = 2,
    first: int = 0,
    mixing: Mixing = Mixing(),
):
    """Features (n_clips, n_windows, mixing.mels) float16 and targets (n_clips, n_windows, 3), in
    parallel (workers > 1) or in this process; with `mixing.teacher`, a fourth target column.

    Deterministic: clip i is made from the generator seeded with (seed, first + i), whatever
    the workers.
    """
    global _CORPUS
    _CORPUS = corpus
    jobs = [(seed, first + i, n_windows, mixing) for i in range(n_clips)]
    if workers > 1:
        with get_context("fork").Pool(workers) as pool:
            out = pool.map(_clip_features, jobs, chunksize=16)
    else:
        out = [_clip_features(job) for job in jobs]
    return np.stack([f for f, _ in out]), np.stack([y for _, y in out])
