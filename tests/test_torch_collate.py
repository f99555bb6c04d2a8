"""Collation of variable-size sample parts: padding with masks, flat with offsets."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from zod.torch.collate import Collator, collate, flat_concat, pad_stack, unflatten


def _samples() -> list[dict]:
    return [
        {
            "frame_id": "000001",
            "image": torch.full((3, 4, 5), 1, dtype=torch.uint8),
            "boxes_2d": torch.tensor([[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]),
            "class_ids": np.array([3, 1], dtype=np.int64),
            "time_s": 1.5,
            "calib": {"intrinsics": torch.eye(3), "lidar_points": torch.ones(1, 3)},
        },
        {
            "frame_id": "000002",
            "image": torch.full((3, 4, 5), 2, dtype=torch.uint8),
            "boxes_2d": torch.tensor([[8.0, 9.0, 10.0, 11.0]]),
            "class_ids": np.array([2], dtype=np.int64),
            "time_s": 2.5,
            "calib": {"intrinsics": 2 * torch.eye(3), "lidar_points": torch.zeros(4, 3)},
        },
    ]


def test_pad_mode_values_and_masks() -> None:
    batch = collate(_samples(), mode="pad")
    assert batch["frame_id"] == ["000001", "000002"]
    assert batch["image"].shape == (2, 3, 4, 5) and batch["image"].dtype == torch.uint8
    assert batch["image"][1].unique().tolist() == [2]
    assert batch["boxes_2d"].shape == (2, 2, 4)
    assert batch["boxes_2d_mask"].tolist() == [[True, True], [True, False]]
    assert batch["boxes_2d"][1, 0].tolist() == [8.0, 9.0, 10.0, 11.0]
    assert batch["boxes_2d"][1, 1].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert (
        batch["class_ids"].tolist() == [[3, 1], [2, 0]] and batch["class_ids"].dtype == torch.int64
    )
    assert batch["time_s"].dtype == torch.float64 and batch["time_s"].tolist() == [1.5, 2.5]
    # nested dicts collate recursively; leaf names decide variability
    assert batch["calib"]["intrinsics"].shape == (2, 3, 3)
    assert batch["calib"]["intrinsics"][1, 0, 0].item() == 2.0
    assert batch["calib"]["lidar_points"].shape == (2, 4, 3)
    assert batch["calib"]["lidar_points_mask"].sum(1).tolist() == [1, 4]


def test_flat_mode_offsets_and_batch_index() -> None:
    batch = collate(_samples(), mode="flat")
    assert batch["boxes_2d"].shape == (3, 4)
    assert batch["boxes_2d_offsets"].tolist() == [0, 2, 3]
    assert batch["boxes_2d_batch"].tolist() == [0, 0, 1]
    assert batch["class_ids"].tolist() == [3, 1, 2]
    parts = unflatten(batch["boxes_2d"], batch["boxes_2d_offsets"])
    assert [p.shape[0] for p in parts] == [2, 1]
    assert parts[1][0].tolist() == [8.0, 9.0, 10.0, 11.0]


def test_declared_variable_key_keeps_layout_when_lengths_agree() -> None:
    samples = _samples()
    samples[1]["boxes_2d"] = torch.zeros(2, 4)
    samples[1]["class_ids"] = np.array([0, 0])
    batch = collate(samples, mode="pad")
    assert "boxes_2d_mask" in batch and batch["boxes_2d_mask"].all()
    # an undeclared key with equal shapes is stacked without mask
    batch = Collator("pad", variable_keys=())(samples)
    assert "boxes_2d_mask" not in batch and batch["boxes_2d"].shape == (2, 2, 4)


def test_empty_parts_and_pad_value() -> None:
    tensors = [torch.zeros(0, 3), torch.arange(6, dtype=torch.float32).reshape(2, 3)]
    padded, mask = pad_stack(tensors, pad_value=-1)
    assert padded.shape == (2, 2, 3)
    assert (padded[0] == -1).all() and mask[0].tolist() == [False, False]
    flat, offsets, index = flat_concat(tensors)
    assert flat.shape == (2, 3) and offsets.tolist() == [0, 0, 2] and index.tolist() == [1, 1]


def test_errors_are_specific() -> None:
    samples = _samples()
    samples[1]["boxes_2d"] = torch.zeros(1, 5)
    with pytest.raises(ValueError, match="boxes_2d"):
        collate(samples)
    samples = _samples()
    del samples[1]["time_s"]
    with pytest.raises(ValueError, match="time_s"):
        collate(samples)
    with pytest.raises(ValueError):
        Collator("ragged")  # type: ignore[arg-type]


def test_collator_is_picklable() -> None:
    collator = pickle.loads(pickle.dumps(Collator("flat", pad_value=3)))
    assert collator.mode == "flat" and collator.pad_value == 3
    batch = collator(_samples())
    assert batch["boxes_2d_offsets"].tolist() == [0, 2, 3]
