"""Annotation files and their parsers, by project (spec §11).

``AnnotationFile(filepath, project).read()`` returns the parsed annotations: a list of
``ObjectAnnotation`` / ``TrafficSignAnnotation`` / ``LaneAnnotation`` / ``EgoRoadAnnotation``,
or one ``RoadConditionAnnotation``. Every problem is a ``MissingFileError`` (``--annotations``)
or a ``FormatError`` naming the file.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from typing import Any

from zod._io import is_file
from zod.annotations._common import read_feature_list, read_json
from zod.annotations._polygons import polygons_of
from zod.annotations.ego_road import EgoRoadAnnotation
from zod.annotations.lanes import LaneAnnotation, parse_lane_annotation
from zod.annotations.object_decode import read_object_annotations
from zod.annotations.objects import ObjectAnnotation, object_annotations_from_features
from zod.annotations.road_condition import RoadConditionAnnotation
from zod.annotations.traffic_signs import TrafficSignAnnotation
from zod.constants import AnnotationProject
from zod.errors import FormatError
from zod.release import ANNOTATIONS, download_flag


def _parse_each(
    path: Any, features: list[dict[str, Any]], parse: Callable[[dict[str, Any]], Any], what: str
) -> list[Any]:
    out = []
    for i, feature in enumerate(features):
        try:
            out.append(parse(feature))
        except FormatError as err:
            raise FormatError(path, f"{what} {i}: {err.problem}") from None
        except (KeyError, TypeError, ValueError, IndexError) as err:
            problem = (
                f"missing key {err}"
                if isinstance(err, KeyError)
                else f"{type(err).__name__}: {err}"
            )
            raise FormatError(path, f"{what} {i}: {problem}") from None
    return out


def _drop_degenerate(path: Any, features: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    """Features whose geometry keeps an outline of >= 3 points; warns about the others."""
    kept = []
    for feature in features:
        try:
            ok = bool(polygons_of(feature["geometry"]))
        except (ValueError, TypeError) as err:
            raise FormatError(path, f"{what} with bad geometry: {err}") from None
        if ok:
            kept.append(feature)
    if len(kept) < len(features):
        warnings.warn(
            f"{path}: dropped {len(features) - len(kept)} {what}(s) whose polygons have "
            "fewer than 3 points",
            stacklevel=3,
        )
    return kept


def parse_object_detection_annotation(path: str | PathLike[str]) -> list[ObjectAnnotation]:
    """The objects of an ``object_detection.json``: the typed fast decoder
    (:mod:`zod.annotations.object_decode`), or the generic parse for what it does not read."""
    objects = read_object_annotations(path)
    if objects is not None:
        return objects
    features = read_feature_list(path, "object detection annotation")
    return object_annotations_from_features(features, path)


def parse_traffic_sign_annotation(path: str | PathLike[str]) -> list[TrafficSignAnnotation]:
    features = read_feature_list(path, "traffic sign annotation")
    return _parse_each(
        path, features, lambda f: TrafficSignAnnotation.from_dict(f, path), "traffic sign"
    )


def parse_lane_markings_annotation(path: str | PathLike[str]) -> list[LaneAnnotation]:
    features = _drop_degenerate(path, read_feature_list(path, "lane annotation"), "lane feature")
    return _parse_each(path, features, parse_lane_annotation, "lane feature")


def parse_ego_road_annotation(path: str | PathLike[str]) -> list[EgoRoadAnnotation]:
    features = read_feature_list(path, "ego road annotation")
    features = [f for f in features if "EgoRoad" in str(f["properties"].get("class", ""))]
    features = _drop_degenerate(path, features, "ego road polygon")
    return _parse_each(path, features, EgoRoadAnnotation.from_dict, "ego road polygon")


def parse_road_condition_annotation(path: str | PathLike[str]) -> RoadConditionAnnotation:
    data = read_json(path, "road condition annotation", download_flag(ANNOTATIONS))
    if not isinstance(data, dict):
        raise FormatError(
            path, f"expected a JSON object {{wetness, snow_coverage}}, got {type(data).__name__}"
        )
    try:
        return RoadConditionAnnotation.from_dict(data)
    except (KeyError, ValueError) as err:
        raise FormatError(path, f"road condition: {type(err).__name__}: {err}") from None


ANNOTATION_PARSERS: dict[AnnotationProject, Callable[[Any], Any]] = {
    AnnotationProject.OBJECT_DETECTION: parse_object_detection_annotation,
    AnnotationProject.LANE_MARKINGS: parse_lane_markings_annotation,
    AnnotationProject.TRAFFIC_SIGNS: parse_traffic_sign_annotation,
    AnnotationProject.EGO_ROAD: parse_ego_road_annotation,
    AnnotationProject.ROAD_CONDITION: parse_road_condition_annotation,
}


@dataclass
class AnnotationFile:
    """The annotation file of one project for one item."""

    filepath: str
    project: AnnotationProject

    def read(self) -> Any:
        """Read and parse the file (see the module docstring for the result type)."""
        return ANNOTATION_PARSERS[AnnotationProject(self.project)](self.filepath)

    def read_raw(self) -> Any:
        """The file's parsed JSON, unconverted."""
        return read_json(
            self.filepath,
            f"{AnnotationProject(self.project).value} annotation",
            download_flag(ANNOTATIONS),
        )

    @property
    def exists(self) -> bool:
        return is_file(self.filepath)
