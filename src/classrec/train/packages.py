"""Hours of real music and ambience from Debian's game-data packages, fetched at training time.

The corpus holds ~15 min of real noise and ~6 min of music: too little for a detector that must
stay silent in a noisy lecture hall. Debian ships hours of freely licensed music and sound effects
in its game-data packages. `fetch` downloads them with `apt-get download` and unpacks them with
`dpkg -x` (nothing is installed), drops every file whose path names a voice (see `VOICE`), decodes
the rest to 16 kHz, and drops any file a strong VAD still finds speech in. Nothing of it is copied
into the repository; the model card lists the packages and their licences.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np

from classrec.audio import load_audio
from classrec.errors import ClassRecError

RATE = 16000


@dataclass(frozen=True)
class Package:
    """A Debian package, what it holds and how much of it to use (minutes, None = all)."""

    name: str
    kind: str  # "music" or "noise" (sound effects and ambience)
    licence: str
    minutes: float | None = None


PACKAGES = (
    Package("warzone2100-music", "music", "GPL-2+", 45),
    Package("ufoai-music", "music", "GPL-2+, CC-BY-3.0, CC-BY-SA-3.0, public domain", 45),
    Package("planetblupi-music-ogg", "music", "GPL-3+", 40),
    Package("wesnoth-1.16-music", "music", "GPL-2+", 40),
    Package("singularity-music", "music", "CC-BY-SA", 25),
    Package("colobot-common-sounds", "music", "GPL-3+", 25),
    Package("asterisk-moh-opsound-wav", "music", "CC-BY-SA-3.0", 15),
    Package("widelands-data", "noise", "GPL-2+, CC-BY-SA-3.0"),
    Package("ufoai-sound", "noise", "GPL-2+, CC-BY(-SA)-3.0, public domain"),
    Package("megaglest-data", "noise", "CC-BY-SA-3.0"),
    Package("lincity-ng-data", "noise", "GPL-2+"),
    Package("bucklespring-data", "noise", "GPL-2+"),
    Package("hydrogen-drumkits", "noise", "GPL-2/2+, CC-BY-SA-3.0"),
    Package("extremetuxracer-data", "noise", "GPL-2+, CC0"),
    Package("endless-sky-data", "noise", "public domain, CC-BY-SA-3.0"),
)

MORE_MUSIC = tuple(replace(p, minutes=None) if p.kind == "music" else p for p in PACKAGES) + (
    Package("supertux-data", "noise", "GPL-2+ (music), GPL-3+"),
    Package("marsshooter-data", "noise", "CC-BY-SA-3.0 (music), CC-BY-3.0/public domain"),
    Package("flare-game", "noise", "CC-BY-SA-3.0+"),
    Package("pushover-data", "music", "GPL-3+"),
    Package("fretsonfire-songs-sectoid", "music", "GPL"),
    Package("fretsonfire-songs-muldjord", "music", "CC-BY-SA-3.0"),
    Package("hyperrogue-music", "music", "CC-BY-SA-3.0"),
    Package("asc-music", "music", "GPL-2+"),
)
"""`--packages 2`: every minute of the music packages (about 23 h instead of 6.6) and more styles
(rock and metal with guitar stems, chiptune, arcade), for a detector that must stay silent
under music it has never heard."""

EVAL_PACKAGES = (
    Package("drascula-music", "music", "Drascula-License (DFSG-free)", 15),
    Package("xmoto-data", "music", "GPL-2+", 10),
    Package("freeorion-data", "noise", "CC-BY-SA-3.0", 10),
    Package("wordwarvi-sound", "noise", "GPL-2+, CC-BY-SA-3.0", 10),
)
"""Never trained on: the unseen music and effects of the noise-only evaluation."""

SPEECH_PACKAGE = Package("tuxpaint-stamps-default", "speech", "GPL-2", 150)
"""Real voices in 11 languages (fr, ru, ro, ca, bg, es, be, el, da, lt, nl): 7,418 spoken stamp
descriptions of 0.5–3 s, recorded by many volunteers on many microphones. The corpus's speech is
English only; the dev set and lecture halls are not."""

MORE_SPEECH = (
    SPEECH_PACKAGE,
    Package("fillets-ng-data-cs", "speech", "GPL-2"),
    Package("fillets-ng-data-nl", "speech", "GPL-2"),
    *(
        Package(f"asterisk-core-sounds-{lang}-g722", "speech", licence)
        for lang, licence in (
            ("en", "CC-BY-SA-3.0"),
            ("es", "CC-BY-SA-3.0"),
            ("fr", "CC-BY-SA-3.0"),
            ("it", "CC-BY-3.0"),
            ("ru", "CC-BY-3.0"),
        )
    ),
)
"""`--multilingual 2`: 8 h of real speech instead of 2.5. Fish Fillets' spoken dialogue in
Czech and Dutch (3.4 h: expressive lines by several voice actors) and Asterisk's telephone
prompts in five languages (2.2 h: one professional speaker each, G.722 wideband at 16 kHz)."""

SPOKEN = {
    SPEECH_PACKAGE.name: re.compile(r"_desc_[a-z]{2}\.ogg$"),
    "fillets-ng-data-cs": re.compile(r"/cs/[^/]+\.ogg$"),
    "fillets-ng-data-nl": re.compile(r"/nl/[^/]+\.ogg$"),
}
"""Which files of a speech package are speech (default: every .g722 file)."""

AUDIO = re.compile(r"\.(ogg|oga|opus|wav|flac|mp3)$", re.IGNORECASE)
VOICE = re.compile(
    r"speech/|voice|/vo/|announcer|taunt|talk|speak|narrat|dialog|_select|_ack|_die|scream|grunt"
    r"|yell|shout|laugh|hurt|_death|_desc|/civilians/|/soldiers/|megaglest/techs/[^/]+/.*sounds/"
    r"|tavern|croud|crowd",
    re.IGNORECASE,
)
"""Paths that name a voice (and megaglest's unit sounds, which are voice acknowledgements)."""
MAX_SPEECH_SHARE = 0.03  # a file with more windows called speech by Silero is dropped


def unpack(package: Package, cache: Path) -> Path:
    """`apt-get download` + `dpkg -x` into cache/<name> (once); pk3 archives are unzipped."""
    root = cache / package.name
    if (root / ".done").is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    if not any(cache.glob(f"{package.name}_*.deb")):
        try:
            subprocess.run(
                ["apt-get", "download", package.name], cwd=cache, check=True, timeout=1800
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ClassRecError(f"apt-get download {package.name} failed: {exc}") from None
    deb = next(cache.glob(f"{package.name}_*.deb"))
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True, timeout=1800)
    for pk3 in root.rglob("*.pk3"):
        with zipfile.ZipFile(pk3) as z:
            z.extractall(pk3.with_suffix(""))
    deb.unlink()
    (root / ".done").touch()
    return root


def audio_files(package: Package, root: Path) -> list[Path]:
    """The package's audio files that do not name a voice, in a stable order."""
    files = sorted(p for p in root.rglob("*") if AUDIO.search(p.name) and p.is_file())
    return [p for p in files if not VOICE.search(f"{package.name}/{p.relative_to(root)}")]


def kind_of(package: Package, path: Path) -> str:
    """ "music" for a music package or a file under a music folder, else "noise"."""
    return "music" if package.kind == "music" or "music" in str(path).lower() else "noise"


def _int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16)


