"""3D scenes with open3d: point clouds and box line sets, rendered offscreen, shown, or exported.

- :func:`render_offscreen` draws a scene into an RGB array without a display (open3d's
  Filament renderer). On a headless Linux machine it runs on the software Vulkan driver
  (Debian ``libvulkan1`` + ``mesa-vulkan-drivers``: llvmpipe), installed by
  ``scripts/setup.sh``; without them open3d fails with "Failed to load vulkan library" and
  :class:`OffscreenUnavailableError` says so.
- :func:`show` opens an interactive window when a display exists (``$DISPLAY`` /
  ``$WAYLAND_DISPLAY``).
- :func:`export_ply` writes the points (``<name>.ply``) and the boxes as a line set
  (``<name>_boxes.ply``) for any viewer (MeshLab, CloudCompare, open3d).

open3d is an optional extra (``pip install 'zod-devkit[viz3d]'``); it is imported only when a
function here needs it. The geometry (box line indices, colours) is plain numpy.
Box line sets use the corner order of ``zod.geometry.box`` and the 12 edges ``BOX_EDGES``.
:class:`Viz3D` is the reference devkit's class name (a plotly/dash app there, open3d here).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from zod._atomic import atomic_path
from zod.errors import ZodError
from zod.viz.colors import apply_colormap, class_colors
from zod.viz.image import BOX_EDGES, _as_corners

__all__ = [
    "OffscreenUnavailableError",
    "Viz3D",
    "box_line_set",
    "box_lines",
    "default_camera",
    "export_ply",
    "has_display",
    "point_cloud",
    "point_colors",
    "render_offscreen",
    "scene_geometries",
    "show",
    "top_camera",
]


class OffscreenUnavailableError(ZodError, RuntimeError):
    """open3d cannot render offscreen on this machine (no Vulkan/EGL driver)."""


def _o3d() -> Any:
    try:
        import open3d
    except ImportError as exc:
        raise ImportError(
            "3D visualization needs open3d: pip install 'zod-devkit[viz3d]' "
            f"(import failed: {exc}; on Debian open3d also needs the libusb-1.0-0 package)"
        ) from exc
    return open3d


# ---------------------------------------------------------------------------- pure geometry
def box_lines(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N*8, 3) and line indices (N*12, 2) of the box edges of corners (N, 8, 3)."""
    c = np.asarray(corners, dtype=np.float64).reshape(-1, 8, 3)
    offsets = (np.arange(c.shape[0]) * 8)[:, None, None]
    lines = (BOX_EDGES[None, :, :] + offsets).reshape(-1, 2)
    return c.reshape(-1, 3), lines.astype(np.int32)


def point_colors(
    points: np.ndarray,
    color_by: str = "height",
    values: np.ndarray | None = None,
    value_range: tuple[float, float] | None = None,
    colormap: str = "turbo",
) -> np.ndarray:
    """RGB uint8 colours (N, 3) of points (N, 3+) by height (z), intensity (4th column or
    ``values``) or distance from the origin."""
    pts = np.asarray(points, dtype=np.float64)
    if color_by == "height":
        vals, default = pts[:, 2], (-2.5, 3.0)
    elif color_by == "intensity":
        vals, default = (
            (np.asarray(values, dtype=np.float64) if values is not None else pts[:, 3]),
            (0.0, 255.0),
        )
    elif color_by == "distance":
        vals, default = np.linalg.norm(pts[:, :3], axis=1), (0.0, 80.0)
    else:
        raise ValueError(f"color_by must be 'height', 'intensity' or 'distance', not {color_by!r}")
    lo, hi = value_range or default
    return apply_colormap((vals - lo) / max(hi - lo, 1e-9), colormap)


def point_cloud(points: np.ndarray, colors: np.ndarray | None = None) -> Any:
    """An ``open3d.geometry.PointCloud`` of points (N, 3+) with RGB uint8 colours (N, 3)."""
    o3d = _o3d()
    pcd = o3d.geometry.PointCloud(
        o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64)[:, :3])
    )
    if colors is not None:
        pcd.colors = o3d.utility.Vector3dVector(np.asarray(colors, dtype=np.float64)[:, :3] / 255.0)
    return pcd


