// The transfer question of `cgan cgan --generator`: a BigGAN generator trained in training mode
// (batch statistics, running statistics updated) against PyTorch's two alternating GAN steps
// (tools/reference/make_biggan_step_fixture.py); the pretrained generator given a class-embedding
// row a class; the class-balanced subsets of --train-images; and a transfer run's folder, its
// generator loading as a model file, and --resume continuing it bit for bit.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { noGrad } from '../src/engine/autograd.js';
import { Rng } from '../src/engine/random.js';
import { tensor } from '../src/engine/tensor.js';
import { BigGANGenerator, type BigGANConfig } from '../src/models/biggan.js';
import { DCGANDiscriminator } from '../src/models/dcgan.js';
import { loadGenerator } from '../src/models/load.js';
import { balancedSubset, bigganForClasses, CGAN_GENERATOR, trainCgan, type CganConfig } from '../src/train/cgan.js';
import { FASHION_MNIST_CLASSES, type LabelledBytes } from '../src/train/fashionMnist.js';
import { ganStep } from '../src/train/ganStep.js';
import { Adam, updateBn } from '../src/train/optim.js';
import { expectClose, useFixture } from './helpers.js';
import { FIXTURE_OUTPUT_REL, FORWARD_REL } from './tolerances.js';

const FIXTURE = join(import.meta.dirname, 'data', 'fixtures', 'biggan_step.pth');
const PRETRAINED = join(import.meta.dirname, '..', 'models', 'fmnist_biggan32_G.safetensors');
const G_CONFIG: BigGANConfig = {
  resolution: 32, bottomWidth: 4, dimZ: 16, zChunk: 4, nClasses: 3, sharedDim: 4, hierarchical: true,
  channels: [8, 8, 8, 8], attention: [{ block: 1, keyChannels: 1, valueChannels: 4 }], outChannels: 3, eps: 1e-5,
};
/**
 * Biases whose exact gradient is zero, held fixed on both sides: each feeds only a batchnorm, which
 * in training mode subtracts the batch mean (a block's conv1 feeds bn2; the last block's sum feeds
 * the output layer's batchnorm). Adam would scale their rounding noise up to steps of up to lr,
 * noise that then reaches the running means, differently in any two engines.
 */
const ZERO_GRADIENT = /^blocks\.(\d+\.0\.conv1|2\.0\.conv2|2\.0\.conv_sc)\.bias$/;
const D_CONFIG = { numClasses: 3, inChannels: 3, channels: [4, 8, 8], resolution: 32, slope: 0.2, eps: 1e-5 };

