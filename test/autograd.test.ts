// The autograd machinery: accumulation, shared inputs, detach, noGrad, explicit cotangents, errors,
// frozen tensors, and a deep chain that a recursive sweep would not survive.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../src/kernels/index.js';
import { isGradEnabled, noGrad } from '../src/engine/autograd.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { expectClose, setupGpu } from './helpers.js';

beforeAll(setupGpu);

const values = async (t: Tensor | null) => Array.from(await t!.data());
const param = (v: number[], shape = [v.length]) => tensor(v, shape, { requiresGrad: true });

describe('gradients', () => {
  it('accumulate across two backward calls (two graphs, then one graph kept with retainGraph)', async () => {
    const x = param([1, -2, 3]);
    ops.sum(ops.mul(x, 3)).backward();
    ops.sum(ops.square(x)).backward();
    // 3 + 2x
    expect(await values(x.grad)).toEqual([5, -1, 9]);

    const w = param([0.5, 2]);
    const y = ops.sum(ops.mul(w, w));
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(await values(w.grad)).toEqual([2, 8]); // 2 * 2w
    // without retainGraph the graph is gone: a third call says so instead of treating y as a leaf
    expect(y.gradFn).toBeNull();
    expect(() => y.backward()).toThrow(/already freed: pass \{ retainGraph: true \}/);
    expect(() => ops.sum(ops.mul(y, 2)).backward()).toThrow(/already freed/);
    expect(y.grad).toBeNull();
    expect(await values(w.grad)).toEqual([2, 8]);
  });

  it('a tensor used twice gets the sum of both paths: d(x*x + x)/dx = 2x + 1', async () => {
    const x = param([1.5, -2, 0.25, 3]);
    ops.sum(ops.add(ops.mul(x, x), x)).backward();
    expect(await values(x.grad)).toEqual([4, -3, 1.5, 7]);
  });

  it('paths that meet again after a diamond sum up', async () => {
    const x = param([2, -1]);
    const a = ops.mul(x, 3);
    const b = ops.exp(a); // uses a
    const c = ops.add(ops.mul(a, b), a); // uses a twice more
    ops.sum(c).backward();
    // c = a e^a + a, dc/dx = 3 (e^a + a e^a + 1)
    const expected = [2, -1].map((v) => 3 * (Math.exp(3 * v) * (1 + 3 * v) + 1));
    expectClose(await x.grad!.data(), expected, 1e-5);
  });

  it('the same leaf on both sides of add gets a gradient it owns', async () => {
    const x = param([1, 2]);
    const y = param([5, 5]);
    ops.sum(ops.add(ops.add(x, y), ops.add(y, x))).backward();
    expect(await values(x.grad)).toEqual([2, 2]);
    expect(await values(y.grad)).toEqual([2, 2]);
    x.grad!.dispose();
    expect(await values(y.grad)).toEqual([2, 2]);
  });

  it('detach stops gradients and shares the values', async () => {
    const x = param([1, 2, 3]);
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.gradFn).toBeNull();
    expect(await values(d)).toEqual([1, 2, 3]);
    // d(detach(x) * x)/dx = x (not 2x)
    ops.sum(ops.mul(d, x)).backward();
    expect(await values(x.grad)).toEqual([1, 2, 3]);
    // a graph made only of detached values cannot be differentiated
    expect(() => ops.sum(ops.mul(d, 2)).backward()).toThrow(/does not require grad/);
  });

  it('noGrad records nothing, nests, and restores the mode even when it throws', async () => {
    const x = param([1, 2]);
    const y = noGrad(() => ops.tanh(ops.mul(x, x)));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(isGradEnabled()).toBe(true);
    noGrad(() => {
      noGrad(() => undefined);
      expect(isGradEnabled()).toBe(false);
    });
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
    const z = ops.mul(x, x);
    expect(z.requiresGrad).toBe(true);
    expect(z.gradFn?.name).toBe('mul');
  });

  it('backward with an explicit cotangent', async () => {
    const x = param([1, 2, 3, 4, 5, 6], [2, 3]);
    const cot = tensor([1, 0, -1, 0.5, 2, 3], [2, 3]);
    ops.mul(x, 3).backward(cot);
    expect(await values(x.grad)).toEqual([3, 0, -3, 1.5, 6, 9]);
  });

  it('the leaf gradient does not alias the caller\'s cotangent', async () => {
    // clone passes the incoming gradient straight through: x.grad must still be x's own tensor.
    const x = param([1, 2, 3]);
    const cot = tensor([4, 5, 6]);
    ops.clone(x).backward(cot);
    expect(x.grad).not.toBe(cot);
    cot.dispose();
    expect(await values(x.grad)).toEqual([4, 5, 6]);
    // and the other way round: disposing the gradient leaves the cotangent alone
    const y = param([1, 2]);
    const cot2 = tensor([7, 8]);
    y.reshape(2, 1).reshape(2).backward(cot2);
    y.grad!.dispose();
    expect(await values(cot2)).toEqual([7, 8]);
  });

  it('backward on a non-scalar without a cotangent, or with a misshapen one, fails clearly', () => {
    const x = param([1, 2, 3]);
    expect(() => ops.mul(x, 2).backward()).toThrow(/without a cotangent needs a scalar output, got shape \[3\]/);
    expect(() => ops.mul(x, 2).backward(tensor([1, 2]))).toThrow(/cotangent shape \[2\] differs from output shape \[3\]/);
  });

  it('frozen tensors (requiresGrad false) get no .grad at all', async () => {
    const x = param([1, 2, 3, 4], [2, 2]);
    const w = tensor([1, 0, 0, 1], [2, 2]); // frozen weight
    const b = tensor([0.5, -0.5]); // frozen bias
    const y = ops.linear(ops.relu(ops.matmul(x, w)), w, b);
    ops.sum(y).backward();
    expect(w.grad).toBeNull();
    expect(b.grad).toBeNull();
    expect(w.requiresGrad).toBe(false);
    expect(x.grad).not.toBeNull();
    expect(await values(x.grad)).toEqual([1, 1, 1, 1]);
  });

  it('only float32 leaves can require grad', () => {
    expect(() => tensor(Int32Array.from([1, 2]), [2], { requiresGrad: true })).toThrow(/only float32 tensors can require grad/);
    expect(() => ops.mul(param([1]), 2).requiresGrad_()).toThrow(/leaf/);
  });

  it('a chain of 5,000 ops backpropagates without a stack overflow', async () => {
    const x = param([1, -2, 0.5]);
    let y = x;
    for (let i = 0; i < 5000; i++) y = i % 2 === 0 ? ops.mul(y, 1.0001) : ops.add(y, 0.001);
    ops.sum(y).backward();
    const expected = 1.0001 ** 2500;
    expectClose(await x.grad!.data(), [expected, expected, expected], 1e-4);
    expectClose(await y.data(), [1, -2, 0.5].map((v) => v * expected + 0.001 * 2500 * 1.0001 ** 1250), 1e-2);
  });
});
