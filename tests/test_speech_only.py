"""Speech-only output: pause rules, frame-grid cuts, audio/video sync, cut lists, real speech."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from helpers import LECTURE, ffmpeg

from classrec.audio import load_audio
from classrec.cli import build_parser, vad_options
from classrec.errors import ClassRecError
from classrec.segments import Segment, VadOptions
from classrec.speech_only import (
    SPEECH_ONLY_PADS_MS,
    CutList,
    PauseOptions,
    cut_media,
    keep_ranges,
    snap,
    speech_only,
    speech_only_options,
)


def test_pauses_kept_shortened_or_compressed() -> None:
    assert PauseOptions(keep_ms=300).kept_s(0.25) == 0.25
    assert PauseOptions(keep_ms=300, pause_ms=100).kept_s(2.0) == pytest.approx(0.1)
    assert PauseOptions(keep_ms=300, ratio=0.5).kept_s(2.3) == pytest.approx(1.3)
    with pytest.raises(ClassRecError, match="ratio"):
        PauseOptions(ratio=2.0)


def test_keep_ranges_cut_in_the_middle_of_long_pauses() -> None:
    segments = [Segment(1.0, 2.0), Segment(2.1, 3.0), Segment(5.0, 6.0)]
    ranges = keep_ranges(segments, PauseOptions(keep_ms=200, pause_ms=400))
    assert ranges == [(1.0, pytest.approx(3.2)), (pytest.approx(4.8), 6.0)]


def test_snap_to_the_frame_grid() -> None:
    snapped = snap([(0.01, 0.5), (0.51, 0.52), (0.53, 1.0)], step=0.04)
    assert snapped == [(0.0, pytest.approx(0.48)), (pytest.approx(0.52), pytest.approx(1.0))]
    assert snap([(0.01, 0.55), (0.53, 1.0)], step=0.04) == [(0.0, pytest.approx(1.0))]
    assert snap([(0.11, 0.115)], step=0.04) == []  # shorter than a frame


def test_edl_and_json_cut_list() -> None:
    cuts = CutList("talk.mp4", [(1.0, 4.6), (6.0, 8.72)], 9.9, 48000, fps=25.0)
    edl = cuts.to_edl("talk-speech").splitlines()
    assert edl[:2] == ["TITLE: talk-speech", "FCM: NON-DROP FRAME"]
    assert edl[3] == "001  AX       AA/V  C        00:00:01:00 00:00:04:15 00:00:00:00 00:00:03:15"
    assert edl[4] == "* FROM CLIP NAME: talk.mp4"
    assert edl[6].endswith("00:00:06:00 00:00:08:18 00:00:03:15 00:00:06:08")
    data = json.loads(cuts.to_json())
    assert data["kept_s"] == pytest.approx(6.32)
    assert data["ranges"][1] == {"start": 6.0, "end": 8.72, "out_start": 3.6}


@pytest.fixture(scope="module")
def flash_click(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 s video: a white frame at every whole second and a 5 ms beep at the same instants."""
    path = tmp_path_factory.mktemp("sync") / "flash.mp4"
    video = "color=black:s=64x48:r=25:d=10,geq=lum='if(lt(mod(T,1),0.02),235,16)':cb=128:cr=128"
    audio = "aevalsrc='if(lt(mod(t,1),0.005),0.8*sin(2*PI*1000*t),0)':s=48000:d=10"
    ffmpeg("-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio, "-c:v", "libx264",
           "-preset", "ultrafast", "-c:a", "aac", path)  # fmt: skip
    return path


def flashes_and_beeps(path: Path) -> tuple[list[float], list[float]]:
    """Times (s) of white frames and of beep onsets in a file."""
    with av.open(str(path)) as c:
        flashes = [f.time for f in c.decode(video=0) if f.to_ndarray()[..., 0].mean() > 128]
    audio = np.abs(load_audio(path, 16000)) > 0.3
    onsets = np.flatnonzero(audio & ~np.r_[False, audio[:-1]]) / 16000
    beeps = [t for i, t in enumerate(onsets) if i == 0 or t - onsets[i - 1] > 0.1]
    return flashes, beeps


