// Softmax family over the last axis: one workgroup per row, with max and sum reduced in
// workgroup memory. Includes the fused softmax-cross-entropy with integer targets.
// Uniforms `p`, the buffers and the workgroup reductions: declared in src/kernels/softmax.ts.

override WORKGROUP: u32 = 64u;
override LOG: bool = false;       // log-softmax instead of softmax

fn rowOf(wid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return wid.x + wid.y * groups.x;
}

/// This workgroup's row of x: its index, its first element, and its max and
/// log(sum(exp(x - max))), shared by every thread. An index of p.rows or more: no row, no figures.
struct Row { index: u32, base: u32, max: f32, logSum: f32 }

fn rowStats(wid: vec3<u32>, groups: vec3<u32>, lid: u32) -> Row {
  let row = rowOf(wid, groups);
  let base = row * p.cols;
  if (row >= p.rows) { return Row(row, base, 0.0, 0.0); }   // uniform per workgroup, so barriers stay uniform
  var m = -3.402823e38f;
  for (var c = lid; c < p.cols; c += WORKGROUP) { m = max(m, x[base + c]); }
  m = reduceMax(m, lid);
  var s = 0.0;
  for (var c = lid; c < p.cols; c += WORKGROUP) { s += exp(x[base + c] - m); }
  s = reduceSum(s, lid);
  return Row(row, base, m, log(s));
}

@compute @workgroup_size(WORKGROUP)
fn softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
           @builtin(num_workgroups) groups: vec3<u32>) {
  let r = rowStats(wid, groups, lid);
  if (r.index >= p.rows) { return; }
  for (var c = lid; c < p.cols; c += WORKGROUP) {
    let z = x[r.base + c] - r.max - r.logSum;
    if (LOG) { y[r.base + c] = z; } else { y[r.base + c] = exp(z); }
  }
}

// gx = y * (g - sum(g * y)) for softmax;  gx = g - exp(y) * sum(g) for log-softmax (y: output).
@compute @workgroup_size(WORKGROUP)
fn softmaxBackward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                   @builtin(num_workgroups) groups: vec3<u32>) {
  let row = rowOf(wid, groups);
  if (row >= p.rows) { return; }   // uniform per workgroup, so barriers stay uniform
  let base = row * p.cols;
  var d = 0.0;
  for (var c = lid; c < p.cols; c += WORKGROUP) {
    if (LOG) { d += grad[base + c]; } else { d += grad[base + c] * output[base + c]; }
  }
  d = reduceSum(d, lid);
  for (var c = lid; c < p.cols; c += WORKGROUP) {
    if (LOG) {
      gradIn[base + c] = grad[base + c] - exp(output[base + c]) * d;
    } else {
      gradIn[base + c] = output[base + c] * (grad[base + c] - d);
    }
  }
}

// loss_r = logsumexp(x_r) - x_r[t_r]; NaN for a target outside [0, cols) so that it cannot pass silently.
@compute @workgroup_size(WORKGROUP)
fn crossEntropy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) groups: vec3<u32>) {
  let r = rowStats(wid, groups, lid);
  if (r.index >= p.rows || lid != 0u) { return; }
  let t = targets[r.index];
  if (t < 0 || u32(t) >= p.cols) {
    rowLoss[r.index] = nan();
  } else {
    rowLoss[r.index] = r.max + r.logSum - x[r.base + u32(t)];
  }
}

// d loss / d logits = (softmax - onehot(target)) * dLoss * scale
@compute @workgroup_size(WORKGROUP)
fn crossEntropyBackward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                        @builtin(num_workgroups) groups: vec3<u32>) {
  let r = rowStats(wid, groups, lid);
  if (r.index >= p.rows) { return; }
  let g = lossGrad[0] * p.scale;
  let t = targets[r.index];
  for (var c = lid; c < p.cols; c += WORKGROUP) {
    let prob = exp(x[r.base + c] - r.max - r.logSum);
    logitsGrad[r.base + c] = (prob - select(0.0, 1.0, i32(c) == t)) * g;
  }
}
