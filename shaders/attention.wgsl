// The core of BigGAN's self-attention, fused: out = g softmax(theta^T phi)^T for
// theta (B, K, P) queries, phi (B, K, M) keys, g (B, V, M) values, out (B, V, P).
// Forward never stores the (B, P, M) attention matrix: each thread owns one query and CHUNK value
// channels, recomputes its scores (K multiply-adds each; K = C/8 is small) and runs an online
// softmax over the keys, keeping the log-sum-exp per query for backward. Threads are numbered
// with the query fastest, so neighbours read neighbouring addresses.
//
// Backward rebuilds the attention matrix once from the log-sum-exp (attendProbabilities), and
// the rest is matmuls plus dS = Pr (dPr - rowDot) (attendScoreGrad), with
// dPr = dOut^T g and rowDot[q] = sum_j Pr dPr = sum_v dOut[v, q] out[v, q].

// Uniforms `p` (sizes B, P queries, M keys, K query/key channels, V value channels) and each entry
// point's buffers: declared in src/kernels/attention.ts.

const CHUNK = 16u;
override WORKGROUP: u32 = 64u;

fn chunks(n: u32) -> u32 {
  return (n + CHUNK - 1u) / CHUNK;
}

/// The invocation's flat index; (position, chunk, batch) with the position fastest.
fn work(gid: vec3<u32>, groups: vec3<u32>, positions: u32, chunkCount: u32) -> vec4<u32> {
  let i = flatIndex(gid, groups);
  let pos = i % positions;
  let rest = i / positions;
  return vec4<u32>(pos, rest % chunkCount, rest / chunkCount, select(0u, 1u, i < positions * chunkCount * p.B));
}

fn score(b: u32, q: u32, j: u32) -> f32 {
  var s = 0.0;
  for (var c = 0u; c < p.K; c++) {
    s += theta[(b * p.K + c) * p.P + q] * phi[(b * p.K + c) * p.M + j];
  }
  return s;
}

@compute @workgroup_size(WORKGROUP)
fn attend(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let w = work(gid, groups, p.P, chunks(p.V));
  if (w.w == 0u) { return; }
  let q = w.x;
  let b = w.z;
  let v0 = w.y * CHUNK;
  // Online softmax: rescale the running sums whenever the maximum grows.
  var m = -3.402823e38f;
  var total = 0.0;
  var acc: array<f32, CHUNK>;
  for (var j = 0u; j < p.M; j++) {
    let s = score(b, q, j);
    if (s > m) {
      let shrink = exp(m - s);
      total *= shrink;
      for (var t = 0u; t < CHUNK; t++) { acc[t] *= shrink; }
      m = s;
    }
    let e = exp(s - m);
    total += e;
    for (var t = 0u; t < CHUNK; t++) {
      acc[t] += e * g[(b * p.V + min(v0 + t, p.V - 1u)) * p.M + j];
    }
  }
  for (var t = 0u; t < CHUNK; t++) {
    if (v0 + t < p.V) { out[(b * p.V + v0 + t) * p.P + q] = acc[t] / total; }
  }
  if (w.y == 0u) { lseOut[b * p.P + q] = m + log(total); }
}

// A thread per element of (B, P, M): Pr = exp(score - lse).
@compute @workgroup_size(WORKGROUP)
fn attendProbabilities(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.B * p.P * p.M) { return; }
  let row = i / p.M;
  let j = i - row * p.M;
  probs[i] = exp(score(row / p.P, row % p.P, j) - lse[row]);
}

@compute @workgroup_size(WORKGROUP)
fn attendScoreGrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= p.B * p.P * p.M) { return; }
  gradScores[i] = probsIn[i] * (gradProbs[i] - rowDot[i / p.M]);
}
