// Nearest-neighbour upsampling by an integer factor f over (planes, H, W) tensors, planes = N * C.
// Rows are numbered across planes: input row R (of planes * H) becomes output rows R*f ... R*f+f-1,
// so a thread needs one division to place itself. Forward: a thread per input pixel writes its
// f x f block. Backward: a thread per input pixel sums that block's gradients (no atomics).

// Uniforms p (rows = planes * H, the input width W, factor) and buffers src, dst (and their vec4
// views src4, dst4): declared in src/kernels/upsample.ts.

override WORKGROUP: u32 = 256u;

/// Where input pixel i's block starts in the output.
fn blockStart(i: u32) -> u32 {
  let row = i / p.W;
  let col = i - row * p.W;
  return (row * p.factor * p.W + col) * p.factor;
}

@compute @workgroup_size(WORKGROUP)
fn upsample(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
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
  let i = flatIndex(gid, groups);
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

// Factor 2 with W % 4 == 0: a thread per 4 neighbouring input pixels of a row, read as one vec4
// (backward: written as one), their 2 x 8 output block as 2 x 2 vec4s: the per-lane overhead of
// lavapipe's storage accesses paid once per 4 values.

// The vec4 index of the first output row's pair of input quad q.
fn pairStart(q: u32) -> u32 {
  let quads = p.W / 4u;
  let row = q / quads;
  return row * 2u * p.W / 2u + 2u * (q - row * quads);
}

@compute @workgroup_size(WORKGROUP)
fn upsample2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let q = flatIndex(gid, groups);
  if (q >= p.rows * (p.W / 4u)) { return; }
  let at = pairStart(q);
  let v = src4[q];
  let left = vec4<f32>(v.xx, v.yy);
  let right = vec4<f32>(v.zz, v.ww);
  dst4[at] = left;
  dst4[at + 1u] = right;
  dst4[at + p.W / 2u] = left;
  dst4[at + p.W / 2u + 1u] = right;
}

@compute @workgroup_size(WORKGROUP)
fn upsample2Backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let q = flatIndex(gid, groups);
  if (q >= p.rows * (p.W / 4u)) { return; }
  let at = pairStart(q);
  let l = src4[at] + src4[at + p.W / 2u];
  let r = src4[at + 1u] + src4[at + p.W / 2u + 1u];
  dst4[q] = vec4<f32>(l.x + l.y, l.z + l.w, r.x + r.y, r.z + r.w);
}
