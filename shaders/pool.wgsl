// 2-D pooling over (planes, H, W) tensors, planes = N * C: max pooling (floor mode, padding as -inf)
// and torchvision's adaptive average pooling. Backward passes gather: a thread per input pixel
// visits the few output windows that contain it, so overlapping windows need no atomics.

// Uniforms `p` and the buffers: declared in src/kernels/pool.ts. Forward passes read x and write y
// (+ argmax, a flat index into x); backward passes read gradOut (+ argmaxIn) and write gradX.

override WORKGROUP: u32 = 256u;
override TILED: bool = false;   // max pooling with stride == kernel, which divides H and W

/// (plane, row, column) of element i of a (planes, rows, cols) tensor.
fn split(i: u32, rows: u32, cols: u32) -> vec3<u32> {
  let c = i % cols;
  let rest = i / cols;
  return vec3<u32>(rest / rows, rest % rows, c);
}

/// Flat index in x of output i's window origin. Tiled (stride == kernel dividing H and W): rows
/// numbered across planes map output row r to input row r * kernel, which saves three divisions.
fn windowOrigin(i: u32) -> u32 {
  if (TILED) {
    let r = i / p.outW;
    return (r * p.W + i - r * p.outW) * p.kernel;
  }
  let at = split(i, p.outH, p.outW);
  return (at.x * p.H + at.y * p.stride) * p.W + at.z * p.stride;
}

// The first maximum in row-major window order wins (PyTorch's rule); NaN propagates as there.
fn beats(v: f32, best: f32) -> bool {
  return v > best || (v != v && best == best);
}

/// y[i] and argmax[i]: the maximum of the rows x cols window of x whose top-left pixel is
/// x[origin], and its flat index.
fn windowMax(i: u32, origin: u32, rows: u32, cols: u32) {
  var best = x[origin];
  var bestAt = origin;
  for (var dy = 0u; dy < rows; dy++) {
    for (var dx = 0u; dx < cols; dx++) {
      let k = origin + dy * p.W + dx;
      let v = x[k];
      if (beats(v, best)) {
        best = v;
        bestAt = k;
      }
    }
  }
  y[i] = best;
  argmax[i] = i32(bestAt);
}

@compute @workgroup_size(WORKGROUP)
fn maxPool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.planes * p.outH * p.outW) { return; }
  windowMax(i, windowOrigin(i), p.kernel, p.kernel);
}

// Windows that reach into the padding (ResNet's 3x3, stride 2, padding 1 stem pool): the padding
// is -inf, so only the in-bounds part of the window competes.
@compute @workgroup_size(WORKGROUP)
fn maxPoolPadded(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.planes * p.outH * p.outW) { return; }
  let at = split(i, p.outH, p.outW);
  // Clamped window rows [r0, r1) and columns [c0, c1); padding <= kernel / 2 keeps them non-empty.
  let r0 = max(i32(at.y * p.stride) - i32(p.padding), 0);
  let c0 = max(i32(at.z * p.stride) - i32(p.padding), 0);
  let r1 = min(i32(at.y * p.stride + p.kernel) - i32(p.padding), i32(p.H));
  let c1 = min(i32(at.z * p.stride + p.kernel) - i32(p.padding), i32(p.W));
  windowMax(i, (at.x * p.H + u32(r0)) * p.W + u32(c0), u32(r1 - r0), u32(c1 - c0));
}

// Tiled windows cover every input pixel exactly once: each output writes its whole window.
@compute @workgroup_size(WORKGROUP)
fn maxPoolBackwardTiled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.planes * p.outH * p.outW) { return; }
  let origin = windowOrigin(i);
  let winner = u32(argmaxIn[i]);
  let g = gradOut[i];
  for (var dy = 0u; dy < p.kernel; dy++) {
    for (var dx = 0u; dx < p.kernel; dx++) {
      let k = origin + dy * p.W + dx;
      gradX[k] = select(0.0, g, k == winner);
    }
  }
}

// Any other geometry: a thread per input pixel gathers from the windows that contain it.
@compute @workgroup_size(WORKGROUP)
fn maxPoolBackward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.planes * p.H * p.W) { return; }
  let at = split(i, p.H, p.W);
  // Windows oy with oy*stride <= row + padding < oy*stride + kernel, likewise for columns.
  let row = at.y + p.padding;
  let col = at.z + p.padding;
  let oy0 = select(0u, (row - p.kernel) / p.stride + 1u, row >= p.kernel);
  let ox0 = select(0u, (col - p.kernel) / p.stride + 1u, col >= p.kernel);
  let oy1 = min(row / p.stride + 1u, p.outH);
  let ox1 = min(col / p.stride + 1u, p.outW);
  let plane = at.x * p.outH * p.outW;
  var acc = 0.0;
  for (var oy = oy0; oy < oy1; oy++) {
    for (var ox = ox0; ox < ox1; ox++) {
      let o = plane + oy * p.outW + ox;
      if (u32(argmaxIn[o]) == i) { acc += gradOut[o]; }
    }
  }
  gradX[i] = acc;
}

