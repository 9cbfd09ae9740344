// Subgroup variant of matmul.wgsl's kernel, compiled as one module with it (family
// 'matmul+matmulSubgroups'; src/kernels/matmul.ts uses it where the device has 'subgroups' with
// subgroups at least 8 wide). Same uniforms, buffers and semantics.
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

// The entry points, matmulShared (32 rows a team) and matmulShared64 (64 rows, 256 accumulators:
// per k a lane does 12 reads for 256 multiply-adds), are written out from one template in
// src/kernels/matmul.ts (sharedMatmul): they differ only in the number of 8-row blocks, and each
// block's accumulators and row of A are named values, not an array a loop could index.
// matmulSharedNT / NN / TN (sharedMatmul4) are matmulShared reading both operands as vec4s along
// their contiguous axes (bindings a4 and b4), for large products whose strides allow it.
