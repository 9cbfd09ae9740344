// 2-D convolution, NCHW, as direct register-tiled kernels (no im2col buffer).
//
// One family of kernel bodies serves the forward pass and the input gradient. Each computes
//   out[b, o, oy, ox] = sum_{c, ky, kx} inp[b, c, vy / D, vx / D] * w(o, c, ky, kx)
//   with vy = oy * S - P + ky, vx = ox * S - P + kx (taps where v < 0, v % D != 0 or v / D is
//   past the edge read zero), and w addressed through signed element strides.
// Forward: inp = x, S = stride, D = 1, w(o, c, ky, kx) = weight[o, c, ky, kx].
// Input gradient (the transposed convolution): inp = dy, S = 1, D = stride, P = k - 1 - pad,
//   w(c, o, ky, kx) = weight[o, c, kh - 1 - ky, kw - 1 - kx] (flipped, in/out channels swapped).
//
// Entry points:
//   conv3x3     3x3 taps, S = D = 1: every VGG / BigGAN 3x3 layer, forward and input gradient
//   conv1x1     1x1 taps, S = D = 1, no padding: a matrix product per image
//   convGeneric anything else (any kernel size, stride, dilation and padding)
//   weightGrad  d(loss)/d(weight), partial sums over slices of the batch rows
//   weightGrad3x3  the same for 3x3 taps, stride 1, padding 1, W % 4 == 0, all 9 taps a thread
//                  (conv2dSubgroups.wgsl's weightGrad3x3Shared shares its dy reads across a subgroup)
// shaders/conv2dSubgroups.wgsl adds variants of conv3x3 and conv1x1 that share weight reads
// across a subgroup (compiled together with this file where the device has subgroups).
// The uniform blocks (p: the conv kernels, g: weightGrad, fold: phaseWeights and
// phaseWeightsGrad) and the buffers are declared in src/kernels/conv2d.ts. What repeats but for
// a count or a type (the entry points conv3x3, conv1x1 and convGeneric, channel3x3, taps, Rows4
// and storeRows) is WGSL written out by src/kernels/conv2dWgsl.ts from the helpers here.
//
// Why these shapes: lavapipe (a CPU driver) runs 8 invocations as one SIMD vector and, as of
// Mesa 25.0, turns every storage read inside a loop into a per-lane gather of ~10 scalar
// instructions per lane with branches, even when all lanes read the same address, while a
// multiply or add is one vector instruction. So the kernels minimise reads per multiply-add:
// a conv3x3 thread keeps 8 output channels x 32 output positions (256 accumulators) in
// registers and reads each input value once per input channel, reusing it for all 9 taps that
// touch it (144 reads per 2304 multiply-adds). Workgroup memory would not help: its reads are
// gathers too, and barriers are expensive. Bigger tiles read less but compile much slower in
// LLVM (conv3x3 already takes ~10 s to compile cold; Mesa caches it on disk afterwards).
// The loops stay free of `&&`/`||` (short-circuits become branches, and branches inside the
// channel loop break the accumulators out of registers); bias and relu are uniform flags rather
// than override constants so that one pipeline serves every layer.

override WORKGROUP: u32 = 64u;

// The thread's index: conv.ts folds threads past the dispatch limit into z (y numbers the blocks
// of output channels).
fn threadIndex(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.z * groups.x * WORKGROUP;
}

// 4 output positions x 8 output channels: lo holds channels 0-3, hi 4-7, one column each.
struct Acc {
  lo: mat4x4<f32>,
  hi: mat4x4<f32>,
}

// m += x (4 positions) outer w (4 channels).
fn outer(m: mat4x4<f32>, x: vec4<f32>, w4: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(m[0] + x * w4.x, m[1] + x * w4.y, m[2] + x * w4.z, m[3] + x * w4.w);
}

fn accumulate(a: Acc, x: vec4<f32>, wLo: vec4<f32>, wHi: vec4<f32>) -> Acc {
  return Acc(outer(a.lo, x, wLo), outer(a.hi, x, wHi));
}

// n, as a loop bound that the shader compiler cannot see through (bit 31 of flags is never set),
// so the loop stays a loop: unrolled, every storage read in its body becomes a code site of its
// own, and lavapipe compiles each site into a per-lane loop (npm run bench -- --compile).
fn kept(n: u32) -> u32 {
  return max(n, p.flags >> 31u);
}

