"""Label rules and the mixer, on the real fixture clips (no torch needed)."""

from __future__ import annotations

import numpy as np
import pytest

from classrec.train import synth
from classrec.train.corpus import (
    WINDOW,
    Corpus,
    EnergyLabeller,
    Utterance,
    _fill_short_runs,
    clean_speech_labels,
)
from classrec.train.mix import Mixing, _retuned, build_features, make_clip, mix_clip


def _regions_to_windows(regions, n):
    centres = (np.arange(n) + 0.5) * WINDOW / 16000
    return np.any([(centres >= s) & (centres < e) for s, e in regions], axis=0)


def test_clean_labels_are_frame_tight_without_hangover():
    class Vad:  # says speech for windows 2-9 of a signal whose energy is at 3-7 (smoothing)
        def probabilities(self, audio):
            return (np.arange(len(audio) // WINDOW) >= 2) & (np.arange(len(audio) // WINDOW) < 10)

    audio = np.full(14 * WINDOW, 1e-4, np.float32)
    audio[3 * WINDOW : 7 * WINDOW] = np.sin(np.arange(4 * WINDOW) * 0.3)
    labels = clean_speech_labels(audio, Vad())
    assert labels.tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]


def test_short_pauses_are_bridged_and_islands_dropped():
    mask = np.array([0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0], bool)
    bridged = _fill_short_runs(mask, False, 2)
    assert bridged.tolist() == [0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0]
    assert _fill_short_runs(bridged, True, 1).tolist()[11] == 0


def test_energy_labels_match_the_known_regions(lecture):
    audio, regions = lecture
    labels = EnergyLabeller().probabilities(audio)
    truth = _regions_to_windows(regions, len(labels))
    assert np.mean(labels == truth) > 0.95


def _tiny_corpus(lecture, noise) -> Corpus:
    audio, regions = lecture
    audio = np.pad(audio, (0, -len(audio) % WINDOW))
    labels = _regions_to_windows(regions, len(audio) // WINDOW).astype(np.float32)
    return Corpus(
        speech=[Utterance("lecture", audio, labels)], noise=[noise], events=[noise[:8000]]
    )


def test_clips_are_finite_labelled_and_sometimes_8k(lecture, noise):
    corpus = _tiny_corpus(lecture, noise)
    rates, noisy = set(), 0
    for i in range(40):
        audio, labels, rate, classes = make_clip(np.random.default_rng(i), corpus, 250)
        rates.add(rate)
        assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
        assert len(labels) == 250 and len(audio) == 250 * WINDOW * rate // 16000
        assert set(np.unique(labels)) <= {0.0, 1.0}
        assert classes.shape == (250, 2) and set(np.unique(classes)) <= {0.0, 1.0}
        assert not classes[:, 0].any()  # the tiny corpus has no music
        noisy += classes[:, 1].any()
    assert rates == {8000, 16000}
    assert 10 < noisy < 40  # noise or events in most clips, not all


def test_the_share_of_speechless_clips_is_a_setting(lecture, noise):
    corpus = _tiny_corpus(lecture, noise)

    def speechless(share: float) -> int:
        rngs = (np.random.default_rng([9, i]) for i in range(60))
        return sum(not make_clip(rng, corpus, 100, share)[1].any() for rng in rngs)

    assert speechless(0.0) == 0
    assert speechless(1.0) == 60
    assert 5 < speechless(0.25) < speechless(0.6) < 50


def test_clips_are_reproducible(lecture, noise):
    corpus = _tiny_corpus(lecture, noise)
    a = make_clip(np.random.default_rng([3, 1]), corpus, 100)
    b = make_clip(np.random.default_rng([3, 1]), corpus, 100)
    np.testing.assert_array_equal(a[0], b[0])


def test_retuned_music_moves_in_pitch_within_the_range_and_keeps_its_length():
    """A 440 Hz tone played back ±6 semitones lands between 311 and 622 Hz, on many pitches."""
    tone = np.sin(2 * np.pi * 440 * np.arange(5 * 16000) / 16000).astype(np.float32)
    rng = np.random.default_rng(0)
    pitches = []
    for _ in range(20):
        played = _retuned(rng, tone, 16000, 6.0)
        assert len(played) == 16000 and np.isfinite(played).all()
        pitches.append(np.argmax(np.abs(np.fft.rfft(played[1000:15000], 14000))) * 16000 / 14000)
    assert 440 * 2**-0.5 - 2 < min(pitches) and max(pitches) < 440 * 2**0.5 + 2
    assert min(pitches) < 400 and max(pitches) > 480


def test_retuning_changes_only_the_music(lecture, noise):
    """Without retuning the mixes are those of earlier recipes (the same draws); with it, only
    clips that hold music change."""
    corpus = _tiny_corpus(lecture, noise)
    corpus.music = [synth.melodies(np.random.default_rng(2), minutes=0.2, seconds=12.0)[0]]
    changed = []
    for plain, retuned in _off_and_on(corpus, 4, 12, retune=6.0):
        np.testing.assert_array_equal(plain[1], retuned[1])  # the speech target is untouched
        changed.append(not np.array_equal(plain[0], retuned[0]))
    assert 0 < sum(changed) < 12


def _off_and_on(corpus, seed: int, clips: int, **option: float) -> list[tuple]:
    """Each clip mixed as earlier recipes did and with the option on, after checking that the
    option at 0 mixes exactly what earlier recipes did (the same draws)."""
    pairs = []
    for i in range(clips):
        plain = mix_clip(np.random.default_rng([seed, i]), corpus, 100)
        off = mix_clip(np.random.default_rng([seed, i]), corpus, 100, **dict.fromkeys(option, 0.0))
        np.testing.assert_array_equal(plain[0], off[0])
        pairs.append((plain, mix_clip(np.random.default_rng([seed, i]), corpus, 100, **option)))
    return pairs


def test_a_random_microphone_cuts_the_ends_of_the_band_and_keeps_the_level():
    """`synth.channel`: white noise comes out with its rms, little left below 40 Hz, and bands
    above 1 kHz moved by different gains from one microphone to the next."""
    rng = np.random.default_rng(3)
    white = rng.standard_normal(8 * 16000).astype(np.float32)
    f = np.fft.rfftfreq(len(white), 1 / 16000)
    spread = []
    for _ in range(10):
        heard = synth.channel(rng, white)
        assert heard.dtype == np.float32 and len(heard) == len(white)
        assert np.sqrt(np.mean(heard**2)) == pytest.approx(np.sqrt(np.mean(white**2)), rel=1e-3)
        power = np.abs(np.fft.rfft(heard)) ** 2 / np.abs(np.fft.rfft(white)) ** 2
        low, mid = power[(f > 5) & (f < 40)].mean(), power[(f > 800) & (f < 1200)].mean()
        assert low < 0.1 * mid  # at least 10 dB down below 40 Hz
        spread.append(10 * np.log10(power[(f > 2500) & (f < 3000)].mean() / mid))
    assert np.ptp(spread) > 6


def test_generated_rooms_decay_within_their_reverberation_time():
    rng = np.random.default_rng(5)
    for _ in range(10):
        h = synth.room(rng)
        assert 0.2 * 16000 <= len(h) <= 1.3 * 16000 and h[0] == 1.0
        energy = h[1:] ** 2
        tenth = len(energy) // 10
        assert energy[-tenth:].sum() < 1e-3 * energy[:tenth].sum()  # > 30 dB down at the end


def test_the_channel_option_leaves_the_mixes_alone_when_off(lecture, noise):
    """`--channel 0` gives the mixes of earlier recipes (the same draws); on, the audio changes
    and the clip stays finite and labelled."""
    for plain, heard in _off_and_on(_tiny_corpus(lecture, noise), 6, 8, channel=1.0):
        assert np.isfinite(heard[0]).all() and len(heard[1]) == 100
        assert not np.array_equal(plain[0], heard[0])


def test_the_band_count_changes_the_features_not_the_mixes(lecture, noise):
    """`--mels 64`: the same clips and targets, 64 log-mel bands instead of 40, and a dataset key
    of their own (a cached 40-band pool is never read as 64 bands); 40 keeps earlier keys."""
    from classrec.train.recipe import TrainConfig

    corpus = _tiny_corpus(lecture, noise)
    x, y = build_features(corpus, 3, 250, seed=0, workers=1)
    x64, y64 = build_features(corpus, 3, 250, seed=0, workers=1, mixing=Mixing(mels=64))
    assert x.shape == (3, 250, 40) and x64.shape == (3, 250, 64)
    np.testing.assert_array_equal(y, y64)
    assert TrainConfig(mels=64).mixing().mels == 64
    assert TrainConfig(mels=64).data_key() != TrainConfig().data_key()
    assert TrainConfig().data_key() == TrainConfig(mels=40).data_key()


def test_the_teacher_column_hears_the_mix(lecture, noise):
    """With a teacher, a fourth target: Silero's probability on the 16 kHz mix. The clips are
    the same as without (the teacher only listens), and where the clean source has speech and
    the teacher hears it, they agree on most windows."""
    corpus = _tiny_corpus(lecture, noise)
    x, y = build_features(corpus, 6, 250, seed=0, workers=1)
    xt, yt = build_features(corpus, 6, 250, seed=0, workers=1, mixing=Mixing(teacher=True))
    np.testing.assert_array_equal(x, xt)
    np.testing.assert_array_equal(y, yt[..., :3])
    teacher = yt[..., 3]
    assert yt.shape == (6, 250, 4) and 0 <= teacher.min() and teacher.max() <= 1
    assert np.mean((teacher > 0.5) == (yt[..., 0] > 0.5)) > 0.85  # all zeros: 0.66


def test_synthetic_events_are_short_and_normalised():
    rng = np.random.default_rng(0)
    for make in synth.EVENTS:
        x = make(rng)
        assert 0.01 * 16000 < len(x) < 4.5 * 16000
        assert np.isclose(np.abs(x).max(), 1.0, atol=1e-3)


def _peak_share(x: np.ndarray) -> float:
    """Share of the power of 100 ms frames in bins 10x above their ±100 Hz neighbourhood's
    median: most of it for harmonics, ~0 for noise of any colour."""
    frames = x[: len(x) // 1600 * 1600].reshape(-1, 1600) * np.hanning(1600)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    local = np.median(np.lib.stride_tricks.sliding_window_view(power, 21, axis=1), axis=2)
    power = power[:, 10:-10]
    return float(power[power > 10 * local].sum() / power.sum())


def test_melodies_are_tunes_of_pitched_notes():
    """Each piece is harmonic (unlike noise) and changes pitch from note to note (unlike hum or
    a held tone)."""
    rng = np.random.default_rng(1)
    pieces = synth.melodies(rng, minutes=1.0, seconds=10.0)
    assert len(pieces) == 6
    for x in pieces:
        assert len(x) == 10 * 16000 and np.isfinite(x).all()
        assert np.isclose(np.abs(x).max(), 1.0, atol=1e-3)
        assert _peak_share(x) > 0.5
        frames = x.reshape(-1, 1600) * np.hanning(1600)
        strongest = np.argmax(np.abs(np.fft.rfft(frames, axis=1)), axis=1)
        assert len(set(strongest)) >= 4  # several notes
    assert _peak_share(synth.coloured_noise(rng, 10 * 16000)) < 0.1


def _sf2(path, samples: dict[str, np.ndarray], key: int = 69) -> None:
    """A minimal SoundFont 2 file: the named 16 kHz samples, each looped over its second half."""
    import struct

    def chunk(cid: bytes, body: bytes) -> bytes:
        return cid + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1)

    pcm, headers, at = b"", b"", 0
    for name, x in samples.items():
        n = len(x)
        pcm += (x * 32767).astype("<i2").tobytes() + b"\0\0" * 46  # 46 zero samples between
        fields = (at, at + n, at + n // 2, at + n - 1, 16000, key, 0, 0, 1)
        headers += name.encode().ljust(20, b"\0") + struct.pack("<IIIIIBbHH", *fields)
        at += n + 46
    headers += b"EOS".ljust(20, b"\0") + bytes(26)
    sdta = chunk(b"LIST", b"sdta" + chunk(b"smpl", pcm))
    pdta = chunk(b"LIST", b"pdta" + chunk(b"shdr", headers))
    path.write_bytes(chunk(b"RIFF", b"sfbk" + chunk(b"LIST", b"INFO") + sdta + pdta))


def test_recorded_notes_are_read_and_voices_left_out(tmp_path):
    from classrec.train.soundfont import read_notes

    t = np.arange(8000) / 16000
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    _sf2(tmp_path / "font.sf2", {"Flute A4": sine, "Choir Aahs A4": sine, "Blip": sine[:800]})
    (note,) = read_notes(tmp_path / "font.sf2")
    assert note.name == "Flute A4" and note.rate == 16000 and np.isclose(note.pitch_hz, 440)
    assert note.loop == (4000, 7999)
    assert np.allclose(note.samples, sine, atol=1e-4)
    (tmp_path / "noise.sf2").write_bytes(b"RIFF\0\0\0\0WAVE")
    with pytest.raises(ValueError, match="not a SoundFont 2 file"):
        read_notes(tmp_path / "noise.sf2")
    (tmp_path / "cut.sf2").write_bytes((tmp_path / "font.sf2").read_bytes()[:-100])
    with pytest.raises(ValueError, match="not a SoundFont 2 file, or a truncated one"):
        read_notes(tmp_path / "cut.sf2")


def test_tunes_on_a_recorded_note_stay_near_its_pitch_and_hold_past_its_end(tmp_path):
    """A 0.5 s recorded note plays 4 s tunes: the notes sound (the loop holds them) at scale
    steps within a fifth of the recorded pitch."""
    from classrec.train.soundfont import read_notes

    t = np.arange(8000) / 16000
    _sf2(tmp_path / "font.sf2", {"Flute A4": 0.5 * np.sin(2 * np.pi * 440 * t)})
    notes = read_notes(tmp_path / "font.sf2")
    for x in synth.melodies(np.random.default_rng(2), minutes=0.4, seconds=4.0, notes=notes):
        frames = x.reshape(-1, 1600) * np.hanning(1600)
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        loud = power.sum(axis=1) > 0.01 * power.sum(axis=1).max()
        peaks = np.argmax(power[loud], axis=1) * 10.0  # Hz (10 Hz bins)
        assert np.all((peaks > 440 * 2 ** (-7.5 / 12)) & (peaks < 440 * 2 ** (7.5 / 12)))
        assert loud.mean() > 0.5


def test_a_co_teacher_is_averaged_with_silero_or_the_lower_one_taken_in_silence(lecture, noise):
    """With a co-teacher, the teacher column is the mean of Silero's probability and that
    ClassRec model's on the same 16 kHz mix; features and the other targets are unchanged.
    With "lower-in-silence", the lower of the two wherever the clean source is silent."""
    from classrec.checkpoint import default_weights_path
    from classrec.model import Detector

    corpus = _tiny_corpus(lecture, noise)
    x, y = build_features(corpus, 4, 250, seed=0, workers=1, mixing=Mixing(teacher=True))
    co = Mixing(teacher=True, co_teacher=str(default_weights_path()))
    xc, yc = build_features(corpus, 4, 250, seed=0, workers=1, mixing=co)
    np.testing.assert_array_equal(x, xc)
    np.testing.assert_array_equal(y[..., :3], yc[..., :3])
    for i in range(4):
        audio = mix_clip(np.random.default_rng([0, i]), corpus, 250)[0]
        ours = Detector().probabilities(audio, sample_rate=16000)[:250]
        np.testing.assert_allclose(yc[i, :, 3], 0.5 * (y[i, :, 3] + ours), atol=1e-4)
    assert np.abs(yc[..., 3] - y[..., 3]).max() > 0.05  # the co-teacher has its say

    lower = Mixing(teacher=True, co_teacher=co.co_teacher, co_teacher_rule="lower-in-silence")
    xl, yl = build_features(corpus, 4, 250, seed=0, workers=1, mixing=lower)
    np.testing.assert_array_equal(x, xl)
    silent = yl[..., 0] == 0  # the clean-source speech target
    assert silent.any() and (~silent).any()
    ours = 2 * yc[..., 3] - y[..., 3]
    np.testing.assert_allclose(yl[..., 3][~silent], yc[..., 3][~silent], atol=1e-6)
    np.testing.assert_allclose(yl[..., 3][silent], np.minimum(y[..., 3], ours)[silent], atol=2e-3)
