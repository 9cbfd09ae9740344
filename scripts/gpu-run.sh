#!/usr/bin/env bash
# Runs ON the lent GPU machine (no Node, no npm, no network), from what scripts/gpu-pack.sh put
# in .gpu/ (carried by the `run` tool). See docs/gpu.md.
#
#   bash scripts/gpu-run.sh adapter              # set up, print the WebGPU adapter
#   bash scripts/gpu-run.sh bench [bench flags]  # bench/index.ts; with $OUT: bench.json, bench.md, bench.log there
#   bash scripts/gpu-run.sh CMD ARGS...          # any command, with node and tsx on PATH, e.g.
#                                                #   tsx src/train/cli.ts train --epochs 1
# Results go to $OUT when it is set (only $OUT comes back from the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .gpu/manifest.txt ] || { echo "gpu-run: no .gpu/ here: run 'bash scripts/gpu-pack.sh' locally and carry .gpu" >&2; exit 1; }
OUT=${OUT:-}
[ -n "$OUT" ] && mkdir -p "$OUT"
LOG=${OUT:+$OUT/gpu-run.txt}
LOG=${LOG:-/dev/null}
say() { echo "gpu-run: $*" | tee -a "$LOG"; }
say "pack: $(tr '\n' ' ' < .gpu/manifest.txt)"

# xz may be missing there; Python's lzma reads the same files.
unxz_to_stdout() {
  if command -v xz >/dev/null; then xz -dc "$1"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}

# 1. Node: the machine has none. Kept in /tmp across calls while the machine stays warm.
NODE_VERSION=$(sed -n 's/^node: //p' .gpu/manifest.txt)
if [ "$(/tmp/node --version 2>/dev/null || true)" != "$NODE_VERSION" ]; then
  unxz_to_stdout .gpu/node.xz > /tmp/node.part && chmod +x /tmp/node.part && mv /tmp/node.part /tmp/node
fi

# 2. node_modules: unpacked into the tree (git ignores it). The stamp tells our unpacked copy
#    (replaced when the pack changes) from a real `npm ci` install (left alone).
if [ -d node_modules ] && [ ! -f node_modules/.gpu-manifest ]; then
  say "node_modules exists and is not from the pack: using it as it is"
elif ! cmp -s .gpu/manifest.txt node_modules/.gpu-manifest 2>/dev/null; then
  rm -rf node_modules
  unxz_to_stdout .gpu/nm.tar.xz | tar -x
  cp .gpu/manifest.txt node_modules/.gpu-manifest
fi
export PATH="/tmp/gpu-bin:$PWD/node_modules/.bin:$PATH"
mkdir -p /tmp/gpu-bin && ln -sf /tmp/node /tmp/gpu-bin/node   # `node` (and tsx's child node) is /tmp/node

# 3. Dawn dlopens libvulkan.so.1: if the machine has no Vulkan loader, use the packed one, unpacked
#    under /tmp and found through LD_LIBRARY_PATH (no root needed, / untouched).
#    GPU_RUN_PACKED_VULKAN=1 forces it (to test the packed loader on a machine that has one).
if ! ldconfig -p 2>/dev/null | grep 'libvulkan\.so\.1' >/dev/null || [ "${GPU_RUN_PACKED_VULKAN:-0}" = 1 ]; then
  rm -rf /tmp/gpu-vulkan && dpkg -x .gpu/libvulkan1_*.deb /tmp/gpu-vulkan
  export LD_LIBRARY_PATH="/tmp/gpu-vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "using the packed Vulkan loader ($(basename .gpu/libvulkan1_*.deb))"
fi

# 3b. The NVIDIA Vulkan driver is libGLX_nvidia.so.0, which needs libglvnd's libGLdispatch: the H200
#     machine had none (Dawn: "Could not get 'vkCreateInstance' ... for ICD libGLX_nvidia.so.0").
#     As the device tool's notes advise, these few packages are unpacked into / (the machine is
#     bare and runs us as root); elsewhere they would need root, so only a warning.
if ! ldconfig -p 2>/dev/null | grep -q 'libGLdispatch\.so\.0' && ls .gpu/gl/*.deb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    for deb in .gpu/gl/*.deb; do dpkg -x "$deb" /; done
    ldconfig
    say "unpacked libglvnd into / ($(ls .gpu/gl | tr '\n' ' '))"
  else
    say "WARNING: no libGLdispatch.so.0 and not root: the NVIDIA Vulkan driver may not load"
  fi
fi

# 4. dawn.node needs libstdc++ from GCC >= 12 (GLIBCXX_3.4.30); use the packed one if the system's is older.
SYS_CXX=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !n++ {print $NF}' || true)
if [ -z "$SYS_CXX" ] || ! grep -qa GLIBCXX_3.4.30 "$SYS_CXX" || [ "${GPU_RUN_PACKED_LIBSTDCXX:-0}" = 1 ]; then
  mkdir -p /tmp/gpu-lib && unxz_to_stdout .gpu/libstdc++.so.6.xz > /tmp/gpu-lib/libstdc++.so.6
  export LD_LIBRARY_PATH="/tmp/gpu-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "using the packed libstdc++ (system: ${SYS_CXX:-none})"
fi

# 5. The adapter. In the container the NVIDIA Vulkan driver's manifest may sit outside the loader's
#    search path (/usr/local/nvidia/...): if Dawn finds no hardware adapter, point the loader at it.
adapter() { node --import tsx src/engine/adapterCli.ts 2>&1; }
hardware() { grep -q '^adapter:' <<<"$1" && ! grep -q '\[software\]' <<<"$1"; }
A=$(adapter || true)
if ! hardware "$A" && [ -z "${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] || continue
    say "no hardware adapter ($(grep -m1 -E '^adapter:|No WebGPU adapter' <<<"$A" | cut -c1-80 || true)); retrying with VK_DRIVER_FILES=$icd"
    export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd   # VK_ICD_FILENAMES: the same for loaders older than 1.3.207
    A=$(adapter || true)
    break
  done
fi
echo "$A" | tee -a "$LOG"
hardware "$A" || say "WARNING: no hardware adapter (nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo none))"
grep -q '^adapter:' <<<"$A" || exit 1

# 6. The command.
[ $# -gt 0 ] || set -- adapter
case "$1" in
  adapter) ;;
  bench)
    shift
    [ -n "$OUT" ] && set -- --json "$OUT/bench.json" --markdown "$OUT/bench.md" "$@"
    node --import tsx bench/index.ts "$@" 2>&1 | tee "${OUT:-/tmp}/bench.log"
    ;;
  *) "$@" ;;
esac