const tmp = mkdtempSync(join(tmpdir(), 'transfer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const fixture = useFixture(FIXTURE);
const under = fixture.under;
const host = fixture.tensor;

describe('BigGAN generator in training', () => {
  it("eval mode gives PyTorch's image for the fixture's weights (the reference is the same function)", async () => {
    const G = new BigGANGenerator(G_CONFIG);
    G.loadStateDict(under('G.'));
    const labels = Array.from(fixture.values('labels'));
    const image = noGrad(() => G.forward(host('z0'), labels));
    expectClose(await image.data(), fixture.values('eval_image'), FIXTURE_OUTPUT_REL, 'eval image');
  });

  it("updateBn (standing statistics) reaches every batchnorm: over two batches, each statistic is the mean of the two batches' own", async () => {
    const G = new BigGANGenerator(G_CONFIG).eval();
    G.loadStateDict(under('G.'));
    const labels = Array.from(fixture.values('labels'));
    // In training mode each layer normalises with its batch's statistics, so a batch's statistics do not depend on what was stored.
    const statistics = async (batches: string[]) => {
      const layers = updateBn(G, batches.length, (k) => G.forward(host(batches[k]), labels));
      const values = new Map<string, Float64Array>();
      for (const [key, t] of G.stateDict()) if (/stored_(mean|var)$/.test(key)) values.set(key, Float64Array.from((await t.data()) as Float32Array));
      return { layers, values };
    };
    const [first, second, both] = [await statistics(['z0']), await statistics(['z1']), await statistics(['z0', 'z1'])];
    expect(both.layers).toBe(both.values.size / 2);
    expect(both.layers).toBeGreaterThan(2);
    expect(G.training).toBe(false);
    for (const [key, v] of both.values) {
      const [a, b] = [first.values.get(key)!, second.values.get(key)!];
      expect(Array.from(a), key).not.toEqual(Array.from(b));
      expectClose(v, a.map((x, i) => (x + b[i]) / 2), FORWARD_REL, key);
    }
  });

  it("two alternating BCE steps with a fresh DCGAN discriminator match PyTorch's: losses, weights, running statistics", async () => {
    const G = new BigGANGenerator(G_CONFIG).train();
    const D = new DCGANDiscriminator(D_CONFIG);
    G.loadStateDict(under('G.'));
    D.loadStateDict(under('D.'));
    for (const [key, p] of G.namedParameters()) if (ZERO_GRADIENT.test(key)) p.requiresGrad = false;
    const gan = {
      generator: G,
      discriminator: D,
      optimizerG: new Adam(G.parameters().filter((p) => p.requiresGrad), { lr: 2e-4, betas: [0.5, 0.999] }),
      optimizerD: new Adam(D.parameters(), { lr: 2e-4, betas: [0.5, 0.999] }),
      loss: 'bce' as const,
    };
    const labels = Array.from(fixture.values('labels'));
    const losses: number[] = [];
    for (const z of ['z0', 'z1']) {
      const [lossD, lossG] = await ganStep(gan, host('real'), labels, host(z));
      losses.push(lossD, lossG);
    }
    expectClose(losses, fixture.values('losses'), FIXTURE_OUTPUT_REL, 'losses');
    for (const [name, model] of [['G', G], ['D', D]] as const) {
      const expected = under(`after.${name}.`);
      const state = model.stateDict();
      expect([...state.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [key, t] of state) expectClose(await t.data(), expected.get(key)!.data, FIXTURE_OUTPUT_REL, `${name}.${key}`);
    }
  });
});

describe('--generator: the pretrained generator, a class-embedding row a class', () => {
  it("pretrained: every class draws the unconditional generator's image; scratch: fresh weights of the same architecture", async () => {
    const original = await loadGenerator(PRETRAINED);
    const G = bigganForClasses(PRETRAINED, 10, 'pretrained', 0).eval();
    expect(G.numClasses).toBe(10);
    const z = new Rng(1).fillNormal(new Float32Array(10 * original.dimZ));
    const classes = Array.from({ length: 10 }, (_, i) => i);
    const expected = await noGrad(() => original.forward(tensor(z, [10, original.dimZ]))).data();
    const got = await noGrad(() => G.forward(tensor(z, [10, original.dimZ]), classes)).data();
    expect(Array.from(got)).toEqual(Array.from(expected));
    expect(G.parameters().every((p) => p.requiresGrad)).toBe(true);

    // --fresh-embedding: the pretrained weights with the class rows drawn as from scratch.
    const apart = bigganForClasses(PRETRAINED, 10, 'pretrained', 0, true);
    const fresh = bigganForClasses(PRETRAINED, 10, 'scratch', 0);
    const scratchRows = await fresh.stateDict().get('shared.weight')!.data();
    expect(Array.from(await apart.stateDict().get('shared.weight')!.data())).toEqual(Array.from(scratchRows));
    expect(Array.from(await apart.stateDict().get('linear.weight')!.data())).toEqual(Array.from(await G.stateDict().get('linear.weight')!.data()));
    apart.dispose();

    expect([...fresh.stateDict().keys()]).toEqual([...G.stateDict().keys()]);
    const conv = await fresh.stateDict().get('blocks.0.0.conv1.weight')!.data();
    const std = Math.sqrt(Array.from(conv).reduce((s, v) => s + v * v, 0) / conv.length);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(Array.from(await fresh.stateDict().get('blocks.0.0.bn1.stored_var')!.data()).every((v) => v === 1)).toBe(true);
    for (const m of [original, G, fresh]) m.dispose();
  });

  it('refuses a file that is not a BigGAN generator, naming it', () => {
    const classifier = join(import.meta.dirname, '..', 'models', 'fmnist_vgg_judge32.safetensors');
    expect(() => bigganForClasses(classifier, 10, 'pretrained', 0)).toThrow(/fmnist_vgg_judge32\.safetensors holds a vgg; fine-tuning takes a BigGAN generator/);
  });
});

/** 200 images of random bytes, 20 of each class, the labels in a scrambled order. */
function data200(): LabelledBytes {
  const rng = new Rng(9);
  const pixels = Uint8Array.from({ length: 200 * 28 * 28 }, () => rng.int(256));
  return { pixels, labels: Int32Array.from({ length: 200 }, (_, i) => (i * 7) % 10), side: 28 };
}

describe('--train-images', () => {
  it('draws an equal share a class with the seed; the smaller subsets of a seed lie inside the larger', () => {
    const data = data200();
    const pick = (n: number, seed: number) => balancedSubset(data, n, 10, seed);
    const small = pick(30, 4);
    const large = pick(100, 4);
    for (const s of [small, large]) {
      const counts = new Array(10).fill(0);
      for (const l of s.labels) counts[l]++;
      expect(new Set(counts).size).toBe(1);
    }
    const images = (s: LabelledBytes) => Array.from({ length: s.labels.length }, (_, i) => Buffer.from(s.pixels.subarray(i * 784, (i + 1) * 784)).toString('hex'));
    const inLarge = new Set(images(large));
    expect(images(small).every((im) => inLarge.has(im))).toBe(true);
    expect(images(pick(30, 5))).not.toEqual(images(small));
    expect(() => pick(35, 4)).toThrow(/--train-images 35: must be a multiple of the 10 classes/);
    expect(() => pick(300, 4)).toThrow(/--train-images 300: class 0 has 20 training images, 30 are needed/);
  });
});

describe('a transfer run', () => {
  const config = (out: string): CganConfig => ({
    method: 'cgan', data: '(test)', classifier: '(unused)', classifierSize: 64, classNames: FASHION_MNIST_CLASSES,
    // 20 images make 5 batches of 4; an epoch of 6 steps reads them more than once.
    epochs: 2, stepsPerEpoch: 6, batch: 4, lr: 2e-4, beta1: 0.5, loss: 'bce', seed: 3, dimZ: 120, embedDim: 10, width: 2,
    logEvery: 1, gridPerClass: 1, generator: PRETRAINED, generatorInit: 'pretrained', trainImages: 20, out,
  });
  const files = ['generator', 'discriminator', 'optimizerG', 'optimizerD'].map((f) => join('checkpoint', `${f}.safetensors`));

  it('writes a run whose generator loads as a 10-class BigGAN; --resume after a Ctrl-C ends with the same bytes', async () => {
    const straight = join(tmp, 'straight');
    const resumed = join(tmp, 'resumed');
    const { history } = await trainCgan(config(straight), { data: data200(), quiet: true });
    expect(history.map((r) => r.step)).toEqual([...Array(12).keys()].map((i) => i + 1));
    const G = await loadGenerator(join(straight, CGAN_GENERATOR));
    expect([G.constructor.name, G.dimZ, G.numClasses, G.resolution]).toEqual(['BigGANGenerator', 120, 10, 32]);
    G.dispose();
    const stopSignal = { stop: false };
    await trainCgan(config(resumed), { data: data200(), quiet: true, stopSignal, onStep: (r) => (stopSignal.stop = r.step === 8) });
    await trainCgan(config(resumed), { data: data200(), quiet: true, resume: true });
    for (const f of files) expect(Buffer.compare(readFileSync(join(straight, f)), readFileSync(join(resumed, f))), f).toBe(0);
  });
});
