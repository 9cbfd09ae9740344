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
// thread; where rows are multiples of 4 long, PER_THREAD vec4s (the *4 entry points), and the row
// reductions read vec4s too (rowGradSums4): on lavapipe every storage access is a per-lane loop,
// paid once per vec4 rather than once per element. normalize, rowGradSums and inputGrad are
// written out for f32 and for vec4 rows from one template in src/kernels/batchnorm.ts
// (elementKernels), since WGSL has no generics.

// Uniforms `p` (N, C, S, eps, momentum) and each entry point's buffers: declared in
// src/kernels/batchnorm.ts.

override WORKGROUP: u32 = 64u;
override GROUP_PER_ROW: bool = false;   // row reductions: a workgroup per row, else a thread per row
override AFFINE: u32 = 0u;              // 0 none, 1 per channel weight/bias, 2 per sample 1 + gain / bias
override HAS_WEIGHT: bool = false;
override HAS_BIAS: bool = false;
override TRAINING: bool = false;        // inputGrad: batch statistics (else running ones, a pure scale)
override PER_THREAD: u32 = 1u;          // elementwise passes: consecutive elements (*4: vec4s) per thread, all in one row
override RELU: bool = false;            // a relu after the batchnorm

/// The row this invocation works on and where in the row it starts and strides.
struct RowWork { row: u32, start: u32, step: u32 }

fn rowWork(wid: vec3<u32>, lid: u32, groups: vec3<u32>) -> RowWork {
  let group = wid.x + wid.y * groups.x;
  if (GROUP_PER_ROW) { return RowWork(group, lid, WORKGROUP); }
  return RowWork(group * WORKGROUP + lid, 0u, 1u);
}

/// Sum over the row's invocations (the identity when a single thread owns the row).
fn rowTotal(v: vec2<f32>, lid: u32) -> vec2<f32> {
  if (GROUP_PER_ROW) { return workgroupSum(v, lid); }
  return v;
}

/// (n, c) of the row that holds element i.
fn sampleChannel(i: u32) -> vec2<u32> {
  let row = i / p.S;
  let n = row / p.C;
  return vec2<u32>(n, row - n * p.C);
}

fn invStd(c: u32) -> f32 {
  return inverseSqrt(variance[c] + p.eps);
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
    let a = scaleAt(n, c);
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
