// GPU variant of conv2d.wgsl's unit-stride kernels (S = D = 1, any taps and padding), compiled as
// one module with it (family 'conv2d+conv2dTiled'; src/kernels/conv2d.ts uses it on hardware
// adapters). Same uniforms, buffers and semantics: forward and input gradient alike.
//
// Why: conv2d.wgsl and conv2dSubgroups.wgsl are shaped for a CPU (8-lane workgroups, no
// workgroup memory); on a GPU whose subgroups are 32 wide three lanes in four of such a
// workgroup idle. Here the convolution is a matrix product read in place (no im2col buffer):
// rows are output positions r = (b, oy, ox) (p.positions of them), columns output channels o,
// the reduction runs over k = (c, ky, kx). A workgroup of 256 threads computes 64 positions x 64
// channels; per step of 16 along k it stages the 64 x 16 input values and 16 x 64 weights it
// needs in workgroup memory, and each thread keeps 4 positions x 4 channels in registers. The
// next step's global reads are issued before the current step's arithmetic.

// [k][row / 4] and [k][o / 4] of the current step: 16 rows of 16 vec4s.
var<workgroup> inputTile: array<vec4<f32>, 256>;
var<workgroup> weightTile: array<vec4<f32>, 256>;

struct OutPosition {
  b: u32,
  oy: i32,
  ox: i32,
  ok: bool,
}

fn positionOf(r: u32) -> OutPosition {
  let plane = p.Ho * p.Wo;
  let rest = r % plane;
  return OutPosition(r / plane, i32(rest / p.Wo), i32(rest % p.Wo), r < p.positions);
}

struct KTap {
  c: u32,
  ky: u32,
  kx: u32,
  ok: bool,
}

fn tapOfK(k: u32) -> KTap {
  let taps = p.KH * p.KW;
  let t = k % taps;
  return KTap(k / taps, t / p.KW, t % p.KW, k < p.C * taps);
}

// inp(b, c, oy - padY + ky, ox - padX + kx), 0 past the edges, through clamped addresses.
fn inputAt(at: OutPosition, tap: KTap) -> f32 {
  let iy = at.oy - p.padY + i32(tap.ky);
  let ix = at.ox - p.padX + i32(tap.kx);
  let inside = at.ok && tap.ok && iy >= 0 && iy < i32(p.H) && ix >= 0 && ix < i32(p.W);
  let y = u32(clamp(iy, 0, i32(p.H) - 1));
  let x = u32(clamp(ix, 0, i32(p.W) - 1));
  let c = min(tap.c, p.C - 1u);
  let b = min(at.b, p.positions / (p.Ho * p.Wo) - 1u);
  return select(0.0, inp[((b * p.C + c) * p.H + y) * p.W + x], inside);
}

fn weightAt(o: u32, tap: KTap) -> f32 {
  let oo = min(o, p.O - 1u);
  let c = min(tap.c, p.C - 1u);
  let i = p.wBase + i32(oo) * p.wO + i32(c) * p.wC + i32(tap.ky) * p.wKy + i32(tap.kx) * p.wKx;
  return select(0.0, w[u32(i)], o < p.O && tap.ok);
}

// Thread t's share of a step at k0: 4 k (k0 + (t / 64) * 4 + i) of position row t % 64 and of channel t % 64.
struct Loaded {
  x: vec4<f32>,
  w: vec4<f32>,
}

fn loadStep(at: OutPosition, o: u32, k0: u32, t: u32) -> Loaded {
  var x: vec4<f32>;
  var wv: vec4<f32>;
  for (var i = 0u; i < 4u; i++) {
    let tap = tapOfK(k0 + (t / 64u) * 4u + i);
    x[i] = inputAt(at, tap);
    wv[i] = weightAt(o, tap);
  }
  return Loaded(x, wv);
}

fn storeStep(v: Loaded, t: u32) {
  let row = t % 64u;
  for (var i = 0u; i < 4u; i++) {
    let k = (t / 64u) * 4u + i;
    inputTile[k * 16u + row / 4u][row % 4u] = v.x[i];
    weightTile[k * 16u + row / 4u][row % 4u] = v.w[i];
  }
}

// out(r, o .. o + 3) = v (+ bias, relu as p.flags say), the parts inside the output only.
fn storeOut(v: vec4<f32>, r: u32, o: u32) {
  if (r >= p.positions) { return; }
  let plane = p.Ho * p.Wo;
  let b = r / plane;
  let rest = r % plane;
  for (var j = 0u; j < 4u; j++) {
    if (o + j < p.O) {
      var x = v[j];
      if ((p.flags & 1u) != 0u) { x += bias[o + j]; }
      if ((p.flags & 2u) != 0u) { x = max(x, 0.0); }
      out[(b * p.O + o + j) * plane + rest] = x;
    }
  }
}

@compute @workgroup_size(16, 16)
fn convTiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
             @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * 16u + tx;
  // Blocks of positions past the dispatch limit are folded into z (conv2d.ts).
  let r0 = (wg.x + wg.z * groups.x) * 64u;
  let o0 = wg.y * 64u;
  let K = p.C * p.KH * p.KW;
  let at = positionOf(r0 + t % 64u);
  let o = o0 + t % 64u;
  // acc[i]: position r0 + ty * 4 + i, channels o0 + tx * 4 .. + 3
  var acc: array<vec4<f32>, 4>;
  var next = loadStep(at, o, 0u, t);
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    storeStep(next, t);
    workgroupBarrier();
    if (k0 + 16u < K) { next = loadStep(at, o, k0 + 16u, t); }
    for (var k = 0u; k < 16u; k++) {
      let x = inputTile[k * 16u + ty];
      let wv = weightTile[k * 16u + tx];
      acc[0] += x.x * wv;
      acc[1] += x.y * wv;
      acc[2] += x.z * wv;
      acc[3] += x.w * wv;
    }
    workgroupBarrier();
  }
  let r = r0 + ty * 4u;
  storeOut(acc[0], r, o0 + tx * 4u);
  storeOut(acc[1], r + 1u, o0 + tx * 4u);
  storeOut(acc[2], r + 2u, o0 + tx * 4u);
  storeOut(acc[3], r + 3u, o0 + tx * 4u);
}