fn weightIndex(o: u32, c: u32, ky: u32, kx: u32) -> u32 {
  return u32(p.wBase + i32(o) * p.wO + i32(c) * p.wC + i32(ky) * p.wKy + i32(kx) * p.wKx);
}

// w(o0 .. o0 + 3, c, ky, kx), output channels past the end clamped to the last one.
fn weight4(o0: u32, c: u32, ky: u32, kx: u32) -> vec4<f32> {
  var r: vec4<f32>;
  for (var k = 0u; k < kept(4u); k++) { r[k] = w[weightIndex(min(o0 + k, p.O - 1u), c, ky, kx)]; }
  return r;
}

// inp[rowBase + ix] if the row is inside the input and 0 <= ix < W, else 0 (no branches: `&`,
// not `&&`, and a clamped read).
fn load(rowBase: u32, rowOk: bool, ix: i32) -> f32 {
  let ok = rowOk & (ix >= 0) & (ix < i32(p.W));
  return select(0.0, inp[rowBase + u32(clamp(ix, 0, i32(p.W) - 1))], ok);
}

fn finish(v: vec4<f32>, oc: u32) -> vec4<f32> {
  var r = v;
  if ((p.flags & 1u) != 0u) { r += vec4<f32>(bias[oc]); }
  if ((p.flags & 2u) != 0u) { r = max(r, vec4<f32>(0.0)); }
  return r;
}

// out[b, oc, pos0 + i] = v[i] (+ bias, relu) for i < min(4, limit), where pos0 is the flattened
// (oy, ox) of the first of 4 neighbouring positions. Stores go through loops: lavapipe compiles
// every storage access in the code into a per-lane loop of its own, so 256 unrolled stores took
// longer to compile than the rest of the kernel (bench --compile).
fn storeCol(v: vec4<f32>, b: u32, oc: u32, pos0: u32, limit: u32) {
  if (oc >= p.O) { return; }
  let r = finish(v, oc);
  let base = (b * p.O + oc) * p.Ho * p.Wo + pos0;
  for (var i = 0u; i < min(limit, 4u); i++) { out[base + i] = r[i]; }
}

// The 4 positions x 8 channels block (channels o0 .. o0 + 7).
fn store(a: Acc, b: u32, o0: u32, pos0: u32, limit: u32) {
  let cols = array<vec4<f32>, 8>(a.lo[0], a.lo[1], a.lo[2], a.lo[3], a.hi[0], a.hi[1], a.hi[2], a.hi[3]);
  for (var k = 0u; k < kept(8u); k++) { storeCol(cols[k], b, o0 + k, pos0, limit); }
}

// ---------------------------------------------------------------------------------------------
// conv3x3: a thread owns two groups of 4 output rows x 4 output columns (each group placed on
// its own, so narrow outputs waste nothing) and 8 output channels (fixed per workgroup row y).

struct Group {
  valid: bool,
  b: u32,
  oy0: u32,
  ox0: u32,
}

// Group i of `quads`: 4 output columns, quadsX across, blocksY blocks of `rows` rows down an
// image. Past the end the last group is computed again (and not stored).
fn groupOf(i: u32, rows: u32) -> Group {
  let g = min(i, p.quads - 1u);
  let qx = g % p.quadsX;
  let r = g / p.quadsX;
  return Group(i < p.quads, r / p.blocksY, (r % p.blocksY) * rows, qx * 4u);
}

fn group(i: u32) -> Group { return groupOf(i, 4u); }
fn group1(i: u32) -> Group { return groupOf(i, 1u); }

// Input row oy0 + ry - P, columns ox0 - P .. ox0 - P + 5: everything 4 outputs x 3 taps read.
struct Window {
  a: vec4<f32>,
  b: vec2<f32>,
}

// A window's input columns under taps kx = 0, 1, 2 of its 4 outputs.
struct Shifted {
  s0: vec4<f32>,
  s1: vec4<f32>,
  s2: vec4<f32>,
}

fn shifted(x: Window) -> Shifted {
  return Shifted(x.a, vec4<f32>(x.a.yzw, x.b.x), vec4<f32>(x.a.zw, x.b));
}

