// Batch normalisation over (N, C, S) tensors, S the flattened spatial size.
//
// Statistics are reduced per row (n, c) first, then folded per channel: rows are contiguous, so
// a row reduction streams memory, and the fold is a short loop over the batch. The variance uses
// per-row two-pass moments combined with Chan's formula, which stays accurate when |mean| >> std.
//
// The scale a[n, c] that multiplies x_hat is 1 (no affine), weight[c] (plain batchnorm) or
// 1 + gain[n, c] (BigGAN's conditional batchnorm); AFFINE picks which.
//
// RELU fuses a relu after the batchnorm: normalize clamps its output at 0, and the backward
// passes mask the incoming gradient with (y > 0), y the forward's output.
//
// Elementwise passes (normalize, inputGrad) take PER_THREAD consecutive elements of one row a
// thread; where rows are multiples of 4 long, VEC4 of them as vec4s (the *4 entry points), and
// the row reductions read vec4s too (rowGradSums4): on lavapipe every storage access is a
// per-lane loop, paid once per vec4 rather than once per element.

struct Params {
  N: u32,
  C: u32,
  S: u32,
  eps: f32,
  momentum: f32,
}

override WORKGROUP: u32 = 64u;
override GROUP_PER_ROW: bool = false;   // row reductions: a workgroup per row, else a thread per row
override AFFINE: u32 = 0u;              // 0 none, 1 per channel weight/bias, 2 per sample 1 + gain / bias
override HAS_WEIGHT: bool = false;
override HAS_BIAS: bool = false;
override TRAINING: bool = false;        // inputGrad: batch statistics (else running ones, a pure scale)
override PER_THREAD: u32 = 1u;          // elementwise passes: consecutive elements per thread, all in one row
override VEC4: u32 = 1u;                // *4 entry points: vec4s per thread, all in one row
override RELU: bool = false;            // a relu after the batchnorm

@group(0) @binding(0) var<uniform> p: Params;

// rowMoments: x -> moments (row means, then row sums of squared deviations)
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> moments: array<f32>;

// foldMoments / foldMomentsAndUpdate: moments -> batch mean, biased variance (+ running update)
@group(0) @binding(1) var<storage, read> rowMomentsIn: array<f32>;
@group(0) @binding(2) var<storage, read_write> batchMean: array<f32>;
@group(0) @binding(3) var<storage, read_write> batchVar: array<f32>;
@group(0) @binding(4) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> runningVar: array<f32>;

// normalize: x, mean, var, weight, bias -> y
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> variance: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

// rowGradSums: x, grad, mean, var -> per-row sum(g), sum(g * x_hat)
@group(0) @binding(4) var<storage, read> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> rowSumG: array<f32>;
@group(0) @binding(6) var<storage, read_write> rowSumGX: array<f32>;

// foldGradSums: row sums, weight -> (mean of g*a, mean of g*a*x_hat) per channel, affine grads
@group(0) @binding(1) var<storage, read> sumG: array<f32>;
@group(0) @binding(2) var<storage, read> sumGX: array<f32>;
@group(0) @binding(3) var<storage, read> scaleWeight: array<f32>;
@group(0) @binding(4) var<storage, read_write> meanTerms: array<f32>;
@group(0) @binding(5) var<storage, read_write> gradWeight: array<f32>;
@group(0) @binding(6) var<storage, read_write> gradBias: array<f32>;

// inputGrad: x, mean, var, weight, grad, meanTerms -> gradX
@group(0) @binding(5) var<storage, read> meanTermsIn: array<f32>;
@group(0) @binding(6) var<storage, read> gradIn: array<f32>;
@group(0) @binding(7) var<storage, read_write> gradX: array<f32>;

// The forward's output, for the relu mask: rowGradSums at 7, inputGrad at 8.
@group(0) @binding(7) var<storage, read> yRow: array<f32>;
@group(0) @binding(8) var<storage, read> yOut: array<f32>;

// The same buffers as vec4s, for the *4 entry points.
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> grad4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> yRow4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> gradIn4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> gradX4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> yOut4: array<vec4<f32>>;

var<workgroup> partial: array<vec2<f32>, WORKGROUP>;

fn reduceGroup(v: vec2<f32>, lid: u32) -> vec2<f32> {
  partial[lid] = v;
  workgroupBarrier();
  for (var s = WORKGROUP / 2u; s > 0u; s /= 2u) {
    if (lid < s) { partial[lid] = partial[lid] + partial[lid + s]; }
    workgroupBarrier();
  }
  let r = partial[0];
  workgroupBarrier();
  return r;
}

/// The row this invocation works on and where in the row it starts and strides.
struct RowWork { row: u32, start: u32, step: u32 }

fn rowWork(wid: vec3<u32>, lid: u32, groups: vec3<u32>) -> RowWork {
  let group = wid.x + wid.y * groups.x;
  if (GROUP_PER_ROW) { return RowWork(group, lid, WORKGROUP); }
  return RowWork(group * WORKGROUP + lid, 0u, 1u);
}

