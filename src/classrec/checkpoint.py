"""The detector's weights: finding, loading and hashing the shipped files, and folding them into
the layout the kernels (classrec.kernels) compute with.

The training recipe (classrec.train) exports the network's weights to `weights/classrec-vad.npz`
(float32 arrays under torch's names), its training config beside it (.json), and the LSTM alone
to `classrec-vad.onnx`, which carries the SHA-256 of the .npz it came from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from classrec.errors import ClassRecError

WEIGHTS_NAME = "classrec-vad"
ONNX_HASH_KEY = "npz_sha256"
"""Metadata key of the .onnx holding the SHA-256 of the .npz it was exported from."""


def default_weights_path() -> Path:
    """The weights shipped inside the package."""
    return Path(str(resources.files("classrec") / "weights" / f"{WEIGHTS_NAME}.npz"))


def load_weights(path: str | Path | None = None) -> dict[str, np.ndarray]:
    """Load an exported weights file (.npz of float32 arrays)."""
    path = Path(path) if path is not None else default_weights_path()
    if not path.is_file():
        raise ClassRecError(f"weights file not found: {path}")
    with np.load(path) as data:
        return {k: data[k].astype(np.float32) for k in data.files}


def model_config(weights: str | Path | None = None) -> dict:
    """The training config saved next to the weights (how the shipped model was made)."""
    path = Path(weights) if weights is not None else default_weights_path()
    cfg = path.with_suffix(".json")
    return json.loads(cfg.read_text()) if cfg.is_file() else {}


def weights_sha256(path: Path) -> str:
    """Hex SHA-256 of a weights file: ties an exported .onnx to the exact .npz it came from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class Folded:
    """The weights in the runtime's layout (see `fold`), float32, C-contiguous.

    `front`: the two MLP layers, each (in + 1, H) with its bias as the last row; `lstm`:
    (2H + 1, 4H), rows [W_ih; W_hh; b], gates i, f, o, g with i, f, o scaled by 0.5; `head`:
    weight (H, 1) and bias (1,), scaled by 0.5; `classes`: the music/noise head (H, 2), (2,),
    unscaled, or None for weights without it.
    """

    front: tuple[np.ndarray, np.ndarray]
    lstm: np.ndarray
    head: tuple[np.ndarray, np.ndarray]
    classes: tuple[np.ndarray, np.ndarray] | None

    @property
    def hidden(self) -> int:
        return self.lstm.shape[1] // 4

    @property
    def n_mels(self) -> int:
        """Mel bands the weights were trained on: the first layer's inputs, less its bias row."""
        return self.front[0].shape[0] - 1

    @property
    def w_ih(self) -> np.ndarray:
        """The LSTM's input weights (H, 4H), a view."""
        return self.lstm[: self.hidden]

    @property
    def w_hh(self) -> np.ndarray:
        """The LSTM's recurrent weights (H, 4H), a view."""
        return self.lstm[self.hidden : 2 * self.hidden]

    @property
    def bias(self) -> np.ndarray:
        """The LSTM's summed biases (4H,), a view."""
        return self.lstm[-1]


def _augmented(weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(in, out) weight with the bias as an extra last row: `[x, 1] @ W` is `x @ weight + bias`,
    so a step that keeps a constant 1 after its input needs no separate bias addition."""
    return np.ascontiguousarray(np.vstack([weight, bias[None, :]]), dtype=np.float32)


def fold(w: dict[str, np.ndarray]) -> Folded:
    """Exported weights → the runtime's layout, rearranged for speed (exact algebra, float32
    rounding only): the normalisation is folded into the first layer; each layer's bias is its
    last row (`_augmented`); the LSTM's input, recurrent and bias terms are one matrix with rows
    [W_ih; W_hh; b]; its gates are reordered i, f, o, g with the sigmoid gates (and the head)
    pre-scaled by 0.5, so one tanh gives sigmoid(x) = 0.5 (1 + tanh(x / 2)) for all of them."""
    hidden = w["lstm.weight_hh_l0"].shape[1]
    mean, scale = w["norm_mean"].astype(np.float64), 1.0 / w["norm_std"].astype(np.float64)
    w0, b0 = w["front.0.weight"].T.astype(np.float64), w["front.0.bias"].astype(np.float64)
    front = (
        _augmented(scale[:, None] * w0, b0 - (mean * scale) @ w0),
        _augmented(w["front.2.weight"].T, w["front.2.bias"]),
    )
    order = np.r_[0 : 2 * hidden, 3 * hidden : 4 * hidden, 2 * hidden : 3 * hidden]  # ifgo→ifog
    gate_scale = np.where(np.arange(4 * hidden) < 3 * hidden, 0.5, 1.0).astype(np.float32)
    lstm = np.vstack(
        [
            w["lstm.weight_ih_l0"][order].T,
            w["lstm.weight_hh_l0"][order].T,
            (w["lstm.bias_ih_l0"] + w["lstm.bias_hh_l0"])[order][None, :],
        ]
    )
    lstm = np.ascontiguousarray(lstm * gate_scale, dtype=np.float32)
    head = (np.float32(0.5) * w["head.weight"].T, np.float32(0.5) * w["head.bias"])
    classes = (w["classes.weight"].T.copy(), w["classes.bias"]) if "classes.weight" in w else None
    return Folded(front, lstm, head, classes)


def onnx_lstm(weights: Path) -> tuple[object | None, str]:
    """An onnxruntime session for the LSTM exported next to `weights` (classrec.train.export_onnx),
    or None and why not. The .onnx must carry the SHA-256 of this very .npz: a stale export is
    never used. One intra-op thread: the recurrence is sequential, more threads only spin."""
    path = weights.with_suffix(".onnx")
    if not path.is_file():
        return None, f"no {path.name} next to the weights (python -m classrec.train.export_onnx)"
    try:
        import onnxruntime as ort
    except ImportError:
        return None, "onnxruntime is not installed (pip install onnxruntime)"
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False  # 10 MB less resident memory, measured no slower
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    stored = session.get_modelmeta().custom_metadata_map.get(ONNX_HASH_KEY)
    if stored != weights_sha256(weights):
        return None, f"{path.name} was exported from other weights: re-run the export"
    return session, ""