def box_line_set(boxes: Any, colors: Any = (0, 200, 255)) -> Any:
    """An ``open3d.geometry.LineSet`` of the 12 edges of each box (Box3DSet, Box3D list or
    corners (N, 8, 3)); ``colors`` one RGB colour or (N, 3), one per box."""
    o3d = _o3d()
    vertices, lines = box_lines(_as_corners(boxes))
    n_boxes = vertices.shape[0] // 8
    cols = np.asarray(colors, dtype=np.float64)
    cols = np.tile(cols[:3], (n_boxes, 1)) if cols.ndim == 1 else cols[:, :3]
    ls = o3d.geometry.LineSet(
        o3d.utility.Vector3dVector(vertices), o3d.utility.Vector2iVector(lines)
    )
    ls.colors = o3d.utility.Vector3dVector(np.repeat(cols / 255.0, 12, axis=0))
    return ls


def scene_geometries(
    points: np.ndarray | Sequence[np.ndarray] | None,
    colors: np.ndarray | Sequence[np.ndarray] | None = None,
    boxes: Any = None,
    box_colors: Any = None,
    box_classes: Sequence[str] | None = None,
    color_by: str = "height",
) -> list[Any]:
    """Point cloud(s) and a box line set as open3d geometries.

    ``points``: one cloud (N, 3+) or a list of clouds (e.g. several scans); colours default to
    ``point_colors(color_by)``. Box colours default to the class colours of ``box_classes``.
    """
    geoms = []
    clouds = (
        [] if points is None else ([points] if isinstance(points, np.ndarray) else list(points))
    )
    color_list = [colors] if (colors is None or isinstance(colors, np.ndarray)) else list(colors)
    for i, cloud in enumerate(clouds):
        col = (
            color_list[i]
            if i < len(color_list) and color_list[i] is not None
            else point_colors(cloud, color_by)
        )
        geoms.append(point_cloud(cloud, col))
    if boxes is not None and _as_corners(boxes).shape[0]:
        if box_colors is None and box_classes is not None:
            box_colors = class_colors(list(box_classes))
        geoms.append(box_line_set(boxes, (0, 200, 255) if box_colors is None else box_colors))
    return geoms


# ---------------------------------------------------------------------------- rendering
def default_camera(forward_axis: int = 0) -> dict[str, np.ndarray]:
    """A chase view of a scene in a frame whose ``forward_axis`` points ahead (ego: x, lidar: y):
    eye 15 m behind and 12 m above the origin, looking at a point 25 m ahead, z up."""
    fwd = np.zeros(3)
    fwd[forward_axis] = 1.0
    return {
        "eye": -15.0 * fwd + np.array([0, 0, 12.0]),
        "center": 25.0 * fwd,
        "up": np.array([0, 0, 1.0]),
    }


def top_camera(
    forward_axis: int = 0, ahead_m: float = 25.0, height_m: float = 90.0
) -> dict[str, np.ndarray]:
    """A view from straight above a point ``ahead_m`` in front of the origin, forward = up in
    the picture, left = left (a 3D bird's-eye view)."""
    fwd = np.zeros(3)
    fwd[forward_axis] = 1.0
    return {"eye": ahead_m * fwd + np.array([0, 0, height_m]), "center": ahead_m * fwd, "up": fwd}


