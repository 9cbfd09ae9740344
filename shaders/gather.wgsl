// Gather rows by index (embedding lookup), its backward (a deterministic scatter-add: each
// output row sums the gradient rows that picked it, so no float atomics are needed), and one-hot.

struct Params {
  n: u32,        // number of indices
  rows: u32,     // rows in the table (vocabulary / classes)
  width: u32,    // elements per row
}

// A private variable, not a constant: WGSL refuses NaN in constant expressions.
var<private> nanBits: u32 = 0x7fc00000u;

override WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> indices: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> hot: array<f32>;

fn flat(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WORKGROUP;
}

// out[j, d] = table[indices[j], d]; an index outside the table gives NaN rather than a wrong row.
@compute @workgroup_size(WORKGROUP)
fn gatherRows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= p.n * p.width) { return; }
  let j = i / p.width;
  let d = i % p.width;
  let row = indices[j];
  if (row < 0 || u32(row) >= p.rows) {
    out[i] = bitcast<f32>(nanBits);
  } else {
    out[i] = table[u32(row) * p.width + d];
  }
}

// out[r, d] = sum over j with indices[j] == r of table[j, d]   (table = incoming gradient)
@compute @workgroup_size(WORKGROUP)
fn scatterAddRows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
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
  let i = flat(gid, groups);
  if (i >= p.n * p.rows) { return; }
  hot[i] = select(0.0, 1.0, indices[i / p.rows] == i32(i % p.rows));
}
