// Launches split over the binding-size limit (src/engine/split.ts), on small shapes: the limit is
// lowered (launchSettings.maxBindingBytes) so that a few images are over it. Where each output
// element is computed as before (every op but the conv weight gradient), a split result must equal
// the unsplit one bit for bit; the weight gradient adds the parts' sums, checked against float64.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchSettings, runtime } from '../src/engine/runtime.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import * as ops from '../src/kernels/index.js';
import { conv2dInputGrad, conv2dWeightGrad, convSettings, upsampleConv2dRelu } from '../src/kernels/conv2d.js';
import { expectClose, randomValues, setupGpu } from './helpers.js';
import { gradRef, type Case } from './reference/conv.js';
import { FORWARD_REL } from './tolerances.js';
import { BIGGAN_DEEP_256, randomize, VGG16 } from '../bench/fullSize.js';
import { BigGANDeepGenerator } from '../src/models/bigganDeep.js';
import { ResNet } from '../src/models/resnet.js';
import { VGG } from '../src/models/vgg.js';

beforeAll(async () => {
  await setupGpu();
  // Every conv layer on the conv kernels, which split: the unfold + matmul route is taken only
  // where the patches fit one binding, so a lowered limit would change the route as well as split.
  convSettings.patches = false;
});
afterAll(() => {
  convSettings.patches = true;
});
afterEach(() => {
  launchSettings.maxBindingBytes = null;
});

function rand(shape: number[], seed: number, requiresGrad = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from(randomValues(n, seed)), shape, { requiresGrad });
}

/** What `run` reads back, unsplit and then under `limit` bytes a binding, and the launches of each. */
async function unsplitAndSplit(limit: number, run: () => Tensor[]): Promise<{ whole: Float32Array[]; split: Float32Array[]; launches: [number, number] }> {
  const read = async (ts: Tensor[]) => Promise.all(ts.map(async (t) => (await t.data()) as Float32Array));
  const counted = async () => {
    let n = 0;
    const stop = runtime().onLaunch(() => n++);
    try {
      return { values: await read(run()), n };
    } finally {
      stop();
    }
  };
  const whole = await counted();
  launchSettings.maxBindingBytes = limit;
  const split = await counted();
  launchSettings.maxBindingBytes = null;
  return { whole: whole.values, split: split.values, launches: [whole.n, split.n] };
}

/** Bitwise equality of every read-back, and more launches when split. */
async function expectSame(limit: number, run: () => Tensor[]): Promise<void> {
  const r = await unsplitAndSplit(limit, run);
  expect(r.launches[1]).toBeGreaterThan(r.launches[0]);
  r.split.forEach((v, i) => expect(Array.from(v), `output ${i}`).toEqual(Array.from(r.whole[i])));
}

/** f(inputs) and the gradients of sum(f * cotangent) to the inputs that require them. */
function withGrads(inputs: Tensor[], f: (xs: Tensor[]) => Tensor, seed: number): () => Tensor[] {
  return () => {
    for (const x of inputs) x.grad = null;
    const y = f(inputs);
    y.backward(rand([...y.shape], seed));
    return [y, ...inputs.filter((x) => x.requiresGrad).map((x) => x.grad!)];
  };
}

