// Patches as columns and back (F.unfold / F.fold, "im2col" / "col2im"), NCHW, one thread per
// output element. With them a convolution is a matrix product, which on lavapipe runs several
// times faster than convGeneric for the 4x4 stride-2 layers of a DCGAN (src/kernels/unfold.ts).
//
//   unfold: patches[b, (c KH + ky) KW + kx, oy Wo + ox] = image[b, c, oy S - P + ky, ox S - P + kx], 0 outside
//   fold:   imageOut[b, c, iy, ix] = sum of the patchesIn entries unfold reads (b, c, iy, ix) into
//
// Each is the other's gradient. fold gathers (a thread per image pixel loops over the KH x KW
// taps and keeps those whose patch lands on the stride grid), so no float atomics are needed.

// Uniforms `p` and the buffers: declared in src/kernels/unfold.ts.

override WORKGROUP: u32 = 256u;

@compute @workgroup_size(WORKGROUP)
fn unfold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.n) { return; }
  let L = p.Ho * p.Wo;
  let pos = i % L;
  let row = i / L; // b * C * KH * KW + (c KH + ky) KW + kx
  let kx = row % p.KW;
  let ky = (row / p.KW) % p.KH;
  let plane = row / (p.KW * p.KH); // b * C + c
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
  var acc = 0.0;
  for (var ky = 0u; ky < p.KH; ky++) {
    // Output row oy reads this pixel through tap ky when oy S - P + ky = iy.
    let vy = i32(iy + p.P) - i32(ky);
    let oy = vy / i32(p.S);
    let rowOk = (vy >= 0) & (oy * i32(p.S) == vy) & (oy < i32(p.Ho));
    for (var kx = 0u; kx < p.KW; kx++) {
      let vx = i32(ix + p.P) - i32(kx);
      let ox = vx / i32(p.S);
      if (rowOk & (vx >= 0) & (ox * i32(p.S) == vx) & (ox < i32(p.Wo))) {
        let row = (b * p.C + c) * p.KH * p.KW + ky * p.KW + kx;
        acc += patchesIn[row * L + u32(oy) * p.Wo + u32(ox)];
      }
    }
  }
  imageOut[i] = acc;
}
