// GPU variant of matmul.wgsl's kernel, compiled as one module with it (family
// 'matmul+matmulTiled'; src/kernels/matmul.ts uses it on hardware adapters for large products).
// Same uniforms, buffers and semantics.
//
// Why: on a GPU the plain kernel (every thread reads its operands from global memory) and the
// subgroup one (8-lane workgroups) leave the multiply-add units waiting on memory. Here a
// workgroup of 256 threads computes a 128 x 128 block of C: per step of BK (8 or 16) along k it
// stages a BK x 128 slice of A and of B in workgroup memory (one global read per element per workgroup), and
// each thread keeps an 8 x 8 block of C in registers, so that per k it reads 2 + 2 vec4s of
// workgroup memory for 64 multiply-adds. A thread's rows are ty*4 .. ty*4 + 3 and 64 + the same
// (its columns likewise with tx): neighbouring threads read neighbouring vec4s. The next slice's
// global reads are issued before the current slice's arithmetic, to hide their latency.
//
// Edges: reads past M, N or K give 0 (through clamped addresses); stores past M or N are skipped.

override A_ALONG_K: bool = true;  // A's elements are contiguous along k (aCol == 1): read 4 k a thread
override B_ALONG_N: bool = true;  // B's elements are contiguous along n (bCol == 1): read 4 n a thread
// HAS_BIAS: matmul.wgsl's.
override BK: u32 = 8u;            // k per step: 8 or 16 (each thread stages BK / 8 vec4s of A and of B)

// [k][m / 4] and [k][n / 4] of the current slice: BK rows of 32 vec4s.
var<workgroup> aTile: array<vec4<f32>, BK * 32u>;
var<workgroup> bTile: array<vec4<f32>, BK * 32u>;

fn readA(batch: u32, m: u32, k: u32) -> f32 {
  let v = a[batch * p.aBatch + min(m, p.M - 1u) * p.aRow + min(k, p.K - 1u) * p.aCol];
  return select(0.0, v, m < p.M && k < p.K);
}

fn readB(batch: u32, k: u32, n: u32) -> f32 {
  let v = b[batch * p.bBatch + min(k, p.K - 1u) * p.bRow + min(n, p.N - 1u) * p.bCol];
  return select(0.0, v, k < p.K && n < p.N);
}

// Thread t's four elements of A's slice at k0: along k (4 k of row t / 2) or along m (4 rows at k t / 32).
fn loadA(batch: u32, m0: u32, k0: u32, t: u32) -> vec4<f32> {
  if (A_ALONG_K) {
    let m = m0 + t / 2u;
    let k = k0 + (t % 2u) * 4u;
    return vec4<f32>(readA(batch, m, k), readA(batch, m, k + 1u), readA(batch, m, k + 2u), readA(batch, m, k + 3u));
  }
  let m = m0 + (t % 32u) * 4u;
  let k = k0 + t / 32u;
  return vec4<f32>(readA(batch, m, k), readA(batch, m + 1u, k), readA(batch, m + 2u, k), readA(batch, m + 3u, k));
}

// storeA and storeB: part j of the step (its k 8j .. 8j + 7).
fn storeA(v: vec4<f32>, t: u32, j: u32) {
  if (A_ALONG_K) {
    let m = t / 2u;
    let k = 8u * j + (t % 2u) * 4u;
    for (var i = 0u; i < 4u; i++) { aTile[(k + i) * 32u + m / 4u][m % 4u] = v[i]; }
  } else {
    aTile[(8u * j + t / 32u) * 32u + t % 32u] = v;
  }
}

fn loadB(batch: u32, n0: u32, k0: u32, t: u32) -> vec4<f32> {
  if (B_ALONG_N) {
    let n = n0 + (t % 32u) * 4u;
    let k = k0 + t / 32u;
    return vec4<f32>(readB(batch, k, n), readB(batch, k, n + 1u), readB(batch, k, n + 2u), readB(batch, k, n + 3u));
  }
  let n = n0 + t / 2u;
  let k = k0 + (t % 2u) * 4u;
  return vec4<f32>(readB(batch, k, n), readB(batch, k + 1u, n), readB(batch, k + 2u, n), readB(batch, k + 3u, n));
}

