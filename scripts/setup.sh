#!/usr/bin/env bash
# One-shot set-up of a fresh machine: system packages, the project venv and the oracle venvs.
# Idempotent: a second run only checks. Used by `make demo`, `make test` and `.ci/run`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

# --- system packages (nginx: download tests; libusb: open3d imports only with it) -----------
APT_PACKAGES=(nginx libusb-1.0-0 libgomp1)
# libvulkan1 + mesa-vulkan-drivers: open3d offscreen rendering (Filament on software Vulkan, llvmpipe)
APT_PACKAGES+=(libvulkan1 mesa-vulkan-drivers)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- the project environment ---------------------------------------------------------------
stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    # The CPU build of torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
    "$VENV/bin/pip" install -q torch==2.13.0
    "$VENV/bin/pip" install -q -e ".[all,dev]"
    touch "$stamp"
fi

# --- oracle: the reference devkit in its own venv (it needs dataclass-wizard<1.0 and click) ---
ORACLE=.venv-oracle
if [ ! -f "$ORACLE/.installed" ]; then
    [ -x "$ORACLE/bin/python" ] || "$PYTHON" -m venv "$ORACLE"
    "$ORACLE/bin/pip" install -q "zod==0.8.0" "dataclass-wizard<1.0" click
    touch "$ORACLE/.installed"
fi

# --- nuscenes-devkit in its own venv: the eval tests compare our detection metrics with its own
# (it pins its own numpy/opencv/matplotlib; 1.2.0 pulls opencv-python-headless, so no libGL) ---
NUSCENES=.venv-nuscenes
if [ ! -f "$NUSCENES/.installed" ]; then
    [ -x "$NUSCENES/bin/python" ] || "$PYTHON" -m venv "$NUSCENES"
    "$NUSCENES/bin/pip" install -q "nuscenes-devkit==1.2.0"
    touch "$NUSCENES/.installed"
fi

# --- oracle extras: the reference's zod.visualization imports OpenCV and matplotlib ---------
if [ ! -f "$ORACLE/.installed-viz" ]; then
    "$ORACLE/bin/pip" install -q opencv-python-headless matplotlib
    touch "$ORACLE/.installed-viz"
fi

# --- oracle extras: the reference's converters (zod.cli.generate_coco_json, extract_tsr_patches)
# import typer and Pillow; the convert tests run them as the baseline ---------------------------
if [ ! -f "$ORACLE/.installed-cli" ]; then
    "$ORACLE/bin/pip" install -q typer pillow
    touch "$ORACLE/.installed-cli"
fi

# --- KITTI evaluator in its own venv: the KITTI AP tests compare ours with mmdetection3d's ---
# Only its evaluator files are used (loaded by path, on numba's CUDA simulator): the wheel is
# installed without its dependencies (torch, mmcv, mmengine), next to numba and numpy.
KITTI=.venv-kitti
if [ ! -f "$KITTI/.installed" ]; then
    [ -x "$KITTI/bin/python" ] || "$PYTHON" -m venv "$KITTI"
    "$KITTI/bin/pip" install -q "numba==0.68.1" numpy
    "$KITTI/bin/pip" install -q --no-deps "mmdet3d==1.4.0"
    touch "$KITTI/.installed"
fi
