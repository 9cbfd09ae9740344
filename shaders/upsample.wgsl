// Nearest-neighbour upsampling by an integer factor f over (planes, H, W) tensors, planes = N * C.
// Rows are numbered across planes: input row R (of planes * H) becomes output rows R*f ... R*f+f-1,
// so a thread needs one division to place itself. Forward: a thread per input pixel writes its
// f x f block. Backward: a thread per input pixel sums that block's gradients (no atomics).

struct Params {
  rows: u32,      // planes * H
  W: u32,         // input width
  factor: u32,
}

override WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WORKGROUP;
}

/// Where input pixel i's block starts in the output.
fn blockStart(i: u32) -> u32 {
  let row = i / p.W;
  let col = i - row * p.W;
  return (row * p.factor * p.W + col) * p.factor;
}

@compute @workgroup_size(WORKGROUP)
fn upsample(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= p.rows * p.W) { return; }
  let v = src[i];
  let outW = p.W * p.factor;
  var at = blockStart(i);
  for (var dy = 0u; dy < p.factor; dy++) {
    for (var dx = 0u; dx < p.factor; dx++) { dst[at + dx] = v; }
    at += outW;
  }
}

@compute @workgroup_size(WORKGROUP)
fn upsampleBackward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= p.rows * p.W) { return; }
  let outW = p.W * p.factor;
  var at = blockStart(i);
  var acc = 0.0;
  for (var dy = 0u; dy < p.factor; dy++) {
    for (var dx = 0u; dx < p.factor; dx++) { acc += src[at + dx]; }
    at += outW;
  }
  dst[i] = acc;
}
