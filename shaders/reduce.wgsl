// Reductions along one axis of a tensor viewed as (outer, R, inner): out[o, i] = op_r x[o, r, i].
// Several axes reduce as several passes (adjacent axes are merged first).
// Uniforms `p`, buffers x, out and the workgroup tree reduceGroup: declared in src/kernels/reduce.ts.

override OP: u32 = 0u;        // 0 sum, 1 max
override WORKGROUP: u32 = 64u;

fn identity() -> f32 {
  if (OP == 1u) { return -3.402823e38f; }
  return 0.0;
}

fn combine(a: f32, b: f32) -> f32 {
  if (OP == 1u) { return max(a, b); }
  return a + b;
}

/// Flat index in x of output o's first reduced element.
fn firstOf(o: u32) -> u32 {
  return (o / p.inner) * p.reduced * p.inner + o % p.inner;
}

// One thread per output: best when R is short and there are many outputs.
@compute @workgroup_size(WORKGROUP)
fn perThread(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let o = flatIndex(gid, groups);
  if (o >= p.outer * p.inner) { return; }
  let base = firstOf(o);
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
    let base = firstOf(o);
    for (var r = lid; r < p.reduced; r += WORKGROUP) {
      acc = combine(acc, x[base + r * p.inner]);
    }
  }
  let total = reduceGroup(acc, lid);
  if (valid && lid == 0u) {
    out[o] = total * p.scale;
  }
}
