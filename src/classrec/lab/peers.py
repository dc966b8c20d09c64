"""Peer VADs (Silero v6, TEN VAD, WebRTC VAD) behind one tiny interface, for evaluation and speed.

Every peer scores 16 kHz mono audio on classrec's grid: one score in [0, 1] per 32 ms window of
512 samples, window i covering samples [512 i, 512 (i + 1)), the last window zero-padded. Each
peer offers two forms:

- `peer.probabilities(samples)`: the whole signal, fresh state per call, in the peer's fastest
  documented mode (used for accuracy and whole-file speed);
- `peer.streaming()`: a fresh stateful callable taking exactly one 512-sample window and returning
  its score (used for per-window latency). Feeding a signal window by window through it gives the
  same scores as `probabilities` (up to float rounding for Silero).

How each peer maps onto 32 ms windows (they have other native frame sizes):

- **Silero v6** (`silero_vad.onnx` run with onnxruntime, as faster-whisper does): native 512-sample
  window with the 64-sample context of the official wrapper; its score is the window's score.
  Whole files use the batched sequence export (`silero_vad_16k_sequence.onnx`, the package's
  documented fast path, same numbers): one ONNX call per 512 windows.
- **TEN VAD**: hop 256 (16 ms), int16 input; a window is two hops and its score is the **mean**
  of the two hop probabilities (an estimate of the window's speech probability that, unlike the
  max, does not inflate false alarms on short clicks).
- **WebRTC VAD** (aggressiveness mode 3 by default): only 10/20/30 ms frames exist, so it runs
  on a continuous grid of 10 ms frames (160 samples) and a window's score is the **fraction of
  speech frames among the frames that end inside it** (3 or 4 frames; 512 / 160 = 3.2). These are
  exactly the frames a streaming caller can decide once the window has arrived.

The peers need the optional extra `classrec[peers]` (onnxruntime, webrtcvad-wheels, ten-vad) and,
for Silero, `pip install --no-deps silero-vad` (it ships the ONNX files; its own dependencies
would pull in torch, which classrec does not need at run time). Importing classrec never needs
them; a missing one raises a ClassRecError naming the pip package.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from ctypes import byref, c_float, c_int32, c_size_t, c_void_p
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE, WINDOW_SAMPLES, frame
from classrec.model import as_samples

WINDOW = WINDOW_SAMPLES[SAMPLE_RATE]
"""Samples per scored window (32 ms at 16 kHz), the same grid as classrec.Detector."""

StreamFn = Callable[[np.ndarray], float]
"""A stateful per-window scorer: one 512-sample window in, its score out."""


class Peer(Protocol):
    """What every peer VAD offers."""

    name: str

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """One score in [0, 1] per 32 ms window of a 16 kHz mono signal, fresh state."""
        ...

    def streaming(self) -> StreamFn:
        """A fresh stateful callable scoring one 512-sample window per call."""
        ...


def _require(module: str, package: str) -> Any:
    """Import an optional dependency, or say which pip package provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ClassRecError(
            f"this peer VAD needs the Python package '{package}': "
            f"pip install 'classrec[peers]' (or pip install {package})"
        ) from None


def _signal(samples: np.ndarray) -> np.ndarray:
    """Validate a 16 kHz mono signal and return it as float32."""
    samples = as_samples(samples)
    if samples.ndim != 1:
        raise ClassRecError(f"samples must be 1-D (mono), got shape {samples.shape}")
    return samples


