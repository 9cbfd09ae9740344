#!/usr/bin/env bash
# Build .gpu/: what the lent GPU machine (no Node, no npm, no network) needs to run this repo.
# Pass it to the `run` tool as carry [".gpu"]; scripts/gpu-run.sh unpacks it there.
# See docs/gpu.md and /work/shared/GPU.md.
#
#   bash scripts/gpu-pack.sh              # node + bench deps + peers (tfjs, ORT) + Vulkan loader
#   bash scripts/gpu-pack.sh --no-peers   # without TensorFlow.js and ONNX Runtime (then run the bench with --no-peers)
#
# Contents (the run tool carries at most 64 MiB in all):
#   node.xz             this machine's node binary
#   nm.tar.xz           the node_modules packages the bench, the trainer and the CLIs import at
#                       run time (tsx + esbuild included), linux-x64 binaries only, no source maps
#   libvulkan1_*.deb    the Vulkan loader, in case the GPU machine has none
#   gl/*.deb            libglvnd and its GL libraries: the NVIDIA Vulkan driver (libGLX_nvidia.so.0)
#                       needs libGLdispatch, which the H200 machine lacked (2026-12-04)
#   libstdc++.so.6.xz   this machine's libstdc++ (dawn.node needs GLIBCXX_3.4.30, i.e. GCC >= 12)
#   manifest.txt        commit, date, node version, peers or not (gpu-run.sh prints it); packages.txt: the list
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS=1
for a in "$@"; do
  case "$a" in
    --no-peers) PEERS=0 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "gpu-pack: unknown option $a" >&2; exit 2 ;;
  esac
done
LIMIT=$((64 * 1024 * 1024))
[ -d node_modules ] || { echo "gpu-pack: no node_modules here; run 'npm run setup' first" >&2; exit 1; }
git check-ignore -q .gpu/ || { echo "gpu-pack: .gpu/ is not ignored by git (add it to .git/info/exclude)" >&2; exit 1; }

rm -rf .gpu && mkdir -p .gpu

# 1. Node: the binary is self-contained (glibc >= 2.28 only).
NODE=$(readlink -f "$(command -v node)")
xz -9 -T2 -c "$NODE" > .gpu/node.xz

# 2. node_modules: the dependency closure of the packages imported at run time.
#    Base: package.json "dependencies", tsx (npm scripts run through it) and protobufjs
#    (bench/peers/onnx.ts is imported statically by the bench, even with --no-peers).
ROOTS="$(node -p "Object.keys(require('./package.json').dependencies).join(' ')") tsx protobufjs"
[ "$PEERS" = 1 ] && ROOTS="$ROOTS @tensorflow/tfjs-core @tensorflow/tfjs-backend-webgpu onnxruntime-node"
# Walk dependencies/optional/peer dependencies the way Node resolves them (nested node_modules
# first, then the parents'); packages not installed (other platforms' optional ones) are skipped.
node - $ROOTS > .gpu/packages.txt <<'JS'
const fs = require('fs'), path = require('path');
const seen = new Set();
function find(name, fromDir) {
  for (let d = fromDir; ; d = path.dirname(d)) {
    const p = path.join(d, 'node_modules', name);
    if (fs.existsSync(path.join(p, 'package.json'))) return p;
    if (d === path.dirname(d) || path.relative(process.cwd(), d).startsWith('..')) return null;
  }
}
function walk(dir) {
  const rel = path.relative(process.cwd(), dir);
  if (seen.has(rel)) return;
  seen.add(rel);
  const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const deps = { ...pj.peerDependencies, ...pj.optionalDependencies, ...pj.dependencies };
  for (const name of Object.keys(deps)) {
    if (name.startsWith('@types/') || name === '@webgpu/types') continue; // types only
    const p = find(name, dir);
    if (p) walk(p);
  }
}
for (const r of process.argv.slice(2)) {
  const p = find(r, process.cwd());
  if (!p) { console.error(`gpu-pack: ${r} is not installed`); process.exit(1); }
  walk(p);
}
console.log([...seen].sort().join('\n'));
JS
# .bin/tsx so that `tsx ...` works on PATH as in the npm scripts; of the fonts only DejaVu Sans and
# its bold (src/train/font.ts)
tar -c --exclude='*.map' --exclude='*.d.ts' --exclude='*.d.mts' --exclude='*.d.cts' \
  --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v*/darwin' --exclude='node_modules/onnxruntime-node/bin/napi-v*/win32' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v*/linux/arm64' \
  --exclude='node_modules/dejavu-fonts-ttf/fontconfig' --exclude='node_modules/dejavu-fonts-ttf/ttf/DejaVuMath*' --exclude='node_modules/dejavu-fonts-ttf/ttf/DejaVuSerif*' \
  --exclude='node_modules/dejavu-fonts-ttf/ttf/DejaVuSansMono*' --exclude='node_modules/dejavu-fonts-ttf/ttf/DejaVuSansCondensed*' \
  --exclude='node_modules/dejavu-fonts-ttf/ttf/*Oblique*' --exclude='node_modules/dejavu-fonts-ttf/ttf/*ExtraLight*' \
  -f - node_modules/.bin/tsx $(cat .gpu/packages.txt) | xz -9 -T2 > .gpu/nm.tar.xz