describe('split launches', () => {
  it('conv2d with fused relu: forward and input gradient per part of the batch (3x3, 1x1, strided)', async () => {
    // An image of x is 4 x 16 x 16 x 4 = 4 KiB, of the output 8 KiB: a 16 KiB limit splits a batch of 5 into parts of 2.
    const x = rand([5, 4, 16, 16], 1, true);
    for (const [i, [w, options]] of ([
      [rand([8, 4, 3, 3], 2), { padding: 1 }],
      [rand([8, 4, 1, 1], 3), {}],
      [rand([6, 4, 3, 3], 4), { stride: 2, padding: 1 }],
    ] as const).entries()) {
      await expectSame(16384, withGrads([x], ([xx]) => ops.conv2dRelu(xx, w, rand([w.shape[0]], 5), options), 10 + i));
    }
  });

  it('the conv weight gradient adds the parts of the batch (float64 reference)', async () => {
    const c: Case = { B: 5, C: 8, H: 8, W: 8, O: 6, kh: 3, kw: 3, stride: 1, padding: 1, bias: false };
    const r = (v: Float64Array) => Float64Array.from(Float32Array.from(v));
    const xv = r(randomValues(c.B * c.C * c.H * c.W, 21));
    const wv = r(randomValues(c.O * c.C * 9, 22));
    const dyv = r(randomValues(c.B * c.O * c.H * c.W, 23));
    const x = tensor(Float32Array.from(xv), [c.B, c.C, c.H, c.W]);
    const dy = tensor(Float32Array.from(dyv), [c.B, c.O, c.H, c.W]);
    const w = tensor(Float32Array.from(wv), [c.O, c.C, 3, 3]);
    const ref = gradRef(c, xv, wv, dyv);
    let launches = 0;
    const stop = runtime().onLaunch((k) => (launches += k.entry.startsWith('weightGrad') ? 1 : 0));
    launchSettings.maxBindingBytes = 4096;
    const dw = conv2dWeightGrad(x, dy, w.shape, { padding: 1 });
    const dx = conv2dInputGrad(dy, w, x.shape, { padding: 1 });
    stop();
    expect(launches).toBe(3);
    expectClose(await dw.data(), ref.dw, FORWARD_REL, 'weight gradient');
    expectClose(await dx.data(), ref.dx, FORWARD_REL, 'input gradient');
  });

  it('upsample + conv (fused where the device allows) with relu: forward and input gradient', async () => {
    const x = rand([5, 4, 4, 4], 31, true);
    const w = rand([8, 4, 3, 3], 32);
    // An output image is 8 x 8 x 8 x 4 = 2 KiB.
    await expectSame(4096, withGrads([x], ([xx]) => upsampleConv2dRelu(xx, w, rand([8], 33), 2), 34));
  });

  it('elementwise ops in flat parts, broadcasts in parts of the first axis', async () => {
    const a = rand([8, 16, 8, 8], 41, true);
    const b = rand([8, 16, 8, 8], 42, true);
    const perChannel = rand([1, 16, 1, 1], 43, true);
    const plane = rand([16, 8, 8], 44, true);
    // Half of a; the per-channel gradient sums rows of 64 in parts of 64 rows (4 bytes an output:
    // parts of 64 rows keep every output offset aligned).
    const limit = 16384;
    await expectSame(limit, withGrads([a], ([x]) => ops.tanh(ops.relu(x)), 45));
    await expectSame(limit, withGrads([a, b], ([x, y]) => ops.mul(x, y), 46));
    await expectSame(limit, withGrads([a, perChannel], ([x, s]) => ops.div(x, s), 47));
    // plane's gradient sums over the batch in parts: another order, float32 rounding apart.
    const r = await unsplitAndSplit(limit, withGrads([plane, b], ([p, y]) => ops.sub(p, y), 48));
    r.split.forEach((v, i) => expectClose(v, r.whole[i], FORWARD_REL, `output ${i}`));
  });

  it('max pool, adaptive average pool and nearest upsample in parts of the planes; sums in parts of the rows', async () => {
    const x = rand([8, 16, 16, 16], 51, true); // a plane: 1 KiB
    const limit = 65536; // 64 planes: the sum's rows need parts of 64 for aligned outputs
    await expectSame(limit, withGrads([x], ([v]) => ops.maxPool2d(v, 2), 52));
    await expectSame(limit, withGrads([x], ([v]) => ops.maxPool2d(v, 3, 2, 1), 53));
    await expectSame(limit, withGrads([x], ([v]) => ops.adaptiveAvgPool2d(v, [4, 4]), 54));
    await expectSame(limit, withGrads([x], ([v]) => ops.upsampleNearest(v, 2), 55));
    await expectSame(limit, withGrads([x], ([v]) => ops.sum(v, [0, 2, 3]), 56));
  });

  it('strided copies (concat, narrow, permute, expand) in parts of the region, offsets off the alignment included', async () => {
    const a = rand([6, 5, 7, 9], 91, true); // 7.4 KiB
    const b = rand([6, 3, 7, 9], 92, true);
    const small = rand([1, 5, 1, 9], 93, true);
    const limit = 2048;
    await expectSame(limit, withGrads([a, b], ([x, y]) => ops.concat([x, y], 1), 94));
    await expectSame(limit, withGrads([a], ([x]) => ops.narrow(x, 1, 1, 3), 95));
    await expectSame(limit, withGrads([a], ([x]) => ops.permute(x, [0, 2, 1, 3]), 96));
    await expectSame(limit, withGrads([small], ([x]) => ops.expandTo(x, [6, 5, 7, 9]), 97));
  });

  it('batchnorm in training (statistics and gradients gathered over the parts) and eval, plain and conditional with relu', async () => {
    // An image of x is 64 x 4 x 4 x 4 = 4 KiB: an 8 KiB limit cuts a batch of 6 into 3 parts.
    const x = rand([6, 64, 4, 4], 71, true);
    const weight = rand([64], 72, true);
    const bias = rand([64], 73, true);
    const gain = rand([6, 64], 74, true);
    const shift = rand([6, 64], 75, true);
    const runningMean = rand([64], 76);
    const runningVar = tensor(new Float32Array(64).fill(1.5));
    const limit = 8192;
    for (const training of [true, false]) {
      await expectSame(limit, withGrads([x, weight, bias], ([v, w, b]) => ops.batchNorm(v, runningMean, runningVar, w, b, { training, momentum: 0 }), 77));
      await expectSame(limit, withGrads([x, gain, shift], ([v, g, b]) => ops.conditionalBatchNormRelu(v, g, b, runningMean, runningVar, { training, momentum: 0 }), 78));
    }
  });

  it('the full-size networks in small: VGG-16, ResNet and BigGAN-deep forward and backward to the input, split as unsplit', async () => {
    // The structure of bench/fullSize.ts's networks with few channels at a small size, frozen
    // as the method uses them; the limit is under a batch's activations but over one image's, and
    // over the classifier's weights (linear's row blocks add their parts: not bitwise).
    const vgg = new VGG({ ...VGG16, cfg: [8, 8, 'M', 16, 16, 'M', 16, 16, 16, 'M'], avgPool: 7, hidden: [8, 8], numClasses: 10, inputSize: 32 });
    const resnet = new ResNet({
      inChannels: 3, block: 'bottleneck', layers: [1, 1], stemWidth: 8, planes: [4, 8], widthPerGroup: 64, downsample: [true, true],
      numClasses: 10, inputSize: 32, normalize: true, eps: 1e-5,
    });
    const G = new BigGANDeepGenerator({
      ...BIGGAN_DEEP_256, resolution: 32, channelWidth: 4, dimZ: 8, nClasses: 3,
      layers: [[false, 16, 16], [true, 16, 8], [false, 8, 8], [true, 8, 4], [false, 4, 2], [true, 2, 1]], attentionPosition: 4,
    });
    for (const [i, m] of [vgg, resnet, G].entries()) {
      randomize(m, i);
      m.requiresGrad_(false);
    }
    const image = rand([4, 3, 32, 32], 81, true);
    // A first forward folds the frozen batchnorms once (FoldedBatchNorm): both runs below then launch alike.
    for (const m of [vgg, resnet]) m.forward(image).dispose();
    await expectSame(32768, withGrads([image], ([x]) => vgg.forward(x), 82));
    await expectSame(32768, withGrads([image], ([x]) => resnet.forward(x), 83));
    // BigGAN-deep's gen_z weight is 64 KiB (linear would split it too: not bitwise); its largest
    // activations 16 KiB an image, the attention's probabilities (16x16 queries, 8x8 keys) 64 KiB.
    const z = rand([8, 8], 84, true);
    await expectSame(65536, withGrads([z], ([v]) => G.forward(v, [0, 1, 2, 0, 1, 2, 0, 1]), 85));
  });

  it('refuses by name, with the size and the limit, what cannot be split finer; parts off the alignment are copied', async () => {
    launchSettings.maxBindingBytes = 1024;
    // One image of x is 2 KiB.
    const x = rand([2, 8, 8, 8], 61);
    const w = rand([4, 8, 3, 3], 62);
    expect(() => ops.conv2d(x, w, null, { padding: 1 })).toThrow(
      /conv2d: one of the 2 units along the split axis of input \[2, 8, 8, 8\] takes 2048 bytes, over the binding-size limit of 1024 bytes/,
    );
    launchSettings.maxBindingBytes = null;
    // A 5 x 5 plane is 100 bytes: aligned parts would hold 64 planes, over a 4 KiB limit; parts of
    // 40 planes start off the alignment, and their operands are copied.
    await expectSame(4096, withGrads([rand([70, 2, 5, 5], 63, true)], ([v]) => ops.maxPool2d(v, 2), 64));
  });
});