def test_video_stays_in_sync_through_many_cuts(flash_click: Path, tmp_path: Path) -> None:
    # 18 cuts at odd places; every kept range holds one whole second mark
    ranges = [(k - 0.21 - 0.03 * (k % 3), k + 0.33) for k in range(1, 10)]
    ranges = snap(ranges, 0.04)
    cuts = CutList("flash.mp4", ranges, 10.0, 48000, fps=25.0)
    out = tmp_path / "cut.mp4"
    cut_media(flash_click, out, cuts)
    flashes, beeps = flashes_and_beeps(out)
    assert len(flashes) == len(beeps) == 9
    assert np.abs(np.subtract(flashes, beeps)).max() < 0.03  # within one frame of 40 ms
    with av.open(str(out)) as c:
        video, audio = c.streams.video[0], c.streams.audio[0]
        assert video.frames == round(cuts.kept_s * 25)
        assert float(audio.duration * audio.time_base) == pytest.approx(cuts.kept_s, abs=0.03)


def test_speech_only_audio_keeps_the_speech(tmp_path: Path) -> None:
    out = tmp_path / "speech.flac"
    cuts = speech_only(LECTURE, out, pauses=PauseOptions(keep_ms=0, pause_ms=0))
    speech = (4.55 - 1.0) + (8.71 - 6.05)
    assert speech < cuts.kept_s < speech + 4 * 0.25  # plus margins of 100 ms / 150 ms
    assert len(load_audio(out, 16000)) == pytest.approx(cuts.kept_s * 16000, abs=2)
    assert json.loads(out.with_suffix(".cuts.json").read_text())["kept_s"] == pytest.approx(
        cuts.kept_s
    )
    assert out.with_suffix(".edl").read_text().startswith("TITLE: speech")


def test_speech_only_refuses_its_input_and_existing_outputs(tmp_path: Path) -> None:
    out = tmp_path / "x.wav"
    out.write_bytes(b"keep me")
    with pytest.raises(ClassRecError, match="already exists"):
        speech_only(LECTURE, out)
    assert out.read_bytes() == b"keep me"


def test_non_utf8_title_tag_and_cutting_progress(tmp_path: Path) -> None:
    """A damaged (Latin-1) title tag must not fail the cutting pass; the pass reports progress
    in seconds of source audio."""
    tagged = tmp_path / "tagged.flac"
    ffmpeg("-i", LECTURE, "-metadata", "title=caf\udce9", tagged)
    seen: list[float] = []
    cuts = speech_only(tagged, tmp_path / "short.flac", on_cut=seen.append)
    assert len(seen) > 10 and sum(seen) == pytest.approx(cuts.duration_s, abs=0.01)
    assert len(load_audio(tmp_path / "short.flac")) == pytest.approx(cuts.kept_s * 16000, abs=2)


def test_output_type_and_stdin_refused_before_detection(tmp_path: Path) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")  # had detection run first, the error would be about this
    with pytest.raises(ClassRecError, match=r"out\.xyz: cannot write audio in a '\.xyz' file"):
        speech_only(broken, tmp_path / "out.xyz")
    with pytest.raises(ClassRecError, match=r"out\.png: cannot write audio"):
        speech_only(broken, tmp_path / "out.png")
    with pytest.raises(ClassRecError, match="reads its input twice"):
        speech_only("-", tmp_path / "out.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.wav"]


def test_one_speech_only_preset_for_cli_library_and_web() -> None:
    """The CLI's defaults, the library's default and the web app's options (a room preset with
    the speech-only margins) are one preset: only the margins change."""
    room = VadOptions(threshold=0.6, min_speech_ms=400)
    cutting = speech_only_options(room)
    assert (cutting.pad_before_ms, cutting.pad_after_ms) == SPEECH_ONLY_PADS_MS
    assert (cutting.threshold, cutting.min_speech_ms) == (0.6, 400)
    args = build_parser().parse_args(["speech-only", "in.flac", "out.flac"])
    assert vad_options(args) == speech_only_options()
