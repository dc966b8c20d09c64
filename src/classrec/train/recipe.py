"""The training recipe: `python -m classrec.train.recipe --data ../shared/data --ship`.

Seeded and CPU-only. Steps: load the train split and generate speech → label clean speech with
a strong VAD → mix thousands of 8 s clips → log-mel features → train for a fixed time budget →
keep the checkpoint with the lowest validation loss → export numpy weights and this config.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from classrec.metrics import pr_auc
from classrec.model import default_weights_path
from classrec.train.corpus import load_corpus
from classrec.train.export_onnx import export as export_onnx
from classrec.train.mix import build_features
from classrec.train.nets import build, export_numpy


@dataclass
class TrainConfig:
    """Everything that determines a trained model; saved as JSON next to the weights."""

    arch: str = "lstm"
    hidden: int = 96
    seed: int = 0
    train_clips: int = 12000  # 26.7 h; with 6000 the validation loss rose after 20 minutes
    val_clips: int = 300
    clip_windows: int = 250  # 8 s
    tts_count: int = 160
    batch_size: int = 32
    long_every: int = (
        4  # every n-th batch joins 4 clips into one 32 s sequence (long-context state)
    )
    lr: float = 3e-3
    weight_decay: float = 1e-4
    minutes: float = 40.0  # wall-time budget
    epochs: int = 0  # if > 0, an epoch budget instead (same work for every architecture)
    threads: int = 2
    data: str = "../shared/data"
    cache: str = "runs/cache"

    def data_key(self) -> str:
        """Identifies the generated dataset, so several architectures can share one."""
        fields = (3, self.seed, self.train_clips, self.val_clips, self.clip_windows, self.tts_count)
        return hashlib.sha1(repr(fields).encode(), usedforsecurity=False).hexdigest()[:10]


def prepare_data(cfg: TrainConfig) -> dict[str, np.ndarray]:
    """Mixed training and validation features, built once and cached under cfg.cache."""
    path = Path(cfg.cache) / f"features-{cfg.data_key()}.npz"
    if path.is_file():
        with np.load(path) as d:
            return dict(d)
    from classrec.peers import Silero  # the label source for clean speech (see model card)

    t0 = time.time()
    corpus = load_corpus(Path(cfg.data), Path(cfg.cache) / "tts", Silero(), cfg.tts_count, cfg.seed)
    print(
        f"corpus: {len(corpus.speech)} utterances, {len(corpus.tts)} generated, "
        f"{len(corpus.noise)} noises, {len(corpus.events)} events, {len(corpus.music)} music "
        f"({time.time() - t0:.0f} s)",
        flush=True,
    )
    x, y = build_features(corpus, cfg.train_clips, cfg.clip_windows, cfg.seed, cfg.threads)
    vx, vy = build_features(corpus, cfg.val_clips, cfg.clip_windows, cfg.seed + 1000, cfg.threads)
    data = {"x": x, "y": y, "val_x": vx, "val_y": vy}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **data)
    print(
        f"features: {x.shape} train, {vx.shape} val, speech {y.mean():.2f} "
        f"({time.time() - t0:.0f} s)",
        flush=True,
    )
    return data


def _batches(rng: np.random.Generator, n: int, size: int):
    order = rng.permutation(n)
    for i in range(0, n - size + 1, size):
        yield order[i : i + size]


def _validate(model: torch.nn.Module, vx: torch.Tensor, vy: torch.Tensor) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(vx[i : i + 64]) for i in range(0, len(vx), 64)])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, vy).item()
    model.train()
    return loss, pr_auc(vy.numpy().ravel(), torch.sigmoid(logits).numpy().ravel())


def untrained(arch: str, data: dict[str, np.ndarray], hidden: int) -> torch.nn.Module:
    """A fresh network whose input normalisation is measured on every tenth training clip."""
    flat = data["x"][::10].astype(np.float32).reshape(-1, data["x"].shape[-1])
    return build(arch, flat.mean(0), flat.std(0) + 1e-3, hidden)


def train(cfg: TrainConfig, data: dict[str, np.ndarray], out: Path) -> torch.nn.Module:
    """Train for cfg.minutes of wall time; return the best model (lowest validation loss)."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    x = torch.from_numpy(data["x"].astype(np.float32))
    y = torch.from_numpy(data["y"])
    vx, vy = torch.from_numpy(data["val_x"].astype(np.float32)), torch.from_numpy(data["val_y"])
    model = untrained(cfg.arch, data, cfg.hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    budget, start, step, epoch = cfg.minutes * 60, time.time(), 0, 0
    best = (math.inf, None, 0.0)
    log = []
    while (epoch < cfg.epochs) if cfg.epochs else (time.time() - start < budget):
        for idx in _batches(rng, len(x), cfg.batch_size):
            if cfg.epochs:
                frac = step / (cfg.epochs * (len(x) // cfg.batch_size))
            else:
                frac = (time.time() - start) / budget
            if frac >= 1:
                break
            for group in opt.param_groups:
                group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * frac))
            bx, by = x[idx], y[idx]
            if cfg.long_every and step % cfg.long_every == 0:
                bx, by = (
                    bx.reshape(-1, 4 * bx.shape[1], bx.shape[2]),
                    by.reshape(-1, 4 * by.shape[1]),
                )
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(bx), by)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
        epoch += 1
        val_loss, val_ap = _validate(model, vx, vy)
        log.append(
            {
                "epoch": epoch,
                "step": step,
                "minutes": (time.time() - start) / 60,
                "val_loss": val_loss,
                "val_pr_auc": val_ap,
            }
        )
        print(
            f"epoch {epoch} step {step} {log[-1]['minutes']:.1f} min "
            f"val loss {val_loss:.4f} PR-AUC {val_ap:.4f}",
            flush=True,
        )
        if val_loss < best[0]:
            best = (val_loss, {k: v.clone() for k, v in model.state_dict().items()}, val_ap)
    model.load_state_dict(best[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model.pt")
    summary = {
        "config": asdict(cfg),
        "epochs": log,
        "best_val_loss": best[0],
        "best_val_pr_auc": best[2],
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    (out / "train.json").write_text(json.dumps(summary, indent=1))
    return model


def ship(model: torch.nn.Module, cfg: TrainConfig, out: Path) -> Path:
    """Write the numpy weights, their ONNX LSTM (the runtime's fast path, tied to these exact
    weights) and the config (with its training log) into the package."""
    path = default_weights_path()
    np.savez(path, **export_numpy(model))
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
    out = out or Path("runs") / cfg.arch
    model = train(cfg, prepare_data(cfg), out)
    if do_ship:
        if cfg.arch != "lstm":
            raise SystemExit("only the lstm architecture runs in the numpy runtime")
        print(f"shipped {ship(model, cfg, out)}")


if __name__ == "__main__":
    main()
