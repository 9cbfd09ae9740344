// translate (whole-pixel shifts with a fill) against a float64 reference, gradients by finite
// differences: widths that are multiples of 4 (4 pixels a thread) and others, shifts either way
// and past the edge.
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../src/engine/tensor.js';
import { translate } from '../src/kernels/translate.js';
import { checkOp, setupGpu } from './helpers.js';

beforeAll(setupGpu);

function translateRef(x: Float64Array, shape: number[], dy: number, dx: number, fill: number): Float64Array {
  const [B, C, H, W] = shape;
  const out = new Float64Array(x.length);
  for (let p = 0; p < B * C; p++)
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++) {
        const [sy, sx] = [y - dy, xx - dx];
        const inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
        out[(p * H + y) * W + xx] = inside ? x[(p * H + sy) * W + sx] : fill;
      }
  return out;
}

describe('translate', () => {
  const cases: [number[], number, number, number][] = [
    [[2, 3, 5, 8], 1, -2, -1],
    [[2, 3, 5, 8], -3, 0, 0],
    [[1, 2, 4, 5], 2, 3, 0.5],
    [[1, 2, 4, 5], 0, -1, -1],
    [[1, 1, 3, 4], 0, 9, -1], // past the edge: all fill
  ];
  for (const [shape, dy, dx, fill] of cases) {
    it(`${JSON.stringify(shape)} by (${dy}, ${dx}), fill ${fill}`, () =>
      checkOp(([x]) => translate(x, dy, dx, fill), ([x]) => translateRef(x, shape, dy, dx, fill), [{ shape }]));
  }

  it('refuses other ranks and fractional shifts', () => {
    expect(() => translate(tensor(new Float32Array(6), [2, 3]), 1, 1)).toThrow(/expected \(B, C, H, W\)/);
    expect(() => translate(tensor(new Float32Array(16), [1, 1, 4, 4]), 0.5, 1)).toThrow(/whole pixels/);
  });
});
