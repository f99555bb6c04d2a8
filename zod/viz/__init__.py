"""Visualization of ZOD: camera overlays, bird's-eye view, 3D scenes (open3d) and videos.

- :mod:`zod.viz.image`: 2D/3D boxes, lidar by depth, masks, ego trajectory, labels on images
  (plus the reference devkit's helper names).
- :mod:`zod.viz.bev`: bird's-eye-view pictures of point clouds, boxes and the ego.
- :mod:`zod.viz.open3d_viz`: open3d scenes, offscreen rendering, ``.ply`` export.
- :mod:`zod.viz.video`: sequences to MP4 / GIF.
- :mod:`zod.viz.frame`: whole-frame renderers used by ``zod visualize``.

Pictures are RGB uint8 arrays (H, W, 3); :func:`zod.viz.colors.write_png` writes them.
"""

from __future__ import annotations

__all__: list[str] = []  # a package of modules: import them by name
