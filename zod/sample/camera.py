"""Drawing the front camera image of the simulated scene (spec section 9).

The picture is made of: a background computed per pixel at 1/8 resolution (sky, grass, asphalt
of the road, by casting each pixel's ray onto the ground plane), the annotated road markings
(filled polygons, exactly the polygons of the lane annotation) and the objects, each face of each
3D box filled with its class colour after projecting a grid of points on it through the
Kannala-Brandt model (``zod.geometry.fisheye``), far objects first. The 2D box of an object is
the bounds of the projection of its surface, clipped to the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from zod.geometry.fisheye import project_to_image, unproject
from zod.geometry.transforms import invert_transforms
from zod.sample.rig import SensorRig
from zod.sample.scene import ROAD_HALF_WIDTH_M, Road, SceneObjects, Trajectory

_GRID = 7  # points per face edge
_BACKGROUND_SCALE = 8
_SIGN_BACK_RGB = np.array([140, 140, 145], dtype=np.float64)

# unit box faces: (6, G*G, 3) sample points and (6, 3) outward normals, box frame / size
_lin = np.linspace(-0.5, 0.5, _GRID)
_a, _b = np.meshgrid(_lin, _lin, indexing="ij")
_faces = []
_normals = []
for _axis in range(3):
    for _sign in (1.0, -1.0):
        _others = [i for i in range(3) if i != _axis]
        _pts = np.zeros((_GRID * _GRID, 3))
        _pts[:, _axis] = 0.5 * _sign
        _pts[:, _others[0]] = _a.ravel()
        _pts[:, _others[1]] = _b.ravel()
        _faces.append(_pts)
        _n = np.zeros(3)
        _n[_axis] = _sign
        _normals.append(_n)
UNIT_FACES = np.stack(_faces)  # face 0 is +x (the object's front)
UNIT_NORMALS = np.stack(_normals)
_SHADE = np.array(
    [1.0, 0.75, 0.85, 0.8, 1.1, 0.6]
)  # per face: front, back, left, right, top, bottom


def world_from_camera(rig: SensorRig, trajectory: Trajectory, time_s: float) -> np.ndarray:
    """(4, 4) camera pose in the world at an epoch time."""
    return trajectory.world_from_ego(np.array([time_s]))[0] @ rig.ego_from_camera


def project_world(
    rig: SensorRig, camera_from_world: np.ndarray, points_world: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """World points (N, 3) -> pixels (N, 2) (NaN where not projectable) and mask (N,) of valid ones.

    Valid: in front of the camera (z > 0.05 m) and within the monotonic range of the model; the
    pixel may lie outside the image (polygons are clipped by the caller).
    """
    pts = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
    pts_cam = pts @ camera_from_world[:3, :3].T + camera_from_world[:3, 3]
    proj = project_to_image(pts_cam, rig.intrinsics, rig.distortion)
    mask = proj.mask & (pts_cam[:, 2] > 0.05)
    pixels = np.full((pts.shape[0], 2), np.nan)
    pixels[proj.mask] = proj.pixels
    pixels[~mask] = np.nan
    return pixels, mask


@dataclass
class ObjectView:
    """How one box looks in one image."""

    box2d: np.ndarray | None  # (4,) x1, y1, x2, y2 clipped to the image, None if not visible
    visible_fraction: float  # share of its projected area not hidden by nearer objects
    front_visible: bool  # the object's +x face (its front / sign content) faces the camera
    depth_m: float  # distance of the box centre from the camera


_RAY_CACHE: dict[bytes, np.ndarray] = {}


def _pixel_rays(rig: SensorRig) -> np.ndarray:
    """Camera-frame unit rays (h*w, 3) of the pixel centres of the 1/8-resolution grid (cached)."""
    key = rig.intrinsics.tobytes() + rig.distortion.tobytes() + np.asarray(rig.image_size).tobytes()
    if key not in _RAY_CACHE:
        width, height = rig.image_size
        w_small, h_small = width // _BACKGROUND_SCALE, height // _BACKGROUND_SCALE
        us = (np.arange(w_small) + 0.5) * width / w_small - 0.5
        vs = (np.arange(h_small) + 0.5) * height / h_small - 0.5
        uu, vv = np.meshgrid(us, vs)
        pixels = np.stack([uu.ravel(), vv.ravel()], axis=1)
        _RAY_CACHE[key] = unproject(
            pixels, rig.intrinsics, None, 1.0, distortion=rig.distortion, exact=True
        )
    return _RAY_CACHE[key]


def _background(rig: SensorRig, world_from_cam: np.ndarray, road: Road) -> np.ndarray:
    """Sky / grass / asphalt per pixel (H, W, 3) uint8 RGB, computed at 1/8 resolution."""
    width, height = rig.image_size
    w_small, h_small = width // _BACKGROUND_SCALE, height // _BACKGROUND_SCALE
    rays_cam = _pixel_rays(rig)
    rays_world = rays_cam @ world_from_cam[:3, :3].T
    origin = world_from_cam[:3, 3]
    dz = rays_world[:, 2]
    elevation = np.arcsin(np.clip(dz, -1.0, 1.0))
    sky_t = np.clip(elevation / np.deg2rad(40.0), 0.0, 1.0)[:, None]
    sky = (1 - sky_t) * np.array([150.0, 160.0, 176.0]) + sky_t * np.array([62.0, 98.0, 156.0])
    ground_mask = dz < -1e-4
    out = sky
    if ground_mask.any():
        t = -origin[2] / dz[ground_mask]
        hits = origin + rays_world[ground_mask] * t[:, None]
        road_pts = road.road_from_world_points(hits)
        on_road = np.abs(road_pts[:, 1]) <= ROAD_HALF_WIDTH_M
        base = np.where(
            on_road[:, None], np.array([60.0, 62.0, 66.0]), np.array([68.0, 86.0, 48.0])
        )
        haze = (1.0 - np.exp(-t / 350.0))[:, None]
        out[ground_mask] = (1 - haze) * base + haze * np.array([140.0, 146.0, 156.0])
    small = np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(h_small, w_small, 3)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def object_surfaces(objects: SceneObjects, time_s: float) -> np.ndarray:
    """World points (M, 6, G*G, 3) on the faces of every box at an epoch time."""
    centers = objects.centers_at(np.array([time_s]))[0]
    local = UNIT_FACES[None] * objects.size_m[:, None, None, :]  # (M, 6, G2, 3)
    return np.einsum("mij,mfgj->mfgi", objects.rotation_world, local) + centers[:, None, None, :]


def _pixels_inside(hull: np.ndarray, shape: tuple[int, ...]) -> int:
    """Number of pixels of a filled convex hull (K, 1, 2) that lie inside an image of ``shape``.

    Drawn into a scratch array covering only the hull's bounding box (clipped to the image), so
    that truncation by the image border is not mistaken for occlusion.
    """
    x0, y0 = np.maximum(hull.reshape(-1, 2).min(axis=0), 0)
    x1, y1 = np.minimum(hull.reshape(-1, 2).max(axis=0) + 1, [shape[1], shape[0]])
    if x1 <= x0 or y1 <= y0:
        return 0
    scratch = np.zeros((int(y1 - y0), int(x1 - x0)), dtype=np.uint8)
    cv2.fillConvexPoly(scratch, hull - np.array([x0, y0], dtype=np.int32), 1)
    return int(cv2.countNonZero(scratch))


def view_objects(
    rig: SensorRig, objects: SceneObjects, camera_from_world: np.ndarray, time_s: float
) -> tuple[list[ObjectView], np.ndarray, np.ndarray, np.ndarray]:
    """Project every box: views (M,), pixels (M, 6, G2, 2), valid (M, 6, G2), face_visible (M, 6).

    ``visible_fraction`` comes from an object-id buffer at 1/4 resolution drawn far to near: the
    pixels an object still owns over the pixels its own silhouette covers inside the image.
    """
    width, height = rig.image_size
    num = len(objects)
    surfaces = object_surfaces(objects, time_s)
    pixels, valid = project_world(rig, camera_from_world, surfaces.reshape(-1, 3))
    pixels = pixels.reshape(num, 6, -1, 2)
    valid = valid.reshape(num, 6, -1)
    cam_pos_world = invert_transforms(camera_from_world)[:3, 3]
    centers = objects.centers_at(np.array([time_s]))[0]
    normals_world = np.einsum("mij,fj->mfi", objects.rotation_world, UNIT_NORMALS)
    face_centers = surfaces.mean(axis=2)
    face_visible = np.einsum("mfi,mfi->mf", normals_world, cam_pos_world - face_centers) > 0
    depth = np.linalg.norm(centers - cam_pos_world, axis=1)

    scale = 4
    id_buffer = np.full((height // scale, width // scale), -1, dtype=np.int32)
    areas = np.zeros(num)
    hulls: list[np.ndarray | None] = []
    for m in range(num):  # one cv2 call per box: drawing, not a per-point loop
        pts = pixels[m][valid[m]]
        if pts.shape[0] < 3:
            hulls.append(None)
            continue
        hull = cv2.convexHull(np.round(pts / scale).astype(np.int32))
        hulls.append(hull)
        areas[m] = _pixels_inside(hull, id_buffer.shape)
    for m in np.argsort(-depth):
        if hulls[m] is not None:
            cv2.fillConvexPoly(id_buffer, hulls[m], int(m))
    counts = np.bincount(id_buffer[id_buffer >= 0].ravel(), minlength=num)
    views = []
    for m in range(num):
        pts = pixels[m][valid[m]]
        box = None
        if pts.shape[0] >= 3:
            x1, y1 = np.clip(pts.min(axis=0), 0, [width - 1, height - 1])
            x2, y2 = np.clip(pts.max(axis=0), 0, [width - 1, height - 1])
            if x2 - x1 >= 1.0 and y2 - y1 >= 1.0:
                box = np.array([x1, y1, x2, y2])
        fraction = float(min(1.0, counts[m] / max(areas[m], 1.0))) if box is not None else 0.0
        views.append(ObjectView(box, fraction, bool(face_visible[m, 0]), float(depth[m])))
    return views, pixels, valid, face_visible


def draw_polygons(
    image: np.ndarray, polygons: list[list[np.ndarray]], colour_rgb: tuple[int, int, int]
) -> None:
    """Fill polygons in place; each polygon is a list of rings (outline first, then holes)."""
    for rings in polygons:
        contours = [
            np.round(np.asarray(r) * 16).astype(np.int32).reshape(-1, 1, 2)
            for r in rings
            if len(r) >= 3
        ]
        if contours:
            cv2.fillPoly(image, contours, colour_rgb, lineType=cv2.LINE_AA, shift=4)


def render(
    rig: SensorRig,
    trajectory: Trajectory,
    objects: SceneObjects,
    road: Road,
    time_s: float,
    marking_polygons: list[tuple[list[list[np.ndarray]], tuple[int, int, int]]],
) -> tuple[np.ndarray, list[ObjectView]]:
    """The picture (H, W, 3) uint8 RGB at ``time_s`` and the view of every object."""
    world_from_cam = world_from_camera(rig, trajectory, time_s)
    camera_from_world = invert_transforms(world_from_cam)
    image = _background(rig, world_from_cam, road)
    for polygons, colour in marking_polygons:
        draw_polygons(image, polygons, colour)
    views, pixels, valid, face_visible = view_objects(rig, objects, camera_from_world, time_s)
    for m in np.argsort([-v.depth_m for v in views]):
        if views[m].box2d is None:
            continue
        base = objects.colour_rgb[m].astype(np.float64)
        is_sign = objects.specs[m].template == "sign"
        for f in np.flatnonzero(face_visible[m]):
            pts = pixels[m, f][valid[m, f]]
            if pts.shape[0] < 3:
                continue
            face_rgb = base if (not is_sign or f == 0) else _SIGN_BACK_RGB
            shaded = np.clip(face_rgb * _SHADE[f], 0, 255)
            hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
            cv2.fillConvexPoly(
                image, hull, tuple(int(c) for c in shaded), lineType=cv2.LINE_AA, shift=4
            )
    return image, views


def add_noise(
    image: np.ndarray, rng: np.random.Generator, std: float, tile: int = 256
) -> np.ndarray:
    """Image (H, W, 3) uint8 plus Gaussian noise of ``std`` levels (one random tile, repeated)."""
    if std <= 0:
        return image
    height, width = image.shape[:2]
    noise = np.rint(rng.normal(0.0, std, size=(tile, tile, 3))).astype(np.int16)
    tiled = np.tile(noise, (height // tile + 1, width // tile + 1, 1))[:height, :width]
    return np.clip(image.astype(np.int16) + tiled, 0, 255).astype(np.uint8)


def anonymize(
    image: np.ndarray, regions: list[tuple[int, int, int, int]], mode: str, rng: np.random.Generator
) -> np.ndarray:
    """A copy of ``image`` with faces / plates (x1, y1, x2, y2 regions) blurred or replaced.

    ``blur``: Gaussian blur of the region; ``dnat``: the region replaced by a synthetic patch
    (a smooth gradient of its mean colour), like deep natural anonymization. Same exposure,
    different pixels in those regions only.
    """
    out = image.copy()
    for x1, y1, x2, y2 in regions:
        patch = out[y1:y2, x1:x2]
        if patch.size == 0 or patch.shape[0] < 2 or patch.shape[1] < 2:
            continue
        if mode == "blur":
            k = max(3, (min(patch.shape[:2]) // 2) | 1)
            out[y1:y2, x1:x2] = cv2.GaussianBlur(patch, (k, k), 0)
        else:
            mean = patch.reshape(-1, 3).mean(axis=0)
            ramp = np.linspace(0.8, 1.15, patch.shape[1])[None, :, None]
            tint = rng.uniform(0.9, 1.1, size=3)
            out[y1:y2, x1:x2] = np.clip(mean * tint * ramp, 0, 255).astype(np.uint8)
    return out


def encode_jpeg(image_rgb: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an RGB image (cv2 works in BGR)."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
