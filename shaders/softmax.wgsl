// Softmax family over the last axis: one workgroup per row, with max and sum reduced in
// workgroup memory. Includes the fused softmax-cross-entropy with integer targets.

struct Params {
  rows: u32,
  cols: u32,
  scale: f32,     // cross-entropy backward: 1 / rows for a mean over the batch
}

// A private variable, not a constant: WGSL refuses NaN in constant expressions.
var<private> nanBits: u32 = 0x7fc00000u;

override WORKGROUP: u32 = 64u;
override LOG: bool = false;       // log-softmax instead of softmax

@group(0) @binding(0) var<uniform> p: Params;
// softmax / logSoftmax
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// softmaxBackward: y (binding 1 as x), grad, out
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> gradIn: array<f32>;
// crossEntropy: logits (binding 1 as x), targets, per-row loss / gradient
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(3) var<storage, read> lossGrad: array<f32>;
@group(0) @binding(4) var<storage, read_write> logitsGrad: array<f32>;

var<workgroup> scratch: array<f32, WORKGROUP>;

fn reduceMax(v: f32, lid: u32) -> f32 {
  scratch[lid] = v;
  workgroupBarrier();
  for (var s = WORKGROUP / 2u; s > 0u; s /= 2u) {
    if (lid < s) { scratch[lid] = max(scratch[lid], scratch[lid + s]); }
    workgroupBarrier();
  }
  let r = scratch[0];
  workgroupBarrier();
  return r;
}

fn reduceSum(v: f32, lid: u32) -> f32 {
  scratch[lid] = v;
  workgroupBarrier();
  for (var s = WORKGROUP / 2u; s > 0u; s /= 2u) {
    if (lid < s) { scratch[lid] = scratch[lid] + scratch[lid + s]; }
    workgroupBarrier();
  }
  let r = scratch[0];
  workgroupBarrier();
  return r;
}

fn rowOf(wid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return wid.x + wid.y * groups.x;
}

/// max and log(sum(exp(x - max))) of one row, shared by every thread of the workgroup.
fn rowStats(base: u32, lid: u32) -> vec2<f32> {
  var m = -3.402823e38f;
  for (var c = lid; c < p.cols; c += WORKGROUP) { m = max(m, x[base + c]); }
  m = reduceMax(m, lid);
  var s = 0.0;
  for (var c = lid; c < p.cols; c += WORKGROUP) { s += exp(x[base + c] - m); }
  s = reduceSum(s, lid);
  return vec2<f32>(m, log(s));
}

@compute @workgroup_size(WORKGROUP)
fn softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
           @builtin(num_workgroups) groups: vec3<u32>) {
  let row = rowOf(wid, groups);
  if (row >= p.rows) { return; }   // uniform per workgroup, so barriers stay uniform
  let base = row * p.cols;
  let st = rowStats(base, lid);
  for (var c = lid; c < p.cols; c += WORKGROUP) {
    let z = x[base + c] - st.x - st.y;
    if (LOG) { y[base + c] = z; } else { y[base + c] = exp(z); }
  }
}

// gx = y * (g - sum(g * y)) for softmax;  gx = g - exp(y) * sum(g) for log-softmax.
@compute @workgroup_size(WORKGROUP)
fn softmaxBackward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                   @builtin(num_workgroups) groups: vec3<u32>) {
  let row = rowOf(wid, groups);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var d = 0.0;
  for (var c = lid; c < p.cols; c += WORKGROUP) {
    if (LOG) { d += grad[base + c]; } else { d += grad[base + c] * x[base + c]; }
  }
  d = reduceSum(d, lid);
  for (var c = lid; c < p.cols; c += WORKGROUP) {
    if (LOG) {
      gradIn[base + c] = grad[base + c] - exp(x[base + c]) * d;
    } else {
      gradIn[base + c] = x[base + c] * (grad[base + c] - d);
    }
  }
}

// loss_r = logsumexp(x_r) - x_r[t_r]; NaN for a target outside [0, cols) so that it cannot pass silently.
@compute @workgroup_size(WORKGROUP)
fn crossEntropy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) groups: vec3<u32>) {
  let row = rowOf(wid, groups);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let st = rowStats(base, lid);
  if (lid == 0u) {
    let t = targets[row];
    if (t < 0 || u32(t) >= p.cols) {
      rowLoss[row] = bitcast<f32>(nanBits);
    } else {
      rowLoss[row] = st.x + st.y - x[base + u32(t)];
    }
  }
}

// d loss / d logits = (softmax - onehot(target)) * dLoss * scale
@compute @workgroup_size(WORKGROUP)
fn crossEntropyBackward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                        @builtin(num_workgroups) groups: vec3<u32>) {
  let row = rowOf(wid, groups);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let st = rowStats(base, lid);
  let g = lossGrad[0] * p.scale;
  let t = targets[row];
  for (var c = lid; c < p.cols; c += WORKGROUP) {
    let prob = exp(x[base + c] - st.x - st.y);
    logitsGrad[base + c] = (prob - select(0.0, 1.0, i32(c) == t)) * g;
  }
}