/// Sum over the row's invocations (the identity when a single thread owns the row).
fn rowTotal(v: vec2<f32>, lid: u32) -> vec2<f32> {
  if (GROUP_PER_ROW) { return reduceGroup(v, lid); }
  return v;
}

fn invStd(c: u32) -> f32 {
  return inverseSqrt(variance[c] + p.eps);
}

fn elementIndex(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WORKGROUP;
}

@compute @workgroup_size(WORKGROUP)
fn rowMoments(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
              @builtin(num_workgroups) groups: vec3<u32>) {
  let w = rowWork(wid, lid, groups);
  let rows = p.N * p.C;
  let end = select(0u, p.S, w.row < rows);   // no work past the last row, but every barrier is met
  let base = w.row * p.S;
  var s = 0.0;
  for (var i = w.start; i < end; i += w.step) { s += x[base + i]; }
  let rowMean = rowTotal(vec2<f32>(s, 0.0), lid).x / f32(p.S);
  var m2 = 0.0;
  for (var i = w.start; i < end; i += w.step) {
    let d = x[base + i] - rowMean;
    m2 += d * d;
  }
  m2 = rowTotal(vec2<f32>(m2, 0.0), lid).x;
  if (w.row < rows && w.start == 0u) {
    moments[w.row] = rowMean;
    moments[rows + w.row] = m2;
  }
}

/// Chan's combination of N equal-sized rows: mean of means, M2 = sum M2_n + S * sum (mean_n - mean)^2.
fn foldChannel(c: u32) -> vec2<f32> {
  let rows = p.N * p.C;
  var m = 0.0;
  for (var n = 0u; n < p.N; n++) { m += rowMomentsIn[n * p.C + c]; }
  m /= f32(p.N);
  var between = 0.0;
  var within = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let d = rowMomentsIn[n * p.C + c] - m;
    between += d * d;
    within += rowMomentsIn[rows + n * p.C + c];
  }
  let m2 = within + f32(p.S) * between;
  return vec2<f32>(m, m2);
}

@compute @workgroup_size(WORKGROUP)
fn foldMoments(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let f = foldChannel(c);
  batchMean[c] = f.x;
  batchVar[c] = f.y / f32(p.N * p.S);
}

// PyTorch's running update: the unbiased variance goes into the running estimate.
@compute @workgroup_size(WORKGROUP)
fn foldMomentsAndUpdate(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let f = foldChannel(c);
  let count = f32(p.N * p.S);
  batchMean[c] = f.x;
  batchVar[c] = f.y / count;
  runningMean[c] = (1.0 - p.momentum) * runningMean[c] + p.momentum * f.x;
  runningVar[c] = (1.0 - p.momentum) * runningVar[c] + p.momentum * f.y / (count - 1.0);
}

fn scaleAt(n: u32, c: u32) -> f32 {
  if (AFFINE == 2u) { return 1.0 + weight[n * p.C + c]; }
  if (AFFINE == 1u && HAS_WEIGHT) { return weight[c]; }
  return 1.0;
}

fn shiftAt(n: u32, c: u32) -> f32 {
  if (AFFINE == 2u) { return bias[n * p.C + c]; }
  if (AFFINE == 1u && HAS_BIAS) { return bias[c]; }
  return 0.0;
}

@compute @workgroup_size(WORKGROUP)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = elementIndex(gid, groups) * PER_THREAD;
  if (first >= p.N * p.C * p.S) { return; }
  let row = first / p.S;
  let n = row / p.C;
  let c = row - n * p.C;
  let m = mean[c];
  let a = invStd(c) * scaleAt(n, c);
  let b = shiftAt(n, c);
  for (var i = first; i < first + PER_THREAD; i++) {
    let v = (x[i] - m) * a + b;
    y[i] = select(v, max(v, 0.0), RELU);
  }
}

@compute @workgroup_size(WORKGROUP)
fn normalize4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = elementIndex(gid, groups) * VEC4;
  if (first >= p.N * p.C * p.S / 4u) { return; }
  let row = first * 4u / p.S;
  let n = row / p.C;
  let c = row - n * p.C;
  let m = vec4<f32>(mean[c]);
  let a = vec4<f32>(invStd(c) * scaleAt(n, c));
  let b = vec4<f32>(shiftAt(n, c));
  for (var i = first; i < first + VEC4; i++) {
    let v = (x4[i] - m) * a + b;
    y4[i] = select(v, max(v, vec4<f32>(0.0)), RELU);
  }
}

