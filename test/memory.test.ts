// Buffer lifetime and command batching: a training loop in scope() (or replayed) reuses its
// buffers step after step, dispose() gives memory back, a disposed tensor cannot be used, and a forward pass is
// recorded without a single submission until something is read back.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../src/kernels/index.js';
import { launchSettings, runtime } from '../src/engine/runtime.js';
import { OutOfMemoryError, roundSize } from '../src/engine/bufferPool.js';
import { heldForBackward } from '../src/engine/autograd.js';
import { empty, keep, scope, tensor, type Tensor } from '../src/engine/tensor.js';
import { Rng } from '../src/engine/random.js';
import { Adam } from '../src/train/optim.js';
import { Replay } from '../src/engine/capture.js';
import { setupGpu } from './helpers.js';

beforeAll(setupGpu);

describe('memory', () => {
  // The "1000 training steps", on an MLP small enough for lavapipe: each step is a
  // forward, backward, Adam update and one read-back, a few milliseconds here (~3 s in all); eager
  // (in scope()) and replayed (recorded once, src/engine/capture.ts), the same numbers either way.
  async function trainMlp(replayed: boolean) {
    const STEPS = 1000;
    const g = new Rng(7);
    const pool = runtime().pool;
    const params: Record<string, Tensor> = {
      w1: ops.randn([33, 17], { generator: g, std: 0.3, requiresGrad: true }),
      b1: ops.zeros([33], { requiresGrad: true }),
      w2: ops.randn([5, 33], { generator: g, std: 0.3, requiresGrad: true }),
      b2: ops.zeros([5], { requiresGrad: true }),
    };
    const optimizer = new Adam(Object.values(params), { lr: 1e-2 });
    const x = ops.randn([9, 17], { generator: g });
    const targets = [0, 1, 2, 3, 4, 0, 1, 2, 3];
    const step = (corrections: Tensor) => {
      const h = ops.relu(ops.linear(x, params.w1, params.b1));
      const logits = ops.linear(ops.tanh(h), params.w2, params.b2);
      const l = ops.crossEntropy(logits, targets);
      l.backward();
      optimizer.update(corrections);
      optimizer.zeroGrad();
      return l;
    };
    const replay = new Replay<'corrections'>(({ corrections }) => step(corrections));

    const live: number[] = [];
    const allocated: number[] = [];
    const losses: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      const corrections = optimizer.countStep();
      if (replayed) losses.push((await replay.run({ corrections }))[0]);
      else {
        const loss = scope(() => step(tensor(corrections)));
        losses.push(await loss.item());
        loss.dispose();
      }
      live.push(pool.liveBytes);
      allocated.push(pool.allocatedBytes);
    }
    expect(live.slice(1)).toEqual(new Array(STEPS - 1).fill(live[0]));
    expect(allocated.slice(1)).toEqual(new Array(STEPS - 1).fill(allocated[0]));
    // and it did train
    expect(losses[STEPS - 1]).toBeLessThan(losses[0] / 4);
    replay.dispose();
    optimizer.dispose();
    for (const t of [...Object.values(params), x]) t.dispose();
    return losses;
  }

  it('a training loop keeps live and allocated bytes flat after its first step, eager and replayed alike', async () => {
    const eager = await trainMlp(false);
    expect(await trainMlp(true)).toEqual(eager);
  });

  it('dispose() gives the bytes back, once, and views share storage', async () => {
    const pool = runtime().pool;
    const before = pool.liveBytes;
    const t = tensor(new Float32Array(1000), [10, 100]);
    expect(pool.liveBytes - before).toBe(roundSize(4000));
    const v = t.reshape(100, 10);
    t.dispose();
    t.dispose(); // safe twice
    expect(t.isDisposed).toBe(true);
    expect(pool.liveBytes - before).toBe(roundSize(4000)); // the view still holds it
    expect((await v.data()).length).toBe(1000);
    v.dispose();
    expect(pool.liveBytes).toBe(before);
  });

  it('scope() frees what it made except what it returns or keep()s, and gradients survive', async () => {
    const pool = runtime().pool;
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    const before = pool.liveBytes;
    let inner: Tensor | null = null;
    let kept: Tensor | null = null;
    const out = scope(() => {
      inner = ops.exp(x);
      kept = keep(ops.mul(x, 2));
      const y = ops.sum(ops.mul(inner, kept));
      y.backward();
      return { y, pair: [ops.neg(x)] };
    });
    expect(inner!.isDisposed).toBe(true);
    expect(kept!.isDisposed).toBe(false);
    expect(out.y.isDisposed).toBe(false);
    expect(out.pair[0].isDisposed).toBe(false);
    expect(x.grad).not.toBeNull();
    expect(x.grad!.isDisposed).toBe(false);
    for (const t of [out.y, out.pair[0], kept!, x.grad!]) t.dispose();
    x.grad = null;
    expect(pool.liveBytes).toBe(before);
  });

  it('using a disposed tensor fails with a clear error', async () => {
    const t = tensor([1, 2, 3]);
    t.name = 'weights';
    t.dispose();
    await expect(t.data()).rejects.toThrow(/tensor 'weights' \[3\] float32 was used after it was disposed/);
    expect(() => ops.relu(t)).toThrow(/used after it was disposed/);
    expect(() => t.reshape(3, 1)).toThrow(/used after it was disposed/);
    let leaked: Tensor | null = null;
    scope(() => {
      leaked = tensor([3]);
    });
    expect(() => ops.exp(leaked!)).toThrow(/was it made inside a scope\(\) that has ended\?/);
  });
});

