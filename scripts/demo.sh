#!/usr/bin/env bash
# The README tour: generate the sample dataset, then inspect (and later convert and draw) it.
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLE=${1:-data/sample}
ZOD=.venv/bin/zod
OUT=out/tour
mkdir -p "$OUT"

[ -f "$SAMPLE/trainval-frames-full.json" ] || $ZOD sample "$SAMPLE"
$ZOD info "$SAMPLE"
# convert the sample to COCO (all cores, resumable) and to the KITTI 3D layout
$ZOD convert coco --dataset-root "$SAMPLE" --output-dir "$OUT/coco" --version mini --overwrite
$ZOD convert kitti --dataset-root "$SAMPLE" --output-dir "$OUT/kitti" --version mini --overwrite
echo "tour: outputs in $OUT"
