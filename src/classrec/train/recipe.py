"""The training recipe: `python -m classrec.train.recipe --data ../shared/data --ship`.

Seeded and CPU-only. Steps: load the train split, generate speech and fetch hours of real music
and ambience (classrec.train.packages) → frame-tight targets for clean speech from a strong VAD
trimmed by energy → mix a pool of 8 s clips → log-mel features → train for a fixed time budget
while a worker process mixes fresh clips into the pool (so the model rarely sees a mix twice and
more data costs no more memory) → keep the checkpoint with the lowest validation loss → export
numpy weights and this config. The dev set (`speech/labelled-real/`) is scored every epoch for
the log only: it never selects a checkpoint.

`--minutes 15 --train-clips 2000` is the smoke recipe for CI-sized checks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import queue
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp

from classrec.checkpoint import default_weights_path
from classrec.features import N_MELS, frame, log_mel
from classrec.lab import metrics
from classrec.train import packages, soundfont, synth
from classrec.train.corpus import (
    RATE,
    WINDOW,
    Corpus,
    Utterance,
    clean_speech_labels,
    load_corpus,
)
from classrec.train.export_onnx import export as export_onnx
from classrec.train.mix import SPEECHLESS, Mixing, build_features
from classrec.train.nets import build, export_numpy


@dataclass
class TrainConfig:
    """Everything that determines a trained model; saved as JSON next to the weights."""

    arch: str = "lstm"
    hidden: int = 128
    mels: int = N_MELS  # mel bands of the front end (the runtime reads it from the weights)
    seed: int = 0
    train_clips: int = 12000  # the pool: 26.7 h, refreshed while training (see `refresh`)
    refresh: int = 1  # a worker process mixes fresh clips into the pool (0: a fixed pool)
    packages: int = 1  # Debian music and ambience (classrec.train.packages); 2: MORE_MUSIC
    multilingual: int = 1  # real voices from Debian packages: 1 = 11 languages, 2 = 14 (8 h)
    class_weight: float = 0.3  # weight of the music/noise loss beside the speech loss
    distil: float = 0.5  # weight of the teacher's (Silero on the mix) speech target (see _loss)
    distil_silence: int = 1  # the teacher's target also where the clean source is silent (_loss)
    distil_mute_after: int = 0  # windows after clean speech where the teacher's target is 0
    distil_near: int = 0  # if > 0, the teacher's target is 0 farther than this from speech
    speechless: float = SPEECHLESS  # share of clips with no speech (noise, music, events)
    retune: float = 0.0  # if > 0, music is played up to this many semitones higher or lower
    channel: float = 0.0  # share of clips through a random microphone and generated rooms
    melodies: float = 0.0  # minutes of solo-instrument tunes (synth.melody) added to the music
    recorded_tunes: int = 0  # 1: the tunes play recorded notes (classrec.train.soundfont)
    co_teacher: str = ""  # weights of a ClassRec model averaged with Silero as the teacher
    co_teacher_rule: str = "mean"  # or "lower-in-silence" (mix.Mixing)
    val_clips: int = 300
    clip_windows: int = 250  # 8 s
    tts_count: int = 160
    batch_size: int = 32
    long_every: int = (
        4  # every n-th batch joins 4 clips into one 32 s sequence (long-context state)
    )
    lr: float = 3e-3
    weight_decay: float = 1e-4
    minutes: float = 48.0  # wall-time budget (the shipped run)
    epochs: int = 0  # if > 0, an epoch budget instead (same work for every architecture)
    threads: int = 2
    data: str = "../shared/data"
    cache: str = "runs/cache"

    @property
    def teacher(self) -> bool:
        """Whether the clips carry the teacher's target (see _loss)."""
        return self.distil > 0

    def mixing(self) -> Mixing:
        """The mixer's settings for this recipe."""
        return Mixing(
            teacher=self.teacher,
            speechless=self.speechless,
            retune=self.retune,
            channel=self.channel,
            co_teacher=self.co_teacher,
            co_teacher_rule=self.co_teacher_rule,
            mels=self.mels,
        )

    def data_key(self) -> str:
        """Identifies the generated dataset, so several architectures can share one."""
        fields = (
            6,
            self.teacher,
            self.seed,
            self.train_clips,
            self.val_clips,
            self.clip_windows,
            self.tts_count,
            self.packages,
            self.multilingual,
        )
        fields += (self.speechless,) if self.speechless != SPEECHLESS else ()
        fields += (("melodies", self.melodies, self.recorded_tunes),) if self.melodies else ()
        fields += (("retune", self.retune),) if self.retune else ()
        fields += (("channel", self.channel),) if self.channel else ()
        if self.co_teacher:
            digest = hashlib.sha1(Path(self.co_teacher).read_bytes(), usedforsecurity=False)
            fields += (("co_teacher", digest.hexdigest()),)
            fields += (self.co_teacher_rule,) if self.co_teacher_rule != "mean" else ()
        fields += (("mels", self.mels),) if self.mels != N_MELS else ()
        return hashlib.sha1(repr(fields).encode(), usedforsecurity=False).hexdigest()[:10]