describe('batching', () => {
  it('a forward of several ops makes no submission and no read-back until .data()', async () => {
    const rt = runtime();
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const w = tensor([0.5, -1, 2, 0, 1, 1], [2, 3]);
    await rt.sync(); // start from an empty batch
    const before = { ...rt.stats };
    const y = ops.sum(ops.softmax(ops.relu(ops.linear(ops.tanh(x), w))), 1);
    expect(rt.stats.dispatches - before.dispatches).toBeGreaterThanOrEqual(5);
    expect(rt.stats.submits).toBe(before.submits);
    expect(rt.stats.readbacks).toBe(before.readbacks);
    const values = await y.data();
    expect(rt.stats.submits - before.submits).toBe(1);
    expect(rt.stats.readbacks - before.readbacks).toBe(1);
    expect(values[0]).toBeCloseTo(1, 5);
    expect(values[1]).toBeCloseTo(1, 5);
  });

  it('a backward pass is recorded into the same batch; reading the gradient is one read-back', async () => {
    const rt = runtime();
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
    await rt.sync();
    const before = { ...rt.stats };
    ops.crossEntropy(ops.mul(x, 0.5), [2, 0]).backward();
    expect(rt.stats.submits).toBe(before.submits);
    await x.grad!.data();
    expect(rt.stats.submits - before.submits).toBe(1);
    expect(rt.stats.readbacks - before.readbacks).toBe(1);
  });

  it('running out of memory names the tensor, its size and the limit, and leaves the engine usable', async () => {
    const pool = runtime().pool;
    const before = pool.limitBytes;
    pool.limitBytes = pool.allocatedBytes + 2 ** 20;
    try {
      expect(() => empty([1024, 1024, 2])).toThrow(OutOfMemoryError);
      expect(() => empty([1024, 1024, 2])).toThrow(/allocating a tensor of shape \[1024, 1024, 2\] \(float32\): it needs 8\.0 MiB.*the limit is/);
    } finally {
      pool.limitBytes = before;
    }
    expect(Array.from(await ops.add(tensor([1, 2]), 1).data())).toEqual([2, 3]);
  });

  it('an operand over the binding-size limit that no split fits is refused by name before it reaches the GPU', async () => {
    launchSettings.maxBindingBytes = 1024;
    try {
      // crossEntropy does not split: runtime.launch names the binding.
      expect(() => ops.crossEntropy(ops.zeros([4, 100]), [0, 1, 2, 3])).toThrow(/buffer '\w+' binds \d+ bytes, over the binding-size limit of 1024/);
      // conv2d splits the batch, but one image is over the limit.
      expect(() => ops.conv2d(ops.zeros([2, 1, 32, 32]), ops.zeros([1, 1, 3, 3]))).toThrow(
        /conv2d: one of the 2 units along the split axis of input \[2, 1, 32, 32\] takes 4096 bytes, over the binding-size limit of 1024 bytes/,
      );
    } finally {
      launchSettings.maxBindingBytes = null;
    }
    expect(Array.from(await ops.relu(tensor([-1, 2])).data())).toEqual([0, 2]);
  });

  it('lists what a graph holds for backward: activations by the op that made them, parameters apart', async () => {
    scope(() => {
      const w = ops.zeros([8, 4], { requiresGrad: true });
      w.name = 'fc.weight';
      const x = ops.zeros([3, 4], { requiresGrad: true });
      const h = ops.linear(x, w);
      const loss = ops.sum(ops.tanh(ops.relu(h)));
      const held = heldForBackward(loss);
      const by = (madeBy: string) => held.find((t) => t.madeBy === madeBy);
      expect(by('fc.weight')).toMatchObject({ kind: 'parameter', usedBy: ['linear'], shape: [8, 4], bytes: 128 });
      expect(by('input')).toMatchObject({ kind: 'activation', usedBy: ['linear'], shape: [3, 4] });
      expect(by('linear')).toMatchObject({ kind: 'activation', usedBy: ['relu'], shape: [3, 8], bytes: 96 });
      expect(by('tanh')?.usedBy).toEqual(['sum']);
      expect(held.map((t) => t.bytes)).toEqual([...held.map((t) => t.bytes)].sort((a, b) => b - a));
    });
  });
});
