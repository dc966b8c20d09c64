"""`classrec finetune LABELS AUDIO… -o NEW.npz`: adapt the shipped model to your recordings.

Continues training the shipped LSTM (needs the `train` extra: torch, onnx) on random 8 s crops of
your labelled audio, half of them under the project's training noise and music at 0–20 dB SNR,
plus noise-only crops labelled non-speech, so the model learns your room without forgetting
noise. The learning rate is small and the steps few. It writes NEW.npz, NEW.onnx (the runtime's
fast path) and NEW.md (a model card fragment: what it was tuned on and the comparison), then
scores the shipped and the new model on the benchmark and your audio (`classrec compare-models`)
and warns where the new one is worse. `--holdout-from S` trains on the first S seconds only and
scores the rest separately ("yours-held-out"): the honest measure of the gain.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from classrec.audio import load_audio
from classrec.errors import ClassRecError
from classrec.features import N_MELS, WINDOW_SAMPLES, frame, log_mel
from classrec.lab.benchmark import RATE, Recording, benchmark_sets
from classrec.labels import read_labels, window_labels

WINDOW = WINDOW_SAMPLES[RATE]


@dataclass(frozen=True)
class FinetuneConfig:
    """How the fine-tuning runs (saved in the model card fragment)."""

    steps: int = 300
    lr: float = 3e-5
    batch: int = 16
    clip_s: float = 8.0
    noisy_fraction: float = 0.5  # crops of your audio put under project noise
    noise_only_fraction: float = 0.2  # crops of project noise alone, labelled non-speech
    snr_db: tuple[float, float] = (0.0, 20.0)
    seed: int = 0


def user_recordings(labels: Path, audio: list[Path]) -> list[Recording]:
    """Your recordings (16 kHz, whole windows) with their per-window labels."""
    out = []
    for path in audio:
        samples = load_audio(path, RATE)
        n = len(samples) // WINDOW
        if n == 0:
            raise ClassRecError(f"{path}: shorter than one 32 ms window")
        regions = read_labels(labels, path.stem)
        out.append(Recording(path.stem, samples[: n * WINDOW], window_labels(regions, n)))
    return out


def split_recordings(recs: list[Recording], at_s: float) -> tuple[list, list]:
    """(before `at_s`, after): the recordings played one after another, cut at a window."""
    before, after, start = [], [], 0.0
    for r in recs:
        k = min(max(round((at_s - start) / (WINDOW / RATE)), 0), len(r.labels))
        start += r.duration_s
        if k:
            before.append(Recording(r.name, r.samples[: k * WINDOW], r.labels[:k]))
        if k < len(r.labels):
            after.append(Recording(r.name, r.samples[k * WINDOW :], r.labels[k:]))
    return before, after


def training_noise(data: Path) -> list[np.ndarray]:
    """The corpus's noise and music that the model trained on (the unseen ones stay unseen)."""
    from classrec.train.corpus import is_unseen_noise, manifest

    rows = [r for r in manifest(Path(data)) if r["kind"] in ("noise", "music")]
    paths = [r["path"] for r in rows if not is_unseen_noise(r["path"])]
    if not paths:
        raise ClassRecError(f"{data}: no training noise in the corpus manifest")
    return [load_audio(Path(data) / p, RATE) for p in paths]


