"""`zod verify`: expected vs present per stream and lidar offset, checked by hand and against the
reference devkit's own verify on the same (partly deleted) sample dataset."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zod.download.verify import verify_dataset

REPO_ROOT = Path(__file__).resolve().parent.parent
DOWNLOAD_CMD = [sys.executable, "-m", "cli.download"]

# Runs the reference devkit's verify functions (its CLI module imports typer, which the oracle venv
# lacks: a stand-in module with the two names used at import time is enough).
ORACLE_SCRIPT = """
import sys, types
fake = types.ModuleType("typer")
class _App:
    def __init__(self, *a, **k): pass
    def command(self, *a, **k): return lambda f: f
fake.Typer = _App
fake.Option = lambda *a, **k: None
sys.modules["typer"] = fake
from zod.cli.verify import _verify_info, _print_results
from zod import ZodFrames, ZodSequences, ZodDrives
root, subset, version = sys.argv[1:4]
cls = {"frames": ZodFrames, "sequences": ZodSequences, "drives": ZodDrives}[subset]
infos = cls(root, version).get_all_infos().values()
_print_results([_verify_info(i, separate_lidar=subset == "frames") for i in infos])
"""


def _infos(root: Path, subset: str, version: str) -> list[dict]:
    data = json.loads((root / f"trainval-{subset}-{version}.json").read_text())
    return [info for split in data.values() for info in split]


def _break_sample(root: Path) -> dict[str, int]:
    """Delete known files from a frames sample; returns the expected missing count per row."""
    infos = _infos(root, "frames", "full")
    for info in infos:
        (root / info["oxts_path"]).unlink()
    first, second = infos[0], infos[1]
    (root / first["camera_frames"]["front_dnat"][0]["filepath"]).unlink()
    scans = first["lidar_frames"]["velodyne"]
    (root / scans[len(scans) // 2 + 3]["filepath"]).unlink()  # 3rd scan after the core
    (root / scans[len(scans) // 2]["filepath"]).unlink()  # the core scan
    (root / second["lidar_frames"]["velodyne"][0]["filepath"]).unlink()  # 10th scan before
    (root / first["annotations"]["object_detection"]["filepath"]).unlink()
    return {
        "oxts": len(infos),
        "images_front_dnat": 1,
        "lidar_velodyne_03after": 1,
        "lidar_velodyne": 1,
        "lidar_velodyne_10before": 1,
        "annotations": 1,
        "annotations/object_detection": 1,
    }


def test_verify_counts_by_hand(sample_copy: Path) -> None:
    missing = _break_sample(sample_copy)
    infos = _infos(sample_copy, "frames", "full")
    report = verify_dataset(sample_copy, "frames", "full", progress=False)
    assert report.items == len(infos)
    for key, row in report.rows.items():
        assert row.missing == missing.get(key, 0), key
        assert len(row.missing_examples) == min(row.missing, 5)
    assert report.rows["oxts"].expected == len(infos)
    assert report.rows["infos"].expected == 1 + 3 * len(
        infos
    )  # index + calibration, ego motion, metadata
    n_scans = len(infos[0]["lidar_frames"]["velodyne"])
    lidar_rows = [k for k in report.rows if k.startswith("lidar_velodyne")]
    assert len(lidar_rows) == n_scans and all(
        report.rows[k].expected == len(infos) for k in lidar_rows
    )
    assert not report.complete
    table = report.table()
    assert "--num-scans-after 3" in table and "--num-scans-before 10" in table and "--oxts" in table


def _parse_oracle(text: str) -> dict[str, tuple[int, int]]:
    """Reference table rows -> (expected, present)."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^(\w+)\s+([\d.]+)\s+(\d+)\s*$", line)
        if match:
            expected = int(match.group(3))
            rows[match.group(1)] = (expected, round(float(match.group(2)) * expected / 100))
    return rows


