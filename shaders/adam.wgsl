// One Adam step, in place, PyTorch semantics (bias-corrected moments, eps added after the sqrt,
// optional L2 weight decay added to the gradient).

struct Params {
  n: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  biasCorrection1: f32,   // 1 - beta1^step
  biasCorrection2: f32,   // 1 - beta2^step
  weightDecay: f32,
}

override WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn adamStep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP;
  if (i >= p.n) { return; }
  let g = grad[i] + p.weightDecay * param[i];
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) / sqrt(p.biasCorrection2) + p.eps;
  param[i] = param[i] - (p.lr / p.biasCorrection1) * mi / denom;
}
