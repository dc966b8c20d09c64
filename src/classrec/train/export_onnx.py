"""Export the shipped LSTM to ONNX for the runtime's whole-file fast path.

`python -m classrec.train.export_onnx [--weights W.npz]` writes `W.onnx` next to the weights: a
graph with one `LSTM` node that maps the MLP outputs of all windows (T, 1, H) and the initial
state to the hidden states (T, 1, 1, H) and the final state. The runtime (classrec.model) keeps
the front end, the MLP and the head in numpy, so only the recurrence, which numpy can only step
window by window from Python, runs in compiled code.

The graph records the SHA-256 of the .npz it was made from (metadata `npz_sha256`); the runtime
ignores an .onnx whose hash does not match, so stale weights can never be used. Needs the `onnx`
package (the `train` extra); the runtime only needs onnxruntime.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from classrec.checkpoint import ONNX_HASH_KEY, default_weights_path, load_weights, weights_sha256

OPSET = 14


def onnx_lstm_weights(w: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """torch LSTM weights (gates i, f, g, o) → ONNX `LSTM` inputs W, R, B (gates i, o, f, c),
    with the leading num_directions axis; B is the input bias followed by the recurrent bias."""
    hidden = w["lstm.weight_hh_l0"].shape[1]
    i, f, g, o = (np.arange(k * hidden, (k + 1) * hidden) for k in range(4))
    order = np.concatenate([i, o, f, g])
    weight = w["lstm.weight_ih_l0"][order][None]
    recurrent = w["lstm.weight_hh_l0"][order][None]
    bias = np.concatenate([w["lstm.bias_ih_l0"][order], w["lstm.bias_hh_l0"][order]])[None]
    return (a.astype(np.float32) for a in (weight, recurrent, bias))


def build_model(w: dict[str, np.ndarray], npz_hash: str):  # noqa: ANN201 - onnx.ModelProto
    """The one-node graph: X (T, 1, H_in), h0, c0 (1, 1, H) → Y (T, 1, 1, H), Y_h, Y_c."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight, recurrent, bias = onnx_lstm_weights(w)
    hidden, n_in = recurrent.shape[2], weight.shape[2]
    node = helper.make_node(
        "LSTM",
        ["X", "W", "R", "B", "", "h0", "c0"],
        ["Y", "Y_h", "Y_c"],
        hidden_size=hidden,
    )
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        [node],
        "classrec_lstm",
        [
            helper.make_tensor_value_info("X", f32, ["T", 1, n_in]),
            helper.make_tensor_value_info("h0", f32, [1, 1, hidden]),
            helper.make_tensor_value_info("c0", f32, [1, 1, hidden]),
        ],
        [
            helper.make_tensor_value_info("Y", f32, ["T", 1, 1, hidden]),
            helper.make_tensor_value_info("Y_h", f32, [1, 1, hidden]),
            helper.make_tensor_value_info("Y_c", f32, [1, 1, hidden]),
        ],
        initializer=[
            numpy_helper.from_array(weight, "W"),
            numpy_helper.from_array(recurrent, "R"),
            numpy_helper.from_array(bias, "B"),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="classrec"
    )
    model.ir_version = 8  # readable by every onnxruntime the peers extra allows (>= 1.17)
    helper.set_model_props(model, {ONNX_HASH_KEY: npz_hash})
    onnx.checker.check_model(model)
    return model


def export(weights: str | Path | None = None, out: str | Path | None = None) -> Path:
    """Write the ONNX graph for `weights` (default: the shipped .npz) to `out` (default: the same
    name with .onnx). Call it whenever the .npz changes (the recipe's `ship` does)."""
    import onnx

    weights = Path(weights) if weights is not None else default_weights_path()
    out = Path(out) if out is not None else weights.with_suffix(".onnx")
    model = build_model(load_weights(weights), weights_sha256(weights))
    onnx.save(model, str(out))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, default=None, help="the .npz (default: shipped)")
    parser.add_argument("--out", type=Path, default=None, help="default: weights with .onnx")
    args = parser.parse_args(argv)
    print(f"wrote {export(args.weights, args.out)}")


if __name__ == "__main__":
    main()