def _window(window: np.ndarray) -> np.ndarray:
    """Validate one streaming window (512 samples) and return it as float32."""
    window = as_samples(window, "window")
    if window.shape != (WINDOW,):
        raise ClassRecError(f"a window is {WINDOW} samples at 16 kHz, got shape {window.shape}")
    return window


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] → int16 PCM (clipped), which TEN VAD and WebRTC VAD need."""
    if samples.dtype == np.int16:
        return samples
    return np.clip(np.rint(samples * 32768.0), -32768, 32767).astype(np.int16)


# -- Silero v6 ---------------------------------------------------------------------------------
SILERO_CONTEXT = 64
"""Samples of the previous window prepended to each window, as the official wrapper does."""
SILERO_BLOCK = 512
"""Windows per ONNX call of the sequence model (the package's default, about 16 s of audio)."""


def silero_model_path(name: str = "silero_vad.onnx") -> Path:
    """An ONNX file shipped in the silero-vad package, found without importing it (that imports
    torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise ClassRecError(
            "the Silero peer needs the ONNX files of the 'silero-vad' package: "
            "pip install --no-deps silero-vad (its dependencies would pull in torch)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not path.is_file():
        raise ClassRecError(f"silero-vad is installed but has no {name}: pip install -U silero-vad")
    return path


def onnx_session(path: Path, threads: int = 1) -> Any:
    """A CPU onnxruntime session with `threads` intra-op threads (1 = fair per-core timing)."""
    ort = _require("onnxruntime", "onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the exported graphs carry unused initialisers: warnings only
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class _SileroStream:
    """Silero's official streaming loop without torch: context + window in, state carried."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._input = np.zeros((1, SILERO_CONTEXT + WINDOW), dtype=np.float32)
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)

    def __call__(self, window: np.ndarray) -> float:
        self._input[0, SILERO_CONTEXT:] = _window(window)
        out, self._state = self._session.run(
            None, {"input": self._input, "state": self._state, "sr": self._sr}
        )
        self._input[0, :SILERO_CONTEXT] = self._input[0, -SILERO_CONTEXT:]
        return float(out[0, 0])


class Silero:
    """Silero VAD v6 through onnxruntime (1 intra-op thread unless told otherwise)."""

    name = "silero-v6"

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._stream_session = onnx_session(silero_model_path("silero_vad.onnx"), threads)
        self._sequence_session: Any = None

    def streaming(self) -> StreamFn:
        return _SileroStream(self._stream_session)

    def _sequence(self) -> Any:
        if self._sequence_session is None:
            path = silero_model_path("silero_vad_16k_sequence.onnx")
            self._sequence_session = onnx_session(path, self._threads)
        return self._sequence_session

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        windows = frame(_signal(samples), SAMPLE_RATE)
        if len(windows) == 0:
            return np.zeros(0, dtype=np.float32)
        context = np.zeros((len(windows), SILERO_CONTEXT), dtype=np.float32)
        context[1:] = windows[:-1, -SILERO_CONTEXT:]
        inputs = np.concatenate([context, windows], axis=1)
        h = np.zeros((1, 1, 128), dtype=np.float32)
        c = np.zeros((1, 1, 128), dtype=np.float32)
        out = []
        for start in range(0, len(inputs), SILERO_BLOCK):
            block = inputs[start : start + SILERO_BLOCK]
            probs, h, c = self._sequence().run(
                ["speech_probs", "hn", "cn"], {"input": block, "h": h, "c": c}
            )
            out.append(probs)
        return np.concatenate(out).astype(np.float32).reshape(-1)


# -- TEN VAD -----------------------------------------------------------------------------------
TEN_HOP = 256
"""TEN VAD hop at 16 kHz (16 ms); two hops make one 32 ms window."""


class _TenStream:
    """One TEN VAD handle; scores a window as the mean of its two hop probabilities.

    Calls the library's C entry point directly with preallocated outputs (the documented
    `ten_vad_process`), so the benchmark charges TEN VAD for its model, not for ctypes wrapping.
    """

    def __init__(self) -> None:
        ten_vad = _require("ten_vad", "ten-vad")
        self._vad = ten_vad.TenVad(hop_size=TEN_HOP)  # keeps the handle alive, frees it on del
        self._process = self._vad.vad_library.ten_vad_process
        self._prob, self._flag = c_float(), c_int32()
        self._hop = c_size_t(TEN_HOP)
        self._buffer = np.zeros(WINDOW, dtype=np.int16)

    def _hop_probability(self, offset: int) -> float:
        pointer = c_void_p(self._buffer.ctypes.data + 2 * offset)
        self._process(
            self._vad.vad_handler, pointer, self._hop, byref(self._prob), byref(self._flag)
        )
        return self._prob.value

    def score_int16(self, window: np.ndarray) -> float:
        """Score a window already in int16 (the whole-file path converts once)."""
        self._buffer[:] = window
        return 0.5 * (self._hop_probability(0) + self._hop_probability(TEN_HOP))

    def __call__(self, window: np.ndarray) -> float:
        return self.score_int16(to_int16(_window(window)))