def prepare_corpus(cfg: TrainConfig) -> Corpus:
    """The training corpus, with the Debian packages' music and ambience if cfg.packages."""
    from classrec.lab.peers import Silero  # the label source for clean speech (see model card)

    t0 = time.time()
    silero = Silero()
    corpus = load_corpus(Path(cfg.data), Path(cfg.cache) / "tts", silero, cfg.tts_count, cfg.seed)
    if cfg.packages:
        which = packages.MORE_MUSIC if cfg.packages == 2 else packages.PACKAGES
        found = packages.load(Path(cfg.cache) / "packages", silero, cfg.seed, which)
        corpus.music += found["music"]
        for audio in found["noise"]:
            (corpus.events if len(audio) < 2.5 * RATE else corpus.noise).append(audio)
    if cfg.melodies:
        notes = soundfont.notes(Path(cfg.cache) / "packages") if cfg.recorded_tunes else None
        rng = np.random.default_rng([cfg.seed, 3])
        corpus.music += synth.melodies(rng, cfg.melodies, notes=notes)
    if cfg.multilingual:
        which = packages.MORE_SPEECH if cfg.multilingual == 2 else (packages.SPEECH_PACKAGE,)
        cache = Path(cfg.cache) / "speech-packages"
        for name, audio in packages.speech(cache, cfg.seed, which):
            audio = np.pad(audio, (0, -len(audio) % WINDOW))
            corpus.multilingual.append(Utterance(name, audio, clean_speech_labels(audio, silero)))
    hours = [sum(len(a) for a in group) / RATE / 3600 for group in (corpus.noise, corpus.music)]
    print(
        f"corpus: {len(corpus.speech)} utterances, {len(corpus.tts)} generated, "
        f"{len(corpus.multilingual)} multilingual, "
        f"{len(corpus.noise)} noises ({hours[0]:.2f} h), {len(corpus.events)} events, "
        f"{len(corpus.music)} music ({hours[1]:.2f} h) ({time.time() - t0:.0f} s)",
        flush=True,
    )
    return corpus


def prepare_data(cfg: TrainConfig, corpus: Corpus) -> dict[str, np.ndarray]:
    """The initial pool of mixed training clips and the validation clips, as features, cached
    under cfg.cache."""
    path = Path(cfg.cache) / f"features-{cfg.data_key()}.npz"
    if path.is_file():
        with np.load(path) as d:
            return dict(d)
    t0 = time.time()
    mixing = cfg.mixing()
    x, y = build_features(
        corpus, cfg.train_clips, cfg.clip_windows, cfg.seed, cfg.threads, 0, mixing
    )
    vx, vy = build_features(
        corpus, cfg.val_clips, cfg.clip_windows, cfg.seed + 1000, cfg.threads, 0, mixing
    )
    data = {"x": x, "y": y, "val_x": vx, "val_y": vy}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **data)
    print(
        f"features: {x.shape} train, {vx.shape} val, speech {y[..., 0].mean():.2f} "
        f"({time.time() - t0:.0f} s)",
        flush=True,
    )
    return data


def _refresher(corpus: Corpus, cfg: TrainConfig, out: mp.Queue) -> None:
    """Worker process: mix fresh clips forever (seeded, numbered after the initial pool). It
    yields the CPU to the training step (nice): fresh clips are welcome, not waited for."""
    os.nice(10)
    first = cfg.train_clips
    while True:
        out.put(
            build_features(
                corpus,
                64,
                cfg.clip_windows,
                cfg.seed,
                workers=1,
                first=first,
                mixing=cfg.mixing(),
            )
        )
        first += 64


