"""Why memory: the same data and epoch budget trained into a memoryless CNN, a plain RNN, a GRU and
the LSTM; scored on held-out audio, onsets, isolated bangs, long silence and long speech.

`python -m classrec.train.memory --data ../shared/data` trains (or reuses runs/memory/<arch>),
writes the plots to docs/img/ and the measured tables into docs/memory.md.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from classrec.features import frame, log_mel
from classrec.lab import metrics
from classrec.lab.evaluate import build_sets, score
from classrec.train import synth
from classrec.train.recipe import TrainConfig, prepare_corpus, prepare_data, train, untrained

ARCHS = {"cnn": "memoryless CNN", "rnn": "plain RNN", "gru": "GRU", "lstm": "LSTM"}
RATE = 16000


class TorchDetector:
    """A trained torch network behind the evaluation interface (fresh state per signal)."""

    def __init__(self, name: str, model: torch.nn.Module) -> None:
        self.name, self.model = name, model.eval()

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            feats = torch.from_numpy(log_mel(frame(samples, RATE)))[None]
            return torch.sigmoid(self.model(feats))[0].numpy()

    def per_window_us(self, n: int = 300) -> float:
        """Median µs to advance one stream by one window (front end excluded: same for all)."""
        feats = torch.randn(1, 1, 40)
        times, state = [], None
        rnn = getattr(self.model, "lstm", None)
        with torch.no_grad():
            for _ in range(n):
                t0 = time.perf_counter()
                if rnn is None:
                    self.model(feats)
                else:
                    x = self.model.front(self.model.norm(feats))
                    y, state = rnn(x, state)
                    self.model.head(y)
                times.append(time.perf_counter() - t0)
        return float(np.median(times) * 1e6)


def _room_tone(rng: np.random.Generator, n: int) -> np.ndarray:
    return synth.coloured_noise(rng, n) * 10 ** (-55 / 20)


def bang_stream(seconds: float = 600.0, every: float = 3.0, seed: int = 7) -> np.ndarray:
    """Quiet room tone with an isolated door slam / desk bang every `every` seconds (no speech)."""
    rng = np.random.default_rng(seed)
    x = _room_tone(rng, int(seconds * RATE))
    for start in np.arange(1.0, seconds - every, every):
        b = synth.bang(rng) * rng.uniform(0.3, 0.9)
        i = int(start * RATE)
        x[i : i + len(b)] += b
    return x.astype(np.float32)


def long_signals(sets) -> dict[str, np.ndarray]:
    """10 minutes of room tone, and ~5 minutes of held-out speech with ≤ 0.3 s gaps."""
    rng = np.random.default_rng(3)
    speech, total = [], 0
    for x in sets[0].signals:
        speech += [x, _room_tone(rng, int(rng.uniform(0.05, 0.3) * RATE))]
        total += len(x)
        if total > 300 * RATE:
            break
    return {
        "silence": _room_tone(rng, 600 * RATE).astype(np.float32),
        "speech": np.concatenate(speech).astype(np.float32),
    }


def onset_curves(det, noisy_set, before: int = 10, after: int = 25) -> np.ndarray:
    """Mean probability in windows around every labelled onset (after ≥ 0.5 s of non-speech)."""
    rows = []
    for x, y in zip(noisy_set.signals, noisy_set.labels, strict=False):
        p = det.probabilities(x)
        on = np.flatnonzero(np.diff((y >= 0.5).astype(int)) == 1) + 1
        for t in on:
            if (
                t >= 16
                and t + after <= len(y)
                and not (y[t - 16 : t] >= 0.5).any()
                and (y[t : t + after] >= 0.5).all()
            ):
                rows.append(p[t - before : t + after])
    return np.array(rows)


def plots(out: Path, dets, sets, bangs, longs) -> dict:
    """Draw the four figures; return the figures measured for the tables."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    figures: dict = {}
    fig, ax = plt.subplots(figsize=(8, 4))
    t = (np.arange(-10, 25)) * 32
    for det in dets:
        curves = onset_curves(det, sets[1])
        mean = curves.mean(axis=0)
        figures.setdefault(det.name, {})["onset_curve"] = [round(float(v), 3) for v in mean[10:16]]
        ax.plot(t, mean, marker=".", label=f"{det.name} ({len(curves)} onsets)")
    ax.axvline(0, color="k", lw=0.8)
    ax.set(
        xlabel="ms from labelled speech onset",
        ylabel="mean speech probability",
        title="Confidence across speech onsets (held-out noisy mix)",
        ylim=(0, 1),
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "memory-onsets.png", dpi=110)

    fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    seg = bangs[: 12 * RATE]
    axes[0].plot(np.arange(len(seg)) / RATE, seg, lw=0.4, color="grey")
    axes[0].set(ylabel="waveform", title="Isolated bangs in a quiet room (no speech)")
    for det in dets:
        p = det.probabilities(bangs)
        figures[det.name]["bang_peak"] = float(p.max())
        figures[det.name]["bang_fa_per_hour"] = metrics.false_alarms_per_hour(p)
        axes[1].plot(np.arange(len(p[:375])) * 0.032, p[:375], label=det.name)
    axes[1].set(xlabel="seconds", ylabel="speech probability", ylim=(0, 1))
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out / "memory-bangs.png", dpi=110)

    fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=False)
    for det in dets:
        for ax, key in zip(axes, ("silence", "speech"), strict=False):
            p = det.probabilities(longs[key])
            smooth = np.convolve(p, np.ones(94) / 94, mode="valid")[::47]
            ax.plot(np.arange(len(smooth)) * 47 * 0.032 / 60, smooth, label=det.name)
            first, last = p[: len(p) // 10], p[-len(p) // 10 :]
            figures[det.name][f"long_{key}"] = (float(first.mean()), float(last.mean()))
    axes[0].set(title="10 min of room tone: does the state drift?", ylabel="mean prob (3 s)")
    axes[1].set(
        title="5 min of continuous held-out speech: does it saturate?",
        xlabel="minutes",
        ylabel="mean prob (3 s)",
        ylim=(0, 1),
    )
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / "memory-long.png", dpi=110)
    plt.close("all")
    return figures


