// Weights averaged in place (torch's Tensor.lerp_): average += weight * (value - average), the
// exponential moving average of a generator's weights (src/train/optim.ts, ExponentialAverage).

// Uniforms `p` and buffers average, value: declared in src/kernels/average.ts.

override WORKGROUP: u32 = 256u;

@compute @workgroup_size(WORKGROUP)
fn lerpInPlace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.n) { return; }
  average[i] = average[i] + p.weight * (value[i] - average[i]);
}
