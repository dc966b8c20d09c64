"""What the player streams (Opus in WebM) and the speech-only downloads (WAV, MP3): real
encodes decoded back with PyAV, on a real SQLite file; each made once and made again only after
the lecture's audio changes."""

from __future__ import annotations

import io
import os

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient

from classrec.web import playback
from classrec.web.storage import LectureFiles

from .conftest import LECTURE, upload, write_wav

MB = 1_000_000


def uploaded(client: TestClient, data: bytes, filename: str = "talk.flac") -> dict:
    """The lecture an upload made (it must succeed)."""
    response = upload(client, data, filename)
    assert response.status_code == 201, response.text
    return response.json()


def decoded(path_or_bytes) -> tuple[str, int, np.ndarray]:  # noqa: ANN001
    """(codec name, sample rate, mono float samples) of a file or its bytes."""
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with av.open(source) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        return stream.codec_context.name, stream.rate, np.concatenate(frames)


def stored(settings, lecture: dict) -> LectureFiles:  # noqa: ANN001
    return LectureFiles.of(settings.lectures_dir, lecture["id"])


def change_audio(files: LectureFiles) -> None:
    """What a continued recording does to derived files: the stored WAV gets a new time."""
    later = files.audio.stat().st_mtime_ns + 5_000_000_000
    os.utime(files.audio, ns=(later, later))


def test_opus_is_small_and_decodes_to_the_same_length(tmp_path, lecture_pcm) -> None:  # noqa: ANN001
    wav = write_wav(tmp_path / "long.wav", lecture_pcm * 12)  # about 2 minutes
    minutes = len(lecture_pcm) * 12 / 2 / 16000 / 60
    webm = tmp_path / "long.webm"
    playback.encode(wav, webm, playback.OPUS)
    codec, _, samples = decoded(str(webm))
    assert codec == "opus"
    per_minute = webm.stat().st_size / minutes / MB
    wav_per_minute = wav.stat().st_size / minutes / MB
    print(f"opus: {per_minute:.3f} MB/min, wav: {wav_per_minute:.3f} MB/min")
    assert per_minute <= 0.3 < wav_per_minute
    with av.open(str(webm)) as container:  # the duration the player shows, from the header
        assert container.duration / 1e6 == pytest.approx(minutes * 60, abs=0.05)
    assert np.sqrt(np.mean(samples**2)) > 0.01  # sound, not silence


def test_player_gets_opus_once_prepared(client: TestClient, settings) -> None:  # noqa: ANN001
    lecture = uploaded(client, LECTURE.read_bytes())
    files = stored(settings, lecture)
    base = f"/api/lectures/{lecture['id']}"
    playback.prepare_soon(files).result(timeout=60)  # started by the upload
    url = client.get(f"{base}/regions").json()["audio_url"]
    assert url.startswith(f"{base}/playback?v=")
    part = client.get(url, headers={"range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    assert part.headers["content-type"] == "audio/webm"
    whole = client.get(url).content
    _, _, samples = decoded(whole)
    assert len(samples) / 48000 == pytest.approx(lecture["duration_s"], abs=0.05)

    change_audio(files)  # stale now: the WAV plays until the new one is made
    assert client.get(f"{base}/regions").json()["audio_url"] == f"{base}/audio"
    assert client.get(f"{base}/playback").status_code == 409
    playback.prepare_soon(files).result(timeout=60)
    assert client.get(f"{base}/regions").json()["audio_url"] != url


def test_speech_only_mp3_decodes_to_the_wav_cut(client: TestClient, settings) -> None:  # noqa: ANN001
    lecture = uploaded(client, LECTURE.read_bytes())
    base = f"/api/lectures/{lecture['id']}"
    wav = client.get(f"{base}/speech-only")
    mp3 = client.get(f"{base}/speech-only", params={"format": "mp3"})
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    assert mp3.headers["content-disposition"].endswith('-speech.mp3"')
    wav_codec, _, wav_samples = decoded(wav.content)
    mp3_codec, rate, mp3_samples = decoded(mp3.content)
    assert (wav_codec, mp3_codec, rate) == ("pcm_s16le", "mp3float", 16000)
    assert 0 < len(wav_samples) < lecture["duration_s"] * 16000
    assert len(mp3_samples) == pytest.approx(len(wav_samples), abs=1152)  # one MP3 frame
    n = min(len(wav_samples), len(mp3_samples))
    assert np.corrcoef(wav_samples[:n], mp3_samples[:n])[0, 1] > 0.9  # the same sound
    assert client.get(f"{base}/speech-only", params={"format": "ogg"}).status_code == 400


def test_speech_only_is_made_once_until_the_lecture_changes(client: TestClient, settings) -> None:  # noqa: ANN001
    lecture = uploaded(client, LECTURE.read_bytes())
    files = stored(settings, lecture)
    base = f"/api/lectures/{lecture['id']}"
    for fmt in ("wav", "mp3"):
        client.get(f"{base}/speech-only", params={"format": fmt})
    made = {f: (files.root / f"speech-only.{f}").stat().st_ino for f in ("wav", "mp3")}
    for fmt in ("wav", "mp3"):
        client.get(f"{base}/speech-only", params={"format": fmt})
    assert made == {f: (files.root / f"speech-only.{f}").stat().st_ino for f in ("wav", "mp3")}
    change_audio(files)
    for fmt in ("wav", "mp3"):
        assert client.get(f"{base}/speech-only", params={"format": fmt}).status_code == 200
        path = files.root / f"speech-only.{fmt}"
        assert path.stat().st_ino != made[fmt]  # made again, from the changed audio
        assert playback.is_fresh(path, files.audio)
    assert not list(files.root.glob("*.part*"))  # no temporary files left behind