def trained(arch: str, base: TrainConfig, data: dict, runs: Path) -> torch.nn.Module:
    """Train `arch` on the shared dataset, or load it if runs/memory/<arch> already has a model
    trained with this very config (a changed recipe, e.g. new targets, trains again)."""
    cfg, out = replace(base, arch=arch), runs / arch
    log = out / "train.json"
    if log.is_file() and json.loads(log.read_text())["config"] == asdict(cfg):
        model = untrained(arch, data, base.hidden)
        model.load_state_dict(torch.load(out / "model.pt"))
        return model
    return train(cfg, data, out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument(
        "--epochs", type=int, default=6, help="same epoch budget for every architecture"
    )
    parser.add_argument("--runs", type=Path, default=Path("runs/memory"))
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    # a fixed pool (no fresh mixes): every architecture sees exactly the same clips
    base = TrainConfig(
        data=args.data, epochs=args.epochs, minutes=15.0, train_clips=6000, refresh=0
    )
    data = prepare_data(base, prepare_corpus(base))
    dets, params, train_min = [], {}, {}
    for arch, label in ARCHS.items():
        model = trained(arch, base, data, args.runs)
        params[label] = sum(p.numel() for p in model.parameters())
        log = json.loads((args.runs / arch / "train.json").read_text())
        train_min[label] = log["epochs"][-1]["minutes"]
        dets.append(TorchDetector(label, model))
    all_sets = build_sets(Path(args.data))  # dev, held-out real, noisy, noise-only
    results = {
        s.name: {d.name: score([d.probabilities(x) for x in s.signals], s.labels) for d in dets}
        for s in all_sets
    }
    sets = all_sets[1:]  # the plots use held-out real speech and the noisy mix
    figures = plots(args.docs / "img", dets, sets, bang_stream(), long_signals(sets))
    for d in dets:
        figures[d.name] |= {
            "parameters": params[d.name],
            "train_minutes": train_min[d.name],
            "per_window_us": d.per_window_us(),
        }
    (args.runs / "results.json").write_text(
        json.dumps({"metrics": results, "figures": figures}, indent=1)
    )
    write_doc(args.docs / "memory.md", results, figures, args.epochs)
    print((args.docs / "memory.md").read_text())


def write_doc(path: Path, results: dict, figures: dict, epochs: int) -> None:
    """Fill the measured tables into the explanation."""
    from classrec.lab.evaluate import table

    head = [
        "architecture",
        "parameters",
        "train min",
        "µs / window",
        "bang peak prob",
        "bang false alarms / h",
        "onset: prob at +0, +32, … +160 ms",
        "room tone prob, first → last tenth",
        "speech prob, first → last tenth",
    ]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, f in figures.items():
        cells = [
            name,
            f"{f['parameters']:,}",
            f"{f['train_minutes']:.1f}",
            f"{f['per_window_us']:.0f}",
            f"{f['bang_peak']:.2f}",
            f"{f['bang_fa_per_hour']:.0f}",
            ", ".join(f"{v:.2f}" for v in f["onset_curve"]),
            "{:.3f} → {:.3f}".format(*f["long_silence"]),
            "{:.2f} → {:.2f}".format(*f["long_speech"]),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    text = MEMORY_DOC.format(
        epochs=epochs,
        metrics=table(results),
        figures="\n".join(rows),
        summary=summary(results, figures),
    )
    path.write_text(text)


def _fewer(a: float, b: float) -> str:
    """'3.1× fewer' / '1.2× more': a against b."""
    return f"{b / a:.1f}× fewer" if a <= b else f"{a / b:.1f}× more"


def summary(results: dict, figures: dict) -> str:
    """Plain sentences made from the tables, so they stay true whenever `make memory` reruns."""
    cnn, lstm = "memoryless CNN", "LSTM"
    noise = {n: r["false_alarms_per_hour"] for n, r in results["noise-only"].items()}
    dev = {n: r["roc_auc"] for n, r in results["dev-real"].items()}
    bang = {n: f["bang_fa_per_hour"] for n, f in figures.items()}
    peaks = [f["bang_peak"] for f in figures.values()]
    onset = {n: f["onset_curve"] for n, f in figures.items()}
    others = ", ".join(f"{n} {v:,.0f}" for n, v in noise.items() if n != cnn)
    return "\n".join(
        [
            f"- **Noise and music alone:** the memoryless CNN finds {noise[cnn]:,.0f} false"
            f" alarms per hour; the recurrent networks {others}. The LSTM:"
            f" {_fewer(noise[lstm], noise[cnn])} than the CNN.",
            "- **Real recordings (dev ROC-AUC):** "
            + ", ".join(f"{n} {v:.3f}" for n, v in dev.items())
            + ".",
            f"- **Onsets:** the LSTM's mean probability goes {onset[lstm][0]:.2f} → "
            f"{onset[lstm][-1]:.2f} over the first 160 ms of speech, the CNN's {onset[cnn][0]:.2f}"
            f" → {onset[cnn][-1]:.2f}: the CNN judges each window alone, the recurrent networks"
            " start lower and add evidence.",
            f"- **Isolated bangs:** every network's peak probability on a bang is high "
            f"({min(peaks):.2f}–{max(peaks):.2f}); what differs is how often it stays up long"
            " enough to count, false alarms per hour: "
            + ", ".join(f"{n} {v:,.0f}" for n, v in bang.items())
            + f" (the LSTM {_fewer(bang[lstm], bang[cnn])} than the CNN).",
        ]
    )


MEMORY_DOC = Path(__file__).with_name("memory.md.in").read_text()


if __name__ == "__main__":
    main()