// The 6 input rows a group of 4 output rows reads from one input channel.
struct Windows {
  x0: Window, x1: Window, x2: Window, x3: Window, x4: Window, x5: Window,
}

fn window(plane: u32, g: Group, ry: u32) -> Window {
  let iy = i32(g.oy0 + ry) - p.padY;
  let rowOk = (iy >= 0) & (iy < i32(p.H));
  let rb = (plane + u32(clamp(iy, 0, i32(p.H) - 1))) * p.W;
  let ix = i32(g.ox0) - p.padX;
  var v: array<f32, 6>;
  for (var i = 0u; i < kept(6u); i++) { v[i] = load(rb, rowOk, ix + i32(i)); }
  return Window(vec4<f32>(v[0], v[1], v[2], v[3]), vec2<f32>(v[4], v[5]));
}

// One kernel row: 3 taps x 8 channels.
struct KRow {
  lo0: vec4<f32>, hi0: vec4<f32>,
  lo1: vec4<f32>, hi1: vec4<f32>,
  lo2: vec4<f32>, hi2: vec4<f32>,
}

fn kernelRow(o0: u32, c: u32, ky: u32) -> KRow {
  return KRow(weight4(o0, c, ky, 0u), weight4(o0 + 4u, c, ky, 0u),
              weight4(o0, c, ky, 1u), weight4(o0 + 4u, c, ky, 1u),
              weight4(o0, c, ky, 2u), weight4(o0 + 4u, c, ky, 2u));
}

// In src/kernels/conv2dWgsl.ts: channel3x3, input channel c of one group (its 6 input rows each
// read once by window, and used by every output row and kernel row they reach), and the entry
// point, which per input channel reads the 3 kernel rows once (kernelRow) for channel3x3 of both
// groups, and ends with storeRows of each.

// ---------------------------------------------------------------------------------------------
// conv1x1 (no padding): a matrix product per image. A thread owns 4 groups of 4 consecutive
// positions of the flattened Ho * Wo plane (each group placed on its own) x 8 output channels.

struct Quad {
  valid: bool,
  b: u32,
  pos: u32,
}

fn quad(i: u32) -> Quad {
  let q = min(i, p.quads - 1u);
  return Quad(i < p.quads, q / p.quadsX, (q % p.quadsX) * 4u);
}

fn quadInput(q: Quad, c: u32) -> vec4<f32> {
  let hw = p.H * p.W;
  let base = (q.b * p.C + c) * hw;
  var v: vec4<f32>;
  for (var i = 0u; i < kept(4u); i++) { v[i] = inp[base + min(q.pos + i, hw - 1u)]; }
  return v;
}

fn storeQuad(a: Acc, q: Quad, o0: u32) {
  if (q.valid) { store(a, q.b, o0, q.pos, p.Ho * p.Wo - q.pos); }
}

// The entry point (src/kernels/conv2dWgsl.ts) reads one weight4 pair per input channel for the
// quadInput of all 4 groups, and ends with storeQuad of each.

// ---------------------------------------------------------------------------------------------
// convGeneric: any kernel size, stride S and input dilation D. A thread owns 4 neighbouring
// output columns x 8 output channels and reads every tap on its own.

// The stored index of virtual coordinate v along an axis of `size` (see the header), or -1.
fn dilated(v: i32, size: u32) -> i32 {
  let q = v / i32(p.D);
  return select(-1, q, (v >= 0) & (q * i32(p.D) == v) & (q < i32(size)));
}

// Output columns ox0 .. ox0 + 3 of output row oy, input channel c: every tap, read on its own.
fn channelGeneric(a: Acc, g: Group, o0: u32, c: u32) -> Acc {
  let plane = (g.b * p.C + c) * p.H;
  let s = i32(p.S);
  let vx0 = i32(g.ox0) * s - p.padX;
  var r = a;
  for (var ky = 0u; ky < p.KH; ky++) {
    let iy = dilated(i32(g.oy0) * s - p.padY + i32(ky), p.H);
    let rowOk = iy >= 0;
    let rb = (plane + u32(max(iy, 0))) * p.W;
    for (var kx = 0u; kx < p.KW; kx++) {
      let vx = vx0 + i32(kx);
      let x = vec4<f32>(load(rb, rowOk, dilated(vx, p.W)), load(rb, rowOk, dilated(vx + s, p.W)),
                        load(rb, rowOk, dilated(vx + 2 * s, p.W)), load(rb, rowOk, dilated(vx + 3 * s, p.W)));
      r = accumulate(r, x, weight4(o0, c, ky, kx), weight4(o0 + 4u, c, ky, kx));
    }
  }
  return r;
}

