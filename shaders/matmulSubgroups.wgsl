// Subgroup variant of matmul.wgsl's kernel, compiled as one module with it (family
// 'matmul+matmulSubgroups'; src/kernels/matmul.ts uses it where the device has 'subgroups' with
// subgroups at least 8 wide). Same Params, bindings and semantics.
//
// Why: on lavapipe every storage read is a per-lane gather of ~10 instructions per lane (see
// conv2d.wgsl's header) while a multiply-add is one vector instruction, so the plain kernel
// (8 reads per 16 multiply-adds) is bound by its reads. Here a workgroup is one team of 8 lanes
// (one subgroup) that shares 32 rows of A: per k, lane i reads A(m0 + 8j + i, k) for j = 0..3 and
// every lane gets all 32 values by subgroupBroadcast (a register shuffle), while each lane reads
// its own 4 columns of B. Per k a lane does 8 reads for 128 multiply-adds (32 rows x 4 columns
// in registers); the team covers a 32 x 32 block of C.
//
// Subgroup operations need uniform control flow: lanes past the edge read clamped rows/columns
// and skip only the store (no early return).

enable subgroups;

// Rows 8j .. 8j + 7 of the team's block, 4 columns each.
struct Rows8 {
  r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, r3: vec4<f32>,
  r4: vec4<f32>, r5: vec4<f32>, r6: vec4<f32>, r7: vec4<f32>,
}

// acc.r_i += A(row i) * bv, where lane i holds A(row i) in t.
fn fma8(acc: Rows8, t: f32, bv: vec4<f32>) -> Rows8 {
  return Rows8(acc.r0 + subgroupBroadcast(t, 0u) * bv, acc.r1 + subgroupBroadcast(t, 1u) * bv,
               acc.r2 + subgroupBroadcast(t, 2u) * bv, acc.r3 + subgroupBroadcast(t, 3u) * bv,
               acc.r4 + subgroupBroadcast(t, 4u) * bv, acc.r5 + subgroupBroadcast(t, 5u) * bv,
               acc.r6 + subgroupBroadcast(t, 6u) * bv, acc.r7 + subgroupBroadcast(t, 7u) * bv);
}

// C(m, n0 .. n0 + 3) = v (+ bias), the parts inside the matrix only.
fn storeRow(v: vec4<f32>, base: u32, m: u32, n0: u32) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n < p.N) {
      var x = v[j];
      if (HAS_BIAS) { x += bias[n]; }
      c[base + m * p.N + n] = x;
    }
  }
}

fn rows8(acc: Rows8) -> array<vec4<f32>, 8> {
  return array<vec4<f32>, 8>(acc.r0, acc.r1, acc.r2, acc.r3, acc.r4, acc.r5, acc.r6, acc.r7);
}

// Rows m0 .. m0 + 8 * blocks - 1 of the output. One store in a loop (its bound one the compiler
// cannot see: M never reaches 2^31): lavapipe compiles each storage access site of unrolled code
// into a per-lane loop of its own, and 128 unrolled stores took most of this kernel's compile.
fn storeBlocks(blocks: array<array<vec4<f32>, 8>, 8>, count: u32, base: u32, m0: u32, n0: u32) {
  for (var i = 0u; i < max(8u * count, p.M >> 31u); i++) {
    storeRow(blocks[i / 8u][i % 8u], base, m0 + i, n0);
  }
}

