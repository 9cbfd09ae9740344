// Subgroup variants of conv2d.wgsl's conv3x3 and conv1x1, compiled as one module with it (family
// 'conv2d+conv2dSubgroups'; src/kernels/conv2d.ts uses them where the device has 'subgroups' with
// subgroups at least 8 wide). Same uniforms, groups and stores as conv2d.wgsl; the buffers add
// inp4 (the input again, as vec4s, at a binding of its own: an entry point may not read two
// variables at one binding) and pw (upConv's phase weights), declared in src/kernels/conv2d.ts.
// rows3x3Shared (4 output rows from 6 windows), upRowsShared, gradRowsShared, conv3x3Shared8 and
// conv3x3Shared4 are WGSL written out by src/kernels/conv2dWgsl.ts. They add a channel's taps onto
// each of its output columns in one sum, channel by channel (rows3x3Shared says why).
//
// Why: on lavapipe a storage read is a per-lane gather (conv2d.wgsl's header) even where every
// lane reads the same address, and in the plain kernels half the reads are weights that all lanes
// of a workgroup share. Here lane i (i < 8) of each subgroup reads the weights of output channel
// o0 + i only, and every lane gets all 8 channels' weights by subgroupBroadcast from a constant
// lane (a register shuffle). With weights that cheap a thread takes 16 output channels and one
// group of 4 x 4 positions (conv3x3) instead of 8 channels and two groups: the same 256
// accumulators, but each input value read serves twice the multiply-adds. Per input channel a
// conv3x3 thread reads 36 inputs and 18 weights for 2304 multiply-adds (the plain kernel: 144).
//
// The input rows come as one vec4 load and two scalar loads (columns ox0 - 1, ox0 .. ox0 + 3,
// ox0 + 4) instead of six scalar loads: a vec4 load pays lavapipe's per-lane loop overhead once
// for four values (10-20% faster on the default pair's layers). So the 3x3 kernels need
// padding 1 along x and an input width that is a multiple of 4 (every 3x3 layer of the default
// pair, forward and input gradient), conv1x1Shared16 a plane size that is a multiple of 4;
// conv.ts uses the plain kernels elsewhere.
//
// Subgroup operations need uniform control flow: threads past the last group compute a clamped
// copy of it and skip only the store (no early return).

enable subgroups;

// w(o0 + lane % 8, c, ky, kx) for lanes 0-3 (lo) and 4-7 (hi), given the value `t` each lane
// read for its own channel.
fn sharedLo(t: f32) -> vec4<f32> {
  return vec4<f32>(subgroupBroadcast(t, 0u), subgroupBroadcast(t, 1u), subgroupBroadcast(t, 2u), subgroupBroadcast(t, 3u));
}

fn sharedHi(t: f32) -> vec4<f32> {
  return vec4<f32>(subgroupBroadcast(t, 4u), subgroupBroadcast(t, 5u), subgroupBroadcast(t, 6u), subgroupBroadcast(t, 7u));
}

// The 9 taps w(o, c, ky, kx), tap 3 ky + kx, of this lane's channel o (one read site: a loop).
fn laneTaps(o: u32, c: u32) -> array<f32, 9> {
  var t: array<f32, 9>;
  for (var i = 0u; i < kept(9u); i++) { t[i] = w[weightIndex(o, c, i / 3u, i % 3u)]; }
  return t;
}

// The 8 output channels o0 .. o0 + 7 this lane reads weights for: its own, clamped to the last.
fn laneChannel(o0: u32, lane: u32) -> u32 {
  return min(o0 + lane % 8u, p.O - 1u);
}

// Block `block` of 16 output channels, from o0, and this lane's channel in each half of 8.
struct Channels16 { o0: u32, lo: u32, hi: u32 }

fn channels16(block: u32, lane: u32) -> Channels16 {
  let o0 = block * 16u;
  return Channels16(o0, laneChannel(o0, lane), laneChannel(o0 + 8u, lane));
}

// conv2d.wgsl's window (input row oy0 + ry - P, columns ox0 - 1 .. ox0 + 4) with padX = 1 and
// W % 4 == 0: columns ox0 .. ox0 + 3 are one aligned vec4, always inside the row.
fn windowV(plane: u32, g: Group, ry: u32) -> Window {
  let iy = i32(g.oy0 + ry) - p.padY;
  let rowOk = (iy >= 0) & (iy < i32(p.H));
  let rb = (plane + u32(clamp(iy, 0, i32(p.H) - 1))) * p.W;
  let mid = select(vec4<f32>(0.0), inp4[(rb + g.ox0) / 4u], rowOk);
  return Window(vec4<f32>(load(rb, rowOk, i32(g.ox0) - 1), mid.xyz), vec2<f32>(mid.w, load(rb, rowOk, i32(g.ox0) + 4)));
}

