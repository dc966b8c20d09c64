"""The segmentation preset control in real Chromium: picking "noisy room" on the Upload page is
saved on the server (it survives a reload); a bad preset file is refused with the server's
one-line reason and changes nothing; a preset tuned on a labelled dev recording (from the corpus
beside the project) shows its progress and the library's scores; the live page's speech light
follows the preset. (That a preset changes regions: test_presets.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import ffmpeg

from classrec.audio import load_audio
from classrec.presets import preset_json
from classrec.segments import VadOptions
from classrec.tune import load_sample, score, tune_samples
from classrec.web.presets import ROOMS

from .conftest import new_page, shot, sign_up_in_page

pytestmark = pytest.mark.slow
SAMPLE = "speech/labelled-real/sppas-fra_F_F_C006-P6"  # 33 s, five labelled regions
SHORT = "speech/labelled-real/pyaudioanalysis-count.flac"  # 5.9 s: shorter than SAMPLE's labels


def status_has(page, text: str) -> None:  # noqa: ANN001
    page.wait_for_function(
        "t => (document.querySelector('#preset-status')?.textContent || '').includes(t)", arg=text
    )


def test_picking_noisy_room(browser, module_server, tmp_path) -> None:  # noqa: ANN001
    url = module_server.url
    page = new_page(browser)
    sign_up_in_page(page, url, "noisy@example.org")
    page.goto(f"{url}/#/upload")
    status_has(page, "“default”: speech starts at probability 0.5")
    page.select_option("#preset-room", "noisy room")
    noisy = ROOMS["noisy room"]
    status_has(page, f"“noisy room”: speech starts at probability {noisy.threshold}")
    shot(page, "preset-noisy-room")
    page.reload()
    status_has(page, "“noisy room”")
    assert page.input_value("#preset-room") == "noisy room"
    preset = page.request.get(f"{url}/api/me/preset").json()
    assert preset["name"] == "noisy room"
    assert preset["options"]["threshold"] == noisy.threshold
    assert preset["options"]["min_speech_ms"] == noisy.min_speech_ms

    bad = tmp_path / "room.json"
    bad.write_text('{"classrec_preset": 1, "options": {"threshold": 2}}')
    page.set_input_files("#preset-file", str(bad))
    page.wait_for_selector("#preset-status.error")
    assert "threshold must be between 0 and 1" in page.inner_text("#preset-status")
    assert page.request.get(f"{url}/api/me/preset").json()["name"] == "noisy room"
    assert not page.errors, page.errors
    page.context.close()


def long_sample(corpus: Path, folder: Path, repeats: int = 6) -> tuple[Path, Path]:
    """A labelled dev recording played `repeats` times (about 200 s, 3.7 MB: a sample long
    enough for the page to show the search's progress), with its labels shifted to match."""
    audio, labels = corpus / f"{SAMPLE}.flac", corpus / f"{SAMPLE}.json"
    duration = len(load_audio(audio)) / 16000
    found = json.loads(labels.read_text())["speech"]
    out = folder / "room.flac"
    inputs = [arg for _ in range(repeats) for arg in ("-i", audio)]
    ffmpeg(*inputs, "-filter_complex", f"concat=n={repeats}:v=0:a=1", out)
    shifted = [[a + k * duration, b + k * duration] for k in range(repeats) for a, b in found]
    (folder / "room.json").write_text(json.dumps({"speech": shifted}))
    return out, folder / "room.json"


def test_tuning_on_a_labelled_sample(browser, module_server, corpus, tmp_path) -> None:  # noqa: ANN001
    url = module_server.url
    audio, labels = long_sample(corpus, tmp_path)
    page = new_page(browser)
    sign_up_in_page(page, url, "tuner@example.org")
    page.goto(f"{url}/#/upload")
    status_has(page, "“default”")
    page.evaluate(SEEN_STATUS)
    page.set_input_files("#tune-audio", str(audio))
    page.set_input_files("#tune-labels", str(labels))
    page.click("#tune-start")
    page.wait_for_selector("#tune-table", timeout=120_000)
    status_has(page, "“tuned” (tuned on room.flac)")
    seen = page.evaluate("window.statusSeen")
    assert any("trying options…" in text for text in seen), seen  # the progress was shown
    shot(page, "preset-tuned")

    # the table shows the library's figures: `classrec tune` on the same sample
    sample = load_sample(labels, audio)
    counts = tune_samples([sample], "room.json")[0][1]
    default = score([sample], VadOptions())
    assert cell(page, "tuned", "frame_f1") == f"{counts.frame_f1:.3f}"
    assert cell(page, "default", "frame_f1") == f"{default.frame_f1:.3f}"
    assert cell(page, "default", "segment_f1") == f"{default.segment_f1:.3f}"
    page.reload()
    page.wait_for_selector("#tune-table")
    assert page.input_value("#preset-room") == "tuned"

    # labels that run past the end of the audio: one line, the tuned preset stays
    page.set_input_files("#tune-audio", str(corpus / SHORT))
    page.set_input_files("#tune-labels", str(labels))
    page.click("#tune-start")
    page.wait_for_selector("#preset-status.error", timeout=60_000)
    message = page.inner_text("#preset-status")
    assert message.startswith("room.json: labels run to") and "\n" not in message
    assert page.request.get(f"{url}/api/me/preset").json()["name"] == "tuned"

    # larger than the upload limit (5 MB on this server): refused before anything is sent
    big = tmp_path / "big.wav"
    big.write_bytes(bytes(6 * 1024 * 1024))
    page.set_input_files("#tune-audio", str(big))
    page.click("#tune-start")
    status_has(page, "The sample is 6.0 MB: the limit is 5.0 MB.")
    assert page.request.get(f"{url}/api/me/preset").json()["name"] == "tuned"
    assert not page.errors, page.errors
    page.context.close()


def test_the_speech_light_follows_the_preset(browser, module_server, tmp_path) -> None:  # noqa: ANN001
    """The fake microphone plays tests/fixtures/lecture.flac: with a preset that keeps none of
    its speech (min speech 20 s) the light stays off; picking the default room lights it."""
    url = module_server.url
    page = new_page(browser)
    sign_up_in_page(page, url, "light@example.org")
    page.goto(f"{url}/#/upload")
    status_has(page, "“default”")
    none_kept = tmp_path / "none.json"
    none_kept.write_text(preset_json(VadOptions(min_speech_ms=20_000)))
    page.set_input_files("#preset-file", str(none_kept))
    status_has(page, "“uploaded”")
    assert "speech" not in light_states(page, url)

    page.goto(f"{url}/#/upload")
    page.select_option("#preset-room", "default")
    status_has(page, "“default”")
    assert "speech" in light_states(page, url)
    assert not page.errors, page.errors
    page.context.close()


SEEN_STATUS = """() => {
  window.statusSeen = [];
  const el = document.querySelector('#preset-status');
  new MutationObserver(() => window.statusSeen.push(el.textContent))
    .observe(el, { childList: true, characterData: true, subtree: true });
}"""


def cell(page, row: str, score_name: str) -> str:  # noqa: ANN001
    return page.inner_text(f"#tune-table td[data-row='{row}'][data-score='{score_name}']")


def light_states(page, url: str, seconds: float = 12.0) -> set[str]:  # noqa: ANN001
    """The speech indicator's states while recording `seconds` of the fake microphone (the
    9.9 s lecture and the start of its repeat)."""
    page.goto(f"{url}/#/record")
    page.click("#mic-check")
    page.wait_for_selector("#start:not([disabled])")
    page.click("#start")
    page.wait_for_selector("#connection[data-state=connected]")
    page.evaluate("""() => {
      window.lightSeen = new Set();
      const el = document.querySelector('#speech-indicator');
      new MutationObserver(() => window.lightSeen.add(el.dataset.state))
        .observe(el, { attributes: true });
    }""")
    page.wait_for_timeout(seconds * 1000)
    states = set(page.evaluate("[...window.lightSeen]"))
    page.click("#stop")
    page.wait_for_selector("#open-lecture", timeout=15000)
    return states
