// Strided copy of a region: the one kernel behind permute, expand, slice, concat and split.
// Element (c_0, ..., c_{r-1}) of the region goes from
//   src[srcOffset + sum c_d * srcStrides[d]]  to  dst[dstOffset + sum c_d * dstStrides[d]].

struct Params {
  shape: array<vec4<u32>, 2>,
  srcStrides: array<vec4<u32>, 2>,
  dstStrides: array<vec4<u32>, 2>,
  rank: u32,
  n: u32,
  srcOffset: u32,
  dstOffset: u32,
}

override WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;   // raw bits: float32 and int32 alike
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

fn dim(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}

@compute @workgroup_size(WORKGROUP)
fn stridedCopy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP;
  if (i >= p.n) { return; }
  var rest = i;
  var s = p.srcOffset;
  var t = p.dstOffset;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let size = dim(p.shape, u32(d));
    let c = rest % size;
    rest = rest / size;
    s += c * dim(p.srcStrides, u32(d));
    t += c * dim(p.dstStrides, u32(d));
  }
  dst[t] = src[s];
}
