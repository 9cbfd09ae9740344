// Patches as rows and back ("im2col" / "col2im"; F.unfold / F.fold transposed), NCHW images, one
// thread per output element. With them a convolution is one matrix product over the whole batch,
// which on lavapipe runs several times faster than convGeneric for the 4x4 stride-2 layers of a
// DCGAN (src/kernels/unfold.ts).
//
//   unfold: patches[b, oy Wo + ox, (c KH + ky) KW + kx] = image[b, c, oy S - P + ky, ox S - P + kx], 0 outside
//   fold:   imageOut[b, c, iy, ix] = sum of the patchesIn entries unfold reads (b, c, iy, ix) into
//
// Each is the other's gradient. fold gathers (a thread per image pixel visits the taps whose
// patch lands on the stride grid), so no float atomics are needed.

// Uniforms `p` and the buffers: declared in src/kernels/unfold.ts.

override WORKGROUP: u32 = 256u;

@compute @workgroup_size(WORKGROUP)
fn unfold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.n) { return; }
  let L = p.Ho * p.Wo;
  let width = p.C * p.KH * p.KW; // a patch
  let r = i % width; // (c KH + ky) KW + kx
  let pos = (i / width) % L;
  let b = i / (width * L);
  let kx = r % p.KW;
  let ky = (r / p.KW) % p.KH;
  let plane = b * p.C + r / (p.KW * p.KH);
  let iy = i32((pos / p.Wo) * p.S + ky) - i32(p.P);
  let ix = i32((pos % p.Wo) * p.S + kx) - i32(p.P);
  let ok = (iy >= 0) & (iy < i32(p.H)) & (ix >= 0) & (ix < i32(p.W));
  let at = (plane * p.H + u32(clamp(iy, 0, i32(p.H) - 1))) * p.W + u32(clamp(ix, 0, i32(p.W) - 1));
  patches[i] = select(0.0, image[at], ok);
}

@compute @workgroup_size(WORKGROUP)
fn fold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.n) { return; }
  let ix = i % p.W;
  let iy = (i / p.W) % p.H;
  let plane = i / (p.W * p.H); // b * C + c
  let b = plane / p.C;
  let c = plane % p.C;
  let L = p.Ho * p.Wo;
  let width = p.C * p.KH * p.KW;
  var acc = 0.0;
  // Output row oy reads this pixel through tap ky when oy S - P + ky = iy: only the taps
  // ky = (iy + P) mod S, + S, + 2S, ... land on the stride grid (a quarter of them at stride 2).
  for (var ky = (iy + p.P) % p.S; ky < min(p.KH, iy + p.P + 1u); ky += p.S) {
    let oy = (iy + p.P - ky) / p.S;
    for (var kx = (ix + p.P) % p.S; kx < min(p.KW, ix + p.P + 1u); kx += p.S) {
      let ox = (ix + p.P - kx) / p.S;
      if ((oy < p.Ho) & (ox < p.Wo)) {
        acc += patchesIn[(b * L + oy * p.Wo + ox) * width + (c * p.KH + ky) * p.KW + kx];
      }
    }
  }
  imageOut[i] = acc;
}
