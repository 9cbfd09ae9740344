// Strided copy of a region: the one kernel behind permute, expand, slice, concat and split.
// Element (c_0, ..., c_{r-1}) of the region goes from
//   src[srcOffset + sum c_d * srcStrides[d]]  to  dst[dstOffset + sum c_d * dstStrides[d]].
// Uniforms `p` and `t` and the buffers: declared in src/kernels/copy.ts.

override WORKGROUP: u32 = 256u;

// A thread copies a run of up to RUN elements along the region's last axis (src/kernels/shape.ts
// merges the axes that allow it first): lavapipe divides integers one lane at a time, so the
// index is taken apart once a run, not once an element.
const RUN = 16u;

@compute @workgroup_size(WORKGROUP)
fn stridedCopy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let t = flatIndex(gid, groups);
  if (t >= p.n) { return; }
  let last = p.rank - 1u;
  let length = p.shape[last / 4u][last % 4u];
  let j0 = (t % p.runs) * RUN;
  let at = stridedOffsets((t / p.runs) * length + j0, p.rank, p.shape, p.srcStrides, p.dstStrides);
  let srcStep = p.srcStrides[last / 4u][last % 4u];
  let dstStep = p.dstStrides[last / 4u][last % 4u];
  // The bound hidden from the compiler (n never reaches 2^31): a loop of 16 it can count would be
  // unrolled into 16 read and write sites, each a per-lane loop to compile (conv2d.wgsl's header).
  for (var j = 0u; j < min(max(RUN, p.n >> 31u), length - j0); j++) {
    dst[p.dstOffset + at.y + j * dstStep] = src[p.srcOffset + at.x + j * srcStep];
  }
}

// ---------------------------------------------------------------------------------------------
// translate: out[r, y, x] = src[r, y - dy, x - dx] where that is inside the image, else fill,
// over rows = planes * H of width W (image and shifted float32, contiguous), with
// (dy, dx) = sign * translation[0..1]. translate4 gives a thread 4 neighbouring pixels of a row
// (W % 4 == 0): one division and one vec4 store for four.

// The source of output pixel (row, x), shifted by d = (dy, dx): the pixel or fill.
fn shiftedAt(row: u32, x: u32, d: vec2<i32>) -> f32 {
  let y = i32(row % t.H);
  let sy = y - d.x;
  let sx = i32(x) - d.y;
  let inside = (sy >= 0) & (sy < i32(t.H)) & (sx >= 0) & (sx < i32(t.W));
  let at = (i32(row) + clamp(sy, 0, i32(t.H) - 1) - y) * i32(t.W) + clamp(sx, 0, i32(t.W) - 1);
  return select(t.fill, image[u32(at)], inside);
}

fn shiftBy() -> vec2<i32> {
  return t.sign * vec2<i32>(translation[0], translation[1]);
}

@compute @workgroup_size(WORKGROUP)
fn translate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= t.rows * t.W) { return; }
  shifted[i] = shiftedAt(i / t.W, i % t.W, shiftBy());
}

@compute @workgroup_size(WORKGROUP)
fn translate4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let q = flatIndex(gid, groups);
  if (q >= t.rows * t.W / 4u) { return; }
  let row = q / (t.W / 4u);
  let x = q * 4u - row * t.W;            // W % 4 == 0
  let d = shiftBy();
  shifted4[q] = vec4<f32>(shiftedAt(row, x, d), shiftedAt(row, x + 1u, d), shiftedAt(row, x + 2u, d), shiftedAt(row, x + 3u, d));
}
