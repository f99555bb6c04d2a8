"""The rule of spec §11 that turns an object feature into class, subclass and unclear flag.

It lives here, once (the parse into arrays, :mod:`zod.annotations.object_features`, and COCO's
decoders, :mod:`zod.converters.coco_decode`, call these functions; this module is light: no
geometry, for the converters' start-up):

- the type is ``type``, in older files ``object_type`` (the first of the two keys present):
  :func:`resolve_types`;
- class ``Inconclusive`` reads as class ``Unclear``; class or type ``Inconclusive`` makes the
  object unclear: :func:`classes_and_unclear`;
- every flag (``unclear``, ``artificial``, ``with_rider``, ``emergency``,
  ``traffic_content_visible``) is read by :func:`zod.annotations._common.to_bool` (bools, the
  strings ``"True"``/``"False"``/``"1"``/``"0"`` in any case; None stays None); any other value
  is a ``FormatError``: :func:`flag_column`;
- the subclass follows the ordered rules of spec §11: :func:`object_subclass`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from zod.annotations._common import to_bool
from zod.annotations.classes import CLASSES_WITH_SUBCLASSES, INCONCLUSIVE
from zod.errors import FormatError

__all__ = [
    "FLAG_KEYS",
    "UNCLEAR",
    "classes_and_unclear",
    "classes_and_unclear_from_features",
    "classes_types_unclear",
    "flag_column",
    "object_subclass",
    "object_subclasses",
    "properties_of",
    "resolve_types",
    "types_of",
]

UNCLEAR = "Unclear"
"""The class an ``Inconclusive`` object is read as, and the subclass of every unclear object."""

FLAG_KEYS = ("artificial", "with_rider", "emergency", "traffic_content_visible")
"""The boolean properties that choose a subclass (read by ``to_bool``)."""

_NO_KEY = object()  # a property key that is absent (not the same as a null value)
_PLAIN_FLAG_TYPES = {bool, type(None)}


def object_subclass(
    name: str,
    unclear: bool,
    object_type: str | None = None,
    artificial: bool | None = None,
    with_rider: bool | None = None,
    emergency: bool | None = None,
    traffic_content_visible: bool | None = None,
) -> str:
    """The reference devkit's subclass of one object, by the ordered rules of spec §11.

    Takes parsed values (class after the ``Inconclusive`` rule, flags after ``to_bool``).
    """
    if unclear:
        return UNCLEAR
    if name not in CLASSES_WITH_SUBCLASSES:
        return name
    if artificial is True:
        return f"{name}_Artificial"
    if traffic_content_visible is not None:
        return f"{name}_{'Front' if traffic_content_visible else 'Back'}"
    if with_rider is False:
        return f"{name}_NoRider"
    if emergency is True and name == "Vehicle":
        return f"{name}_Emergency"
    if object_type is not None:
        return f"{name}_{object_type}"
    return f"{name}_Other"  # the reference raises here; no rule applies, so "Other"


def object_subclasses(
    classes: Sequence[str],
    unclear: Sequence[bool],
    types: Sequence[str | None],
    flags: Mapping[str, Sequence[bool | None]],
) -> list[str]:
    """:func:`object_subclass` of each object; ``flags`` maps each of ``FLAG_KEYS`` to a column."""
    columns = [flags[key] for key in FLAG_KEYS]
    return [
        object_subclass(name, bool(is_unclear), kind, *values)
        for name, is_unclear, kind, *values in zip(classes, unclear, types, *columns)
    ]


def flag_column(values: Sequence[Any], key: str, source: Any = None) -> list[bool | None]:
    """``to_bool`` of each value of the flag ``key``; ``FormatError`` for a value it cannot read."""
    if set(map(type, values)) <= _PLAIN_FLAG_TYPES:  # bools and None: as they are (C speed)
        return list(values)
    out: list[bool | None] = []
    for value in values:
        try:
            out.append(to_bool(value))
        except ValueError:
            raise FormatError(
                source, f"object property {key!r} is not a boolean: {value!r}"
            ) from None
    return out


def resolve_types(
    types: Sequence[Any], object_types: Sequence[Any], missing: Any = _NO_KEY
) -> list[Any]:
    """The type of each object: its ``type``, or where that key is absent (given as
    ``missing``) the older ``object_type`` (absent too: None)."""
    if missing not in types:  # every object has ``type`` (C-speed identity scan)
        return list(types)
    if list(object_types).count(missing) == len(object_types):  # no older key anywhere
        return [None if kind is missing else kind for kind in types]
    return [
        (None if older is missing else older) if kind is missing else kind
        for kind, older in zip(types, object_types)
    ]


def classes_and_unclear(
    classes: Sequence[Any], types: Sequence[Any], unclear: Sequence[Any], source: Any = None
) -> tuple[list[str], list[bool]]:
    """The class and unclear rule on raw columns: class names (N,) as in the file, types (N,)
    (after :func:`resolve_types`) and raw ``unclear`` values (N,) (absent: False).

    Returns the classes (``Inconclusive`` -> ``Unclear``) and the unclear flags (the flag, or
    class or type ``Inconclusive``). ``FormatError`` naming ``source`` for a class that is not
    a string or an ``unclear`` value that is not a boolean.
    """
    if not set(map(type, classes)) <= {str} and not all(isinstance(c, str) for c in classes):
        bad = next(name for name in classes if not isinstance(name, str))
        raise FormatError(source, f"object class is not a string: {bad!r}")
    flags = flag_column(unclear, "unclear", source)
    is_unclear = [
        flag is True or name == INCONCLUSIVE or kind == INCONCLUSIVE
        for flag, name, kind in zip(flags, classes, types)
    ]
    return [UNCLEAR if name == INCONCLUSIVE else name for name in classes], is_unclear


def properties_of(features: Sequence[Mapping[str, Any]], source: Any) -> list[dict[str, Any]]:
    """The ``properties`` object of each feature (``FormatError`` if one has none)."""
    try:
        props = [feature["properties"] for feature in features]
    except (KeyError, TypeError) as err:
        raise FormatError(source, f"object feature without properties: {err!r}") from None
    if not all(isinstance(p, dict) for p in props):
        raise FormatError(source, "object feature whose properties are not an object")
    return props


def types_of(props: Sequence[dict[str, Any]]) -> list[Any]:
    """The type of each object from its properties (:func:`resolve_types`)."""
    return resolve_types(
        [p.get("type", _NO_KEY) for p in props], [p.get("object_type", _NO_KEY) for p in props]
    )


def classes_types_unclear(
    props: Sequence[dict[str, Any]], source: Any = None
) -> tuple[list[str], list[Any], list[bool]]:
    """Classes, types and unclear flags of objects from their properties (the rule above);
    ``FormatError`` naming ``source`` for an object without a class."""
    try:
        raw_classes = [p["class"] for p in props]
    except KeyError:
        raise FormatError(source, "object feature without a 'class'") from None
    types = types_of(props)
    classes, unclear = classes_and_unclear(
        raw_classes, types, [p.get("unclear", False) for p in props], source
    )
    return classes, types, unclear


def classes_and_unclear_from_features(
    features: Sequence[Mapping[str, Any]], source: Any = None
) -> tuple[list[str], list[bool]]:
    """Classes and unclear flags of raw object features (only what the rule needs)."""
    classes, _, unclear = classes_types_unclear(properties_of(features, source), source)
    return classes, unclear