def render_offscreen(
    geometries: Sequence[Any],
    width: int = 1280,
    height: int = 720,
    eye: Sequence[float] | None = None,
    center: Sequence[float] | None = None,
    up: Sequence[float] = (0.0, 0.0, 1.0),
    fov_deg: float = 60.0,
    background: Sequence[float] = (0, 0, 0),
    point_size: float = 2.0,
    line_width: float = 2.0,
) -> np.ndarray:
    """Render open3d geometries without a display: RGB uint8 (height, width, 3).

    Camera: perspective ``fov_deg`` (vertical), at ``eye`` looking at ``center`` (default:
    :func:`default_camera` of an ego-frame scene). Raises :class:`OffscreenUnavailableError`
    when the machine has no usable renderer.
    """
    o3d = _o3d()
    rendering = o3d.visualization.rendering
    try:
        with _quiet_native_output():  # Filament prints its engine set-up to the process's stdout
            renderer = rendering.OffscreenRenderer(int(width), int(height))
    except RuntimeError as exc:
        raise OffscreenUnavailableError(
            f"open3d offscreen rendering is not available here ({exc}). On headless Debian/Ubuntu "
            "install libvulkan1 and mesa-vulkan-drivers (software Vulkan); use export_ply meanwhile"
        ) from exc
    try:
        scene = renderer.scene
        # no tone mapping: unlit colours come out as given (the default filmic curve darkens them)
        grading = rendering.ColorGrading(
            rendering.ColorGrading.Quality.HIGH, rendering.ColorGrading.ToneMapping.LINEAR
        )
        scene.view.set_color_grading(grading)
        scene.set_background(
            np.array([*(np.asarray(background, dtype=np.float64)[:3] / 255.0), 1.0])
        )
        for i, geom in enumerate(geometries):
            geom = _linear_colour_copy(geom)
            material = rendering.MaterialRecord()
            if isinstance(geom, o3d.geometry.LineSet):
                material.shader = "unlitLine"
                material.line_width = float(line_width)
            else:
                material.shader = "defaultUnlit"
                material.point_size = float(point_size)
            scene.add_geometry(f"geometry{i}", geom, material)
        cam = default_camera()
        renderer.setup_camera(
            float(fov_deg),
            np.asarray(cam["center"] if center is None else center, dtype=np.float32).reshape(3, 1),
            np.asarray(cam["eye"] if eye is None else eye, dtype=np.float32).reshape(3, 1),
            np.asarray(up, dtype=np.float32).reshape(3, 1),
        )
        image = np.asarray(renderer.render_to_image())
    finally:
        del renderer
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8)


def _linear_colour_copy(geom: Any) -> Any:
    """A copy of a point cloud / line set with its sRGB colours made linear.

    The renderer treats colours as linear light and encodes the picture as sRGB, so sRGB input
    would come out washed out ((48, 18, 59) as (128, 70, 145)); files (.ply) keep sRGB.
    """
    if not (hasattr(geom, "colors") and hasattr(geom, "has_colors") and geom.has_colors()):
        return geom
    srgb = np.asarray(geom.colors, dtype=np.float64)
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    clone = type(geom)(geom)
    clone.colors = _o3d().utility.Vector3dVector(linear)
    return clone


@contextlib.contextmanager
def _quiet_native_output() -> Iterator[None]:
    """Silence what native code writes to file descriptors 1 and 2 (ZOD_VIZ_VERBOSE=1 keeps it)."""
    if os.environ.get("ZOD_VIZ_VERBOSE"):
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _write_atomic(path: Path, write: Any) -> None:
    """Write with ``write(tmp_path) -> bool`` to a temp name with the same suffix, then rename."""
    with atomic_path(path) as tmp:
        if not write(str(tmp)):
            raise OSError(f"open3d could not write {path}")


def export_ply(
    path: str | PathLike[str],
    points: np.ndarray,
    colors: np.ndarray | None = None,
    boxes: Any = None,
    box_colors: Any = None,
) -> list[Path]:
    """Write points (N, 3+) with colours (N, 3) to ``path`` (.ply) and the boxes' line set to
    ``<stem>_boxes.ply``; returns the paths written (atomic writes)."""
    o3d = _o3d()
    out = Path(path)
    if out.suffix.lower() != ".ply":
        raise ValueError(f"export_ply writes .ply files, not {out.name}")
    pcd = point_cloud(points, point_colors(points) if colors is None else colors)
    _write_atomic(out, lambda tmp: o3d.io.write_point_cloud(tmp, pcd, write_ascii=False))
    written = [out]
    if boxes is not None and _as_corners(boxes).shape[0]:
        line_set = box_line_set(boxes, (0, 200, 255) if box_colors is None else box_colors)
        box_path = out.with_name(out.stem + "_boxes.ply")
        _write_atomic(box_path, lambda tmp: o3d.io.write_line_set(tmp, line_set, write_ascii=True))
        written.append(box_path)
    return written