class TenVad:
    """TEN VAD (Agora), hop 256 at 16 kHz; window score = mean of its two hops."""

    name = "ten-vad"

    def __init__(self) -> None:
        _require("ten_vad", "ten-vad")

    def streaming(self) -> StreamFn:
        return _TenStream()

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        windows = to_int16(frame(_signal(samples), SAMPLE_RATE))
        stream = _TenStream()
        return np.fromiter((stream.score_int16(w) for w in windows), np.float32, len(windows))


# -- WebRTC VAD --------------------------------------------------------------------------------
WEBRTC_FRAME = 160
"""WebRTC VAD frame used here: 10 ms at 16 kHz (it accepts only 10, 20 or 30 ms)."""


class _WebRtcStream:
    """WebRTC VAD on a continuous 10 ms grid; remainder samples carried to the next window."""

    def __init__(self, mode: int) -> None:
        self._vad = _require("webrtcvad", "webrtcvad-wheels").Vad(mode)
        self._pending = np.zeros(0, dtype=np.int16)

    def __call__(self, window: np.ndarray) -> float:
        buffer = np.concatenate([self._pending, to_int16(_window(window))])
        n = len(buffer) // WEBRTC_FRAME
        data = buffer[: n * WEBRTC_FRAME].tobytes()
        step = 2 * WEBRTC_FRAME
        speech = sum(
            self._vad.is_speech(data[i : i + step], SAMPLE_RATE) for i in range(0, len(data), step)
        )
        self._pending = buffer[n * WEBRTC_FRAME :]
        return speech / n


class WebRtc:
    """WebRTC VAD; window score = fraction of 10 ms speech frames ending in it."""

    def __init__(self, mode: int = 3) -> None:
        if mode not in (0, 1, 2, 3):
            raise ClassRecError(f"WebRTC VAD mode is 0–3 (3 = most aggressive), got {mode}")
        _require("webrtcvad", "webrtcvad-wheels")
        self.mode = mode
        self.name = f"webrtc-mode{mode}"

    def streaming(self) -> StreamFn:
        return _WebRtcStream(self.mode)

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        windows = frame(_signal(samples), SAMPLE_RATE)
        pcm = to_int16(windows.reshape(-1))
        n_frames = len(pcm) // WEBRTC_FRAME
        vad = _require("webrtcvad", "webrtcvad-wheels").Vad(self.mode)
        data, step = pcm.tobytes(), 2 * WEBRTC_FRAME
        speech = np.fromiter(
            (vad.is_speech(data[j * step : (j + 1) * step], SAMPLE_RATE) for j in range(n_frames)),
            np.float32,
            n_frames,
        )
        ends = WEBRTC_FRAME * (np.arange(n_frames) + 1)
        owner = (ends - 1) // WINDOW  # the window in which each frame ends
        totals = np.bincount(owner, weights=speech, minlength=len(windows))
        counts = np.bincount(owner, minlength=len(windows))
        return (totals / np.maximum(counts, 1)).astype(np.float32)


# -- registry ----------------------------------------------------------------------------------
PEERS: dict[str, Callable[[], Peer]] = {"silero": Silero, "ten": TenVad, "webrtc": WebRtc}
"""Constructors by short name; each raises ClassRecError if its package is missing."""


def load_peer(name: str) -> Peer:
    """A peer by short name ('silero', 'ten', 'webrtc')."""
    try:
        return PEERS[name]()
    except KeyError:
        raise ClassRecError(f"unknown peer {name!r}: choose from {', '.join(PEERS)}") from None


def available_peers() -> list[Peer]:
    """Every peer whose package is installed (the others are skipped silently)."""
    peers = []
    for make in PEERS.values():
        try:
            peers.append(make())
        except ClassRecError:
            continue
    return peers
