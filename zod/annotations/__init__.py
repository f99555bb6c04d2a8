"""Annotation files of the five projects (spec §11) and their parsers.

Object features are read by one parse (``object_features.parse_object_features``) with one
class / subclass / unclear rule (``object_rules``); ``objects.ObjectAnnotation`` is built on it.
"""

from __future__ import annotations
