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
# the readers: datasets, frames, sensors, sidecars, annotations
.venv/bin/python examples/tour.py "$SAMPLE" "$OUT/readers"
# geometry: frames, fisheye projection, 3D boxes, 21-scan aggregation, lane masks on one frame
.venv/bin/python examples/geometry_tour.py "$SAMPLE" "$OUT/geometry"
# convert the sample to COCO (all cores, resumable) and to the KITTI 3D layout
$ZOD convert coco "$SAMPLE" --output-dir "$OUT/coco" --version mini --overwrite
$ZOD convert kitti "$SAMPLE" --output-dir "$OUT/kitti" --version mini --overwrite
# evaluate simulated detections (the example writes predictions.json), then from the shell
.venv/bin/python examples/evaluate_detection.py "$SAMPLE" "$OUT/eval" >/dev/null
$ZOD eval detection "$SAMPLE" --version mini --split val \
    --predictions "$OUT/eval/predictions.json" --output "$OUT/eval/metrics.json"
# draw: one picture of each kind (camera layers, BEV, 3D render) and a sequence video
FRAME=$(.venv/bin/python -c "from zod import ZodFrames; print(sorted(ZodFrames('$SAMPLE', 'mini').get_all_ids())[0])")
SEQ=$(.venv/bin/python -c "from zod import ZodSequences; print(sorted(ZodSequences('$SAMPLE', 'mini').get_all_ids())[0])")
$ZOD visualize frame "$SAMPLE" "$FRAME" --version mini --layers all --scale 0.25 --out "$OUT/viz/frame.png"
$ZOD visualize bev "$SAMPLE" "$FRAME" --version mini --labels --out "$OUT/viz/bev.png"
$ZOD visualize lidar "$SAMPLE" "$FRAME" --version mini --width 960 --height 540 --out "$OUT/viz/lidar3d.png"
$ZOD visualize sequence "$SAMPLE" "$SEQ" --version mini --scale 0.25 --workers 0 --out "$OUT/viz/sequence.mp4"
# distribution: mirror the sample as the release's archives (+ SHA256SUMS), download Frames back
# from it (filtered: no DNAT, 2 earlier scans), verify per stream and against the checksums
$ZOD mirror build "$SAMPLE" "$OUT/mirror" --subset frames --compress-level 1 --no-progress >"$OUT/mirror.log"
$ZOD download --url "$OUT/mirror" --output-dir "$OUT/download" --subset frames --version full \
    --num-scans-before 2 -y --no-progress
$ZOD verify "$OUT/download" --subset frames --version full --no-progress \
    --checksums "$OUT/mirror/single_frames/SHA256SUMS" | tail -3
# PyTorch: two steps of a toy model on the CPU (image at 1/8 + padded lidar, DataLoader + collate)
.venv/bin/python examples/train_loop.py "$SAMPLE" "$OUT/torch"
echo "tour: outputs in $OUT"
