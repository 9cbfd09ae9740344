#!/usr/bin/env bash
# Issue 19's figures on the lent GPU, in as few device calls as possible (docs/gpu.md). Run there
# through gpu-run.sh, which sets up node, node_modules and the Vulkan loader:
#
#   bash scripts/gpu-run.sh bash scripts/gpu-figures.sh 1   # matmul, training step, PyTorch's step, npm run train
#   bash scripts/gpu-run.sh bash scripts/gpu-figures.sh 2   # the other kernel families (conv, BigGAN-deep-256, ...)
#   bash scripts/gpu-run.sh bash scripts/gpu-figures.sh 3   # again after a kernel change: matmul, the step, conv
#   bash scripts/gpu-run.sh bash scripts/gpu-figures.sh 4   # VGG-16 full size, the step's profile, train seeds 1 and 2
#   bash scripts/gpu-run.sh bash scripts/gpu-figures.sh 5   # issue 17: the cGAN as a GPU allows (needs .data/, gpu-data.sh)
#
# Each step runs under a time limit inside the part's budget (GPU_FIGURES_BUDGET seconds, default
# 540, under the run tool's 600), most important first; after each, everything so far is packed
# into $OUT/figures-<part>.tar.gz (so a call stopped at its limit still returns what it finished;
# without the run's optimizer state, which only resuming needs).
# GPU_FIGURES_TRAIN_ARGS adds arguments to the training run (a short one, to try this on lavapipe),
# GPU_FIGURES_CGAN_ARGS to part 5's cGAN run.
set -uo pipefail
cd "$(dirname "$0")/.."
PART=${1:?part 1, 2, 3, 4 or 5}
: "${OUT:?set OUT (the run tool sets it)}"
RES=/tmp/gpu-figures-$PART
rm -rf "$RES" && mkdir -p "$RES"
START=$(date +%s)
BUDGET=${GPU_FIGURES_BUDGET:-540}

# Without optimizer state and the cGAN's discriminator: only resuming needs them.
pack() { tar -C "$RES" --exclude='optimizer*.safetensors' --exclude=discriminator.safetensors -czf "$OUT/figures-$PART.tar.gz.part" . && mv "$OUT/figures-$PART.tar.gz.part" "$OUT/figures-$PART.tar.gz"; }
# step NAME LIMIT CMD...: CMD's output to NAME.log, at most LIMIT seconds and never past the budget.
step() {
  local name=$1 limit=$2; shift 2
  local left=$((BUDGET - ($(date +%s) - START)))
  if [ "$left" -lt 20 ]; then echo "gpu-figures: skipped $name (${left}s left)" | tee -a "$RES/steps.txt"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0; t0=$(date +%s)
  timeout -k 5 "$limit" "$@" > "$RES/$name.log" 2>&1
  local rc=$?
  echo "gpu-figures: $name rc=$rc in $(($(date +%s) - t0))s (limit ${limit}s)" | tee -a "$RES/steps.txt"
  tail -n 4 "$RES/$name.log"
  pack
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1; node --version; } > "$RES/machine.txt"
cat "$RES/machine.txt"
case "$PART" in
  1)
    step matmul-variants 60 node --import tsx bench/matmulVariants.ts --sizes 1024,2048,4096 --reps 10 --json "$RES/matmul-variants.json"
    step matmul-variants-norobust 40 node --import tsx bench/matmulVariants.ts --sizes 4096 --reps 10 \
      --enable-dawn-features disable_robustness --json "$RES/matmul-variants-norobust.json"
    step bench-matmul-train 150 node --import tsx bench/index.ts --kernels matmul,train --budget 800 \
      --json "$RES/bench-matmul-train.json" --markdown "$RES/bench-matmul-train.md"
    # PyTorch's eager fp32 step (TF32 off) and the same step captured as a CUDA graph, batch 64
    step torch-step 120 env PYTHONUNBUFFERED=1 "${PYTHON:-python3}" tools/reference/time_step.py --device cuda --batch 64 \
      --steps 200 --warmup 20 --cuda-graph --json "$RES/torch-step.json"
    # shellcheck disable=SC2086
    step train 240 node bin/cgan.js train --out "$RES/run" ${GPU_FIGURES_TRAIN_ARGS:-}
    ;;
  2)
    step bench-kernels 400 node --import tsx bench/index.ts --reps 5 \
      --kernels conv2d,conv2dInputGrad,batchnorm,upsample,maxpool,adaptivepool,crossentropy,attention \
      --json "$RES/bench-kernels.json" --markdown "$RES/bench-kernels.md"
    step full-size 120 node --import tsx bench/fullSize.ts --reps=3
    ;;
  3)
    step matmul-variants 40 node --import tsx bench/matmulVariants.ts --sizes 2048,4096 --reps 10 --json "$RES/matmul-variants.json"
    step bench-train 60 node --import tsx bench/index.ts --kernels train --budget 1500 \
      --json "$RES/bench-train.json" --markdown "$RES/bench-train.md"
    step torch-step 60 env PYTHONUNBUFFERED=1 "${PYTHON:-python3}" tools/reference/time_step.py --device cuda --batch 64 \
      --steps 100 --warmup 10 --cuda-graph --json "$RES/torch-step.json"
    step profile-step 40 node --import tsx bench/profileStep.ts
    step bench-conv 200 node --import tsx bench/index.ts --reps 5 --kernels conv2d,conv2dInputGrad \
      --json "$RES/bench-conv.json" --markdown "$RES/bench-conv.md"
    ;;
  4)
    # What the first lent GPU left open (docs/gpu.md): the VGG-16 figure again, the step's profile
    # after the folded batchnorms, and seeds 1 and 2 of the default command (issue 15's seeds).
    step full-size 90 node --import tsx bench/fullSize.ts --reps=3
    step profile-step 40 node --import tsx bench/profileStep.ts
    step bench-train 60 node --import tsx bench/index.ts --kernels train --budget 1500 \
      --json "$RES/bench-train.json" --markdown "$RES/bench-train.md"
    for seed in 1 2; do
      # shellcheck disable=SC2086
      step "train-seed$seed" 170 node bin/cgan.js train --seed "$seed" --out "$RES/run-seed$seed" ${GPU_FIGURES_TRAIN_ARGS:-}
    done
    ;;
  5)
    # Issue 17's "what a GPU would allow": the cGAN at four times the width, for as many epochs as
    # the limit holds (a checkpoint every epoch: a run stopped at the limit keeps its last epoch),
    # sampled from the average of G's weights. The judges grade it here afterwards (docs/gpu.md).
    [ -f .data/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "gpu-figures: no .data/fashion-mnist (bash scripts/gpu-data.sh, carried in a second call)" >&2; exit 1; }
    # shellcheck disable=SC2086
    step cgan-width64 420 node bin/cgan.js cgan --data .data/fashion-mnist --width 64 --epochs 30 --ema 0.999 \
      --judge models/fmnist_vgg_judge32.safetensors --real-data .data/fashion-mnist --out "$RES/cgan-width64" ${GPU_FIGURES_CGAN_ARGS:-}
    ;;
  *) echo "gpu-figures: part $PART? (1, 2, 3, 4 or 5)" >&2; exit 2 ;;
esac
echo "gpu-figures: part $PART done in $(($(date +%s) - START))s"
cat "$RES/steps.txt"
