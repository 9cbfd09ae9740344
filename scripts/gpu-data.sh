#!/usr/bin/env bash
# Put Fashion-MNIST's idx files (Debian's dataset-fashion-mnist, gzipped as shipped) into .data/
# for the lent GPU machine, which has no copy and no network (issue 17's cGAN run, gpu-figures.sh 5).
# 31 MiB: it does not fit beside .gpu/ (57 MiB) in one call's 64 MiB, so it travels in a second
# call to the still-warm machine, which keeps the first call's unpacked node and node_modules
# (docs/gpu.md, "Issue 17's cGAN on the GPU").
#
#   bash scripts/gpu-data.sh [idx folder]     # default /usr/share/datasets/fashion-mnist
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-/usr/share/datasets/fashion-mnist}
git check-ignore -q .data/ || { echo "gpu-data: .data/ is not ignored by git" >&2; exit 1; }
rm -rf .data/fashion-mnist && mkdir -p .data/fashion-mnist
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ -f "$SRC/$f.gz" ]; then cp "$SRC/$f.gz" .data/fashion-mnist/
  elif [ -f "$SRC/$f" ]; then gzip -9 -c "$SRC/$f" > ".data/fashion-mnist/$f.gz"
  else echo "gpu-data: no $f[.gz] in $SRC (Debian: apt-get install dataset-fashion-mnist)" >&2; exit 1; fi
done
du -sh .data