@compute @workgroup_size(WORKGROUP)
fn rowGradSums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) groups: vec3<u32>) {
  let w = rowWork(wid, lid, groups);
  let rows = p.N * p.C;
  let valid = w.row < rows;
  let end = select(0u, p.S, valid);
  let c = select(0u, w.row % p.C, valid);
  let m = mean[c];
  let r = invStd(c);
  let base = w.row * p.S;
  var acc = vec2<f32>(0.0);
  for (var i = w.start; i < end; i += w.step) {
    var g = grad[base + i];
    if (RELU) { g = select(0.0, g, yRow[base + i] > 0.0); }
    acc += vec2<f32>(g, g * (x[base + i] - m) * r);
  }
  acc = rowTotal(acc, lid);
  if (valid && w.start == 0u) {
    rowSumG[w.row] = acc.x;
    rowSumGX[w.row] = acc.y;
  }
}

// rowGradSums over rows of S % 4 == 0 elements, read as vec4s.
@compute @workgroup_size(WORKGROUP)
fn rowGradSums4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) groups: vec3<u32>) {
  let w = rowWork(wid, lid, groups);
  let rows = p.N * p.C;
  let valid = w.row < rows;
  let end = select(0u, p.S / 4u, valid);
  let c = select(0u, w.row % p.C, valid);
  let m = vec4<f32>(mean[c]);
  let r = invStd(c);
  let base = w.row * p.S / 4u;
  var sg = vec4<f32>(0.0);
  var sgx = vec4<f32>(0.0);
  for (var i = w.start; i < end; i += w.step) {
    var g = grad4[base + i];
    if (RELU) { g = select(vec4<f32>(0.0), g, yRow4[base + i] > vec4<f32>(0.0)); }
    sg += g;
    sgx += g * (x4[base + i] - m);
  }
  let one = vec4<f32>(1.0);
  let acc = rowTotal(vec2<f32>(dot(sg, one), dot(sgx, one) * r), lid);
  if (valid && w.start == 0u) {
    rowSumG[w.row] = acc.x;
    rowSumGX[w.row] = acc.y;
  }
}

// Per channel: meanTerms = (mean over (n, s) of g*a, of g*a*x_hat); the per-channel affine
// gradients are the plain sums over the batch.
@compute @workgroup_size(WORKGROUP)
fn foldGradSums(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  var sg = 0.0;
  var sgx = 0.0;
  var sga = 0.0;
  var sgxa = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let k = n * p.C + c;
    var a = 1.0;
    if (AFFINE == 2u) { a = 1.0 + scaleWeight[k]; }
    if (AFFINE == 1u && HAS_WEIGHT) { a = scaleWeight[c]; }
    sg += sumG[k];
    sgx += sumGX[k];
    sga += a * sumG[k];
    sgxa += a * sumGX[k];
  }
  let count = f32(p.N * p.S);
  meanTerms[c] = sga / count;
  meanTerms[p.C + c] = sgxa / count;
  gradWeight[c] = sgx;
  gradBias[c] = sg;
}

// Training: gx = invstd * (g*a - mean(g*a) - x_hat * mean(g*a*x_hat)); eval: gx = g * a * invstd.
@compute @workgroup_size(WORKGROUP)
fn inputGrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = elementIndex(gid, groups) * PER_THREAD;
  if (first >= p.N * p.C * p.S) { return; }
  let row = first / p.S;
  let n = row / p.C;
  let c = row - n * p.C;
  let r = invStd(c);
  let ar = scaleAt(n, c) * r;
  if (TRAINING) {
    let m = mean[c];
    let shift = r * meanTermsIn[c];
    let slope = r * r * meanTermsIn[p.C + c];
    for (var i = first; i < first + PER_THREAD; i++) {
      var g = gradIn[i];
      if (RELU) { g = select(0.0, g, yOut[i] > 0.0); }
      gradX[i] = g * ar - shift - (x[i] - m) * slope;
    }
  } else {
    for (var i = first; i < first + PER_THREAD; i++) {
      var g = gradIn[i];
      if (RELU) { g = select(0.0, g, yOut[i] > 0.0); }
      gradX[i] = g * ar;
    }
  }
}

@compute @workgroup_size(WORKGROUP)
fn inputGrad4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = elementIndex(gid, groups) * VEC4;
  if (first >= p.N * p.C * p.S / 4u) { return; }
  let row = first * 4u / p.S;
  let n = row / p.C;
  let c = row - n * p.C;
  let r = invStd(c);
  let ar = vec4<f32>(scaleAt(n, c) * r);
  let zero = vec4<f32>(0.0);
  if (TRAINING) {
    let m = vec4<f32>(mean[c]);
    let shift = vec4<f32>(r * meanTermsIn[c]);
    let slope = vec4<f32>(r * r * meanTermsIn[p.C + c]);
    for (var i = first; i < first + VEC4; i++) {
      var g = gradIn4[i];
      if (RELU) { g = select(zero, g, yOut4[i] > zero); }
      gradX4[i] = g * ar - shift - (x4[i] - m) * slope;
    }
  } else {
    for (var i = first; i < first + VEC4; i++) {
      var g = gradIn4[i];
      if (RELU) { g = select(zero, g, yOut4[i] > zero); }
      gradX4[i] = g * ar;
    }
  }
}
