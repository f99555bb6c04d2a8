"""Write ZOD Frames as tar shards, then stream them in PyTorch (see docs/scale.md).

    python examples/shards_stream.py DATASET_ROOT OUTPUT_DIR

Writes OUTPUT_DIR/shards (one shard per two frames, shuffled with seed 0), reads them back
with two DataLoader workers and a shuffle buffer, checks every sample against
``ZodFramesDataset`` and writes a summary to OUTPUT_DIR/shards_stream.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from zod.converters.shards import ShardConfig, convert_to_shards
from zod.torch import ZodFramesDataset, collate
from zod.torch.shards import ZodShardsDataset

MODALITIES = ("image", "lidar", "objects", "boxes_3d")


def main(root: Path, out: Path) -> None:
    manifest = convert_to_shards(
        root,
        out / "shards",
        split="train",
        config=ShardConfig(modalities=("image", "lidar", "objects")),
        samples_per_shard=2,
        seed=0,
        workers=1,
        progress=False,
    )
    print(f"{manifest['num_samples']} samples in {len(manifest['shards'])} shards")

    dataset = ZodShardsDataset(
        out / "shards", modalities=MODALITIES, image_scale=0.125, shuffle_buffer=4, seed=0
    )
    loader = DataLoader(
        dataset,
        batch_size=2,
        num_workers=2,
        collate_fn=collate,
        multiprocessing_context="forkserver",  # this process has run OpenCV's threads
    )
    frame_ids: list[str] = []
    for batch in loader:
        print("batch", batch["frame_id"], tuple(batch["image"].shape))
        frame_ids += list(batch["frame_id"])

    # the same samples as reading the raw files
    reference = ZodFramesDataset(root, split="train", modalities=MODALITIES, image_scale=0.125)
    streamed = {sample["frame_id"]: sample for sample in dataset}
    for i, frame_id in enumerate(reference.frame_ids):
        expected = reference[i]
        assert all(
            torch.equal(value, streamed[frame_id][key])
            for key, value in expected.items()
            if isinstance(value, torch.Tensor)
        ), frame_id
    assert sorted(frame_ids) == sorted(reference.frame_ids)
    summary = {"frames": sorted(frame_ids), "shards": [s["name"] for s in manifest["shards"]]}
    (out / "shards_stream.json").write_text(json.dumps(summary, indent=1))
    print("streamed samples equal ZodFramesDataset's")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