def has_display() -> bool:
    """Whether an interactive window can be opened (an X11 or Wayland display is set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def show(geometries: Sequence[Any], title: str = "zod") -> None:
    """Open an interactive open3d window (needs a display; see :func:`has_display`)."""
    if not has_display():
        raise RuntimeError("no display: use render_offscreen (PNG) or export_ply instead of show")
    _o3d().visualization.draw_geometries(list(geometries), window_name=title)


# ---------------------------------------------------------------------------- reference API
class Viz3D:
    """Reference-compatible 3D viewer: ``add_pointcloud``, ``add_zod_annotations``, ``show``.

    The reference serves a plotly figure through a dash web app; this one collects open3d
    geometries and ``show()`` opens a window when a display exists, otherwise renders
    offscreen to ``viz3d.png`` (or ``path``). ``render()`` returns the picture, ``save_ply()``
    exports. Coordinates are used as given (the reference's example passes lidar points).
    """

    def __init__(self) -> None:
        self.clouds: list[tuple[np.ndarray, np.ndarray]] = []
        self.corners = np.zeros((0, 8, 3))
        self.box_classes: list[str] = []

    def add_pointcloud(self, x: Any, y: Any, z: Any, intensity: Any) -> None:
        """Add points (coordinates (N,) each), coloured by intensity (viridis, the reference's)."""
        pts = np.stack([np.asarray(x), np.asarray(y), np.asarray(z)], axis=1).astype(np.float64)
        inten = np.asarray(intensity, dtype=np.float64).reshape(-1)
        span = float(inten.max() - inten.min()) if inten.size else 0.0
        self.clouds.append(
            (
                pts,
                apply_colormap((inten - inten.min()) / span if span > 0 else inten * 0, "viridis"),
            )
        )

    def add_zod_annotations(self, objects: tuple[Any, Any, Any, Any]) -> None:
        """Add boxes: class names (M,), centres (M, 3), sizes L, W, H (M, 3), Quaternions (M,)."""
        from zod.geometry.box import UNIT_CORNERS
        from zod.geometry.transforms import rotation_matrices_from_quaternions

        names, centres, sizes, rotations = objects
        centres = np.asarray(centres, dtype=np.float64).reshape(-1, 3)
        sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 3)
        quats = np.array([getattr(r, "q", r) for r in rotations], dtype=np.float64).reshape(-1, 4)
        rot = rotation_matrices_from_quaternions(quats)
        corners = (
            np.einsum("mij,mkj->mki", rot, UNIT_CORNERS[None] * sizes[:, None, :])
            + centres[:, None]
        )
        self.corners = np.concatenate([self.corners, corners])
        self.box_classes += [str(n) for n in names]

    def geometries(self) -> list[Any]:
        return scene_geometries(
            [c for c, _ in self.clouds] or None,
            [col for _, col in self.clouds],
            self.corners if len(self.corners) else None,
            box_classes=self.box_classes,
        )

    def render(self, width: int = 1280, height: int = 720, **camera: Any) -> np.ndarray:
        """Offscreen picture (height, width, 3) of the scene (lidar frame view: forward = y)."""
        camera = {**default_camera(forward_axis=1), **camera}
        return render_offscreen(self.geometries(), width, height, **camera)

    def save_ply(self, path: str | PathLike[str]) -> list[Path]:
        pts = np.concatenate([c for c, _ in self.clouds]) if self.clouds else np.zeros((0, 3))
        cols = (
            np.concatenate([col for _, col in self.clouds])
            if self.clouds
            else np.zeros((0, 3), np.uint8)
        )
        return export_ply(
            path,
            pts,
            cols,
            self.corners if len(self.corners) else None,
            class_colors(self.box_classes),
        )

    def show(self, path: str | PathLike[str] = "viz3d.png") -> np.ndarray | None:
        """Interactive window with a display; else an offscreen PNG at ``path`` (also returned)."""
        if has_display():
            show(self.geometries(), "Zenseact Open Dataset")
            return None
        from zod.viz.colors import write_png

        picture = self.render()
        write_png(path, picture)
        return picture
