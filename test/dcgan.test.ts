// The conditional DCGAN of `npm run cgan`: two alternating training steps of both networks
// against PyTorch's (tools/reference/make_cgan_fixture.py), for each loss: the losses, every
// weight and every batchnorm running statistic after them; and its generator as a model family.
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { noGrad } from '../src/engine/autograd.js';
import { tensor } from '../src/engine/tensor.js';
import { oneHot } from '../src/kernels/gather.js';
import { writeSafetensors } from '../src/models/checkpoint/index.js';
import { conversionMetadata, convertStateDict } from '../src/models/convert.js';
import { DCGANDiscriminator, DCGANGenerator, type DCGANGeneratorConfig } from '../src/models/dcgan.js';
import { loadGenerator } from '../src/models/load.js';
import { GAN_LOSSES } from '../src/train/ganLoss.js';
import { expectGanStepsMatch } from './ganFixture.js';
import { expectClose, useFixture } from './helpers.js';
import { FIXTURE_OUTPUT_REL } from './tolerances.js';

const FIXTURE = join(import.meta.dirname, 'data', 'fixtures', 'cgan_step.pth');
const PROJECTION_FIXTURE = join(import.meta.dirname, 'data', 'fixtures', 'cgan_projection_step.pth');
const AUXILIARY_FIXTURE = join(import.meta.dirname, 'data', 'fixtures', 'cgan_auxiliary_step.pth');
const UPSAMPLE_FIXTURE = join(import.meta.dirname, 'data', 'fixtures', 'cgan_upsample_step.pth');
const BATCHNORM_FIXTURE = join(import.meta.dirname, 'data', 'fixtures', 'cgan_batchnorm_step.pth');
const G_CONFIG = { dimZ: 8, numClasses: 3, embedDim: 4, channels: [8, 4], outChannels: 3, resolution: 16, eps: 1e-5 };
const D_CONFIG = { numClasses: 3, inChannels: 3, channels: [4, 8], resolution: 16, slope: 0.2, eps: 1e-5 };