// The entry point (src/kernels/conv2dWgsl.ts): two groups one output row high (group1; blocksY =
// Ho), channelGeneric of each per input channel.

// ---------------------------------------------------------------------------------------------
// Weight gradient: dW[o, c, ky, kx] = sum_{b, oy, ox} dy[b, o, oy, ox] * x[b, c, oy*S - P + ky, ox*S - P + kx].
// A thread owns 4 taps (consecutive (c, ky, kx) indices) x 8 output channels (fixed per
// workgroup row y), so each dy value it reads serves 4 taps; workgroup layer z sums its slice
// of the (b, oy) rows into part[z, o, c, ky, kx], which the host sums over z. Output columns go
// 4 at a time: lo[k] (hi[k]) of a tap's Acc sums channel o0 + k (o0 + 4 + k) separately for
// each column position mod 4, and the four are added at the end.

// Its uniform block is g (fields as p's; rows = B * Ho), its buffers gx = x, gdy = dy and part.

struct Tap {
  j: u32,
  valid: bool,
  c: u32,
  ky: u32,
  kx: u32,
}

// kept() for weightGrad, whose uniform block is g (rows never reaches 2^31).
fn keptG(n: u32) -> u32 {
  return max(n, g.rows >> 31u);
}

fn tapOf(i: u32) -> Tap {
  let taps = g.C * g.KH * g.KW;
  let j = min(i, taps - 1u);
  return Tap(j, i < taps, j / (g.KW * g.KH), (j / g.KW) % g.KH, j % g.KW);
}

// x[b, c, oy*S - P + ky, (ox + i)*S - P + kx] for i < 4, zero outside the input or past Wo.
fn xQuad(t: Tap, b: u32, oy: u32, ox: u32) -> vec4<f32> {
  let iy = i32(oy * g.S) - g.padY + i32(t.ky);
  let rowOk = (iy >= 0) & (iy < i32(g.H));
  let rb = ((b * g.C + t.c) * g.H + u32(clamp(iy, 0, i32(g.H) - 1))) * g.W;
  let s = i32(g.S);
  let ix = i32(ox) * s - g.padX + i32(t.kx);
  var v: vec4<f32>;
  for (var i = 0u; i < keptG(4u); i++) {
    let x = ix + i32(i) * s;
    let ok = rowOk & (x >= 0) & (x < i32(g.W)) & (ox + i < g.Wo);
    v[i] = select(0.0, gx[rb + u32(clamp(x, 0, i32(g.W) - 1))], ok);
  }
  return v;
}

// dy[b, o, oy, ox .. ox + 3] (channel o clamped to O - 1, columns to Wo - 1).
fn dyQuad(b: u32, o: u32, oy: u32, ox: u32) -> vec4<f32> {
  let rb = ((b * g.O + min(o, g.O - 1u)) * g.Ho + oy) * g.Wo;
  var v: vec4<f32>;
  for (var i = 0u; i < keptG(4u); i++) { v[i] = gdy[rb + min(ox + i, g.Wo - 1u)]; }
  return v;
}

fn gradAcc(a: Acc, x: vec4<f32>, lo: mat4x4<f32>, hi: mat4x4<f32>) -> Acc {
  return Acc(mat4x4<f32>(a.lo[0] + x * lo[0], a.lo[1] + x * lo[1], a.lo[2] + x * lo[2], a.lo[3] + x * lo[3]),
             mat4x4<f32>(a.hi[0] + x * hi[0], a.hi[1] + x * hi[1], a.hi[2] + x * hi[2], a.hi[3] + x * hi[3]));
}

fn partStore(t: Tap, z: u32, o0: u32, a: Acc) {
  if (!t.valid) { return; }
  let taps = g.C * g.KH * g.KW;
  let at = (z * g.O + o0) * taps + t.j;
  let one = vec4<f32>(1.0);
  let sums = array<vec4<f32>, 2>(vec4<f32>(dot(a.lo[0], one), dot(a.lo[1], one), dot(a.lo[2], one), dot(a.lo[3], one)),
                                 vec4<f32>(dot(a.hi[0], one), dot(a.hi[1], one), dot(a.hi[2], one), dot(a.hi[3], one)));
  for (var k = 0u; k < keptG(8u); k++) {
    if (o0 + k < g.O) { part[at + k * taps] = sums[k / 4u][k % 4u]; }
  }
}