@compute @workgroup_size(8)
fn matmulShared(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let m0 = wg.y * 32u;
  let n0 = wg.x * 32u + (lane % 8u) * 4u;
  let batch = wg.z;
  let lastM = p.M - 1u;
  let lastN = p.N - 1u;
  let aBase = batch * p.aBatch;
  let r = m0 + lane % 8u;
  let a0 = aBase + min(r, lastM) * p.aRow;
  let a1 = aBase + min(r + 8u, lastM) * p.aRow;
  let a2 = aBase + min(r + 16u, lastM) * p.aRow;
  let a3 = aBase + min(r + 24u, lastM) * p.aRow;
  let bBase = batch * p.bBatch;
  let b0 = bBase + min(n0, lastN) * p.bCol;
  let b1 = bBase + min(n0 + 1u, lastN) * p.bCol;
  let b2 = bBase + min(n0 + 2u, lastN) * p.bCol;
  let b3 = bBase + min(n0 + 3u, lastN) * p.bCol;
  var acc0: Rows8;
  var acc1: Rows8;
  var acc2: Rows8;
  var acc3: Rows8;
  for (var k = 0u; k < p.K; k++) {
    let ka = k * p.aCol;
    let kb = k * p.bRow;
    let bv = vec4<f32>(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
    acc0 = fma8(acc0, a[a0 + ka], bv);
    acc1 = fma8(acc1, a[a1 + ka], bv);
    acc2 = fma8(acc2, a[a2 + ka], bv);
    acc3 = fma8(acc3, a[a3 + ka], bv);
  }
  let base = batch * p.M * p.N;
  var blocks: array<array<vec4<f32>, 8>, 8>;
  blocks[0] = rows8(acc0);
  blocks[1] = rows8(acc1);
  blocks[2] = rows8(acc2);
  blocks[3] = rows8(acc3);
  storeBlocks(blocks, 4u, base, m0, n0);
}

// The same with 64 rows per team (256 accumulators): per k a lane does 12 reads for 256
// multiply-adds.
@compute @workgroup_size(8)
fn matmulShared64(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let m0 = wg.y * 64u;
  let n0 = wg.x * 32u + (lane % 8u) * 4u;
  let batch = wg.z;
  let lastM = p.M - 1u;
  let lastN = p.N - 1u;
  let aBase = batch * p.aBatch;
  let r = m0 + lane % 8u;
  let a0 = aBase + min(r, lastM) * p.aRow;
  let a1 = aBase + min(r + 8u, lastM) * p.aRow;
  let a2 = aBase + min(r + 16u, lastM) * p.aRow;
  let a3 = aBase + min(r + 24u, lastM) * p.aRow;
  let a4 = aBase + min(r + 32u, lastM) * p.aRow;
  let a5 = aBase + min(r + 40u, lastM) * p.aRow;
  let a6 = aBase + min(r + 48u, lastM) * p.aRow;
  let a7 = aBase + min(r + 56u, lastM) * p.aRow;
  let bBase = batch * p.bBatch;
  let b0 = bBase + min(n0, lastN) * p.bCol;
  let b1 = bBase + min(n0 + 1u, lastN) * p.bCol;
  let b2 = bBase + min(n0 + 2u, lastN) * p.bCol;
  let b3 = bBase + min(n0 + 3u, lastN) * p.bCol;
  var acc0: Rows8;
  var acc1: Rows8;
  var acc2: Rows8;
  var acc3: Rows8;
  var acc4: Rows8;
  var acc5: Rows8;
  var acc6: Rows8;
  var acc7: Rows8;
  for (var k = 0u; k < p.K; k++) {
    let ka = k * p.aCol;
    let kb = k * p.bRow;
    let bv = vec4<f32>(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
    acc0 = fma8(acc0, a[a0 + ka], bv);
    acc1 = fma8(acc1, a[a1 + ka], bv);
    acc2 = fma8(acc2, a[a2 + ka], bv);
    acc3 = fma8(acc3, a[a3 + ka], bv);
    acc4 = fma8(acc4, a[a4 + ka], bv);
    acc5 = fma8(acc5, a[a5 + ka], bv);
    acc6 = fma8(acc6, a[a6 + ka], bv);
    acc7 = fma8(acc7, a[a7 + ka], bv);
  }
  let base = batch * p.M * p.N;
  let blocks = array<array<vec4<f32>, 8>, 8>(rows8(acc0), rows8(acc1), rows8(acc2), rows8(acc3),
                                             rows8(acc4), rows8(acc5), rows8(acc6), rows8(acc7));
  storeBlocks(blocks, 8u, base, m0, n0);
}
