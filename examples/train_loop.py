"""A two-step toy training loop on ZOD Frames, on the CPU.

    python examples/train_loop.py DATASET_ROOT OUTPUT_DIR

A tiny network reads the image (decoded at 1/8 scale) and the core lidar scan (padded, with its
mask) and predicts which object classes appear in the frame (multi-label, from the boxes'
class ids). Two optimizer steps, then the losses are written to OUTPUT_DIR/train_loop.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from zod.torch import ZodFramesDataset, collate


class ToyNet(nn.Module):
    """Image CNN + masked mean of a per-point MLP -> one logit per class."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.image = nn.Sequential(
            nn.Conv2d(3, 8, 5, stride=4),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.points = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16))
        self.head = nn.Linear(32, num_classes)

    def forward(
        self, image: torch.Tensor, points: torch.Tensor, intensity: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """image (B, 3, H, W) float; points (B, N, 3); intensity (B, N) uint8; mask (B, N) bool."""
        features = torch.cat([points / 50.0, intensity[..., None].float() / 255.0], dim=-1)
        per_point = self.points(features) * mask[..., None]
        pooled = per_point.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return self.head(torch.cat([self.image(image), pooled], dim=1))


def main(root: str, output_dir: str) -> None:
    torch.manual_seed(0)
    dataset = ZodFramesDataset(
        root,
        version="mini",
        split=None,
        modalities=("image", "lidar", "objects"),
        image_scale=1 / 8,
        image_dtype=torch.float32,
        normalize=True,
    )
    print(
        f"{len(dataset)} frames ({len(dataset.excluded)} excluded), {len(dataset.classes)} classes"
    )
    loader = DataLoader(dataset, batch_size=2, shuffle=True, num_workers=0, collate_fn=collate)
    model = ToyNet(len(dataset.classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    step = 0
    while step < 2:
        for batch in loader:
            # multi-hot targets from the padded class ids and their mask
            targets = torch.zeros(len(batch["frame_id"]), len(dataset.classes))
            rows = batch["class_ids_mask"].nonzero()[:, 0]
            targets[rows, batch["class_ids"][batch["class_ids_mask"]]] = 1.0
            logits = model(
                batch["image"],
                batch["lidar_points"],
                batch["lidar_intensity"],
                batch["lidar_points_mask"],
            )
            loss = nn.functional.binary_cross_entropy_with_logits(logits, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            print(
                f"step {step}: frames {batch['frame_id']}, image {tuple(batch['image'].shape)}, "
                f"points {tuple(batch['lidar_points'].shape)}, loss {loss.item():.4f}"
            )
            step += 1
            if step == 2:
                break
    if not all(torch.isfinite(torch.tensor(losses))):
        raise SystemExit(f"non-finite loss: {losses}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "train_loop.json.tmp"
    tmp.write_text(json.dumps({"losses": losses, "frames": len(dataset)}, indent=2))
    tmp.replace(out / "train_loop.json")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
