// Reductions along one axis of a tensor viewed as (outer, R, inner): out[o, i] = op_r x[o, r, i].
// Several axes reduce as several passes (adjacent axes are merged first).

struct Params {
  outer: u32,
  reduced: u32,
  inner: u32,
  scale: f32,   // multiplies the result (1/R for a mean)
}

override OP: u32 = 0u;        // 0 sum, 1 max
override WORKGROUP: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WORKGROUP>;

fn identity() -> f32 {
  if (OP == 1u) { return -3.402823e38f; }
  return 0.0;
}

fn combine(a: f32, b: f32) -> f32 {
  if (OP == 1u) { return max(a, b); }
  return a + b;
}

// One thread per output: best when R is short and there are many outputs.
@compute @workgroup_size(WORKGROUP)
fn perThread(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let o = gid.x + gid.y * groups.x * WORKGROUP;
  if (o >= p.outer * p.inner) { return; }
  let outerIdx = o / p.inner;
  let innerIdx = o % p.inner;
  var base = outerIdx * p.reduced * p.inner + innerIdx;
  var acc = identity();
  for (var r = 0u; r < p.reduced; r++) {
    acc = combine(acc, x[base + r * p.inner]);
  }
  out[o] = acc * p.scale;
}

// One workgroup per output, its threads striding over R, then a tree in workgroup memory.
@compute @workgroup_size(WORKGROUP)
fn perGroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
            @builtin(num_workgroups) groups: vec3<u32>) {
  let o = wid.x + wid.y * groups.x;
  let valid = o < p.outer * p.inner;
  var acc = identity();
  if (valid) {
    let base = (o / p.inner) * p.reduced * p.inner + o % p.inner;
    for (var r = lid; r < p.reduced; r += WORKGROUP) {
      acc = combine(acc, x[base + r * p.inner]);
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] = combine(partial[lid], partial[lid + stride]);
    }
    workgroupBarrier();
  }
  if (valid && lid == 0u) {
    out[o] = partial[0] * p.scale;
  }
}
