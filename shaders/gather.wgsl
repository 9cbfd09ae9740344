// Gather rows by index (embedding lookup), its backward (a deterministic scatter-add: each
// output row sums the gradient rows that picked it, so no float atomics are needed), and one-hot.

// Uniforms `p` and the buffers: declared in src/kernels/gather.ts.

override WORKGROUP: u32 = 256u;

// out[j, d] = table[indices[j], d]; an index outside the table gives NaN rather than a wrong row.
@compute @workgroup_size(WORKGROUP)
fn gatherRows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.n * p.width) { return; }
  let j = i / p.width;
  let d = i % p.width;
  let row = indices[j];
  if (row < 0 || u32(row) >= p.rows) {
    out[i] = nan();
  } else {
    out[i] = table[u32(row) * p.width + d];
  }
}

// out[r, d] = sum over j with indices[j] == r of table[j, d]   (table = incoming gradient)
@compute @workgroup_size(WORKGROUP)
fn scatterAddRows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.rows * p.width) { return; }
  let r = i32(i / p.width);
  let d = i % p.width;
  var acc = 0.0;
  for (var j = 0u; j < p.n; j++) {
    if (indices[j] == r) { acc += table[j * p.width + d]; }
  }
  out[i] = acc;
}

// hot[j, c] = 1 if indices[j] == c
@compute @workgroup_size(WORKGROUP)
fn oneHot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.n * p.rows) { return; }
  hot[i] = select(0.0, 1.0, indices[i / p.rows] == i32(i % p.rows));
}