fn windows(plane: u32, g: Group) -> Windows {
  var x: array<Window, 6>;
  for (var r = 0u; r < kept(6u); r++) { x[r] = windowV(plane, g, r); }
  return Windows(x[0], x[1], x[2], x[3], x[4], x[5]);
}

// conv3x3, 16 output channels (workgroup row y) x one group of 4 x 4 positions per thread.
@compute @workgroup_size(WORKGROUP)
fn conv3x3Shared16(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                   @builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let g = group(threadIndex(gid, groups));
  let o = channels16(wg.y, lane);
  var a0: Rows4;
  var a1: Rows4;
  for (var c = 0u; c < p.C; c++) {
    let x = windows((g.b * p.C + c) * p.H, g);
    a0 = rows3x3Shared(a0, x, laneTaps(o.lo, c));
    a1 = rows3x3Shared(a1, x, laneTaps(o.hi, c));
  }
  storeRows(a0, g, o.o0);
  storeRows(a1, g, o.o0 + 8u);
}

// conv3x3Shared8 (at most 8 output channels: 8 channels x two groups per thread, as conv3x3) and
// conv3x3Shared4 (at most 4, such as an RGB output or the input gradient of a first layer: 4
// channels x four groups, so that no accumulator is spent on channels that do not exist) are
// written out by conv3x3Shared in src/kernels/conv2dWgsl.ts. The 4-channel kernel row, a vec4 of
// channels per tap (its output rows, Rows4Q: a mat4x4 each, columns the channels o0 .. o0 + 3):
// conv.ts's quadInput as one vec4 load: needs Ho * Wo (= H * W) % 4 == 0.
fn quadInputV(q: Quad, c: u32) -> vec4<f32> {
  return inp4[((q.b * p.C + c) * p.H * p.W + q.pos) / 4u];
}

// conv1x1 (no padding), 16 output channels x 4 groups of 4 positions per thread; H * W a
// multiple of 4.
@compute @workgroup_size(WORKGROUP)
fn conv1x1Shared16(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                   @builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let t = threadIndex(gid, groups);
  let q0 = quad(4u * t);
  let q1 = quad(4u * t + 1u);
  let q2 = quad(4u * t + 2u);
  let q3 = quad(4u * t + 3u);
  let o = channels16(wg.y, lane);
  var a0: Acc; var a1: Acc; var a2: Acc; var a3: Acc;
  var b0: Acc; var b1: Acc; var b2: Acc; var b3: Acc;
  for (var c = 0u; c < p.C; c++) {
    let tLo = w[weightIndex(o.lo, c, 0u, 0u)];
    let tHi = w[weightIndex(o.hi, c, 0u, 0u)];
    let lo0 = sharedLo(tLo);
    let hi0 = sharedHi(tLo);
    let lo1 = sharedLo(tHi);
    let hi1 = sharedHi(tHi);
    let x0 = quadInputV(q0, c);
    let x1 = quadInputV(q1, c);
    let x2 = quadInputV(q2, c);
    let x3 = quadInputV(q3, c);
    a0 = accumulate(a0, x0, lo0, hi0);
    a1 = accumulate(a1, x1, lo0, hi0);
    a2 = accumulate(a2, x2, lo0, hi0);
    a3 = accumulate(a3, x3, lo0, hi0);
    b0 = accumulate(b0, x0, lo1, hi1);
    b1 = accumulate(b1, x1, lo1, hi1);
    b2 = accumulate(b2, x2, lo1, hi1);
    b3 = accumulate(b3, x3, lo1, hi1);
  }
  storeQuad(a0, q0, o.o0);
  storeQuad(a1, q1, o.o0);
  storeQuad(a2, q2, o.o0);
  storeQuad(a3, q3, o.o0);
  storeQuad(b0, q0, o.o0 + 8u);
  storeQuad(b1, q1, o.o0 + 8u);
  storeQuad(b2, q2, o.o0 + 8u);
  storeQuad(b3, q3, o.o0 + 8u);
}

