// The browser suite, run in a page by test/browser/run.ts (headless Chromium, WebGPU on
// SwiftShader): kernels forward and backward against float64 references on odd shapes, the
// default pair against PyTorch's fixture, a short training run whose loss falls, numbers the
// Node run gives for the same seed, and every GPU buffer given back at the end.
import { init, ops, runtime, scope, tensor, Rng, readModelBytes, buildModel, parseCheckpoint, InputGenerator, ConditioningPipeline, optim } from '../../src/browser.js';
import type { Classifier, ImageGenerator } from '../../src/models/family.js';
import { classifierParity, generatorParity, pairParity, type ParityResult } from '../../src/models/parity.js';
import { opErrors } from '../checkOp.js';
import { linearRef, matmulRef } from '../reference/matmul.js';
import { conv2dRef } from '../reference/biggan_block.js';
import { crossEntropyRef, softmaxRef } from '../reference/softmax.js';
import { batchNormRef } from '../reference/batchnorm.js';
import { maxPool2dRef, upsampleNearestRef } from '../reference/pool.js';
import { mapUnary } from '../reference/elementwise.js';
import { reduceRef } from '../reference/reduce.js';
import { FORWARD_REL, GRAD_REL } from '../tolerances.js';

export interface BrowserResult {
  name: string;
  ok: boolean;
  detail: string;
}

const results: BrowserResult[] = [];

async function check(name: string, fn: () => Promise<string | void>): Promise<void> {
  try {
    const detail = await fn();
    results.push({ name, ok: true, detail: detail ?? '' });
  } catch (e) {
    results.push({ name, ok: false, detail: (e as Error).stack ?? String(e) });
  }
}

