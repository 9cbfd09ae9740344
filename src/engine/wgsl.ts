// WGSL helpers shared by several shader families, put in front of their files by the family's
// declaration (`prelude` in src/engine/kernelFamily.ts). WGSL has no generics, so helpers over a
// type are rendered per type here.

/**
 * The flat index of an invocation in a dispatch folded into y past 65,535 workgroups along x
 * (src/engine/runtime.ts, grid). Needs `override WORKGROUP`.
 */
export const flatIndex = /* wgsl */ `
fn flatIndex(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WORKGROUP;
}`;

/** A quiet NaN: a private variable, since WGSL refuses NaN in constant expressions. */
export const nan = /* wgsl */ `
var<private> nanBits: u32 = 0x7fc00000u;
fn nan() -> f32 { return bitcast<f32>(nanBits); }`;

/**
 * `fn name(v: type, lid: u32) -> type`: `combine` over the workgroup's values, a tree in
 * workgroup memory; every invocation gets the result. Call it from uniform control flow.
 * `combine` is a WGSL expression of `a` and `b`. Needs `override WORKGROUP` (a power of two).
 */
export function workgroupReduce(name: string, type: string, combine: string): string {
  return /* wgsl */ `
var<workgroup> ${name}Scratch: array<${type}, WORKGROUP>;
fn ${name}(v: ${type}, lid: u32) -> ${type} {
  ${name}Scratch[lid] = v;
  workgroupBarrier();
  for (var s = WORKGROUP / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      let a = ${name}Scratch[lid];
      let b = ${name}Scratch[lid + s];
      ${name}Scratch[lid] = ${combine};
    }
    workgroupBarrier();
  }
  let r = ${name}Scratch[0];
  workgroupBarrier();
  return r;
}`;
}

/**
 * `fn stridedOffsets(i, rank, shape, aStrides, bStrides) -> vec2<u32>`: where element i of a
 * row-major `shape` lies in two operands with those element strides (0 where one broadcasts).
 * Shapes and strides are `array<vec4<u32>, 2>` uniforms, 4 to a vec4, rank <= 8. An integer
 * division and remainder per dimension, which lavapipe does one lane at a time: collapse first.
 */
export const stridedOffsets = /* wgsl */ `
fn stridedOffsets(i: u32, rank: u32, shape: array<vec4<u32>, 2>, aStrides: array<vec4<u32>, 2>,
                  bStrides: array<vec4<u32>, 2>) -> vec2<u32> {
  var rest = i;
  var atA = 0u;
  var atB = 0u;
  for (var d = i32(rank) - 1; d >= 0; d--) {
    let v = u32(d) / 4u;
    let l = u32(d) % 4u;
    let c = rest % shape[v][l];
    rest = rest / shape[v][l];
    atA += c * aStrides[v][l];
    atB += c * bStrides[v][l];
  }
  return vec2<u32>(atA, atB);
}`;
