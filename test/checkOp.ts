// The core of the suite's gradient check, with no test framework in it, so that the browser
// suite (test/browser) runs the same check in a page: a GPU op against its float64 reference,
// the forward output, then the gradient of sum(output * c) for a random cotangent c with respect
// to every input, against central finite differences of the reference.
import { Rng } from '../src/engine/random.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';

export interface CheckInput {
  shape: number[];
  values?: Float64Array;
  /** Differentiate with respect to this input (default true). */
  grad?: boolean;
}

export function randomValues(n: number, seed: number, scale = 1): Float64Array {
  const g = new Rng(seed);
  return Float64Array.from({ length: n }, () => g.normal() * scale);
}

/** max |a - b| / max |b| (b is the reference); 0 when both are all zero; Infinity on NaN or a length mismatch. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  if (Number.isNaN(diff)) return Infinity;
  return scale === 0 ? diff : diff / scale;
}

/**
 * Central finite differences of sum(reference(x) * cotangent) for a reference whose output
 * element i depends on element i of each input alone (a unary op; a binary op on equal shapes).
 * Moving every element of one input by h at once moves each output by its own element's step
 * only, so two reference calls per input give every element's difference quotient (element by
 * element it takes two per element, each over the whole input: seconds at a few thousand).
 */
export function elementwiseDifferences(
  reference: (inputs: Float64Array[]) => Float64Array,
  step = 1e-6,
): (inputs: Float64Array[], cotangent: Float64Array) => Float64Array[] {
  return (inputs, cotangent) =>
    inputs.map((_, k) => {
      const moved = (h: number) => reference(inputs.map((x, j) => (j === k ? x.map((v) => v + h) : x)));
      const up = moved(step);
      const down = moved(-step);
      if (up.length !== inputs[k].length) throw new Error(`elementwiseDifferences: output ${up.length} elements, input ${k} ${inputs[k].length}`);
      return up.map((u, i) => (cotangent[i] * (u - down[i])) / (2 * step));
    });
}

/** Relative errors of the forward output and of each differentiated input's gradient (null: none arrived). */
export async function opErrors(
  gpu: (inputs: Tensor[]) => Tensor,
  reference: (inputs: Float64Array[]) => Float64Array,
  inputs: CheckInput[],
  options: {
    seed?: number;
    step?: number;
    /**
     * The float64 gradients of sum(output * cotangent), one per input, computed another way than
     * element-by-element finite differences (which call the reference twice per input element):
     * in closed form where it is known (a matmul's is two matmuls), or by elementwiseDifferences.
     */
    gradReference?: (inputs: Float64Array[], cotangent: Float64Array) => Float64Array[];
  } = {},
): Promise<{ forward: number; grads: [number, number | null][] }> {
  const seed = options.seed ?? 1;
  const values = inputs.map((inp, i) => inp.values ?? randomValues(inp.shape.reduce((a, b) => a * b, 1), seed * 100 + i));
  const tensors = inputs.map((inp, i) => tensor(Float32Array.from(values[i]), inp.shape, { requiresGrad: inp.grad !== false }));
  // Reference on the float32-rounded inputs, as the GPU sees them.
  const rounded = values.map((v) => Float64Array.from(Float32Array.from(v)));
  const out = gpu(tensors);
  const expected = reference(rounded);
  const forward = relativeError(await out.data(), expected);

  const cot = randomValues(expected.length, seed + 7);
  const cotangent = tensor(Float32Array.from(cot), out.shape);
  out.backward(cotangent);
  const objective = (xs: Float64Array[]) => {
    const y = reference(xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * cot[i];
    return s;
  };
  const h = options.step ?? 1e-6;
  const exact = options.gradReference?.(rounded, cot);
  const grads: [number, number | null][] = [];
  for (let k = 0; k < inputs.length; k++) {
    if (inputs[k].grad === false) continue;
    const numeric = exact ? exact[k] : new Float64Array(rounded[k].length);
    for (let i = 0; !exact && i < numeric.length; i++) {
      const keep = rounded[k][i];
      rounded[k][i] = keep + h;
      const up = objective(rounded);
      rounded[k][i] = keep - h;
      const down = objective(rounded);
      rounded[k][i] = keep;
      numeric[i] = (up - down) / (2 * h);
    }
    const grad = tensors[k].grad;
    grads.push([k, grad ? relativeError(await grad.data(), numeric) : null]);
  }
  // Everything goes back to the pool (the browser suite counts live bytes at its end); an op may
  // return its input itself (expandTo to the same shape).
  for (const t of new Set([...tensors, out, cotangent])) {
    t.grad?.dispose();
    t.dispose();
  }
  return { forward, grads };
}