function assert(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

type Gpu = Parameters<typeof opErrors>[0];
type Ref = Parameters<typeof opErrors>[1];
type Inputs = Parameters<typeof opErrors>[2];

/** The Node suite's gradient check (test/checkOp.ts), with the Node suite's tolerances. */
async function kernel(name: string, gpu: Gpu, reference: Ref, inputs: Inputs, seed = 1): Promise<void> {
  await check(name, async () => {
    const e = await opErrors(gpu, reference, inputs, { seed });
    assert(e.forward <= FORWARD_REL, `forward: relative error ${e.forward.toExponential(2)} > ${FORWARD_REL}`);
    for (const [k, err] of e.grads) {
      assert(err !== null, `input ${k} received no gradient`);
      assert(err! <= GRAD_REL, `gradient of input ${k}: relative error ${err!.toExponential(2)} > ${GRAD_REL}`);
    }
    return `forward ${e.forward.toExponential(1)}, gradients ${e.grads.map(([, g]) => g!.toExponential(1)).join(' ')}`;
  });
}

async function fetchBytes(path: string): Promise<Uint8Array> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Numbers the Node run computes the same way (run.ts compares them). */
export function seededNumbers(G: ImageGenerator): Promise<Float32Array> {
  const z = tensor(new Rng(11).fillNormal(new Float32Array(2 * G.dimZ)), [2, G.dimZ]);
  const image = scope(() => G.forward(z, [0, 0]));
  z.dispose();
  return image.data().then((d) => {
    image.dispose();
    return (d as Float32Array).slice(0, 256);
  });
}

export async function runSuite(): Promise<{ adapter: string; results: BrowserResult[]; seeded: number[] }> {
  const rt = await init();
  const baseline = rt.pool.liveBytes;
  const W = (shape: number[]) => ({ shape });

  await kernel('matmul A^T B, 33x9 by 9x35', ([a, b]) => ops.matmul(a, b, { transA: true }), ([a, b]) => matmulRef(a, [9, 33], b, [9, 35], true, false), [W([9, 33]), W([9, 35])]);
  await kernel('linear with bias, (2, 3, 17) -> 7', ([x, w, b]) => ops.linear(x, w, b), ([x, w, b]) => linearRef(x, w, [7, 17], b), [W([2, 3, 17]), W([7, 17]), W([7])], 2);
  await kernel(
    'conv2d 3x3 padding 1, B2 C3 9x12 -> O5',
    ([x, w, b]) => ops.conv2d(x, w, b, { padding: 1 }),
    ([x, w, b]) => conv2dRef(x, [2, 3, 9, 12], w, [5, 3, 3, 3], b, 1),
    [W([2, 3, 9, 12]), W([5, 3, 3, 3]), W([5])],
    3,
  );
  // The workgroup-memory kernels a GPU runs (conv2dTiled, matmulTiled), forced here: SwiftShader
  // would not pick them, and a page on a real GPU needs them bundled.
  const tiled = { conv: ops.convSettings.tiled, matmul: ops.matmulSettings.tiled, minMacs: ops.matmulSettings.tiledMinMacs };
  Object.assign(ops.convSettings, { tiled: true });
  Object.assign(ops.matmulSettings, { tiled: true, tiledMinMacs: 0 });
  try {
    await kernel('matmul, the GPU kernel (matmulTiled), 33x9 by 9x35', ([a, b]) => ops.matmul(a, b), ([a, b]) => matmulRef(a, [33, 9], b, [9, 35], false, false), [W([33, 9]), W([9, 35])], 11);
    await kernel(
      'conv2d 3x3 padding 1, the GPU kernel (conv2dTiled), B2 C3 9x12 -> O5',
      ([x, w, b]) => ops.conv2d(x, w, b, { padding: 1 }),
      ([x, w, b]) => conv2dRef(x, [2, 3, 9, 12], w, [5, 3, 3, 3], b, 1),
      [W([2, 3, 9, 12]), W([5, 3, 3, 3]), W([5])],
      12,
    );
  } finally {
    Object.assign(ops.convSettings, { tiled: tiled.conv });
    Object.assign(ops.matmulSettings, { tiled: tiled.matmul, tiledMinMacs: tiled.minMacs });
  }
  await kernel('log-softmax over 13 columns', ([x]) => ops.logSoftmax(x), ([x]) => softmaxRef(x, 13, true), [W([5, 13])], 4);
  const targets = [3, 0, 12, 7, 7];
  await kernel('cross-entropy, 5 rows of 13', ([x]) => ops.crossEntropy(x, targets), ([x]) => crossEntropyRef(x, 13, targets), [W([5, 13])], 5);
  await kernel(
    'batchnorm (training) with weight and bias, (3, 4, 5, 3)',
    ([x, w, b]) => ops.batchNorm(x, null, null, w, b, { training: true }),
    ([x, w, b]) => batchNormRef(x, 3, 4, { training: true }, w, b),
    [W([3, 4, 5, 3]), W([4]), W([4])],
    6,
  );
  await kernel('max-pool 2x2, (2, 3, 6, 10)', ([x]) => ops.maxPool2d(x, 2), ([x]) => maxPool2dRef(x, [2, 3, 6, 10], 2), [W([2, 3, 6, 10])], 7);
  await kernel('nearest upsample x2, (1, 2, 3, 5)', ([x]) => ops.upsampleNearest(x, 2), ([x]) => upsampleNearestRef(x, [1, 2, 3, 5], 2), [W([1, 2, 3, 5])], 8);
  await kernel('tanh on 1031 values', ([x]) => ops.tanh(x), ([x]) => mapUnary(x, Math.tanh), [W([1031])], 9);
  await kernel('sum over axis 1 of (3, 70, 5)', ([x]) => ops.sum(x, 1), ([x]) => reduceRef('sum', x, [3, 70, 5], 1), [W([3, 70, 5])], 10);

  // The default pair against PyTorch: image, logits, loss and grad_z (models/fmnist_pair.io.pth).
  const G = buildModel(readModelBytes(await fetchBytes('/models/fmnist_biggan32_G.safetensors'), 'fmnist_biggan32_G.safetensors')) as unknown as ImageGenerator;
  const V = buildModel(readModelBytes(await fetchBytes('/models/fmnist_vgg_bn64.safetensors'), 'fmnist_vgg_bn64.safetensors')) as unknown as Classifier;
  await check('default pair against PyTorch (fmnist_pair.io.pth)', async () => {
    const fixture = parseCheckpoint(await fetchBytes('/models/fmnist_pair.io.pth'), 'fmnist_pair.io.pth').tensors;
    const r = await pairParity(G, V, fixture);
    const bad = r.lines.filter((l) => !l.ok);
    assert(bad.length === 0, `past tolerance: ${bad.map((l) => `${l.name} ${l.relError.toExponential(2)}`).join(', ')}`);
    return r.lines.map((l) => `${l.name} ${l.relError.toExponential(1)}`).join(', ');
  });

  // The PyTorch fixtures of every family, through the same converter from bytes.
  const FIXTURES: [string, 'generator' | 'classifier', string?][] = [
    ['biggan32_ch4', 'generator'],
    ['biggan_deep128_ch4', 'generator', 'biggan_deep128_ch4.config.json'],
    ['vgg_bn_tiny', 'classifier'],
    ['resnet_bottleneck_tiny', 'classifier'],
    ['vggface_w8', 'classifier'],
  ];
  for (const [name, kind, configFile] of FIXTURES) {
    await check(`${name} against PyTorch (${name}.io.pth)`, async () => {
      const config = configFile ? JSON.parse(new TextDecoder().decode(await fetchBytes(`/fixtures/${configFile}`))) : undefined;
      const model = buildModel(readModelBytes(await fetchBytes(`/fixtures/${name}.pth`), `${name}.pth`, { config }));
      const fixture = parseCheckpoint(await fetchBytes(`/fixtures/${name}.io.pth`), `${name}.io.pth`).tensors;
      const r: ParityResult =
        kind === 'generator' ? await generatorParity(model as unknown as ImageGenerator, fixture) : await classifierParity(model as unknown as Classifier, fixture);
      (model as unknown as { dispose(): void }).dispose();
      // vggface_w8's grad_x: one relu of the fixture sits on its kink (test/models.test.ts); its outputs are checked.
      const lines = name === 'vggface_w8' ? r.lines.filter((l) => l.name !== 'grad_x') : r.lines;
      const bad = lines.filter((l) => !l.ok);
      assert(bad.length === 0, `past tolerance: ${bad.map((l) => `${l.name} ${l.relError.toExponential(2)}`).join(', ')}`);
      return lines.map((l) => `${l.name} ${l.relError.toExponential(1)}`).join(', ');
    });
  }

  await check('a short training run on the default pair lowers the loss', async () => {
    const inputGenerator = new InputGenerator({ numClasses: 10, dimZ: G.dimZ, hidden: 32, minSigma: 1e-3 }, 0);
    const pipeline = new ConditioningPipeline(G as never, V as never, inputGenerator, 64);
    const optimizer = new optim.Adam(inputGenerator.parameters(), { lr: 1e-2 });
    const classes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const losses: number[] = [];
    for (let step = 0; step < 8; step++) {
      const loss = scope(() => {
        const s = pipeline.lossFor(classes, new Rng(5), { variance: 0, kl: 0, shift: 0 });
        s.loss.backward();
        optimizer.step();
        optimizer.zeroGrad();
        return s.crossEntropy;
      });
      losses.push((await loss.data())[0]);
      loss.dispose();
    }
    assert(losses.every(Number.isFinite), `a loss is not finite: ${losses}`);
    assert(losses.at(-1)! < losses[0] * 0.9, `the loss did not fall by 10%: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    optimizer.zeroGrad();
    optimizer.dispose();
    inputGenerator.dispose();
    return `cross-entropy ${losses[0].toFixed(3)} -> ${losses.at(-1)!.toFixed(3)} in ${losses.length} steps`;
  });

  const seeded = Array.from(await seededNumbers(G));
  (G as unknown as { dispose(): void }).dispose();
  (V as unknown as { dispose(): void }).dispose();
  await check('every GPU buffer is given back', async () => {
    await rt.sync();
    const live = rt.pool.liveBytes - baseline;
    assert(live === 0, `${live} bytes of GPU buffers are still held`);
  });
  return { adapter: runtime().adapterName, results, seeded };
}
