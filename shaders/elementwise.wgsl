// Elementwise family: unary maps, binary maps with broadcasting, and fill.
// OP selects the function; it is an override constant, so each op compiles to its own pipeline
// with the switch folded away. Shapes travel in the uniform block, so one pipeline serves all.
//
// unary4 / binarySame4 / fill4 serve sizes that are a multiple of 4: the buffers seen as vec4s,
// VEC4_PER_THREAD of them per thread. On lavapipe every storage access is a per-lane loop with a
// bounds check (see conv2d.wgsl), paid once per vec4 rather than once per element, and a thread's
// index arithmetic serves 16 elements: 4-6x faster than a thread per element (relu on 2 M floats
// 6 ms -> 1-1.5 ms).

struct Params {
  shape: array<vec4<u32>, 2>,     // output shape, rank <= 8, padded with 1
  aStrides: array<vec4<u32>, 2>,  // element strides of a per output dim (0 where broadcast)
  bStrides: array<vec4<u32>, 2>,
  rank: u32,
  n: u32,
  scalar: f32,
  scalar2: f32,
}

// A private variable, not a constant: WGSL refuses NaN in constant expressions.
var<private> nanBits: u32 = 0x7fc00000u;

override OP: u32 = 0u;
override WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@group(0) @binding(1) var<storage, read_write> filled: array<f32>;

@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> filled4: array<vec4<f32>>;

const VEC4_PER_THREAD = 4u;

fn dim(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}

fn index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WORKGROUP;
}

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
  if (e != floor(e)) { return bitcast<f32>(nanBits); }
  let r = pow(-v, e);
  if (e - 2.0 * floor(e * 0.5) == 1.0) { return -r; }
  return r;
}

fn sigmoid(v: f32) -> f32 {
  return 1.0 / (1.0 + exp(-v));
}

fn unaryOp(v: f32) -> f32 {
  switch OP {
    case 0u: { return -v; }
    case 1u: { return max(v, 0.0); }
    case 2u: { return tanh(v); }
    case 3u: { return exp(v); }
    case 4u: { return log(v); }
    case 5u: { return sqrt(v); }
    case 6u: { return v * v; }
    case 7u: { return sigmoid(v); }
    case 8u: { return softplus(v); }
    case 9u: { return abs(v); }
    case 10u: { return v + p.scalar; }
    case 11u: { return v * p.scalar; }
    case 12u: { return powScalar(v, p.scalar); }
    case 13u: { return v; }
    case 14u: { return v * p.scalar + p.scalar2; }
    case 15u: { return clamp(v, p.scalar, p.scalar2); }
    default: { return v; }
  }
}

fn binaryOp(u: f32, v: f32) -> f32 {
  switch OP {
    case 0u: { return u + v; }
    case 1u: { return u - v; }
    case 2u: { return u * v; }
    case 3u: { return u / v; }
    case 4u: { return max(u, v); }
    case 5u: { return min(u, v); }
    // Backward helpers: u is the incoming gradient, v what the forward saved.
    case 6u: { return select(0.0, u, v > 0.0); }          // relu'(x) with v = x
    case 7u: { return u * (1.0 - v * v); }                // tanh' with v = tanh(x)
    case 8u: { return u * v * (1.0 - v); }                // sigmoid' with v = sigmoid(x)
    case 9u: { return u * sigmoid(v); }                   // softplus' with v = x
    case 10u: { return select(0.0, 1.0, u == v); }        // equality mask (max backward)
    case 11u: { return u * sign(v); }                     // abs' with v = x
    case 12u: { return select(0.0, u, v >= p.scalar && v <= p.scalar2); } // clamp' with v = x
    default: { return u; }
  }
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
  let first = index(gid, groups) * VEC4_PER_THREAD;
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
  let i = index(gid, groups);
  if (i >= p.n) { return; }
  y[i] = unaryOp(x[i]);
}

// Both operands have the output's shape: no index arithmetic.
@compute @workgroup_size(WORKGROUP)
fn binarySame(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= p.n) { return; }
  out[i] = binaryOp(a[i], b[i]);
}

@compute @workgroup_size(WORKGROUP)
fn binaryBroadcast(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= p.n) { return; }
  var rest = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let size = dim(p.shape, u32(d));
    let coord = rest % size;
    rest = rest / size;
    ia += coord * dim(p.aStrides, u32(d));
    ib += coord * dim(p.bStrides, u32(d));
  }
  out[i] = binaryOp(a[ia], b[ib]);
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
  let i = index(gid, groups);
  if (i >= p.n) { return; }
  filled[i] = p.scalar;
}
