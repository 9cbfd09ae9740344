// Patches as rows and back ("im2col" / "col2im"; F.unfold / F.fold transposed), NCHW images.
// With them a convolution is one matrix product over the whole batch, which on lavapipe runs several times faster than convGeneric for the 4x4 stride-2 layers of a
// DCGAN (src/kernels/unfold.ts).
//
//   unfold: patches[b, oy Wo + ox, (c KH + ky) KW + kx] = image[b, c, oy S - P + ky, ox S - P + kx], 0 outside
//   fold:   imageOut[b, c, iy, ix] = sum of the patchesIn entries unfold reads (b, c, iy, ix) into
//
// Each is the other's gradient. fold gathers (a pixel visits the taps whose patch lands on the
// stride grid), so no float atomics are needed.

// Uniforms `p` and the buffers: declared in src/kernels/unfold.ts.

override WORKGROUP: u32 = 256u;

// A thread per (image, position, channel): its KH x KW taps, written in a row. lavapipe divides
// integers one lane at a time, so the index is taken apart once per thread, not per element
// (a thread per element was 4x slower for a DCGAN step's unfolds).
@compute @workgroup_size(WORKGROUP)
fn unfold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let t = flatIndex(gid, groups); // (b L + pos) C + c
  if (t >= p.n) { return; }
  let c = t % p.C;
  let row = t / p.C; // b L + pos
  let pos = row % (p.Ho * p.Wo);
  let plane = (row / (p.Ho * p.Wo)) * p.C + c;
  let y0 = i32((pos / p.Wo) * p.S) - i32(p.P);
  let x0 = i32((pos % p.Wo) * p.S) - i32(p.P);
  var at = t * p.KH * p.KW;
  for (var ky = 0u; ky < p.KH; ky++) {
    let iy = y0 + i32(ky);
    let rowOk = (iy >= 0) & (iy < i32(p.H));
    let rowAt = (plane * p.H + u32(clamp(iy, 0, i32(p.H) - 1))) * p.W;
    for (var kx = 0u; kx < p.KW; kx++) {
      let ix = x0 + i32(kx);
      let ok = rowOk & (ix >= 0) & (ix < i32(p.W));
      patches[at] = select(0.0, image[rowAt + u32(clamp(ix, 0, i32(p.W) - 1))], ok);
      at++;
    }
  }
}

// A thread per run of up to RUN pixels along an image row (integer divisions once a run, as in
// unfold). Output row oy reads pixel (iy, ix) through tap ky when oy S - P + ky = iy: only the
// taps ky = (iy + P) mod S, + S, + 2S, ... land on the stride grid (a quarter of them at stride
// 2), each one output row up from the last; the same along x, kept from pixel to pixel.
const RUN = 16u;

@compute @workgroup_size(WORKGROUP)
fn fold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let t = flatIndex(gid, groups);
  if (t >= p.n) { return; }
  let runs = (p.W + RUN - 1u) / RUN;
  let row = t / runs; // (b C + c) H + iy
  let ix0 = (t % runs) * RUN;
  let iy = row % p.H;
  let plane = row / p.H; // b * C + c
  let b = plane / p.C;
  let c = plane % p.C;
  let width = p.C * p.KH * p.KW;
  let base = b * p.Ho * p.Wo * width + c * p.KH * p.KW;
  let ky0 = (iy + p.P) % p.S;
  let kyEnd = min(p.KH, iy + p.P + 1u);
  let oyTop = (iy + p.P - ky0) / p.S;
  // ix + P = oxTop S + kx0, for ix = ix0 and on.
  var kx0 = (ix0 + p.P) % p.S;
  var oxTop = (ix0 + p.P - kx0) / p.S;
  // The bound hidden from the compiler (n never reaches 2^31), which would unroll a loop of 16.
  for (var ix = ix0; ix < min(ix0 + max(RUN, p.n >> 31u), p.W); ix++) {
    let kxEnd = min(p.KW, ix + p.P + 1u);
    var acc = 0.0;
    var oy = oyTop;
    for (var ky = ky0; ky < kyEnd; ky += p.S) {
      var ox = oxTop;
      for (var kx = kx0; kx < kxEnd; kx += p.S) {
        if ((oy < p.Ho) & (ox < p.Wo)) {
          acc += patchesIn[base + (oy * p.Wo + ox) * width + ky * p.KW + kx];
        }
        ox--;
      }
      oy--;
    }
    imageOut[row * p.W + ix] = acc;
    kx0++;
    if (kx0 == p.S) {
      kx0 = 0u;
      oxTop++;
    }
  }
}
