"""Preset files: segmentation options saved by `classrec tune`, read by `--preset FILE`.

A preset is JSON: {"classrec_preset": 1, "options": {VadOptions fields}, ...}; anything beside
"options" (what it was tuned on, its scores) is for people. On the command line the preset's
values replace the defaults, and options given after `--preset` replace the preset's:

    classrec detect talk.flac --preset room.json
    classrec speech-only talk.flac short.flac --preset room.json --pad-after-ms 300
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

from classrec.errors import ClassRecError
from classrec.outputs import write_atomic
from classrec.segments import VadOptions

VERSION = 1
FIELDS = tuple(f.name for f in dataclasses.fields(VadOptions))


def preset_json(options: VadOptions, about: dict | None = None) -> str:
    """The preset file's text: `options` (an infinite max_speech_s is left out: JSON has no
    infinity) and `about`, free-form notes."""
    values = {k: v for k, v in dataclasses.asdict(options).items() if v is not None}
    if math.isinf(values["max_speech_s"]):
        del values["max_speech_s"]
    return json.dumps({"classrec_preset": VERSION, "options": values, **(about or {})}, indent=1)


def save_preset(path: str | Path, options: VadOptions, about: dict | None = None, force=False):
    """Write a preset file (all or nothing; an existing file needs `force`)."""
    write_atomic(path, preset_json(options, about) + "\n", force)


def load_preset(path: str | Path) -> dict:
    """The options of a preset file, checked: {VadOptions field: value}."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClassRecError(f"{path}: cannot read preset: {exc}") from None
    return parse_preset(text, str(path))


def parse_preset(text: str, path: str = "preset") -> dict:
    """The options of a preset file's text, checked as `load_preset` does (the web app gets the
    text, not a file); `path` names it in the messages."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClassRecError(f"{path}: cannot read preset: {exc}") from None
    if not isinstance(data, dict) or data.get("classrec_preset") != VERSION:
        raise ClassRecError(f"{path}: not a classrec preset (write one with 'classrec tune')")
    options = data.get("options")
    if not isinstance(options, dict):
        raise ClassRecError(f"{path}: preset has no options")
    unknown = sorted(set(options) - set(FIELDS))
    if unknown:
        raise ClassRecError(f"{path}: unknown options {', '.join(unknown)}; known: {FIELDS}")
    try:
        VadOptions(**options)  # the same checks as on the command line
    except (ClassRecError, TypeError) as exc:
        raise ClassRecError(f"{path}: {exc}") from None
    return options


class PresetAction(argparse.Action):
    """`--preset FILE`: sets the options' values from the file where it appears on the command
    line, so options after it override it."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        try:
            options = load_preset(values)
        except ClassRecError as exc:
            parser.error(str(exc))
        for name, value in options.items():
            setattr(namespace, name, value)
        setattr(namespace, self.dest, values)