fn storeB(v: vec4<f32>, t: u32, j: u32) {
  if (B_ALONG_N) {
    bTile[(8u * j + t / 32u) * 32u + t % 32u] = v;
  } else {
    let n = t / 2u;
    let k = 8u * j + (t % 2u) * 4u;
    for (var i = 0u; i < 4u; i++) { bTile[(k + i) * 32u + n / 4u][n % 4u] = v[i]; }
  }
}

// C(m, n .. n + 3) = v (+ bias), the parts inside the matrix only.
fn storeC(v: vec4<f32>, base: u32, m: u32, n: u32) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (n + j < p.N) {
      var x = v[j];
      if (HAS_BIAS) { x += bias[n + j]; }
      c[base + m * p.N + n + j] = x;
    }
  }
}

@compute @workgroup_size(16, 16)
fn matmulTiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * 16u + tx;
  let m0 = wg.y * 128u;
  let n0 = wg.x * 128u;
  let batch = wg.z;
  // acc[2i + h]: row (i < 4 ? ty*4 + i : 64 + ty*4 + i - 4), columns h*64 + tx*4 .. + 3
  var acc: array<vec4<f32>, 16>;
  var nextA: array<vec4<f32>, 2>;
  var nextB: array<vec4<f32>, 2>;
  for (var j = 0u; j < BK / 8u; j++) {
    nextA[j] = loadA(batch, m0, 8u * j, t);
    nextB[j] = loadB(batch, n0, 8u * j, t);
  }
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var j = 0u; j < BK / 8u; j++) {
      storeA(nextA[j], t, j);
      storeB(nextB[j], t, j);
    }
    workgroupBarrier();
    if (k0 + BK < p.K) {
      for (var j = 0u; j < BK / 8u; j++) {
        nextA[j] = loadA(batch, m0, k0 + BK + 8u * j, t);
        nextB[j] = loadB(batch, n0, k0 + BK + 8u * j, t);
      }
    }
    for (var k = 0u; k < BK; k++) {
      let a0 = aTile[k * 32u + ty];
      let a1 = aTile[k * 32u + 16u + ty];
      let b0 = bTile[k * 32u + tx];
      let b1 = bTile[k * 32u + 16u + tx];
      acc[0] += a0.x * b0;  acc[1] += a0.x * b1;
      acc[2] += a0.y * b0;  acc[3] += a0.y * b1;
      acc[4] += a0.z * b0;  acc[5] += a0.z * b1;
      acc[6] += a0.w * b0;  acc[7] += a0.w * b1;
      acc[8] += a1.x * b0;  acc[9] += a1.x * b1;
      acc[10] += a1.y * b0; acc[11] += a1.y * b1;
      acc[12] += a1.z * b0; acc[13] += a1.z * b1;
      acc[14] += a1.w * b0; acc[15] += a1.w * b1;
    }
    workgroupBarrier();
  }
  // Written out, not a loop over acc: a dynamically indexed acc could be left in memory, not registers.
  let base = batch * p.M * p.N;
  let n = n0 + tx * 4u;
  let m = m0 + ty * 4u;
  storeC(acc[0], base, m, n);         storeC(acc[1], base, m, n + 64u);
  storeC(acc[2], base, m + 1u, n);    storeC(acc[3], base, m + 1u, n + 64u);
  storeC(acc[4], base, m + 2u, n);    storeC(acc[5], base, m + 2u, n + 64u);
  storeC(acc[6], base, m + 3u, n);    storeC(acc[7], base, m + 3u, n + 64u);
  storeC(acc[8], base, m + 64u, n);   storeC(acc[9], base, m + 64u, n + 64u);
  storeC(acc[10], base, m + 65u, n);  storeC(acc[11], base, m + 65u, n + 64u);
  storeC(acc[12], base, m + 66u, n);  storeC(acc[13], base, m + 66u, n + 64u);
  storeC(acc[14], base, m + 67u, n);  storeC(acc[15], base, m + 67u, n + 64u);
}
