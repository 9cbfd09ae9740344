// Shared test machinery: float64 CPU references, seeded inputs, max-norm relative comparison,
// and a gradient check that holds a GPU op against finite differences of its CPU reference.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, expect } from 'vitest';
import { Rng } from '../src/engine/random.js';
import { init } from '../src/engine/runtime.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { readCheckpoint, toFloat32, type HostTensor } from '../src/models/checkpoint/index.js';
import type { TrainConfig } from '../src/train/trainer.js';
import { opErrors, randomValues, relativeError, type CheckInput } from './checkOp.js';
import { FORWARD_REL, GRAD_REL } from './tolerances.js';

export type { CheckInput };

export const setupGpu = () => init();

export const FIXTURES = join(import.meta.dirname, 'data', 'fixtures');

/**
 * A PyTorch fixture of test/data/fixtures, read before the file's tests (with the GPU set up):
 * its tensors (`all`), one as float32 values (`values`) or on the GPU (`tensor`), and those under a
 * prefix, without it, as state-dict values (`under`).
 */
export function useFixture(path: string) {
  let tensors = new Map<string, HostTensor>();
  beforeAll(async () => {
    await setupGpu();
    tensors = readCheckpoint(path).tensors;
  });
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${path} has no tensor '${name}'`);
    return t;
  };
  return {
    all: () => tensors,
    values: (name: string) => toFloat32(get(name)),
    tensor: (name: string): Tensor => tensor(toFloat32(get(name)), get(name).shape),
    under: (prefix: string) => {
      const out = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const [k, t] of tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), { shape: t.shape, data: toFloat32(t) });
      return out;
    },
  };
}

/** A training run of the tiny fixture pair (a 32x32 BigGAN, a tiny VGG) in `out`, for the trainer's tests. */
export function tinyTrainConfig(out: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    generator: join(FIXTURES, 'biggan32_ch4.pth'),
    classifier: join(FIXTURES, 'vgg_bn_tiny.pth'),
    classNames: null,
    epochs: 2,
    stepsPerEpoch: 3,
    batch: 4,
    lr: 1e-2,
    seed: 3,
    classifierSize: 32,
    generatorClass: 0,
    hidden: 16,
    minSigma: 1e-3,
    weights: { variance: 0, kl: 0.2, shift: 2 },
    logEvery: 1,
    gridPerClass: 2,
    out,
    ...overrides,
  };
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export { randomValues, relativeError };

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what = 'values'): void {
  const err = relativeError(actual, expected);
  expect(err, `${what}: relative error ${err.toExponential(2)} exceeds ${rel}`).toBeLessThanOrEqual(rel);
}

/**
 * Checks a GPU op against its float64 reference (checkOp.ts: the forward output, then the gradient
 * of sum(output * c) with respect to every input against central finite differences).
 */
export async function checkOp(
  gpu: (inputs: Tensor[]) => Tensor,
  reference: (inputs: Float64Array[]) => Float64Array,
  inputs: CheckInput[],
  options: Parameters<typeof opErrors>[3] & { forwardRel?: number; gradRel?: number } = {},
): Promise<void> {
  const errors = await opErrors(gpu, reference, inputs, options);
  const forwardRel = options.forwardRel ?? FORWARD_REL;
  expect(errors.forward, `forward: relative error ${errors.forward.toExponential(2)} exceeds ${forwardRel}`).toBeLessThanOrEqual(forwardRel);
  const gradRel = options.gradRel ?? GRAD_REL;
  for (const [k, err] of errors.grads) {
    expect(err, `input ${k} received no gradient`).not.toBeNull();
    expect(err!, `gradient of input ${k}: relative error ${err!.toExponential(2)} exceeds ${gradRel}`).toBeLessThanOrEqual(gradRel);
  }
}

/** A Fashion-MNIST-shaped folder `dir` (gzipped idx files of `split`) with `perClass` random 28x28 images of each of 10 classes. */
export function tinyFashionMnist(dir: string, perClass: number, split: 'test' | 'train' = 'test'): string {
  const n = 10 * perClass;
  const rng = new Rng(11);
  const images = Buffer.alloc(16 + n * 28 * 28);
  images.writeUInt32BE(0x803, 0);
  [n, 28, 28].forEach((v, i) => images.writeUInt32BE(v, 4 + 4 * i));
  for (let i = 16; i < images.length; i++) images[i] = rng.int(256);
  const labels = Buffer.alloc(8 + n);
  labels.writeUInt32BE(0x801, 0);
  labels.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) labels[8 + i] = i % 10;
  const prefix = split === 'test' ? 't10k' : 'train';
  writeFileSync(join(dir, `${prefix}-images-idx3-ubyte.gz`), gzipSync(images));
  writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte.gz`), gzipSync(labels));
  return dir;
}