// ---------------------------------------------------------------------------------------------
// upConv3x3Shared16: a nearest x2 upsample followed by a 3x3 conv with padding 1, without the
// upsampled image: out[b, o, 2Y + py, 2X + px] = sum_{c, a, b'} inp[b, c, Y + py - 1 + a,
// X + px - 1 + b'] * pw[py, px, o, c, a, b'] (+ bias, relu), pw from conv2d.wgsl's
// phaseWeights. A thread owns one phase (py, px), 16 output channels and a group of 4 x 4 source
// positions (4 x 4 output pixels 2 apart); the phase and the channel block are the workgroup row
// y, so a subgroup shares both and the weights can be broadcast. p describes the source: C, H, W
// (a multiple of 4), quadsX and blocksY over it; O, Ho = 2H, Wo = 2W; padY = padX = 1.

// Source row of the window, as the 4 columns each tap b' reads for the 4 output columns:
// columns X0 + px - 1 + s + b' are window entries px + s + b'.
struct TapCols { c0: vec4<f32>, c1: vec4<f32> }

fn tapCols(x: Window, px1: bool) -> TapCols {
  let s1 = vec4<f32>(x.a.yzw, x.b.x);
  let s2 = vec4<f32>(x.a.zw, x.b);
  return TapCols(select(x.a, s1, px1), select(s1, s2, px1));
}

// out[b, oc, 2Y + py, 2X0 + px + 2s] = v[s] (+ bias, relu) for s < limit (one store in a loop:
// see storeCol).
fn storeStrided(v: vec4<f32>, b: u32, oc: u32, at: u32, limit: u32) {
  if (oc >= p.O) { return; }
  let r = finish(v, oc);
  let base = (b * p.O + oc) * p.Ho * p.Wo + at;
  for (var s = 0u; s < min(limit, 4u); s++) { out[base + 2u * s] = r[s]; }
}

fn storeUpRows(a: Rows4, g: Group, o0: u32, py: u32, px: u32) {
  if (!g.valid) { return; }
  let rows = array<Acc, 4>(a.r0, a.r1, a.r2, a.r3);
  let at = (2u * g.oy0 + py) * p.Wo + 2u * g.ox0 + px;
  for (var r = 0u; r < min(4u, p.H - g.oy0); r++) {
    let acc = rows[r];
    let cols = array<vec4<f32>, 8>(acc.lo[0], acc.lo[1], acc.lo[2], acc.lo[3], acc.hi[0], acc.hi[1], acc.hi[2], acc.hi[3]);
    for (var k = 0u; k < kept(8u); k++) { storeStrided(cols[k], g.b, o0 + k, at + 2u * r * p.Wo, p.W - g.ox0); }
  }
}

@compute @workgroup_size(WORKGROUP)
fn upConv3x3Shared16(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                     @builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let g = group(threadIndex(gid, groups));
  let blocks = (p.O + 15u) / 16u;
  let phase = wg.y / blocks;
  let py = phase / 2u;
  let px = phase % 2u;
  let px1 = px == 1u;
  let o = channels16(wg.y % blocks, lane);
  // Window rows ry = 0 .. 4 are source rows Y0 + py - 1 + ry (windowV subtracts padY = 1).
  let rows = Group(g.valid, g.b, g.oy0 + py, g.ox0);
  var a0: Rows4;
  var a1: Rows4;
  for (var c = 0u; c < p.C; c++) {
    let plane = (g.b * p.C + c) * p.H;
    var t: array<TapCols, 5>;
    for (var r = 0u; r < kept(5u); r++) { t[r] = tapCols(windowV(plane, rows, r), px1); }
    // The 2 x 2 taps of the phase (tap a * 2 + b') of this lane's channel in each half.
    a0 = upRowsShared(a0, t[0], t[1], t[2], t[3], t[4], pw[(phase * p.O + o.lo) * p.C + c]);
    a1 = upRowsShared(a1, t[0], t[1], t[2], t[3], t[4], pw[(phase * p.O + o.hi) * p.C + c]);
  }
  storeUpRows(a0, g, o.o0, py, px);
  storeUpRows(a1, g, o.o0 + 8u, py, px);
}

// ---------------------------------------------------------------------------------------------
// upConv3x3GradShared16: the input gradient of upConv3x3Shared16 (conv2d.wgsl's
// phaseWeightsGrad has the formula): dx[b, c, Y, X] = sum_{o, r, s} dy[b, o, 2Y - 1 + r,
// 2X - 1 + s] * K[c, o, r, s], K in pw as [c][o][r][s]. A thread owns 16 channels c (the
// workgroup row y) and a group of 4 x 4 positions of dx; per channel o of dy it reads the 10 x 10
// window of dy those positions reach (rows as vec4s: dx's width a multiple of 4). p describes
// the correlation: C = the conv's output channels (dy's), H, W = dy's size (2x dx's), O = the
// conv's input channels (dx's), Ho, Wo = dx's size, quadsX, blocksY and quads over dx.

