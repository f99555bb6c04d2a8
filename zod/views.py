"""Pinhole views on frames and sequences: the key image rectified, points projected (mixin).

Mixed into ``ZodFrame`` and ``ZodSequence`` (through their common base): every item has a
``calibration`` and a key image, and :mod:`zod.geometry.pinhole` does the maths. A view at
``scale`` s (1, 1/2, 1/4, 1/8) is the image decoded at s and rectified into ``view.scaled(s)``
(same direction and field of view, s times the pixels; its ``intrinsics`` are exact for that
image), so a small view costs a small decode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from zod.constants import Anonymization, Lidar

if TYPE_CHECKING:
    from zod.calibration import Calibration
    from zod.geometry.pinhole import PinholeView, ViewProjection

__all__ = ["ViewMixin", "scaled_view"]


def scaled_view(view: PinholeView, scale: float = 1) -> PinholeView:
    """The view an image decoded at ``scale`` is rectified into: ``view`` itself at 1."""
    return view if float(scale) == 1.0 else view.scaled(float(scale))


class ViewMixin:
    """Images and 3D -> 2D projections in a :class:`~zod.geometry.pinhole.PinholeView`."""

    if TYPE_CHECKING:

        @property
        def calibration(self) -> Calibration: ...

        def get_image(
            self, anonymization: Anonymization = Anonymization.BLUR, scale: float = 1
        ) -> np.ndarray: ...

    def get_view_image(
        self,
        view: PinholeView,
        anonymization: Anonymization = Anonymization.BLUR,
        scale: float = 1,
        interpolation: int | None = None,
    ) -> np.ndarray:
        """The key image rectified into ``view`` (at ``scale``: ``view.scaled(scale)``), RGB
        uint8 (H, W, 3); ``interpolation`` a cv2 flag (default bilinear)."""
        return self.to_view(self.get_image(anonymization, scale), view, scale, interpolation)

    def to_view(
        self,
        image: np.ndarray,
        view: PinholeView,
        scale: float | None = None,
        interpolation: int | None = None,
    ) -> np.ndarray:
        """Any front-camera image of this item (H', W'[, C]: e.g. a sequence's camera frames,
        ``frame.read(scale)``) rectified into ``view``, scaled like the image (its scale is
        inferred for the 1, 1/2, 1/4, 1/8 decodes unless given)."""
        import cv2

        from zod.geometry import pinhole

        s = pinhole.image_scale(image.shape, self.calibration) if scale is None else scale
        flag = cv2.INTER_LINEAR if interpolation is None else interpolation
        return pinhole.rectify(image, self.calibration, scaled_view(view, s), flag, scale=s)

    def project_to_view(
        self, points: np.ndarray, view: PinholeView, from_frame: Any = Lidar.VELODYNE
    ) -> ViewProjection:
        """Points (N, 3) in ``from_frame`` (lidar by default, ``EGO``, a radar...) projected into
        ``view`` (its full size; ``view.scaled(s)`` for a scaled image):
        :class:`~zod.geometry.pinhole.ViewProjection` (pixels, depth_m, in_front, in_image)."""
        from zod.geometry.pinhole import points_to_view

        return points_to_view(points, self.calibration, view, from_frame)

    def view_intrinsics(self, view: PinholeView, scale: float = 1) -> np.ndarray:
        """K (3, 3) of ``get_view_image(view, scale=scale)``: exact, a perfect pinhole."""
        return scaled_view(view, scale).intrinsics
