"""zod.eval.traffic_signs: hand-computed accuracy, precision/recall and confusion matrices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zod.errors import FormatError, MissingFileError
from zod.eval.traffic_signs import (
    evaluate_classification,
    evaluate_traffic_signs,
    known_class_names,
    read_predictions,
)


def test_known_classes_follow_the_tsv_index() -> None:
    names = known_class_names()
    assert len(names) == 156
    assert names[0] == "NotListed" and names[1] == "Indication_CameraSurveillance"
    assert "Priority_Stop" in names


def test_hand_computed_scores() -> None:
    labels = ["A", "B", "C"]
    y_true = ["A", "A", "A", "B", "B", "C"]
    y_pred = ["A", "A", "B", "B", "A", "C"]
    result = evaluate_classification(y_true, y_pred, labels)
    np.testing.assert_array_equal(result.confusion, [[2, 1, 0], [1, 1, 0], [0, 0, 1]])
    assert result.accuracy == pytest.approx(4 / 6)
    np.testing.assert_allclose(result.precision, [2 / 3, 1 / 2, 1.0])
    np.testing.assert_allclose(result.recall, [2 / 3, 1 / 2, 1.0])
    np.testing.assert_allclose(result.f1, [2 / 3, 1 / 2, 1.0])
    assert result.macro()["recall"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    data = result.to_dict()
    assert data["confusion"]["labels"] == labels
    assert data["per_class"]["B"] == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "support": 2,
        "predicted": 2,
        "missing": 0,
    }


def test_missing_predictions_are_wrong_and_unknown_names_become_classes() -> None:
    y_true = ["Priority_Stop", "Priority_Stop", "SomeNewSign", "Priority_GiveWay"]
    y_pred = ["Priority_Stop", None, "SomeNewSign", "Priority_Stop"]
    result = evaluate_classification(y_true, y_pred)
    assert result.class_names[-1] == "SomeNewSign" and len(result.class_names) == 157
    assert result.accuracy == pytest.approx(2 / 4)
    stop = result.class_names.index("Priority_Stop")
    assert result.support[stop] == 2 and result.missing_per_class[stop] == 1
    assert result.recall[stop] == pytest.approx(0.5)
    assert result.precision[stop] == pytest.approx(0.5)  # one of two "stop" answers is right
    give_way = result.class_names.index("Priority_GiveWay")
    assert result.precision[give_way] == 0.0 and result.recall[give_way] == 0.0
    # only the 4 classes that occur are reported
    assert sorted(result.to_dict()["per_class"]) == sorted(
        ["Priority_Stop", "SomeNewSign", "Priority_GiveWay"]
    )


def test_uuid_matching_counts_unmatched_predictions() -> None:
    gt = {"u1": "Priority_Stop", "u2": "Priority_GiveWay", "u3": "NotListed"}
    preds = {"u1": "Priority_Stop", "u3": "Priority_Stop", "stray": "NotListed"}
    result = evaluate_traffic_signs(gt, preds)
    assert result.accuracy == pytest.approx(1 / 3)
    assert result.num_unmatched_predictions == 1
    assert int(result.missing_per_class.sum()) == 1
    assert "accuracy: 0.3333" in result.table()


def test_prediction_files_names_indices_and_frame_nesting(tmp_path: Path) -> None:
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"results": {"u1": "Priority_Stop", "u2": 0}}))
    assert read_predictions(flat) == {"u1": "Priority_Stop", "u2": "NotListed"}
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"009158": {"u1": 19}, "009159": {"u2": "Warning_Slippery"}}))
    names = known_class_names()
    assert read_predictions(nested) == {"u1": names[19], "u2": "Warning_Slippery"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"u1": 999}))
    with pytest.raises(FormatError, match="out of range"):
        read_predictions(bad)
    with pytest.raises(MissingFileError):
        read_predictions(tmp_path / "absent.json")


def test_result_json(tmp_path: Path) -> None:
    result = evaluate_classification(["A", "B"], ["A", "A"], ["A", "B"])
    path = result.write_json(tmp_path / "tsr.json")
    data = json.loads(path.read_text())
    assert data["accuracy"] == 0.5
    assert data["confusion"]["matrix"] == [[1, 0], [1, 0]]


def test_confusion_picture_colours_follow_row_fractions() -> None:
    from zod.eval.traffic_signs import (
        CONFUSION_MARGIN_LEFT,
        CONFUSION_MARGIN_TOP,
        draw_confusion,
    )
    from zod.viz.colors import apply_colormap

    y_true = ["A"] * 4 + ["B"] * 2
    y_pred = ["A", "A", "A", "B", "B", "B"]
    result = evaluate_classification(y_true, y_pred, ["A", "B"])
    cell = 28
    image = draw_confusion(result, cell_px=cell)
    top, left = CONFUSION_MARGIN_TOP, CONFUSION_MARGIN_LEFT

    def cell_colour(i: int, j: int) -> np.ndarray:
        return image[top + i * cell + 2, left + j * cell + 2].astype(int)

    for (i, j), fraction in {(0, 0): 0.75, (0, 1): 0.25, (1, 0): 0.0, (1, 1): 1.0}.items():
        expected = apply_colormap(np.array([fraction]), "viridis")[0].astype(int)
        assert np.abs(cell_colour(i, j) - expected).max() <= 1, (i, j)
    assert image.shape == (top + 2 * cell + 10, left + 2 * cell + 10, 3)