def _ours_as_reference_rows(report, frames: bool) -> dict[str, tuple[int, int]]:
    """Our rows renamed to the reference's (general/camera/lidar/annotations) names."""
    out = {}
    for key, row in report.rows.items():
        value = (row.expected, row.present)
        if key.startswith("annotations/"):
            out[key.split("/")[1]] = value
        elif key.startswith("images_front_"):
            out["front_" + key.rsplit("_", 1)[1]] = value
        elif key in ("oxts", "vehicle_data"):
            out[key] = value
        elif key.startswith("lidar_velodyne"):
            if not frames:
                out["velodyne"] = value
            elif key == "lidar_velodyne":
                out["velodyne_core"] = value
            else:
                k = key.removeprefix("lidar_velodyne_")
                out[f"velodyne_{k[:2]}_{k[2:]}"] = value
    return out


@pytest.mark.parametrize("subset", ["frames", "sequences"])
def test_verify_agrees_with_reference(
    sample_copy: Path, oracle_python: Path, tmp_path: Path, subset: str
) -> None:
    if subset == "frames":
        _break_sample(sample_copy)
    else:
        info = _infos(sample_copy, "sequences", "full")[0]
        (sample_copy / info["vehicle_data_path"]).unlink()
        for scan in info["lidar_frames"]["velodyne"][:3]:
            (sample_copy / scan["filepath"]).unlink()
    script = tmp_path / "oracle_verify.py"
    script.write_text(ORACLE_SCRIPT)
    result = subprocess.run(
        [str(oracle_python), "-I", str(script), str(sample_copy), subset, "full"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    reference = _parse_oracle(result.stdout)
    ours = _ours_as_reference_rows(
        verify_dataset(sample_copy, subset, "full", progress=False), subset == "frames"
    )
    general = {k: reference.pop(k) for k in ("calibration", "ego_motion", "metadata")}
    assert len(set(general.values())) == 1  # all complete, one per item
    assert reference and {k: ours[k] for k in reference} == reference
    if subset == "sequences":
        assert reference["vehicle_data"][1] == reference["vehicle_data"][0] - 1
        assert reference["velodyne"][0] - reference["velodyne"][1] == 3


def test_verify_cli_checksums_and_exit_codes(sample_copy: Path, tmp_path: Path) -> None:
    from zod.download.checksums import format_sha256sums, sha256_file

    downloads = sample_copy / "downloads" / "drives"
    downloads.mkdir(parents=True)
    (downloads / "oxts.tar.gz").write_bytes(b"archive bytes")
    (downloads / "radar.tar.gz").write_bytes(b"other bytes")
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(
        format_sha256sums(
            {
                "oxts.tar.gz": sha256_file(downloads / "oxts.tar.gz"),
                "radar.tar.gz": "0" * 64,
                "infos.tar.gz": "1" * 64,
                "trainval-drives-full.json": sha256_file(sample_copy / "trainval-drives-full.json"),
            }
        )
    )
    base = DOWNLOAD_CMD + [
        "verify",
        "--dataset-root",
        str(sample_copy),
        "--subset",
        "drives",
        "--version",
        "full",
        "--no-progress",
    ]
    result = subprocess.run(
        base + ["--checksums", str(sums)], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1  # a mismatch always fails
    assert (
        "2 ok, 1 mismatched, 1 not on disk" in result.stdout
        and "MISMATCH radar.tar.gz" in result.stdout
    )
    result = subprocess.run(
        base + ["--fail-on-missing"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and "All " in result.stdout
    info = _infos(sample_copy, "drives", "full")[0]
    (sample_copy / info["radar_frames"]["front"][0]["filepath"]).unlink()
    result = subprocess.run(base, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0 and re.search(
        r"^radar\s+\d+\s+\d+\s+[\d.]+\s+zod download .*--radar", result.stdout, re.MULTILINE
    )
    result = subprocess.run(
        base + ["--fail-on-missing"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1
    (sample_copy / "trainval-drives-full.json").unlink()
    result = subprocess.run(base, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert (
        result.returncode == 1
        and "trainval-drives-full.json" in result.stderr
        and "Traceback" not in result.stderr
    )
