"""The recipe's loss: the speech half against the frame-tight target, half against the teacher."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from classrec.features import N_MELS  # noqa: E402
from classrec.train.nets import build  # noqa: E402
from classrec.train.recipe import TrainConfig, _loss  # noqa: E402


def test_distillation_weighs_the_teacher_in_the_speech_loss() -> None:
    torch.manual_seed(0)
    model = build("lstm", np.zeros(N_MELS), np.ones(N_MELS), 16)
    x = torch.randn(2, 20, N_MELS)
    tight, classes = (torch.rand(2, 20) > 0.5).float(), torch.zeros(2, 20, 2)
    teacher = torch.rand(2, 20)
    y = torch.cat([tight[..., None], classes, teacher[..., None]], dim=-1)
    speech, class_logits = model(x, classes=True)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    on_tight, on_teacher = bce(speech, tight), bce(speech, teacher)
    on_classes = bce(class_logits, classes)

    cfg = TrainConfig(distil=0.5, class_weight=0.3)
    expected = 0.5 * on_tight + 0.5 * on_teacher + 0.3 * on_classes
    torch.testing.assert_close(_loss(model, x, y, cfg), expected)
    # without the weight, or without a teacher column, the teacher is ignored
    without = on_tight + 0.3 * on_classes
    no_teacher = TrainConfig(distil=0.0, class_weight=0.3)
    torch.testing.assert_close(_loss(model, x, y, no_teacher), without)
    torch.testing.assert_close(_loss(model, x, y[..., :3], cfg), without)


def test_the_teacher_can_be_muted_on_silence_after_speech_or_far_from_it() -> None:
    torch.manual_seed(0)
    model = build("lstm", np.zeros(N_MELS), np.ones(N_MELS), 16)
    x = torch.randn(1, 8, N_MELS)
    tight = torch.tensor([[0, 1, 1, 0, 0, 0, 0, 0]], dtype=torch.float32)
    teacher = torch.full((1, 8), 0.7)
    y = torch.cat([tight[..., None], torch.zeros(1, 8, 2), teacher[..., None]], dim=-1)
    speech = model(x, classes=True)[0]
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    base = TrainConfig(distil=0.5, class_weight=0.0)

    def expected(target: list[float]) -> torch.Tensor:
        return 0.5 * bce(speech, tight) + 0.5 * bce(speech, torch.tensor([target]))

    silent = TrainConfig(distil=0.5, class_weight=0.0, distil_silence=0)
    torch.testing.assert_close(_loss(model, x, y, silent), expected([0, 0.7, 0.7, 0, 0, 0, 0, 0]))
    after = TrainConfig(distil=0.5, class_weight=0.0, distil_mute_after=2)
    want = [0.7, 0.7, 0.7, 0, 0, 0.7, 0.7, 0.7]
    torch.testing.assert_close(_loss(model, x, y, after), expected(want))
    near = TrainConfig(distil=0.5, class_weight=0.0, distil_near=2)
    want = [0.7, 0.7, 0.7, 0.7, 0.7, 0, 0, 0]
    torch.testing.assert_close(_loss(model, x, y, near), expected(want))
    torch.testing.assert_close(_loss(model, x, y, base), expected([0.7] * 8))