@compute @workgroup_size(WORKGROUP)
fn weightGrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let t0 = tapOf(4u * gid.x);
  if (!t0.valid) { return; }
  let t1 = tapOf(4u * gid.x + 1u);
  let t2 = tapOf(4u * gid.x + 2u);
  let t3 = tapOf(4u * gid.x + 3u);
  let o0 = wg.y * 8u;
  var a0: Acc;
  var a1: Acc;
  var a2: Acc;
  var a3: Acc;
  let r1 = min((wg.z + 1u) * g.rowsPerSplit, g.rows);
  for (var r = wg.z * g.rowsPerSplit; r < r1; r++) {
    let b = r / g.Ho;
    let oy = r % g.Ho;
    for (var ox = 0u; ox < g.Wo; ox += 4u) {
      var d: array<vec4<f32>, 8>;
      for (var k = 0u; k < keptG(8u); k++) { d[k] = dyQuad(b, o0 + k, oy, ox); }
      let lo = mat4x4<f32>(d[0], d[1], d[2], d[3]);
      let hi = mat4x4<f32>(d[4], d[5], d[6], d[7]);
      a0 = gradAcc(a0, xQuad(t0, b, oy, ox), lo, hi);
      a1 = gradAcc(a1, xQuad(t1, b, oy, ox), lo, hi);
      a2 = gradAcc(a2, xQuad(t2, b, oy, ox), lo, hi);
      a3 = gradAcc(a3, xQuad(t3, b, oy, ox), lo, hi);
    }
  }
  partStore(t0, wg.z, o0, a0);
  partStore(t1, wg.z, o0, a1);
  partStore(t2, wg.z, o0, a2);
  partStore(t3, wg.z, o0, a3);
}

// weightGrad3x3: weightGrad for 3x3 taps, stride 1, padding 1 and W % 4 == 0 (BigGAN's and the
// VGGs' 3x3 layers). A thread per input channel c and 8 output channels keeps all 9 taps (72
// sums) and, per group of 4 output columns, reads the 3 input rows the taps touch as one vec4 and
// two scalars each (columns ox - 1 .. ox + 4) and dy as one vec4 per output channel: 17 reads for
// 288 multiply-adds, where weightGrad's thread of 4 taps makes 48 scalar reads for 128.

// x[plane row iy, columns ox - 1 .. ox + 4] as the 3 column shifts kx = 0, 1, 2 of 4 positions;
// zero outside the image (padding 1). Columns ox .. ox + 3 are one aligned vec4 (W % 4 == 0).
fn gradRow3(plane: u32, iy: i32, ox: u32) -> array<vec4<f32>, 3> {
  let ok = (iy >= 0) & (iy < i32(g.H));
  let rb = (plane + u32(clamp(iy, 0, i32(g.H) - 1))) * g.W;
  let mid = select(vec4<f32>(0.0), gx4[(rb + ox) / 4u], ok);
  let left = select(0.0, gx[rb + u32(max(i32(ox) - 1, 0))], ok & (ox > 0u));
  let right = select(0.0, gx[rb + min(ox + 4u, g.W - 1u)], ok & (ox + 4u < g.W));
  return array<vec4<f32>, 3>(vec4<f32>(left, mid.xyz), mid, vec4<f32>(mid.yzw, right));
}

// Tap t's sums for output channels o0 .. o0 + 7 (lo: 0-3, hi: 4-7) into part slice z.
fn storeTap3x3(z: u32, o0: u32, c: u32, t: u32, lo: vec4<f32>, hi: vec4<f32>) {
  for (var k = 0u; k < keptG(8u); k++) {
    let v = select(hi[k % 4u], lo[k % 4u], k < 4u);
    if (o0 + k < g.O) { part[((z * g.O + o0 + k) * g.C + c) * 9u + t] = v; }
  }
}

