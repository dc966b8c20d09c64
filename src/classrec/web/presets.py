"""Per-user segmentation presets: how a user's lectures are cut into speech regions.

A user picks a named room below, uploads a preset file made by `classrec tune` (checked by
classrec.presets, the same rules as `--preset FILE`), or has the server tune one on a labelled
sample of their own audio (web.preset_tuning). The choice is stored on the user as JSON
(users.segment_preset) and applies to every lecture they own, uploaded or recorded live, for
whoever watches it: its regions, segment downloads, speech-only audio and speech ratio.
Lectures keep their probabilities, so a new choice re-cuts existing lectures without the model.
While a lecture is recorded, its speech light follows the same options (SpeechLight).
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np

from classrec.errors import ClassRecError
from classrec.features import WINDOW_SECONDS
from classrec.presets import parse_preset
from classrec.segments import VadOptions
from classrec.stream import EventTracker

DEFAULT = "default"
UPLOADED = "uploaded"
TUNED = "tuned"
"""Options tuned by the server on the user's labelled sample; stored with how they scored."""
ROOMS: dict[str, VadOptions] = {
    DEFAULT: VadOptions(),
    # Little noise to mistake for speech, but soft or distant voices (a student's question from
    # the back): start speech at a lower probability, and keep short answers ("yes", "no").
    "quiet room": VadOptions(threshold=0.4, min_speech_ms=200),
    # A projector fan, chairs, hallway noise push non-speech probabilities up: start speech only
    # at 0.6 (ending at the default 0.15 below, 0.45), and drop blips under 400 ms, which in
    # such a room are bangs and coughs far more often than words.
    "noisy room": VadOptions(threshold=0.6, min_speech_ms=400),
}
"""The presets a user picks by name; `default` is the options everyone gets without a choice."""


def stored(name: str, preset_text: str | None = None) -> str | None:
    """The column's value for a choice: a room's name, or an uploaded preset file's text
    (raises ClassRecError saying what is wrong with it). None stands for the default."""
    if preset_text is not None:
        options = parse_preset(preset_text, "the preset file")
        return json.dumps({"name": UPLOADED, "options": options})
    if name not in ROOMS:
        raise ClassRecError(f"unknown preset {name!r}: choose one of {', '.join(ROOMS)}")
    return None if name == DEFAULT else json.dumps({"name": name})


def stored_tuned(options: VadOptions, about: dict) -> str:
    """The column's value for options tuned on the user's sample; `about` (JSON values) says
    what they were tuned on and how they scored, for the page to show again later."""
    return json.dumps({"name": TUNED, "options": options_json(options), "about": about})


def chosen(value: str | None) -> tuple[str, VadOptions]:
    """(name, options) of a stored choice. A room's options come from ROOMS, so changing them
    here changes them for everyone who picked it; a value this version cannot read (written by
    a later one) counts as the default rather than breaking the user's lectures."""
    try:
        data = json.loads(value) if value else {"name": DEFAULT}
        if data["name"] in (UPLOADED, TUNED):
            options = {k: v for k, v in data["options"].items() if v is not None}
            return data["name"], VadOptions(**options)
        return data["name"], ROOMS[data["name"]]
    except (ClassRecError, TypeError, KeyError, ValueError, AttributeError):
        return DEFAULT, ROOMS[DEFAULT]


def about(value: str | None) -> dict | None:
    """What a tuned choice says about itself (web.preset_tuning's table), else None."""
    try:
        data = json.loads(value) if value else {}
        return data.get("about") if data.get("name") == TUNED else None
    except (TypeError, ValueError, AttributeError):
        return None


def options_json(options: VadOptions) -> dict:
    """The options as JSON values (an unlimited max_speech_s is null: JSON has no infinity)."""
    values = dataclasses.asdict(options)
    if math.isinf(values["max_speech_s"]):
        values["max_speech_s"] = None
    return values


class SpeechLight:
    """The live page's speech light: on while the recording is inside a speech region, decided
    window by window by the rules that cut the stored lecture (classrec.stream.EventTracker with
    the owner's options), so the light and the regions agree. It turns on once speech has lasted
    `min_speech_ms` and off once a pause has lasted `min_silence_ms` (the regions' padding
    cannot light up the past)."""

    def __init__(self, options: VadOptions = ROOMS[DEFAULT]) -> None:
        self.tracker = EventTracker(options, WINDOW_SECONDS)
        self.on = False

    def feed(self, probs: np.ndarray) -> bool:
        """Take the next windows' probabilities (one per 32 ms); return whether the light is on
        after them."""
        events = self.tracker.feed(probs)
        if events:
            self.on = "start" in events[-1]
        return self.on