const tmp = mkdtempSync(join(tmpdir(), 'dcgan-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const fixture = useFixture(FIXTURE);
const host = fixture.tensor;
const projectionFixture = useFixture(PROJECTION_FIXTURE);
const auxiliaryFixture = useFixture(AUXILIARY_FIXTURE);
const upsampleFixture = useFixture(UPSAMPLE_FIXTURE);
const UPSAMPLING_G_CONFIG = { ...G_CONFIG, upsampling: 'nearest' as const };
const batchnormFixture = useFixture(BATCHNORM_FIXTURE);
const BATCHNORM_G_CONFIG = { ...G_CONFIG, embedDim: 0, conditioning: 'batchnorm' as const };

/**
 * A fixture's PyTorch generator converted (its config read back from the keys must be `config`)
 * and loaded from a file, beside the same weights loaded straight into a model of that config.
 */
async function convertedBeside(f: ReturnType<typeof useFixture>, config: DCGANGeneratorConfig, file: string) {
  const state = new Map([...f.all()].filter(([k]) => k.startsWith('G.')).map(([k, t]) => [k.slice(2), t]));
  const converted = convertStateDict(state);
  expect(converted.config).toEqual(config);
  const path = join(tmp, file);
  writeSafetensors(path, converted.tensors, conversionMetadata(converted));
  const trained = new DCGANGenerator(config).eval();
  trained.loadStateDict(f.under('G.'));
  return { state, G: await loadGenerator(path), trained };
}

describe('conditional DCGAN', () => {
  for (const kind of GAN_LOSSES) {
    it(`${kind}: two alternating steps of G and D (Adam, betas 0.5 and 0.999) match PyTorch's, weights and running statistics`, async () => {
      await expectGanStepsMatch(fixture, new DCGANGenerator(G_CONFIG), new DCGANDiscriminator(D_CONFIG), kind);
    });
    it(`${kind}, projection discriminator: two alternating steps match PyTorch's`, async () => {
      await expectGanStepsMatch(projectionFixture, new DCGANGenerator(G_CONFIG), new DCGANDiscriminator({ ...D_CONFIG, conditioning: 'projection' }), kind);
    });
    it(`${kind}, auxiliary classifier (AC-GAN): two alternating steps, each loss with its classes' cross-entropy, match PyTorch's`, async () => {
      await expectGanStepsMatch(auxiliaryFixture, new DCGANGenerator(G_CONFIG), new DCGANDiscriminator({ ...D_CONFIG, conditioning: 'auxiliary' }), kind);
    });
    it(`${kind}, generator upsampling by nearest neighbour and 3x3 convs: two alternating steps match PyTorch's`, async () => {
      await expectGanStepsMatch(upsampleFixture, new DCGANGenerator(UPSAMPLING_G_CONFIG), new DCGANDiscriminator(D_CONFIG), kind);
    });
    it(`${kind}, generator conditioned by batchnorm (each class its gains and biases): two alternating steps match PyTorch's`, async () => {
      await expectGanStepsMatch(batchnormFixture, new DCGANGenerator(BATCHNORM_G_CONFIG), new DCGANDiscriminator(D_CONFIG), kind);
    });
  }

  it('its generator is a model family: a PyTorch state dict of its layout converts, and a converted file loads frozen', async () => {
    const state = new Map([...fixture.all()].filter(([k]) => k.startsWith('G.')).map(([k, t]) => [k.slice(2), t]));
    const converted = convertStateDict(state);
    expect(converted.format).toBe('dcgan-generator');
    expect(converted.config).toEqual(G_CONFIG);
    const path = join(tmp, 'G.safetensors');
    writeSafetensors(path, converted.tensors, conversionMetadata(converted));
    const G = await loadGenerator(path);
    expect([G.dimZ, G.resolution, G.numClasses]).toEqual([8, 16, 3]);
    expect(G.parameters().every((p) => !p.requiresGrad)).toBe(true);
    const z = host('z0');
    const labels = [0, 2, 1, 1, 0, 2];
    const images = noGrad(() => G.forward(z, labels));
    expect(images.shape).toEqual([6, 3, 16, 16]);
    const values = await images.data();
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(1);
    // Eval mode: running statistics, so a sample does not depend on the rest of its batch.
    const z0 = tensor((await z.data()).slice(0, 8), [1, 8]);
    const alone = await noGrad(() => G.forward(z0, [0])).data();
    expectClose(alone, values.slice(0, 3 * 16 * 16), FIXTURE_OUTPUT_REL, 'one sample alone');
    // A one-hot class vector picks the same embedding rows as the indices.
    expect(Array.from(await noGrad(() => G.forward(z, oneHot(labels, 3))).data())).toEqual(Array.from(values));
  });

  it('an upsampling generator converts (its convs at main.4 and main.8 say so) and loads to the images of the model it was converted from', async () => {
    const { state, G, trained } = await convertedBeside(upsampleFixture, UPSAMPLING_G_CONFIG, 'G-upsampling.safetensors');
    const z = upsampleFixture.tensor('z0');
    const labels = [0, 2, 1, 1, 0, 2];
    expect(Array.from(await noGrad(() => G.forward(z, labels)).data())).toEqual(Array.from(await noGrad(() => trained.forward(z, labels)).data()));
    // A 3x3 conv where a transposed conv's 4x4 belongs names the key.
    const mixed = new Map(state);
    mixed.set('main.3.weight', state.get('main.4.weight')!);
    expect(() => convertStateDict(mixed)).toThrow(/main\.3\.weight/);
  });

  it('a generator conditioned by batchnorm converts (class_gain.1 without embed says so), loads to the same images, and mixes class vectors', async () => {
    const { state, G, trained } = await convertedBeside(batchnormFixture, BATCHNORM_G_CONFIG, 'G-batchnorm.safetensors');
    const z = batchnormFixture.tensor('z0');
    const labels = [0, 2, 1, 1, 0, 2];
    const images = Array.from(await noGrad(() => trained.forward(z, labels)).data());
    expect(Array.from(await noGrad(() => G.forward(z, labels)).data())).toEqual(images);
    expect(Array.from(await noGrad(() => G.forward(z, oneHot(labels, 3))).data())).toEqual(images);
    // The classes differ: the same z under another class is another image.
    expect(Array.from(await noGrad(() => G.forward(z, [1, 0, 2, 0, 1, 0])).data())).not.toEqual(images);
    // A gain table of the wrong width names its key.
    const wrong = new Map(state);
    wrong.set('class_gain.4.weight', state.get('class_gain.1.weight')!);
    expect(() => convertStateDict(wrong)).toThrow(/class_gain\.4\.weight/);
    // A fresh one starts as the plain batchnorm: every class the same image.
    const fresh = new DCGANGenerator(BATCHNORM_G_CONFIG, 7).eval();
    const first = Array.from(await noGrad(() => fresh.forward(z, [0, 0, 0, 0, 0, 0])).data());
    expect(Array.from(await noGrad(() => fresh.forward(z, [2, 2, 2, 2, 2, 2])).data())).toEqual(first);
  });
});
