"""2. Whole file on one core: x real time of each detector in its fastest documented mode."""

from __future__ import annotations

from bench.common import Context, Section, best_of, figure, table
from bench.contenders import OURS, contenders, silero_or_none
from bench.profile import floors
from classrec import Detector
from classrec.model import CHUNK_WINDOWS

TARGET = 20.0  # ClassRec's x-real-time at least 20× Silero's


def run(ctx: Context) -> Section:
    audio, seconds = ctx.recording, ctx.recording_s
    dets = contenders()
    fns = {d.name: (lambda d=d: d.probabilities(audio)) for d in dets}
    fallback = Detector(16000, backend="numpy")  # what runs without onnxruntime
    fns = {
        OURS: fns.pop(OURS),
        FALLBACK: lambda: fallback.probabilities(audio, sample_rate=16000),
        **fns,
    }
    best = best_of(fns, 1 if ctx.quick else 3)
    xrt = {name: seconds / t for name, t in best.items()}
    silero = silero_or_none(dets)
    floor_s = floors(dets[0].detector, ctx.quick)["file_us"] * len(audio) / 512 / 1e6
    rows = [
        [
            name,
            f"{best[name] * 1000:.0f}",
            f"{xrt[name]:.0f}",
            f"{xrt[OURS] / xrt[name]:.1f}×",
            MODES.get(name, MODES.get(name.split("-")[0], "")),
        ]
        for name in xrt
    ]
    body = (
        f"{seconds / 60:.1f} min of real speech "
        f"({'test fixture' if ctx.quick else 'held-out LibriSpeech test-other, concatenated'}), "
        "one thread everywhere (OMP/BLAS/onnxruntime), CPU time of the process, best of "
        f"{1 if ctx.quick else 3} interleaved runs. Target: ClassRec ≥ {TARGET:.0f}× Silero's x "
        f"real time. ClassRec runs with `backend={Detector(16000).backend!r}`.\n\n"
        + table(["detector", "ms", "x real time", "ClassRec faster", "mode"], rows)
        + _floor_note(floor_s, best[silero.name] if silero else None)
    )
    path = figure(
        ctx.plot_path("whole_file_xrt.png"),
        lambda ax: _plot(ax, xrt),
        f"Whole file ({seconds / 60:.0f} min), one core: x real time",
    )
    results = {
        "xrt": xrt,
        "vs_silero": xrt[OURS] / xrt[silero.name] if silero else None,
        "floor_ms": floor_s * 1000,
    }
    return Section("Whole file on one core", body, [path], results)


def _floor_note(floor_s: float, silero_s: float | None) -> str:
    """What the arithmetic allows: the model's multiply-adds at float32 BLAS's best rate."""
    note = (
        f"\n\nFloor: the model's multiply-adds for this audio at the rate float32 BLAS reaches "
        f"on one large product of the model's shape take {floor_s * 1000:.0f} ms (section 8)"
    )
    if silero_s is None:
        return note + "."
    return note + (
        f": at best {silero_s / floor_s:.0f}× Silero in float32 on this CPU, whatever the "
        f"order of the arithmetic (batching the recurrence over chunks of the file included); "
        f"the {TARGET:.0f}× target needs {silero_s / TARGET * 1000:.0f} ms."
    )


FALLBACK = "classrec-numpy"
MODES = {
    "classrec": "`Detector.probabilities`: front end and MLP vectorised in numpy, LSTM recurrence "
    f"in onnxruntime (one ONNX `LSTM` node), blocks of {CHUNK_WINDOWS} windows",
    "classrec-numpy": "the same without onnxruntime: LSTM stepped in a numpy loop",
    "silero": "sequence ONNX export, 512 windows per call (the package's fast path)",
    "ten": "C library, one call per 16 ms hop (its only mode)",
    "webrtc": "C library, one call per 10 ms frame (its only mode)",
}


def _plot(ax, xrt: dict[str, float]) -> None:
    ax.bar(list(xrt), list(xrt.values()))
    ax.set_yscale("log")
    ax.set_ylabel("x real time (higher is faster)")
