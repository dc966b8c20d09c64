"""Check the training label rule against people's labels: `python -m classrec.train.label_check`.

The recipe labels clean speech with a strong VAD (Silero v6) trimmed by energy
(`corpus.clean_speech_labels`). The dev recordings (`speech/labelled-real/`) are clean enough to
run the same rules on and were labelled by people, so they show whether a rule is frame-tight: it
prints frame F1, false-alarm and miss rates of each candidate rule against the human labels, and
plots the rules over a few files (docs/img/label-check.png). The dev set is only looked at here,
never trained on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from classrec.lab.evaluate import dev_set
from classrec.train.corpus import EnergyLabeller, _fill_short_runs, clean_speech_labels


def rules(audio: np.ndarray, silero) -> dict[str, np.ndarray]:
    """Each candidate rule's per-window target (0..1) for one clean signal."""
    n = -(-len(audio) // 512)
    vad = silero.probabilities(audio)[:n] >= 0.5
    v2 = clean_speech_labels(audio, silero)[:n]
    return {
        "Silero ≥ 0.5": vad.astype(np.float32),
        "Silero, pauses < 200 ms bridged (v1 rule)": _fill_short_runs(vad, False, 6).astype(
            np.float32
        ),
        "energy alone (held-out rule)": EnergyLabeller()
        .probabilities(audio)[:n]
        .astype(np.float32),
        "v2 rule: Silero trimmed by energy": v2,
    }


def agreement(target: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(frame F1, false-alarm rate, miss rate) of target ≥ 0.5 against truth ≥ 0.5."""
    p, y = target >= 0.5, truth >= 0.5
    tp = np.sum(p & y)
    return 2 * tp / (p.sum() + y.sum()), np.mean(p[~y]), np.mean(~p[y])


def main(argv: list[str] | None = None) -> None:
    from classrec.lab.peers import Silero

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--plot", type=Path, default=Path("docs/img/label-check.png"))
    args = parser.parse_args(argv)
    dev, silero = dev_set(args.data), Silero()
    per_file = [rules(x, silero) for x in dev.signals]
    print("| rule | frame F1 | false-alarm rate | miss rate |\n|---|---|---|---|")
    for name in per_file[0]:
        target = np.concatenate([r[name] for r in per_file])
        truth = np.concatenate(
            [y[: len(r[name])] for r, y in zip(per_file, dev.labels, strict=True)]
        )
        f1, fa, miss = agreement(target, truth)
        print(f"| {name} | {f1:.3f} | {fa:.3f} | {miss:.3f} |")
    plot(args.plot, dev, per_file, picks=(0, 6, 20))


def plot(path: Path, dev, per_file: list[dict[str, np.ndarray]], picks: tuple[int, ...]) -> None:
    """Waveform, human labels and each rule's target for a few dev files, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(picks), 1, figsize=(11, 2.6 * len(picks)))
    for ax, i in zip(axes, picks, strict=True):
        x, truth = dev.signals[i], dev.labels[i]
        t = np.arange(len(x)) / 16000
        ax.plot(t, x / (np.abs(x).max() + 1e-9) * 0.5 - 1.0, color="0.7", lw=0.4)
        tw = (np.arange(len(truth)) + 0.5) * 0.032
        ax.step(tw, truth, where="mid", color="k", lw=2, label="people's labels")
        for k, (name, target) in enumerate(per_file[i].items()):
            ax.step(tw[: len(target)], target * 0.9 - 0.02 * (k + 1), where="mid", label=name)
        ax.set(xlim=(0, min(t[-1], 12)), yticks=[], xlabel="s")
    axes[0].legend(fontsize=7, ncol=3, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
