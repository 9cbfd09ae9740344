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

// ---------------------------------------------------------------------------------------------
// translate: out[r, y, x] = src[r, y - dy, x - dx] where that is inside the image, else fill,
// over rows = planes * H of width W (src and out float32, contiguous). translate4 gives a thread
// 4 neighbouring pixels of a row (W % 4 == 0): one division and one vec4 store for four.

struct ShiftParams {
  rows: u32,
  H: u32,
  W: u32,
  dy: i32,
  dx: i32,
  fill: f32,
}

@group(0) @binding(0) var<uniform> t: ShiftParams;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<storage, read_write> shifted: array<f32>;
@group(0) @binding(2) var<storage, read_write> shifted4: array<vec4<f32>>;

// The source of output pixel (row, x): the pixel or fill.
fn shiftedAt(row: u32, x: u32) -> f32 {
  let y = i32(row % t.H);
  let sy = y - t.dy;
  let sx = i32(x) - t.dx;
  let inside = (sy >= 0) & (sy < i32(t.H)) & (sx >= 0) & (sx < i32(t.W));
  let at = (i32(row) + clamp(sy, 0, i32(t.H) - 1) - y) * i32(t.W) + clamp(sx, 0, i32(t.W) - 1);
  return select(t.fill, image[u32(at)], inside);
}

@compute @workgroup_size(WORKGROUP)
fn translate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP;
  if (i >= t.rows * t.W) { return; }
  shifted[i] = shiftedAt(i / t.W, i % t.W);
}

@compute @workgroup_size(WORKGROUP)
fn translate4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let q = gid.x + gid.y * groups.x * WORKGROUP;
  let quads = t.W / 4u;
  if (q >= t.rows * quads) { return; }
  let row = q / quads;
  let x = (q - row * quads) * 4u;
  shifted4[q] = vec4<f32>(shiftedAt(row, x), shiftedAt(row, x + 1u), shiftedAt(row, x + 2u), shiftedAt(row, x + 3u));
}
