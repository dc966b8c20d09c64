"""The torch networks: the shipped LSTM detector and the comparison architectures.

All share the front end (normalised log-mel → two-layer MLP) and the sigmoid head, and differ only
in what carries information between windows: nothing (memoryless CNN), a plain RNN, a GRU or an
LSTM.
Only the LSTM is exported to the numpy runtime.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Normalise(nn.Module):
    """Per-band standardisation with statistics measured on the training features."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _front(n_mels: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_mels, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())


class RecurrentVAD(nn.Module):
    """log-mel (batch, time, bands) → probability logits (batch, time); `cell` is lstm/gru/rnn.
    The band count is that of the normalisation statistics `mean` and `std`."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, hidden: int = 96, cell: str = "lstm"):
        super().__init__()
        self.norm = Normalise(mean, std)
        self.front = _front(len(mean), hidden)
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        self.lstm = rnn(hidden, hidden, batch_first=True)  # named lstm for the exported keys
        self.head = nn.Linear(hidden, 1)
        self.classes = nn.Linear(hidden, 2)  # music, other noise: beside speech, same state

    def forward(self, feats: torch.Tensor, state=None, classes: bool = False):
        """Speech logits (batch, time); with `classes`, also music/noise logits (b, t, 2)."""
        x = self.front(self.norm(feats))
        y, _ = self.lstm(x, state)
        speech = self.head(y).squeeze(-1)
        return (speech, self.classes(y)) if classes else speech


class MemorylessCNN(nn.Module):
    """Sees one window at a time: a small 1-D CNN over the mel bands of that window only."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, hidden: int = 96):
        super().__init__()
        self.norm = Normalise(mean, std)
        self.conv = nn.Sequential(
            nn.Conv1d(1, 16, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(16, 32, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool1d(2),
        )
        self.mlp = nn.Sequential(
            nn.Linear(32 * (len(mean) // 4), hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, feats: torch.Tensor, state=None) -> torch.Tensor:
        b, t, m = feats.shape
        x = self.norm(feats).reshape(b * t, 1, m)
        return self.mlp(self.conv(x).flatten(1)).reshape(b, t)


def build(arch: str, mean: np.ndarray, std: np.ndarray, hidden: int = 96) -> nn.Module:
    """Network by name: lstm (shipped), gru, rnn, cnn (memoryless)."""
    if arch == "cnn":
        return MemorylessCNN(mean, std, hidden)
    return RecurrentVAD(mean, std, hidden, cell=arch)


def export_numpy(model: RecurrentVAD) -> dict[str, np.ndarray]:
    """The LSTM's weights under the keys classrec.model.Detector reads."""
    arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    arrays["norm_mean"] = arrays.pop("norm.mean")
    arrays["norm_std"] = arrays.pop("norm.std")
    return arrays
