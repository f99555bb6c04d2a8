"""The format-exact sample dataset generator (``zod sample OUTPUT_DIR``).

``generate_sample(output_dir, SampleConfig.for_tests())`` writes all three sub-datasets (frames,
sequences, drives) in both versions, with every stream of the format spec, simulated from one
consistent scene per item: ray-cast lidar, drawn camera images, annotations that match both.
"""

from __future__ import annotations

from zod.sample.config import SampleConfig
from zod.sample.writer import generate_sample

__all__ = ["SampleConfig", "generate_sample"]
