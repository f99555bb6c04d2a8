"""Key case of the JSON files (spec §2): snake_case and camelCase spellings of one key.

The index, the info objects and the JSON sidecars were written by a dataclass serializer;
copies in the wild use either case. Readers convert to snake_case with these helpers.
"""

from __future__ import annotations

from typing import Any


def snake_case(key: str) -> str:
    """``keyframeTime`` -> ``keyframe_time`` (snake_case keys pass through unchanged)."""
    if key.islower() or not any(c.isupper() for c in key):
        return key
    out = []
    for i, c in enumerate(key):
        if c.isupper():
            if i and key[i - 1] != "_":
                out.append("_")
            out.append(c.lower())
        else:
            out.append(c)
    return "".join(out)


def camel_case(key: str) -> str:
    """``keyframe_time`` -> ``keyframeTime``."""
    head, *rest = key.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def has_upper_keys(keys: Any) -> bool:
    """Whether any of the keys (an iterable of str, e.g. a dict) is not all lower case."""
    return any(not k.islower() and k != k.lower() for k in keys)


def snake_keys(obj: Any) -> Any:
    """A copy of parsed JSON with every dict key in snake_case (camelCase keys converted).

    ``obj`` is any parsed JSON value (dicts and lists are copied, other values returned as is).
    """
    if isinstance(obj, dict):
        return {snake_case(k): snake_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [snake_keys(v) for v in obj]
    return obj
