// Elementwise family: unary maps, binary maps with broadcasting, and fill.
// OP selects the function; it is an override constant, so each op compiles to its own pipeline
// with the switch folded away. Shapes travel in the uniform block, so one pipeline serves all.
// unaryOp and binaryOp, their switches over OP, are rendered from the op table in
// src/kernels/elementwise.ts, where the uniform block `p` and the buffers are declared too.
//
// unary4 / binarySame4 / fill4 serve sizes that are a multiple of 4: the buffers seen as vec4s,
// VEC4_PER_THREAD of them per thread. On lavapipe every storage access is a per-lane loop with a
// bounds check (see conv2d.wgsl), paid once per vec4 rather than once per element, and a thread's
// index arithmetic serves 16 elements: 4-6x faster than a thread per element (relu on 2 M floats
// 6 ms -> 1-1.5 ms).

override OP: u32 = 0u;
override WORKGROUP: u32 = 256u;

const VEC4_PER_THREAD = 4u;

fn softplus(v: f32) -> f32 {
  // log(1 + e^v) without overflow for large v (PyTorch switches to identity above 20).
  if (v > 20.0) { return v; }
  return log(1.0 + exp(v));
}

// WGSL's pow(x, e) is undefined for x < 0 (NaN on lavapipe) and for x = e = 0 (0 on lavapipe):
// x^0 = 1, integer powers of negative numbers keep their sign rule, other negative powers are NaN.
fn powScalar(v: f32, e: f32) -> f32 {
  if (e == 0.0) { return 1.0; }
  if (v >= 0.0) { return pow(v, e); }
  if (e != floor(e)) { return nan(); }
  let r = pow(-v, e);
  if (e - 2.0 * floor(e * 0.5) == 1.0) { return -r; }
  return r;
}

fn sigmoid(v: f32) -> f32 {
  return 1.0 / (1.0 + exp(-v));
}

fn unaryOp4(v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(unaryOp(v.x), unaryOp(v.y), unaryOp(v.z), unaryOp(v.w));
}

fn binaryOp4(u: vec4<f32>, v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(binaryOp(u.x, v.x), binaryOp(u.y, v.y), binaryOp(u.z, v.z), binaryOp(u.w, v.w));
}

/// The vec4s [first, end) of this thread (end <= first when it has none).
struct Span { first: u32, end: u32 }

fn span4(gid: vec3<u32>, groups: vec3<u32>) -> Span {
  let first = flatIndex(gid, groups) * VEC4_PER_THREAD;
  return Span(first, min(first + VEC4_PER_THREAD, p.n / 4u));
}

@compute @workgroup_size(WORKGROUP)
fn unary4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span4(gid, groups);
  for (var i = s.first; i < s.end; i++) { y4[i] = unaryOp4(x4[i]); }
}

@compute @workgroup_size(WORKGROUP)
fn binarySame4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span4(gid, groups);
  for (var i = s.first; i < s.end; i++) { out4[i] = binaryOp4(a4[i], b4[i]); }
}

@compute @workgroup_size(WORKGROUP)
fn fill4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span4(gid, groups);
  for (var i = s.first; i < s.end; i++) { filled4[i] = vec4<f32>(p.scalar); }
}

@compute @workgroup_size(WORKGROUP)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.n) { return; }
  y[i] = unaryOp(x[i]);
}

// Both operands have the output's shape: no index arithmetic.
@compute @workgroup_size(WORKGROUP)
fn binarySame(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.n) { return; }
  out[i] = binaryOp(a[i], b[i]);
}

@compute @workgroup_size(WORKGROUP)
fn binaryBroadcast(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.n) { return; }
  let at = stridedOffsets(i, p.rank, p.shape, p.aStrides, p.bStrides);
  out[i] = binaryOp(a[at.x], b[at.y]);
}

// Broadcasting over at most two (collapsed) dimensions, rows along the grid's y: no integer
// division (lavapipe divides one lane at a time). shape[0].xy = (rows, columns), strides likewise.
@compute @workgroup_size(WORKGROUP)
fn binaryBroadcast2(@builtin(global_invocation_id) gid: vec3<u32>) {
  let cols = p.shape[0].y;
  let col = gid.x;
  let row = gid.y;
  if (col >= cols) { return; }
  let ia = row * p.aStrides[0].x + col * p.aStrides[0].y;
  let ib = row * p.bStrides[0].x + col * p.bStrides[0].y;
  out[row * cols + col] = binaryOp(a[ia], b[ib]);
}

@compute @workgroup_size(WORKGROUP)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.n) { return; }
  filled[i] = p.scalar;
}