// dy row iy, columns 2X0 - 1 .. 2X0 + 8 (zero outside dy).
struct Row10 { l: f32, m0: vec4<f32>, m1: vec4<f32>, r: f32 }

fn row10(plane: u32, iy: i32, x0: u32) -> Row10 {
  let rowOk = (iy >= 0) & (iy < i32(p.H));
  let rb = (plane + u32(clamp(iy, 0, i32(p.H) - 1))) * p.W;
  let at = (rb + 2u * x0) / 4u;
  let z = vec4<f32>(0.0);
  return Row10(load(rb, rowOk, i32(2u * x0) - 1), select(z, inp4[at], rowOk), select(z, inp4[at + 1u], rowOk),
               load(rb, rowOk, i32(2u * x0) + 8));
}

// Tap s of output column x reads window column 2x + s (window column 0 is dy column 2X0 - 1).
struct GradCols { s0: vec4<f32>, s1: vec4<f32>, s2: vec4<f32>, s3: vec4<f32> }

fn gradCols(w: Row10) -> GradCols {
  return GradCols(vec4<f32>(w.l, w.m0.y, w.m0.w, w.m1.y), vec4<f32>(w.m0.x, w.m0.z, w.m1.x, w.m1.z),
                  vec4<f32>(w.m0.y, w.m0.w, w.m1.y, w.m1.w), vec4<f32>(w.m0.z, w.m1.x, w.m1.z, w.r));
}

// All of K[c, o] for this lane's channel c (kernel row r: taps s = 0 .. 3 in pw[at + r]).
fn gradKernel(a: Rows4, t: array<Row10, 10>, c: u32, o: u32) -> Rows4 {
  let at = (c * p.C + o) * 4u;
  return gradRowsShared(a, gradCols(t[0]), gradCols(t[1]), gradCols(t[2]), gradCols(t[3]), gradCols(t[4]),
                        gradCols(t[5]), gradCols(t[6]), gradCols(t[7]), gradCols(t[8]), gradCols(t[9]),
                        pw[at], pw[at + 1u], pw[at + 2u], pw[at + 3u]);
}

@compute @workgroup_size(WORKGROUP)
fn upConv3x3GradShared16(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                         @builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let g = group(threadIndex(gid, groups));
  let ch = channels16(wg.y, lane);  // dx's channels: the correlation's output
  let top = i32(2u * g.oy0) - 1;
  var a0: Rows4;
  var a1: Rows4;
  for (var o = 0u; o < p.C; o++) {
    let plane = (g.b * p.C + o) * p.H;
    var w: array<Row10, 10>;
    for (var r = 0u; r < kept(10u); r++) { w[r] = row10(plane, top + i32(r), g.ox0); }
    a0 = gradKernel(a0, w, ch.lo, o);
    a1 = gradKernel(a1, w, ch.hi, o);
  }
  storeRows(a0, g, ch.o0);
  storeRows(a1, g, ch.o0 + 8u);
}

// conv2d.wgsl's weightGrad3x3 with the dy reads shared: the threads of a workgroup differ only in
// their input channel, so all read the same dy. Lane i < 8 reads output channel o0 + i's 4 values
// and every lane takes all 8 by subgroupBroadcast: 10 reads a group of 4 columns instead of 17.
// conv.ts sizes the workgroup to the input channels (lanes past the last one compute a clamped
// copy and skip the store: no early return before a subgroup operation).
@compute @workgroup_size(WORKGROUP)
fn weightGrad3x3Shared(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>,
                       @builtin(subgroup_invocation_id) lane: u32) {
  let c = min(gid.x, g.C - 1u);
  let o0 = wg.y * 8u;
  var a: Sums3x3;
  let quads = splitQuads3x3(wg.z);
  for (var q = quads.x; q < quads.y; q++) {
    let at = quad3x3(q);
    let mine = dyRow4(at, o0 + lane % 8u);
    let lo = mat4x4<f32>(subgroupBroadcast(mine, 0u), subgroupBroadcast(mine, 1u), subgroupBroadcast(mine, 2u), subgroupBroadcast(mine, 3u));
    let hi = mat4x4<f32>(subgroupBroadcast(mine, 4u), subgroupBroadcast(mine, 5u), subgroupBroadcast(mine, 6u), subgroupBroadcast(mine, 7u));
    accumulate3x3(&a, c, at, lo, hi);
  }
  if (gid.x < g.C) { store3x3(wg.z, o0, c, a); }
}
