"""Read ZOD Frames from an S3 bucket with the same API as from disk (see docs/scale.md).

    python examples/object_store.py DATASET_ROOT OUTPUT_DIR [--endpoint URL --bucket NAME]

Without ``--endpoint`` the bucket lives in moto's S3 server, an emulation of S3 started here
in a thread on the loopback interface (the ``dev`` extra has moto), and the Frames files of
DATASET_ROOT are uploaded to it first. With ``--endpoint`` (and credentials in the
environment, as the AWS tools take them) an existing bucket holding a ZOD copy under
``zod/`` is read. Either way the first frames are read from the bucket and, when DATASET_ROOT
has them, compared with the local files; a summary goes to OUTPUT_DIR/object_store.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from zod import ZodFrames
from zod.constants import Lidar


def read(frames: ZodFrames, frame_id: str) -> dict[str, Any]:
    """What a training sample needs from one frame."""
    frame = frames[frame_id]
    return {
        "image": frame.get_image(scale=0.25),
        "points": frame.get_lidar()[0].points,
        "boxes": [obj.box2d.xyxy.tolist() for obj in frame.get_annotation("object_detection")],
        "ego_from_lidar": frame.calibration.get_extrinsics(Lidar.VELODYNE).transform,
    }


def upload_frames(root: Path, options: dict[str, Any], bucket: str) -> None:
    """The Frames index and folders of ``root`` into ``s3://bucket/zod``."""
    import s3fs

    fs = s3fs.S3FileSystem(**options)
    fs.mkdir(bucket)
    for name in ("trainval-frames-full.json", "trainval-frames-mini.json"):
        if (root / name).is_file():
            fs.put_file(str(root / name), f"{bucket}/zod/{name}")
    fs.put(f"{root / 'single_frames'}/", f"{bucket}/zod/single_frames", recursive=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--endpoint", help="S3 endpoint URL; default: an emulated S3 here")
    parser.add_argument("--bucket", default="zod-example")
    parser.add_argument("--frames", type=int, default=2)
    args = parser.parse_args()

    server = None
    if args.endpoint is None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")  # the emulation takes any key
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        options: dict[str, Any] = {"endpoint_url": f"http://{host}:{port}"}
        upload_frames(args.root, options, args.bucket)
    else:
        options = {"endpoint_url": args.endpoint}
    try:
        remote = ZodFrames(f"s3://{args.bucket}/zod", "full", storage_options=options)
        local = ZodFrames(args.root, "full") if (args.root / "single_frames").is_dir() else None
        summary: dict[str, Any] = {"frames": len(remote), "read": {}}
        for frame_id in sorted(remote.get_all_ids())[: args.frames]:
            sample = read(remote, frame_id)
            same = None
            if local is not None:
                ref = read(local, frame_id)
                same = all(np.array_equal(sample[k], ref[k]) for k in ("image", "points"))
                same = same and sample["boxes"] == ref["boxes"]
                same = same and np.array_equal(sample["ego_from_lidar"], ref["ego_from_lidar"])
            summary["read"][frame_id] = {
                "points": len(sample["points"]),
                "objects": len(sample["boxes"]),
                "same_as_local": same,
            }
            print(frame_id, summary["read"][frame_id])
            if same is False:
                raise SystemExit(f"frame {frame_id} differs between the bucket and the disk")
    finally:
        if server is not None:
            server.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "object_store.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