/// Output window o of an adaptive pool from `size` to `outSize`: [floor(o*size/outSize), ceil((o+1)*size/outSize)).
fn window(o: u32, size: u32, outSize: u32) -> vec2<u32> {
  return vec2<u32>(o * size / outSize, ((o + 1u) * size + outSize - 1u) / outSize);
}

@compute @workgroup_size(WORKGROUP)
fn adaptiveAvgPool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.planes * p.outH * p.outW) { return; }
  let at = split(i, p.outH, p.outW);
  let rows = window(at.y, p.H, p.outH);
  let cols = window(at.z, p.W, p.outW);
  let plane = at.x * p.H * p.W;
  var acc = 0.0;
  for (var r = rows.x; r < rows.y; r++) {
    for (var c = cols.x; c < cols.y; c++) { acc += x[plane + r * p.W + c]; }
  }
  y[i] = acc / f32((rows.y - rows.x) * (cols.y - cols.x));
}

@compute @workgroup_size(WORKGROUP)
fn adaptiveAvgPoolBackward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.planes * p.H * p.W) { return; }
  let at = split(i, p.H, p.W);
  // Windows containing row r: o in [floor(r*outH/H), ceil((r+1)*outH/H)), likewise for columns.
  let oys = vec2<u32>(at.y * p.outH / p.H, min(((at.y + 1u) * p.outH + p.H - 1u) / p.H, p.outH));
  let oxs = vec2<u32>(at.z * p.outW / p.W, min(((at.z + 1u) * p.outW + p.W - 1u) / p.W, p.outW));
  let plane = at.x * p.outH * p.outW;
  var acc = 0.0;
  for (var oy = oys.x; oy < oys.y; oy++) {
    let rows = window(oy, p.H, p.outH);
    for (var ox = oxs.x; ox < oxs.y; ox++) {
      let cols = window(ox, p.W, p.outW);
      acc += gradOut[plane + oy * p.outW + ox] / f32((rows.y - rows.x) * (cols.y - cols.x));
    }
  }
  gradX[i] = acc;
}

// ---------------------------------------------------------------------------------------------
// 2x2 max pooling with stride 2 on widths that are multiples of 4 (every VGG pool): a thread per
// 2 neighbouring outputs, its 2 x 4 input block read as two vec4s and its outputs, arg-maxes and
// (backward) gradients moved as vec2 / vec4 (the views x4, y2, argmax2, gradOut2, argmaxIn2,
// gradX4): lavapipe's per-lane cost of a storage access paid once per 2 or 4 values, and one
// division per thread.

// Max of a 2x2 window given as (top-left, top-right, bottom-left, bottom-right) with their flat
// indices, the first maximum in row-major order winning as in maxPool.
fn max4(v: vec4<f32>, at: vec4<u32>) -> vec2<f32> {
  var best = v.x;
  var bestAt = at.x;
  for (var k = 1u; k < 4u; k++) {
    if (beats(v[k], best)) {
      best = v[k];
      bestAt = at[k];
    }
  }
  return vec2<f32>(best, bitcast<f32>(bestAt));
}

/// Vec4 indices (in x, rows of W) of the top and bottom rows of thread q's input block (q: pairs
/// of outputs).
fn pairRows(q: u32) -> vec2<u32> {
  let pairs = p.outW / 2u;
  let r = q / pairs;                     // output row across planes = input rows 2r, 2r + 1
  let top = r * 2u * (p.W / 4u) + (q - r * pairs);
  return vec2<u32>(top, top + p.W / 4u);
}

@compute @workgroup_size(WORKGROUP)
fn maxPool2x2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let q = flatIndex(gid, groups);
  if (q >= p.planes * p.outH * p.outW / 2u) { return; }
  let rows = pairRows(q);
  let a = x4[rows.x];
  let b = x4[rows.y];
  let t = rows.x * 4u;
  let u = rows.y * 4u;
  let l = max4(vec4<f32>(a.xy, b.xy), vec4<u32>(t, t + 1u, u, u + 1u));
  let r = max4(vec4<f32>(a.zw, b.zw), vec4<u32>(t + 2u, t + 3u, u + 2u, u + 3u));
  y2[q] = vec2<f32>(l.x, r.x);
  argmax2[q] = vec2<i32>(bitcast<i32>(l.y), bitcast<i32>(r.y));
}

@compute @workgroup_size(WORKGROUP)
fn maxPool2x2Backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let q = flatIndex(gid, groups);
  if (q >= p.planes * p.outH * p.outW / 2u) { return; }
  let rows = pairRows(q);
  let g = gradOut2[q];
  let win = vec2<u32>(argmaxIn2[q]);
  let t = rows.x * 4u;
  let u = rows.y * 4u;
  gradX4[rows.x] = vec4<f32>(select(0.0, g.x, win.x == t), select(0.0, g.x, win.x == t + 1u),
                             select(0.0, g.y, win.y == t + 2u), select(0.0, g.y, win.y == t + 3u));
  gradX4[rows.y] = vec4<f32>(select(0.0, g.x, win.x == u), select(0.0, g.x, win.x == u + 1u),
                             select(0.0, g.y, win.y == u + 2u), select(0.0, g.y, win.y == u + 3u));
}