def _crop(rng: np.random.Generator, x: np.ndarray, n: int) -> np.ndarray:
    if len(x) <= n:
        return np.resize(x, n)
    first = int(rng.integers(len(x) - n + 1))
    return x[first : first + n]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def make_batch(
    rng: np.random.Generator,
    recs: list[Recording],
    noises: list[np.ndarray],
    cfg: FinetuneConfig,
    n_mels: int = N_MELS,
) -> tuple[np.ndarray, np.ndarray]:
    """(log-mel features (batch, windows, n_mels), speech targets (batch, windows))."""
    windows = min(int(cfg.clip_s * RATE) // WINDOW, max(len(r.labels) for r in recs))
    recs = [r for r in recs if len(r.labels) >= windows]  # crops of whole clip length only
    weights = np.array([len(r.labels) for r in recs], dtype=float)
    feats, targets = [], []
    for _ in range(cfg.batch):
        noise = _crop(rng, noises[int(rng.integers(len(noises)))], windows * WINDOW)
        if rng.random() < cfg.noise_only_fraction:
            audio = noise / (np.abs(noise).max() + 1e-9) * rng.uniform(0.05, 0.5)
            labels = np.zeros(windows, np.float32)
        else:
            rec = recs[int(rng.choice(len(recs), p=weights / weights.sum()))]
            first = int(rng.integers(len(rec.labels) - windows + 1))
            audio = rec.samples[first * WINDOW : (first + windows) * WINDOW].copy()
            labels = rec.labels[first : first + windows]
            if rng.random() < cfg.noisy_fraction:
                snr = rng.uniform(*cfg.snr_db)
                audio += noise * (_rms(audio) / _rms(noise) * 10 ** (-snr / 20))
        audio = np.clip(audio, -1, 1).astype(np.float32)
        feats.append(log_mel(frame(audio, RATE), n_mels)[:windows])
        targets.append(labels)
    return np.stack(feats).astype(np.float32), np.stack(targets).astype(np.float32)


def shipped_network():
    """The shipped weights as a torch network, ready to train."""
    import torch

    from classrec.checkpoint import load_weights
    from classrec.train.nets import RecurrentVAD

    w = load_weights()
    net = RecurrentVAD(w["norm_mean"], w["norm_std"], hidden=w["lstm.weight_hh_l0"].shape[1])
    state = {k: torch.from_numpy(v) for k, v in w.items() if not k.startswith("norm_")}
    missing = net.load_state_dict(state, strict=False).missing_keys
    return net, {k for k in missing if not k.startswith("norm.")}


def finetune(recs: list[Recording], noises: list[np.ndarray], cfg: FinetuneConfig, log=print):
    """The shipped network trained `cfg.steps` more steps; returns its numpy weights."""
    import torch

    from classrec.train.nets import export_numpy

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)  # small batches; leave the other cores to the rest of the machine
    rng = np.random.default_rng(cfg.seed)
    net, untrained = shipped_network()
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.0)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    losses = []
    for step in range(1, cfg.steps + 1):
        x, y = (torch.from_numpy(a) for a in make_batch(rng, recs, noises, cfg, len(net.norm.mean)))
        loss = bce(net(x), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == cfg.steps:
            log(f"step {step}/{cfg.steps}: mean loss of the last 50 {np.mean(losses[-50:]):.4f}")
    weights = export_numpy(net)
    return {k: v for k, v in weights.items() if k not in untrained}  # no untrained heads


def model_card(out: Path, cfg: FinetuneConfig, recs: list[Recording], table: str) -> str:
    """A model card fragment (Markdown) for the new weights."""
    minutes = sum(r.duration_s for r in recs) / 60
    names = ", ".join(sorted({r.name for r in recs}))
    settings = ", ".join(f"{k}={v}" for k, v in asdict(cfg).items())
    return (
        f"## {out.name}: the shipped model fine-tuned\n\n"
        f"Fine-tuned with `classrec finetune` on {minutes:.1f} min of labelled audio ({names}), "
        "half of the crops under the project's training noise and music, plus noise-only crops."
        f"\n\nSettings: {settings}.\n\nShipped (A) against this model (B):\n\n{table}\n"
    )


def run_finetune(args: argparse.Namespace) -> int:
    from classrec.compare import compare, load_detector, table
    from classrec.outputs import check_writable, write_atomic

    out = Path(args.output)
    if out.suffix != ".npz":
        raise ClassRecError(f"{out}: the weights file must end in .npz")
    for path in (out, out.with_suffix(".onnx"), out.with_suffix(".md")):
        check_writable(path, args.force)
    audio = [Path(a) for a in args.audio]
    if len(audio) > 1 and Path(args.labels).suffix.lower() != ".rttm":
        raise ClassRecError("several recordings need one RTTM file that labels them all")
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        message = "finetune needs torch and onnx: pip install 'classrec[train]'"
        raise ClassRecError(message) from None
    recs = user_recordings(Path(args.labels), audio)
    held = []
    if args.holdout_from is not None:
        recs, held = split_recordings(recs, args.holdout_from)
        if not recs or not held:
            raise ClassRecError(f"--holdout-from {args.holdout_from} leaves nothing on one side")
    if not any((r.labels >= 0.5).any() for r in recs):
        raise ClassRecError(f"{args.labels}: no labelled speech in the audio to train on")
    cfg = FinetuneConfig(steps=args.steps, lr=args.lr, seed=args.seed)
    weights = finetune(recs, training_noise(args.data), cfg, log=lambda m: print(m, flush=True))
    np.savez(out, **weights)
    from classrec.train.export_onnx import export

    export(out)
    sets = benchmark_sets(args.data, noisy=not args.dev_only)
    sets |= {"yours": recs} | ({"yours-held-out": held} if held else {})
    text, worse = table(compare(sets, load_detector("shipped"), load_detector(str(out))))
    print(text)
    write_atomic(out.with_suffix(".md"), model_card(out, cfg, recs, text), args.force)
    for line in worse:
        print(f"warning: the new model is worse on {line}", file=sys.stderr)
    print(f"wrote {out}, {out.with_suffix('.onnx')} and {out.with_suffix('.md')}", file=sys.stderr)
    return 0


def add_finetune_parser(sub) -> None:
    """Register `classrec finetune`."""
    d = FinetuneConfig()
    p = sub.add_parser(
        "finetune",
        help="continue training the model on your labelled audio (needs the train extra)",
        description=__doc__,
        epilog="examples:\n"
        "  classrec finetune talk.txt talk.flac -o room.npz\n"
        "  classrec finetune meetings.rttm m1.flac m2.flac -o meetings.npz --holdout-from 180\n"
        "  classrec compare-models shipped room.npz --labels other.txt --audio other.flac\n"
        "  then in Python: Detector(weights='room.npz')",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("labels", metavar="LABELS", help="speech labels: .rttm, .txt, .json, .csv")
    p.add_argument("audio", nargs="+", metavar="AUDIO", help="the labelled recording(s)")
    p.add_argument("-o", "--output", required=True, help="new weights file (.npz)")
    p.add_argument("--steps", type=int, default=d.steps, help=f"training steps ({d.steps})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"learning rate ({d.lr})")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (0)")
    p.add_argument("--holdout-from", type=float, metavar="S", help="train on the first S s only")
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="corpus folder")
    p.add_argument("--dev-only", action="store_true", help="compare on split=dev only")
    p.add_argument("--force", action="store_true", help="overwrite the outputs")
    p.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    p.set_defaults(run=run_finetune)
