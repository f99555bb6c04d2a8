"""YOLO label lines and traffic-sign crop windows: hand-computed and against the reference."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from zod.converters.tsr_patches import crop_windows, traffic_sign_class_index
from zod.converters.yolo import data_yaml, parse_yolo_labels, yolo_lines


def test_yolo_lines_hand_computed_and_round_trip() -> None:
    boxes = np.array([[100.0, 200.0, 300.0, 600.0], [-10.0, 2100.0, 50.0, 2200.0]])
    text = yolo_lines(boxes, np.array([2, 0]), (1000, 2168))
    lines = text.splitlines()
    assert lines[0] == "2 0.200000 0.184502 0.200000 0.184502"
    # clipped to the image: x 0..50, y 2100..2168
    assert lines[1] == "0 0.025000 0.984317 0.050000 0.031365"
    classes, cxcywh = parse_yolo_labels(text)
    assert classes.tolist() == [2, 0]
    back = np.column_stack(
        [cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2]
    ) * [1000, 2168, 1000, 2168]
    np.testing.assert_allclose(back[0], boxes[0], atol=2e-3)
    np.testing.assert_allclose(back[1], [0, 2100, 50, 2168], atol=2e-3)
    assert yolo_lines(np.zeros((0, 4)), np.zeros(0), (10, 10)) == ""


def test_data_yaml_parses() -> None:
    import yaml

    doc = yaml.safe_load(data_yaml(Path("/data/yolo"), ["Vehicle", "Pedestrian"]))
    assert doc == {
        "path": "/data/yolo",
        "train": "train.txt",
        "val": "val.txt",
        "nc": 2,
        "names": {0: "Vehicle", 1: "Pedestrian"},
    }


def test_class_index_table() -> None:
    index = traffic_sign_class_index()
    assert index["NotListed"] == 0 and index["Mandatory_PassOnEitherSide"] == 2
    assert len(index) >= 150


def test_crop_windows_hand_computed() -> None:
    boxes = np.array([[10.4, 20.6, 30.5, 41.5], [0.2, 5.0, 8.0, 9.0]], dtype=np.float32)
    windows, padding = crop_windows(boxes, (100, 50), padding_px=(5, 4))
    # rounded box 10, 21, 30 (half to even), 42 (41.5 -> 42)
    assert windows.tolist() == [[5, 17, 35, 46], [0, 1, 13, 13]]
    assert padding.tolist() == [[5, 4, 5, 4], [0, 4, 5, 4]]
    windows, padding = crop_windows(boxes, (100, 50), padding_factor=0.5)
    # pads: int(20.1 * .5) = 10, int(20.9 * .5) = 10; second box int(7.8*.5)=3, int(4*.5)=2
    assert windows.tolist() == [[0, 11, 40, 50], [0, 3, 11, 11]]
    assert padding.tolist() == [[10, 10, 10, 8], [0, 2, 3, 2]]


ORACLE = """
import json, sys
import numpy as np
from zod.data_classes.box import Box2D
from zod.constants import Camera
cases = json.load(open(sys.argv[1]))
image = np.zeros((2168, 3848, 3), dtype=np.uint8)
out = []
for c in cases:
    box = Box2D.from_points(c["corners"], Camera.FRONT)
    pad = None if c["px"] is None else tuple(c["px"])
    crop, padding = box.crop_from_image(image, padding=pad, padding_factor=c["factor"])
    out.append({"shape": list(crop.shape[:2]), "padding": [int(p) for p in padding]})
print(json.dumps(out))
"""


def test_crop_windows_equal_the_reference(tmp_path: Path, oracle_python: Path) -> None:
    rng = np.random.default_rng(5)
    cases = []
    for i in range(60):
        x0, y0 = rng.uniform(-5, 3840, 2)
        w, h = rng.uniform(1, 300, 2)
        corners = [[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]]
        mode = i % 3
        cases.append(
            {
                "corners": [[float(v) for v in c] for c in corners],
                "px": [int(rng.integers(0, 80)), int(rng.integers(0, 80))] if mode == 1 else None,
                "factor": float(rng.uniform(0, 1.5)) if mode == 2 else None,
            }
        )
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "oracle.py").write_text(ORACLE)
    out = subprocess.run(
        [str(oracle_python), "-I", str(tmp_path / "oracle.py"), str(tmp_path / "cases.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    reference = json.loads(out.stdout)
    for case, ref in zip(cases, reference):
        boxes = np.array(
            [np.min(case["corners"], 0).tolist() + np.max(case["corners"], 0).tolist()],
            dtype=np.float32,
        )
        windows, padding = crop_windows(boxes, (3848, 2168), case["px"], case["factor"])
        x0, y0, x1, y1 = windows[0]
        assert [max(0, y1 - y0), max(0, x1 - x0)] == ref["shape"]
        assert padding[0].tolist() == ref["padding"]
