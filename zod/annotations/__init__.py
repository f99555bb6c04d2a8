"""Annotation files of the five projects (spec §11) and their parsers."""

from __future__ import annotations
