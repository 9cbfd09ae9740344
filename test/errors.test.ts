// Bad input fails early and says what is wrong: mismatched shapes name both shapes, a wrong dtype
// names the dtype, out-of-range targets are refused, and a machine without a WebGPU adapter gets
// the setup instructions.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../src/kernels/index.js';
import { NoAdapterError, openDevice } from '../src/engine/device.js';
import { tensor } from '../src/engine/tensor.js';
import { setupGpu } from './helpers.js';

beforeAll(setupGpu);

const f = (...shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
const i32 = (...shape: number[]) => tensor(new Int32Array(shape.reduce((a, b) => a * b, 1)), shape);

describe('shape mismatches name both shapes', () => {
  it('add, sub, mul, div', () => {
    expect(() => ops.add(f(3, 4), f(5))).toThrow(/add: shapes \[3, 4\] and \[5\] cannot be broadcast together/);
    expect(() => ops.sub(f(2, 3), f(3, 2))).toThrow(/sub: shapes \[2, 3\] and \[3, 2\]/);
    expect(() => ops.mul(f(4, 2, 5), f(3, 5))).toThrow(/mul: shapes \[4, 2, 5\] and \[3, 5\]/);
    expect(() => ops.div(f(17), f(65))).toThrow(/div: shapes \[17\] and \[65\]/);
  });

  it('matmul', () => {
    expect(() => ops.matmul(f(2, 3), f(4, 5))).toThrow(/matmul: \[2, 3\] and \[4, 5\] do not fit \(inner sizes 3 and 4\)/);
    expect(() => ops.matmul(f(2, 3), f(5, 3), { transB: false })).toThrow(/\[2, 3\] and \[5, 3\]/);
    expect(() => ops.matmul(f(3, 2), f(3, 5), { transA: true, transB: true })).toThrow(/\[3, 2\]\^T and \[3, 5\]\^T/);
    expect(() => ops.matmul(f(2, 4, 3), f(3, 3, 5))).toThrow(/\[2, 4, 3\] and \[3, 3, 5\]/);
    expect(() => ops.matmul(f(3), f(3, 2))).toThrow(/A must have at least 2 dimensions, got \[3\]/);
  });

  it('linear', () => {
    expect(() => ops.linear(f(4, 3), f(5, 7))).toThrow(/linear: input \[4, 3\] does not fit weight \[5, 7\]/);
    expect(() => ops.linear(f(2, 4, 3), f(3))).toThrow(/input \[2, 4, 3\] does not fit weight \[3\]/);
    expect(() => ops.linear(f(4, 3), f(5, 3), f(4))).toThrow(/bias \[4\] must have shape \[5\]/);
  });

  it('concat', () => {
    expect(() => ops.concat([f(2, 3), f(2, 4)], 0)).toThrow(/concat along axis 0: \[2, 3\], \[2, 4\] do not fit together/);
    expect(() => ops.concat([f(2, 3), f(2, 3, 1)], 1)).toThrow(/\[2, 3\], \[2, 3, 1\]/);
    expect(() => ops.concat([f(2, 3), i32(2, 3)], 0)).toThrow(/concat: \[2, 3\] float32 and \[2, 3\] int32 have different dtypes/);
    expect(() => ops.concat([], 0)).toThrow(/no tensors/);
  });

  it('crossEntropy', () => {
    expect(() => ops.crossEntropy(f(4, 5), [0, 1, 2])).toThrow(/logits \[4, 5\] need 4 int32 class indices as targets, got \[3\] int32/);
    expect(() => ops.crossEntropy(f(4, 5), i32(5))).toThrow(/logits \[4, 5\].*got \[5\] int32/);
    expect(() => ops.crossEntropy(f(20), [0])).toThrow(/logits must be \(batch, classes\), got \[20\]/);
  });

  it('layout ops', () => {
    expect(() => ops.expandTo(f(3, 2), [3, 4])).toThrow(/cannot broadcast \[3, 2\] to \[3, 4\]/);
    expect(() => ops.narrow(f(3, 4), 1, 2, 3)).toThrow(/\[2, 5\) along axis 1 is outside \[3, 4\]/);
    expect(() => ops.split(f(3, 4), [1, 2], 1)).toThrow(/sizes \[1,2\] do not add up to 4/);
    expect(() => ops.permute(f(3, 4), [0, 0])).toThrow(/not a permutation of the 2 axes of \[3, 4\]/);
    expect(() => f(3, 4).reshape(5, -1)).toThrow(/cannot reshape \[3, 4\] \(12 elements\) to \[5, -1\]/);
  });
});

describe('a wrong dtype names the dtype', () => {
  it('int32 tensors into float ops', () => {
    expect(() => ops.relu(i32(3))).toThrow(/relu: expected a float32 tensor, got \[3\] int32/);
    expect(() => ops.add(f(3), i32(3))).toThrow(/add: expected a float32 tensor, got \[3\] int32/);
    expect(() => ops.matmul(i32(2, 2), f(2, 2))).toThrow(/matmul: .*int32/);
    expect(() => ops.sum(i32(4))).toThrow(/sum: .*int32/);
    expect(() => ops.softmax(i32(2, 2))).toThrow(/softmax: .*int32/);
    expect(() => ops.crossEntropy(i32(2, 3), [0, 1])).toThrow(/crossEntropy: .*int32/);
    expect(() => ops.linear(i32(2, 3), f(4, 3))).toThrow(/int32/);
  });

  it('float targets and indices', () => {
    expect(() => ops.crossEntropy(f(2, 3), f(2))).toThrow(/int32 class indices as targets, got \[2\] float32/);
    expect(() => ops.embedding(f(4, 2), f(3))).toThrow(/indices must be int32, got \[3\] float32/);
  });
});

describe('crossEntropy targets out of range', () => {
  it('are refused when given as an array', () => {
    expect(() => ops.crossEntropy(f(2, 3), [0, 3])).toThrow(/target 3 at position 1 is outside \[0, 3\)/);
    expect(() => ops.crossEntropy(f(2, 3), [-1, 0])).toThrow(/target -1 at position 0 is outside \[0, 3\)/);
  });

  it('give a NaN loss (not a wrong number) when they are already on the GPU', async () => {
    // Checking an int32 tensor on the CPU would need a read-back in the middle of the batch.
    const loss = ops.crossEntropy(f(2, 3), tensor(Int32Array.from([0, 7])));
    expect(Number.isNaN(await loss.item())).toBe(true);
  });
});

describe('no WebGPU adapter', () => {
  it('gives NoAdapterError naming the setup script', async () => {
    const attempt = openDevice({ requestAdapter: async () => null });
    await expect(attempt).rejects.toBeInstanceOf(NoAdapterError);
    await expect(attempt).rejects.toThrow(/scripts\/setup-vulkan\.sh/);
  });

  it('also when requestAdapter itself throws, with its reason', async () => {
    const attempt = openDevice({
      requestAdapter: async () => {
        throw new Error('Vulkan loader not found');
      },
    });
    await expect(attempt).rejects.toBeInstanceOf(NoAdapterError);
    await expect(attempt).rejects.toThrow(/setup-vulkan\.sh.*Vulkan loader not found/);
  });
});