def _take(
    files: list[Path], minutes: float | None, seed: int, reject, load=lambda p: load_audio(p, RATE)
) -> tuple[list, Counter]:
    """Decode `files` (16 kHz) in a seeded random order until `minutes` of audio are kept:
    ([(path, int16 samples)], why the others were skipped). `reject(audio)` names why a
    decoded file is not wanted, or None to keep it."""
    budget = (minutes or 1e9) * 60 * RATE
    kept, total, skipped = [], 0, Counter()
    for i in np.random.default_rng(seed).permutation(len(files)):
        try:
            audio = load(files[i])
        except ClassRecError:
            skipped["undecodable or silent"] += 1
            continue
        why = reject(audio)
        if why:
            skipped[why] += 1
            continue
        kept.append((files[i], _int16(audio)))
        total += len(audio)
        if total >= budget:
            break
    return kept, skipped


def decode(
    package: Package, cache: Path, labeller=None, seed: int = 0
) -> list[tuple[str, np.ndarray]]:
    """The package's usable audio as (kind, 16 kHz int16 samples), cached as one .npz.

    Files are taken in a seeded random order until `package.minutes` is reached; files that fail
    to decode, are silent, or that `labeller` finds speech in are skipped and counted. Without a
    labeller only the file names are checked (`VOICE`): the evaluation's unseen packages use that,
    so no scored peer decides what is left in them.
    """
    capped = f"-{package.minutes:g}min" if package.minutes else ""  # a full decode is another file
    out_path = cache / f"{package.name}{capped}.npz"
    if out_path.is_file():
        with np.load(out_path) as d:
            keys = sorted(d.files, key=lambda k: int(k.split("-")[1]))
            return [(k.split("-")[0], d[k]) for k in keys]

    def reject(audio: np.ndarray) -> str | None:
        if len(audio) < RATE // 10 or np.abs(audio).max() < 1e-4:
            return "undecodable or silent"
        if (
            labeller is not None
            and (labeller.probabilities(audio) >= 0.5).mean() > MAX_SPEECH_SHARE
        ):
            return "with speech dropped"
        return None

    files, skipped = _take(
        audio_files(package, unpack(package, cache)), package.minutes, seed, reject
    )
    kept = [(kind_of(package, path), audio) for path, audio in files]
    minutes = sum(len(a) for _, a in kept) / RATE / 60
    print(
        f"{package.name}: {len(kept)} files, {minutes:.1f} min "
        f"({skipped['undecodable or silent']} undecodable or silent, "
        f"{skipped['with speech dropped']} with speech dropped)",
        flush=True,
    )
    np.savez(out_path, **{f"{kind}-{i}": a for i, (kind, a) in enumerate(kept)})
    return kept


