// A subgroup variant of attention.wgsl's attend, compiled with it (family
// 'attention+attentionSubgroups'; src/kernels/attention.ts uses it where the device has
// subgroups at least 8 wide, the query count is a multiple of 8 and K <= 8).
//
// The 8 lanes of a subgroup take 8 neighbouring queries of one image and one chunk of value
// channels, so for each key j they need the same K key values phi[., j] and the same CHUNK values
// g[., j]: lane i reads key channel i and value channels v0 + i, v0 + 8 + i, and every lane gets
// all of them by subgroupBroadcast (on lavapipe a storage read is a per-lane gather; a broadcast
// a register shuffle). Each thread reads its own query's K theta values once, not once per key.
// Subgroup operations need uniform control flow: threads past the end compute a clamped copy of
// the last query and do not store.

enable subgroups;

@compute @workgroup_size(WORKGROUP)
fn attendShared(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                @builtin(subgroup_invocation_id) lane: u32) {
  let n = chunks(p.V);
  let i = min(flatIndex(gid, groups), p.B * p.P * n - 1u);
  let valid = flatIndex(gid, groups) < p.B * p.P * n;
  let q = i % p.P;
  let rest = i / p.P;
  let chunk = rest % n;
  let b = rest / n;
  let v0 = chunk * CHUNK;
  let l = lane % 8u;
  // This query's theta, zero past K.
  var th: array<f32, 8>;
  for (var c = 0u; c < 8u; c++) {
    th[c] = select(0.0, theta[(b * p.K + min(c, p.K - 1u)) * p.P + q], c < p.K);
  }
  let keyRow = (b * p.K + min(l, p.K - 1u)) * p.M;
  let valueLo = (b * p.V + min(v0 + l, p.V - 1u)) * p.M;
  let valueHi = (b * p.V + min(v0 + 8u + l, p.V - 1u)) * p.M;
  var m = -3.402823e38f;
  var total = 0.0;
  var lo = array<f32, 8>();
  var hi = array<f32, 8>();
  for (var j = 0u; j < p.M; j++) {
    let key = phi[keyRow + j];
    var s = 0.0;
    s += th[0] * subgroupBroadcast(key, 0u);
    s += th[1] * subgroupBroadcast(key, 1u);
    s += th[2] * subgroupBroadcast(key, 2u);
    s += th[3] * subgroupBroadcast(key, 3u);
    s += th[4] * subgroupBroadcast(key, 4u);
    s += th[5] * subgroupBroadcast(key, 5u);
    s += th[6] * subgroupBroadcast(key, 6u);
    s += th[7] * subgroupBroadcast(key, 7u);
    let gLo = g[valueLo + j];
    let gHi = g[valueHi + j];
    // Online softmax: rescale the running sums whenever the maximum grows.
    let grow = s > m;
    let shrink = select(1.0, exp(m - s), grow);
    m = max(m, s);
    let e = exp(s - m);
    total = total * shrink + e;
    lo[0] = lo[0] * shrink + e * subgroupBroadcast(gLo, 0u);
    lo[1] = lo[1] * shrink + e * subgroupBroadcast(gLo, 1u);
    lo[2] = lo[2] * shrink + e * subgroupBroadcast(gLo, 2u);
    lo[3] = lo[3] * shrink + e * subgroupBroadcast(gLo, 3u);
    lo[4] = lo[4] * shrink + e * subgroupBroadcast(gLo, 4u);
    lo[5] = lo[5] * shrink + e * subgroupBroadcast(gLo, 5u);
    lo[6] = lo[6] * shrink + e * subgroupBroadcast(gLo, 6u);
    lo[7] = lo[7] * shrink + e * subgroupBroadcast(gLo, 7u);
    hi[0] = hi[0] * shrink + e * subgroupBroadcast(gHi, 0u);
    hi[1] = hi[1] * shrink + e * subgroupBroadcast(gHi, 1u);
    hi[2] = hi[2] * shrink + e * subgroupBroadcast(gHi, 2u);
    hi[3] = hi[3] * shrink + e * subgroupBroadcast(gHi, 3u);
    hi[4] = hi[4] * shrink + e * subgroupBroadcast(gHi, 4u);
    hi[5] = hi[5] * shrink + e * subgroupBroadcast(gHi, 5u);
    hi[6] = hi[6] * shrink + e * subgroupBroadcast(gHi, 6u);
    hi[7] = hi[7] * shrink + e * subgroupBroadcast(gHi, 7u);
  }
  if (!valid) { return; }
  for (var t = 0u; t < 8u; t++) {
    if (v0 + t < p.V) { out[(b * p.V + v0 + t) * p.P + q] = lo[t] / total; }
    if (v0 + 8u + t < p.V) { out[(b * p.V + v0 + 8u + t) * p.P + q] = hi[t] / total; }
  }
  if (chunk == 0u) { lseOut[b * p.P + q] = m + log(total); }
}

// attendProbabilities with a thread per query (b, q) and 4 keys at a time: lane i reads key
// channel i of keys j .. j + 3 as one vec4 (M % 4 == 0), the scores come from broadcasts, and
// the 4 probabilities go out as one vec4 (phi4, probs4: views of phi and probs). Same conditions
// as attendShared, and M % 4 == 0.

@compute @workgroup_size(WORKGROUP)
fn attendProbabilitiesShared(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                             @builtin(subgroup_invocation_id) lane: u32) {
  let i = min(flatIndex(gid, groups), p.B * p.P - 1u);
  let valid = flatIndex(gid, groups) < p.B * p.P;
  let b = i / p.P;
  let q = i - b * p.P;
  var th: array<f32, 8>;
  for (var c = 0u; c < 8u; c++) {
    th[c] = select(0.0, theta[(b * p.K + min(c, p.K - 1u)) * p.P + q], c < p.K);
  }
  let keyRow = (b * p.K + min(lane % 8u, p.K - 1u)) * p.M / 4u;
  let l = lse[i];
  for (var j = 0u; j < p.M / 4u; j++) {
    let key = phi4[keyRow + j];
    var s = vec4<f32>(0.0);
    s += th[0] * vec4<f32>(subgroupBroadcast(key, 0u));
    s += th[1] * vec4<f32>(subgroupBroadcast(key, 1u));
    s += th[2] * vec4<f32>(subgroupBroadcast(key, 2u));
    s += th[3] * vec4<f32>(subgroupBroadcast(key, 3u));
    s += th[4] * vec4<f32>(subgroupBroadcast(key, 4u));
    s += th[5] * vec4<f32>(subgroupBroadcast(key, 5u));
    s += th[6] * vec4<f32>(subgroupBroadcast(key, 6u));
    s += th[7] * vec4<f32>(subgroupBroadcast(key, 7u));
    if (valid) { probs4[i * p.M / 4u + j] = exp(s - l); }
  }
}
