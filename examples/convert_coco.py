"""Convert ZOD Frames to COCO and check the result with pycocotools.

    python examples/convert_coco.py DATASET_ROOT OUTPUT_DIR

Writes ``zod_mini_blur_{train,val}.json`` to OUTPUT_DIR (all cores), then loads the train file
with pycocotools and prints per-category object counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zod.converters.coco import convert_to_coco


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset_root", type=Path)
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--version", default="mini")
    args = parser.parse_args()

    paths = convert_to_coco(
        args.dataset_root, args.output_dir, version=args.version, overwrite=True
    )
    for split, path in paths.items():
        print(f"{split}: {path}")

    from pycocotools.coco import COCO

    coco = COCO(str(paths["train"]))
    for category in coco.loadCats(coco.getCatIds()):
        count = len(coco.getAnnIds(catIds=[category["id"]]))
        print(f"  {category['name']:<18} {count:>5} boxes")
    print(f"  images: {len(coco.getImgIds())}")


if __name__ == "__main__":
    main()
