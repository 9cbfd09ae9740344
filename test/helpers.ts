// Shared test machinery: float64 CPU references, seeded inputs, max-norm relative comparison,
// and a gradient check that holds a GPU op against finite differences of its CPU reference.
import { expect } from 'vitest';
import { init } from '../src/engine/runtime.js';
import { Rng } from '../src/engine/random.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { FORWARD_REL, GRAD_REL } from './tolerances.js';

export const setupGpu = () => init();

export function randomValues(n: number, seed: number, scale = 1): Float64Array {
  const g = new Rng(seed);
  return Float64Array.from({ length: n }, () => g.normal() * scale);
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** max |a - b| / max |b| (b is the reference); 0 when both are all zero. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  if (Number.isNaN(diff)) return Infinity;
  return scale === 0 ? diff : diff / scale;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what = 'values'): void {
  const err = relativeError(actual, expected);
  expect(err, `${what}: relative error ${err.toExponential(2)} exceeds ${rel}`).toBeLessThanOrEqual(rel);
}

export interface CheckInput {
  shape: number[];
  values?: Float64Array;
  /** Differentiate with respect to this input (default true). */
  grad?: boolean;
}

/**
 * Checks a GPU op against its float64 reference: the forward output, then the gradient of
 * sum(output * c) for a random cotangent c with respect to every input, against central
 * finite differences of the reference.
 */
export async function checkOp(
  gpu: (inputs: Tensor[]) => Tensor,
  reference: (inputs: Float64Array[]) => Float64Array,
  inputs: CheckInput[],
  options: { seed?: number; forwardRel?: number; gradRel?: number; step?: number } = {},
): Promise<void> {
  const seed = options.seed ?? 1;
  const values = inputs.map((inp, i) => inp.values ?? randomValues(numelOf(inp.shape), seed * 100 + i));
  const tensors = inputs.map((inp, i) =>
    tensor(Float32Array.from(values[i]), inp.shape, { requiresGrad: inp.grad !== false }),
  );
  // Reference on the float32-rounded inputs, as the GPU sees them.
  const rounded = values.map((v) => Float64Array.from(Float32Array.from(v)));
  const out = gpu(tensors);
  const expected = reference(rounded);
  const actual = await out.data();
  expectClose(actual, expected, options.forwardRel ?? FORWARD_REL, 'forward');

  const cot = randomValues(expected.length, seed + 7);
  out.backward(tensor(Float32Array.from(cot), out.shape));
  const objective = (xs: Float64Array[]) => {
    const y = reference(xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * cot[i];
    return s;
  };
  const h = options.step ?? 1e-6;
  for (let k = 0; k < inputs.length; k++) {
    if (inputs[k].grad === false) continue;
    const numeric = new Float64Array(rounded[k].length);
    for (let i = 0; i < numeric.length; i++) {
      const keep = rounded[k][i];
      rounded[k][i] = keep + h;
      const up = objective(rounded);
      rounded[k][i] = keep - h;
      const down = objective(rounded);
      rounded[k][i] = keep;
      numeric[i] = (up - down) / (2 * h);
    }
    const grad = tensors[k].grad;
    expect(grad, `input ${k} received no gradient`).not.toBeNull();
    expectClose(await grad!.data(), numeric, options.gradRel ?? GRAD_REL, `gradient of input ${k}`);
  }
  for (const t of tensors) t.dispose();
}
