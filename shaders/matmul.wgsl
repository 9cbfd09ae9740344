// Batched matrix multiply C[b] = op(A[b]) op(B[b]) (+ bias over columns), op = identity or transpose.
// Operands are addressed through strides, so transposes cost nothing. Each thread keeps a
// 4x4 block of C in registers and reads A and B straight from global memory: on lavapipe
// this beats workgroup-memory tiling (barriers are expensive on a CPU).

// Uniforms `p` (sizes and element strides) and buffers a, b, bias, c: declared in src/kernels/matmul.ts.

override TILE_X: u32 = 8u;      // threads per workgroup along N
override TILE_Y: u32 = 8u;      // threads per workgroup along M
override HAS_BIAS: bool = false;

@compute @workgroup_size(TILE_X, TILE_Y)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  let batch = gid.z;
  if (m0 >= p.M || n0 >= p.N) { return; }
  // Clamp the rows/columns past the edge to the last valid one: reads stay in bounds and the
  // extra results are simply not written.
  var aIdx: vec4<u32>;
  var bIdx: vec4<u32>;
  for (var i = 0u; i < 4u; i++) {
    aIdx[i] = batch * p.aBatch + min(m0 + i, p.M - 1u) * p.aRow;
    bIdx[i] = batch * p.bBatch + min(n0 + i, p.N - 1u) * p.bCol;
  }
  var acc: array<vec4<f32>, 4>;
  for (var k = 0u; k < p.K; k++) {
    let ka = k * p.aCol;
    let kb = k * p.bRow;
    let bv = vec4<f32>(b[bIdx[0] + kb], b[bIdx[1] + kb], b[bIdx[2] + kb], b[bIdx[3] + kb]);
    acc[0] += a[aIdx[0] + ka] * bv;
    acc[1] += a[aIdx[1] + ka] * bv;
    acc[2] += a[aIdx[2] + ka] * bv;
    acc[3] += a[aIdx[3] + ka] * bv;
  }
  let base = batch * p.M * p.N;
  // Bounds the compiler cannot see (M never reaches 2^31): the stores stay one loop, not 16 code
  // sites, each of which lavapipe would compile into a per-lane loop (npm run bench -- --compile).
  let four = max(4u, p.M >> 31u);
  for (var i = 0u; i < four; i++) {
    let m = m0 + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < four; j++) {
      let n = n0 + j;
      if (n >= p.N) { break; }
      var v = acc[i][j];
      if (HAS_BIAS) { v += bias[n]; }
      c[base + m * p.N + n] = v;
    }
  }
}