// Tap t (= 3 ky + kx) of a 3x3 weight gradient: sums[2 t] for output channels o0 .. o0 + 3,
// sums[2 t + 1] for o0 + 4 .. o0 + 7.
alias Sums3x3 = array<vec4<f32>, 18>;

// One group of 4 output columns at (b, oy, ox) into the sums of input channel c, given dy of the 8
// output channels (lo: o0 .. o0 + 3, hi: o0 + 4 .. o0 + 7, a column each).
fn accumulate3x3(a: ptr<function, Sums3x3>, c: u32, at: vec3<u32>, lo: mat4x4<f32>, hi: mat4x4<f32>) {
  let plane = (at.x * g.C + c) * g.H;
  var x: array<array<vec4<f32>, 3>, 3>;
  for (var ky = 0u; ky < keptG(3u); ky++) { x[ky] = gradRow3(plane, i32(at.y + ky) - 1, at.z); }
  // x * m: the dot products of x's 4 positions with each column (an output channel's dy).
  (*a)[0] += x[0][0] * lo; (*a)[1] += x[0][0] * hi; (*a)[2] += x[0][1] * lo; (*a)[3] += x[0][1] * hi;
  (*a)[4] += x[0][2] * lo; (*a)[5] += x[0][2] * hi; (*a)[6] += x[1][0] * lo; (*a)[7] += x[1][0] * hi;
  (*a)[8] += x[1][1] * lo; (*a)[9] += x[1][1] * hi; (*a)[10] += x[1][2] * lo; (*a)[11] += x[1][2] * hi;
  (*a)[12] += x[2][0] * lo; (*a)[13] += x[2][0] * hi; (*a)[14] += x[2][1] * lo; (*a)[15] += x[2][1] * hi;
  (*a)[16] += x[2][2] * lo; (*a)[17] += x[2][2] * hi;
}

fn store3x3(z: u32, o0: u32, c: u32, a: Sums3x3) {
  storeTap3x3(z, o0, c, 0u, a[0], a[1]);
  storeTap3x3(z, o0, c, 1u, a[2], a[3]);
  storeTap3x3(z, o0, c, 2u, a[4], a[5]);
  storeTap3x3(z, o0, c, 3u, a[6], a[7]);
  storeTap3x3(z, o0, c, 4u, a[8], a[9]);
  storeTap3x3(z, o0, c, 5u, a[10], a[11]);
  storeTap3x3(z, o0, c, 6u, a[12], a[13]);
  storeTap3x3(z, o0, c, 7u, a[14], a[15]);
  storeTap3x3(z, o0, c, 8u, a[16], a[17]);
}

// Group q of 4 output columns, counted over the batch's rows: (b, oy, ox) (Wo % 4 == 0).
fn quad3x3(q: u32) -> vec3<u32> {
  let perRow = g.Wo / 4u;
  let r = q / perRow;
  return vec3<u32>(r / g.Ho, r % g.Ho, (q % perRow) * 4u);
}

// The groups of 4 columns of split z's rows: [x, y).
fn splitQuads3x3(z: u32) -> vec2<u32> {
  let perRow = g.Wo / 4u;
  return vec2<u32>(z * g.rowsPerSplit * perRow, min((z + 1u) * g.rowsPerSplit, g.rows) * perRow);
}

// dy[b, o, oy, ox .. ox + 3] of output channel o (clamped to the last one), one vec4.
fn dyRow4(at: vec3<u32>, o: u32) -> vec4<f32> {
  return gdy4[(((at.x * g.O + min(o, g.O - 1u)) * g.Ho + at.y) * g.Wo + at.z) / 4u];
}

@compute @workgroup_size(WORKGROUP)
fn weightGrad3x3(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let c = gid.x;
  if (c >= g.C) { return; }
  let o0 = wg.y * 8u;
  var a: Sums3x3;
  let quads = splitQuads3x3(wg.z);
  for (var q = quads.x; q < quads.y; q++) {
    let at = quad3x3(q);
    var d: array<vec4<f32>, 8>;
    for (var k = 0u; k < keptG(8u); k++) { d[k] = dyRow4(at, o0 + k); }
    accumulate3x3(&a, c, at, mat4x4<f32>(d[0], d[1], d[2], d[3]), mat4x4<f32>(d[4], d[5], d[6], d[7]));
  }
  store3x3(wg.z, o0, c, a);
}

