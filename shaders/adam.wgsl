// One Adam step, in place, PyTorch semantics (bias-corrected moments, eps added after the sqrt,
// optional L2 weight decay added to the gradient).

// Uniforms `p` and buffers param, grad, m, v, corrections (1 - beta1^step, 1 - beta2^step): declared in src/kernels/adam.ts.

override WORKGROUP: u32 = 256u;

@compute @workgroup_size(WORKGROUP)
fn adamStep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.n) { return; }
  let g = grad[i] + p.weightDecay * param[i];
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) / sqrt(corrections[1]) + p.eps;
  param[i] = param[i] - (p.lr / corrections[0]) * mi / denom;
}