def load(
    cache: Path, labeller=None, seed: int = 0, which: tuple[Package, ...] = PACKAGES
) -> dict[str, list[np.ndarray]]:
    """{"music": [...], "noise": [...]}: every package's usable audio, float32 at 16 kHz
    (`labeller`: see `decode`)."""
    cache.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[np.ndarray]] = {"music": [], "noise": []}
    for package in which:
        for kind, a in decode(package, cache, labeller, seed):
            found[kind].append(a.astype(np.float32) / 32767)
    return found


def _load_speech(path: Path) -> np.ndarray:
    """16 kHz float32 of one speech file; Asterisk's .g722 prompts are raw G.722, which has no
    header for the decoder to recognise."""
    if path.suffix != ".g722":
        return load_audio(path, RATE)
    with av.open(str(path), format="g722") as container:
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    if not frames:
        raise ClassRecError(f"{path.name}: no audio")
    return np.concatenate(frames).astype(np.float32) / 32768


def _speech_name(package: Package, root: Path, path: Path) -> str:
    """A speech file's key in the cache. Tux Paint files the same description under two or three
    stamps (201 file names, e.g. butterfly_desc_be.ogg in insects/ and easter/): keyed by file
    name, each counts once, as v3 was trained (6,068 of 6,209 files kept). Other packages reuse
    file names for different prompts in different folders, so they are keyed by path."""
    if package == SPEECH_PACKAGE:
        return path.name
    return str(path.relative_to(root)).replace("/", ":")


def speech(
    cache: Path, seed: int = 0, which: tuple[Package, ...] = (SPEECH_PACKAGE,)
) -> list[tuple[str, np.ndarray]]:
    """(name, 16 kHz float32) of the speech packages' spoken files, each package in a seeded
    order up to its minutes; cached as int16 like the noise packages."""
    found = []
    for package in which:
        out_path = cache / f"{package.name}.npz"
        if not out_path.is_file():
            root = unpack(package, cache)
            spoken = SPOKEN.get(package.name, re.compile(r"\.g722$"))
            files = sorted(p for p in root.rglob("*") if spoken.search(str(p)) and p.is_file())
            kept, _ = _take(files, package.minutes, seed, lambda audio: None, _load_speech)
            stored = {_speech_name(package, root, path): audio for path, audio in kept}
            np.savez(out_path, **stored)
            minutes = sum(len(a) for a in stored.values()) / RATE / 60
            print(f"{package.name}: {len(stored)} files, {minutes:.1f} min", flush=True)
        with np.load(out_path) as d:
            found += [(k, d[k].astype(np.float32) / 32767) for k in d.files]
    return found