// ---------------------------------------------------------------------------------------------
// Phase weights of a nearest x2 upsample followed by a 3x3 conv with padding 1 (conv.ts's
// upsampleConv2d; the kernel is upConv3x3Shared16 in conv2dSubgroups.wgsl). Output pixel
// (2Y + py, 2X + px) of the conv reads the upsampled input at rows 2Y + py - 1 .. 2Y + py + 1,
// which are source rows Y + py - 1 + a for a in {0, 1} (and likewise for columns): the 3x3
// kernel folds into a 2x2 kernel per phase (py, px),
//   pw[py, px, o, c, a, b] = sum of w[o, c, ky, kx] over ky in S(py, a), kx in S(px, b),
//   S(0, 0) = {0}, S(0, 1) = {1, 2}, S(1, 0) = {0, 1}, S(1, 1) = {2},
// 4 multiply-adds per output pixel instead of 9. Zero padding of the upsampled image is zero
// padding of the source image, since upsampled row u is source row floor(u / 2).
// A thread per (phase, o, c): fold.O, fold.C the conv's channels, pw laid out [phase][o][c][a][b]
// in `folded`.

fn taps2(w0: f32, w1: f32, w2: f32, first: bool) -> vec2<f32> {
  return select(vec2<f32>(w0 + w1, w2), vec2<f32>(w0, w1 + w2), first);
}

@compute @workgroup_size(WORKGROUP)
fn phaseWeights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);  // grid() folds wide layers into y
  let n = fold.O * fold.C;
  if (i >= 4u * n) { return; }
  let phase = i / n;
  let oc = i - phase * n;
  let py0 = phase < 2u;        // py == 0
  let px0 = phase % 2u == 0u;  // px == 0
  let base = oc * 9u;
  // Columns first: each kernel row ky folded to 2 taps along x.
  let r0 = taps2(weight[base], weight[base + 1u], weight[base + 2u], px0);
  let r1 = taps2(weight[base + 3u], weight[base + 4u], weight[base + 5u], px0);
  let r2 = taps2(weight[base + 6u], weight[base + 7u], weight[base + 8u], px0);
  // Then rows: S(py, a) along y.
  let a0 = select(r0 + r1, r0, py0);
  let a1 = select(r2, r1 + r2, py0);
  let at = i * 4u;
  folded[at] = a0.x;
  folded[at + 1u] = a0.y;
  folded[at + 2u] = a1.x;
  folded[at + 3u] = a1.y;
}

// The input gradient of the same op: d(loss)/dx[b, c, Y, X] sums the conv's input gradient over
// the 2x2 block of (Y, X), which with the conv's transposed taps is a stride-2 correlation of dy
// with a 4x4 kernel:
//   dx[b, c, Y, X] = sum_{o, r, s} dy[b, o, 2Y - 1 + r, 2X - 1 + s] * K[c, o, r, s],
//   K[c, o, r, s] = sum of w[o, c, ky, kx] over ky in R(r), kx in R(s),
//   R(0) = {2}, R(1) = {1, 2}, R(2) = {0, 1}, R(3) = {0},
// 16 multiply-adds per input pixel instead of 4 x 9 (upConv3x3GradShared16 in conv2dSubgroups.wgsl).
// A thread per (c, o), K laid out [c][o][r][s] in `folded`.

fn fold4(w0: f32, w1: f32, w2: f32) -> vec4<f32> {
  return vec4<f32>(w2, w1 + w2, w0 + w1, w0);
}

@compute @workgroup_size(WORKGROUP)
fn phaseWeightsGrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);  // grid() folds wide layers into y
  if (i >= fold.O * fold.C) { return; }
  let c = i / fold.O;
  let o = i - c * fold.O;
  let base = (o * fold.C + c) * 9u;
  let u0 = fold4(weight[base], weight[base + 1u], weight[base + 2u]);
  let u1 = fold4(weight[base + 3u], weight[base + 4u], weight[base + 5u]);
  let u2 = fold4(weight[base + 6u], weight[base + 7u], weight[base + 8u]);
  let rows = array<vec4<f32>, 4>(u2, u1 + u2, u0 + u1, u0);
  for (var r = 0u; r < 4u; r++) {
    for (var s = 0u; s < 4u; s++) { folded[i * 16u + r * 4u + s] = rows[r][s]; }
  }
}