# 3. The Vulkan loader (Dawn dlopens libvulkan.so.1); gpu-run.sh uses it only if the machine lacks one.
(cd .gpu && apt-get download libvulkan1 2>&1 >/dev/null | grep -v 'unsandboxed' >&2 || true)
ls .gpu/libvulkan1_*.deb >/dev/null
mkdir -p .gpu/gl && (cd .gpu/gl && apt-get download libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2 2>&1 >/dev/null | grep -v 'unsandboxed' >&2 || true)
ls .gpu/gl/libglvnd0_*.deb >/dev/null

# 4. libstdc++ from this machine, used there only if the system's is older than GCC 12.
LIBSTDCXX=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !n++ {print $NF}')
xz -9 -c "$(readlink -f "$LIBSTDCXX")" > .gpu/libstdc++.so.6.xz

DIRTY=$(git status --porcelain -- src shaders bench | head -1)
{
  echo "commit: $(git rev-parse --short HEAD)${DIRTY:+ + uncommitted changes in src/, shaders/ or bench/}"
  echo "packed: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "node: $("$NODE" --version)"
  echo "peers: $([ "$PEERS" = 1 ] && echo yes || echo no)"
  echo "packages: $(wc -l < .gpu/packages.txt)"
} > .gpu/manifest.txt

echo "gpu-pack: .gpu/"
ls -l .gpu | awk 'NR > 1 {printf "  %-32s %6.1f MiB\n", $NF, $5 / 1048576}'
# The run tool's 64 MiB covers the whole tree that travels: tracked and untracked-not-ignored
# files (and shared/ if the checkout has one) plus the carried paths.
PACK=$(du -cb .gpu/* | tail -1 | cut -f1)
TREE=$(git ls-files -co --exclude-standard -z | node -e '
  const fs = require("fs");
  let n = 0;
  for (const f of fs.readFileSync(0, "utf8").split("\0")) if (f) try { n += fs.statSync(f).size; } catch {}
  console.log(n)')
[ -d shared ] && TREE=$((TREE + $(du -sb shared | cut -f1)))
TOTAL=$((PACK + TREE))
awk -v p="$PACK" -v t="$TREE" -v s="$TOTAL" 'BEGIN {
  printf "  %-32s %6.1f MiB\n", ".gpu total", p / 1048576
  printf "  %-32s %6.1f MiB\n", "+ working tree that travels", t / 1048576
  printf "  %-32s %6.1f MiB (the run tool carries at most 64 MiB)\n", "= total", s / 1048576 }'
if [ "$TOTAL" -gt "$LIMIT" ]; then
  echo "gpu-pack: FAILED: tree + .gpu/ is over the run tool's 64 MiB limit$([ "$PEERS" = 1 ] && echo '; try --no-peers')" >&2
  exit 1
fi
