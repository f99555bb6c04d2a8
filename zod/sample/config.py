"""``SampleConfig``: what the sample generator builds (counts, sizes, seed).

Everything the generator writes is a pure function of this object: the same config gives the
same bytes, whatever the number of worker processes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class SampleConfig:
    """Counts and sizes of a generated sample dataset.

    ``num_*`` are the items of the ``full`` version (train + val); ``num_*_mini`` of them (the
    first ones) also form the ``mini`` version. Splits: about ``val_fraction`` of each version is
    ``val``, and both splits are non-empty whenever a version has at least two items.
    ``num_blacklisted_frames`` extra frames go to a ``blacklisted`` split of the full frames
    index only (spec section 2).
    """

    seed: int = 0
    # --- counts -----------------------------------------------------------------------------
    num_frames: int = 6
    num_frames_mini: int = 4
    num_blacklisted_frames: int = 0
    num_sequences: int = 2
    num_sequences_mini: int = 2
    num_drives: int = 1
    num_drives_mini: int = 1
    val_fraction: float = 0.3
    # --- lidar ------------------------------------------------------------------------------
    points_per_core_scan: int = 250_000
    points_per_surrounding_scan: int = 60_000
    points_per_sequence_scan: int = 60_000
    num_scans_before: int = 10
    num_scans_after: int = 10
    lidar_rate_hz: float = 10.0
    lidar_max_range_m: float = 250.0
    # --- clips ------------------------------------------------------------------------------
    sequence_duration_s: float = 4.0
    drive_duration_s: float = 6.0
    sequence_camera_rate_hz: float = 1.0
    radar_rate_hz: float = 20.0
    oxts_rate_hz: float = 100.0
    vehicle_data_rate_hz: float = 50.0
    # --- camera -----------------------------------------------------------------------------
    image_width: int = 3848
    image_height: int = 2168
    jpeg_quality: int = 85
    # Sensor-like pixel noise (std, 8-bit levels): makes JPEGs ~1-3 MB like the real ones.
    image_noise_std: float = 6.0
    # --- scene ------------------------------------------------------------------------------
    num_objects: int = 20
    # Frames with ego road / traffic sign annotations: every n-th item (the others have none).
    ego_road_every: int = 2
    traffic_signs_every: int = 2
    # One traffic sign of one frame gets a class name outside the tsv (spec section 14).
    unknown_traffic_sign: bool = True
    # --- execution --------------------------------------------------------------------------
    workers: int = 0  # 0: all cores (the output does not depend on it)
    progress: bool = False

    def __post_init__(self) -> None:
        pairs = (
            ("num_frames", "num_frames_mini"),
            ("num_sequences", "num_sequences_mini"),
            ("num_drives", "num_drives_mini"),
        )
        for full_name, mini_name in pairs:
            full, mini = getattr(self, full_name), getattr(self, mini_name)
            if full < 0 or mini < 0 or mini > full:
                raise ValueError(f"need 0 <= {mini_name} ({mini}) <= {full_name} ({full})")
        if self.num_frames > 0 and self.num_frames_mini == 0:
            raise ValueError("the mini version needs at least one frame")
        if self.num_scans_before < 0 or self.num_scans_after < 0:
            raise ValueError("num_scans_before and num_scans_after must be >= 0")
        for name in (
            "points_per_core_scan",
            "points_per_surrounding_scan",
            "points_per_sequence_scan",
        ):
            if getattr(self, name) < 1000:
                raise ValueError(f"{name} must be at least 1000")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError("val_fraction must be in (0, 1)")
        if self.sequence_duration_s < 0.5 or self.drive_duration_s < 0.5:
            raise ValueError("sequences and drives must last at least 0.5 s")

    @classmethod
    def default(cls) -> SampleConfig:
        """The README demo: realistic scan sizes, a few items of each sub-dataset (< 1 min)."""
        return cls()

    @classmethod
    def for_tests(cls) -> SampleConfig:
        """The test fixture: all three sub-datasets, both versions, small scans (a few seconds).

        4 frames (2 in mini) plus 1 blacklisted, 3 sequences (2 in mini: 1 train, 1 val),
        2 drives (1 in mini), 21 scans per frame with a ~30k-point core scan.
        """
        return cls(
            num_frames=4,
            num_frames_mini=2,
            num_blacklisted_frames=1,
            num_sequences=3,
            num_sequences_mini=2,
            num_drives=2,
            num_drives_mini=1,
            points_per_core_scan=30_000,
            points_per_surrounding_scan=4_000,
            points_per_sequence_scan=4_000,
            sequence_duration_s=1.5,
            drive_duration_s=1.5,
            sequence_camera_rate_hz=2.0,
            jpeg_quality=75,
            image_noise_std=0.0,
            num_objects=16,
            workers=1,
        )

    def replace(self, **changes: Any) -> SampleConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