def dev_features(data: Path, n_mels: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Log-mel features and human labels of `speech/labelled-real/` (split=dev), 16 kHz."""
    from classrec.lab.evaluate import dev_set

    dev = dev_set(data)
    return [log_mel(frame(x, RATE), n_mels) for x in dev.signals], dev.labels


def _batches(rng: np.random.Generator, n: int, size: int):
    order = rng.permutation(n)
    for i in range(0, n - size + 1, size):
        yield order[i : i + size]


def _validate(model: torch.nn.Module, vx: torch.Tensor, vy: torch.Tensor, dev) -> dict:
    """Validation loss and PR-AUC on the mixed validation clips; PR-AUC, ROC-AUC and false-alarm
    rate at 0.5 on the dev set (for the log)."""
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(vx[i : i + 64]) for i in range(0, len(vx), 64)])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, vy).item()
        dev_p = [torch.sigmoid(model(torch.from_numpy(x)[None]))[0].numpy() for x in dev[0]]
    model.train()
    y, p = np.concatenate(dev[1]), np.concatenate(dev_p)
    return {
        "val_loss": loss,
        "val_pr_auc": metrics.pr_auc(vy.numpy().ravel(), torch.sigmoid(logits).numpy().ravel()),
        "dev_pr_auc": metrics.pr_auc(y, p),
        "dev_roc_auc": metrics.roc_auc(y, p),
        "dev_false_alarm": metrics.error_rates(y, p)[0],
    }


def _loss(model: torch.nn.Module, bx: torch.Tensor, by: torch.Tensor, cfg: TrainConfig):
    """Speech BCE, plus the music/noise BCE for networks with that head.

    With cfg.distil = w and a teacher column, the speech loss is (1 − w) × BCE against the
    frame-tight clean-source target + w × BCE against the teacher's probability on the mix: the
    clean source says where speech was, not whether it is still audible at −5 dB under music.
    With cfg.distil_silence = 0 the teacher's target is 0 wherever the clean target is: the
    teacher may lower speech it cannot hear, but never teaches its own false alarms on noise or
    its hang-over after words. With cfg.distil_mute_after = k, only its hang-over: the teacher's
    target is 0 in the k windows after each end of clean speech. With cfg.distil_near = k, the
    teacher keeps its say near speech (onsets, hang-over) but its target is 0 in silence more
    than k windows from any clean speech, where all it could teach is its own false alarms.
    """
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    with_classes = hasattr(model, "classes")
    speech, classes = model(bx, classes=True) if with_classes else (model(bx), None)
    loss = bce(speech, by[..., 0])
    if cfg.distil and by.shape[-1] > 3:
        teacher = by[..., 3] if cfg.distil_silence else by[..., 3] * (by[..., 0] > 0)
        if cfg.distil_mute_after:
            teacher = teacher * ~_just_after_speech(by[..., 0] > 0, cfg.distil_mute_after)
        if cfg.distil_near:
            teacher = teacher * _near_speech(by[..., 0] > 0, cfg.distil_near)
        loss = (1 - cfg.distil) * loss + cfg.distil * bce(speech, teacher)
    if with_classes:
        loss = loss + cfg.class_weight * bce(classes, by[..., 1:3])
    return loss


def _just_after_speech(speech: torch.Tensor, windows: int) -> torch.Tensor:
    """(batch, time) flags: silent windows within `windows` after a speech window."""
    near = speech.clone()
    for k in range(1, windows + 1):
        near[:, k:] |= speech[:, :-k]
    return near & ~speech


def _near_speech(speech: torch.Tensor, windows: int) -> torch.Tensor:
    """(batch, time) flags: speech windows and those within `windows` of one, either side."""
    wide = torch.nn.functional.max_pool1d(
        speech[:, None].float(), 2 * windows + 1, stride=1, padding=windows
    )
    return wide[:, 0] > 0


def untrained(arch: str, data: dict[str, np.ndarray], hidden: int) -> torch.nn.Module:
    """A fresh network whose input normalisation is measured on every tenth training clip."""
    flat = data["x"][::10].astype(np.float32).reshape(-1, data["x"].shape[-1])
    return build(arch, flat.mean(0), flat.std(0) + 1e-3, hidden)


def train(
    cfg: TrainConfig, data: dict[str, np.ndarray], out: Path, corpus: Corpus | None = None
) -> torch.nn.Module:
    """Train for cfg.minutes of wall time; return the best model (lowest validation loss). The
    last weights are kept beside it (model-last.pt).

    With a corpus and cfg.refresh, a worker process mixes fresh clips that replace random clips
    of the pool as they arrive (one core mixes, one trains)."""
    torch.manual_seed(cfg.seed)
    refresh = bool(cfg.refresh and corpus is not None)
    torch.set_num_threads(max(1, cfg.threads - refresh))
    rng = np.random.default_rng(cfg.seed)
    x = torch.from_numpy(data["x"].astype(np.float32))
    y = torch.from_numpy(data["y"].astype(np.float32))
    vx, vy = torch.from_numpy(data["val_x"].astype(np.float32)), torch.from_numpy(data["val_y"])
    vy = vy[..., 0] if vy.ndim == 3 else vy
    dev = dev_features(Path(cfg.data), cfg.mels)
    model = untrained(cfg.arch, data, cfg.hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    fresh: mp.Queue = mp.get_context("fork").Queue(maxsize=4)
    worker = None
    if refresh:
        worker = mp.get_context("fork").Process(
            target=_refresher, args=(corpus, cfg, fresh), daemon=True
        )
        worker.start()
    budget, start, step, epoch, mixed = cfg.minutes * 60, time.time(), 0, 0, 0
    best = (math.inf, None, {})
    log = []
    while (epoch < cfg.epochs) if cfg.epochs else (time.time() - start < budget):
        for idx in _batches(rng, len(x), cfg.batch_size):
            if cfg.epochs:
                frac = step / (cfg.epochs * (len(x) // cfg.batch_size))
            else:
                frac = (time.time() - start) / budget
            if frac >= 1:
                break
            mixed += _take_fresh(fresh, x, y, rng) if refresh else 0
            for group in opt.param_groups:
                group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * frac))
            bx, by = x[idx], y[idx]
            if cfg.long_every and step % cfg.long_every == 0:
                bx = bx.reshape(-1, 4 * bx.shape[1], bx.shape[2])
                by = by.reshape(-1, 4 * by.shape[1], by.shape[2])
            loss = _loss(model, bx, by, cfg)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
        epoch += 1
        scores = _validate(model, vx, vy, dev)
        minutes = (time.time() - start) / 60
        log.append({"epoch": epoch, "step": step, "minutes": minutes, "fresh_clips": mixed})
        log[-1] |= scores
        print(
            f"epoch {epoch} step {step} {minutes:.1f} min, {mixed} fresh clips: "
            + " ".join(f"{k} {v:.4f}" for k, v in scores.items()),
            flush=True,
        )
        if scores["val_loss"] < best[0]:
            best = (
                scores["val_loss"],
                {k: v.clone() for k, v in model.state_dict().items()},
                scores,
            )
    if worker is not None:
        worker.terminate()
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model-last.pt")  # the cosine schedule's end, to compare
    model.load_state_dict(best[1])
    torch.save(model.state_dict(), out / "model.pt")
    summary = {
        "config": asdict(cfg),
        "epochs": log,
        "best_val_loss": best[0],
        "best": best[2],
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    (out / "train.json").write_text(json.dumps(summary, indent=1))
    return model


def _take_fresh(fresh: mp.Queue, x: torch.Tensor, y: torch.Tensor, rng) -> int:
    """Copy a waiting batch of fresh clips (if any) over random clips of the pool."""
    try:
        fx, fy = fresh.get_nowait()
    except queue.Empty:
        return 0
    slots = rng.choice(len(x), size=len(fx), replace=False)
    x[slots] = torch.from_numpy(fx.astype(np.float32))
    y[slots] = torch.from_numpy(fy.astype(np.float32))
    return len(fx)


def save_weights(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The .npz in float16 (the runtime computes in float32): half the bytes, so weights and
    their ONNX graph stay under 1 MB; rounding moved dev-set probabilities by at most 0.008."""
    np.savez(path, **{k: v.astype(np.float16) for k, v in arrays.items()})


def ship(model: torch.nn.Module, cfg: TrainConfig, out: Path) -> Path:
    """Write the numpy weights, their ONNX LSTM (the runtime's fast path, tied to these exact
    weights) and the config (with its training log) into the package."""
    path = default_weights_path()
    save_weights(path, export_numpy(model))
    export_onnx(path)
    path.with_suffix(".json").write_text((out / "train.json").read_text())
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for name, value in asdict(TrainConfig()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--out", type=Path, default=None, help="run folder (default runs/<arch>)")
    parser.add_argument("--ship", action="store_true", help="install the weights into the package")
    args = vars(parser.parse_args(argv))
    out, do_ship = args.pop("out"), args.pop("ship")
    cfg = TrainConfig(**args)
    try:
        cfg.mixing()  # the mixer checks its own settings; say so before hours of preparation
    except ValueError as error:
        parser.error(str(error))
    out = out or Path("runs") / cfg.arch
    corpus = prepare_corpus(cfg)
    model = train(cfg, prepare_data(cfg, corpus), out, corpus)
    if do_ship:
        if cfg.arch != "lstm":
            raise SystemExit("only the lstm architecture runs in the numpy runtime")
        print(f"shipped {ship(model, cfg, out)}")


if __name__ == "__main__":
    main()
