#!/usr/bin/env bash
# Prepares what scripts/gpu_checks.sh needs on a CUDA machine that has no network, from this
# (networked, CPU) machine: wheels for python 3.12 in .whl/ and held-out frame inputs in .gpu/.
# Both folders stay out of git (.git/info/exclude). Then carry them: the device runs
#   bash scripts/gpu_checks.sh        (with .whl and .gpu carried)
set -euo pipefail
cd "$(dirname "$0")/.."
exclude="$(git rev-parse --git-dir)/info/exclude"
mkdir -p "$(dirname "$exclude")" .whl .gpu
for d in /.whl/ /.gpu/; do grep -qxF "$d" "$exclude" 2>/dev/null || echo "$d" >> "$exclude"; done
for spec in gsplat==1.5.3 xformers==0.0.35 diffusers==0.42.1 importlib_metadata; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "$spec"
done
.venv/bin/python bench/rtfm.py --save-inputs .gpu/rtfm_inputs.safetensors
du -sh .whl .gpu
