// The converter: layout recognition, architecture inference from keys and shapes, spectral norm,
// refusals that name the offending key, and the .pth -> .safetensors -> load round trip.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/engine/random.js';
import { tensor } from '../src/engine/tensor.js';
import { CheckpointError, readSafetensors, readStateDict, writeSafetensors, type HostTensor } from '../src/models/checkpoint/index.js';
import type { BigGANConfig } from '../src/models/biggan.js';
import { ConversionError, convertStateDict, detectFamily, detectFormat, summarize } from '../src/models/convert.js';
import { FAMILIES, familyOf } from '../src/models/families/index.js';
import { spectralNormalize } from '../src/models/families/biggan.js';
import type { VGGConfig } from '../src/models/vgg.js';
import type { VGGFaceConfig } from '../src/models/vggface.js';
import { loadClassifier, loadGenerator, readModelFile } from '../src/models/load.js';
import type { ResNetConfig } from '../src/models/resnet.js';
import { host, syntheticBigGAN, syntheticResNet, syntheticVGG } from './data/syntheticModels.js';
import { setupGpu } from './helpers.js';

const FIXTURES = join(import.meta.dirname, 'data', 'fixtures');
const CHECKPOINTS = join(import.meta.dirname, 'data', 'checkpoints');
const MODELS = join(import.meta.dirname, '..', 'models');
const BIGGAN = join(FIXTURES, 'biggan32_ch4.pth');
const BIGGAN_LEGACY = join(FIXTURES, 'biggan32_ch4.legacy.pth');
const VGG_TINY = join(FIXTURES, 'vgg_bn_tiny.pth');
const VGGFACE = join(FIXTURES, 'vggface_w8.pth');
const RESNET_TINY = join(FIXTURES, 'resnet_bottleneck_tiny.pth');
const CONVERT_CLI = join(import.meta.dirname, '..', 'src', 'models', 'convertCli.ts');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'convert-test-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `npm run convert`'s script with node + tsx. */
function convertCli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', CONVERT_CLI, ...args], { encoding: 'utf8' });
}

function refusal(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a refusal, but it was accepted');
}

const edited = (base: Map<string, HostTensor>, edit: (m: Map<string, HostTensor>) => void) => {
  const copy = new Map(base);
  edit(copy);
  return copy;
};

describe('architecture inference', () => {
  it('reads the BigGAN fixture: resolution 32, 3 blocks of 16, attention after the 16x16 block, hierarchical z 120', () => {
    const m = convertStateDict(readStateDict(BIGGAN));
    expect(m.format).toBe('biggan-generator');
    expect(m.config).toEqual({
      resolution: 32,
      bottomWidth: 4,
      dimZ: 120,
      zChunk: 30,
      nClasses: 1,
      sharedDim: 32,
      hierarchical: true,
      channels: [16, 16, 16, 16],
      attention: [{ block: 1, keyChannels: 2, valueChannels: 8 }],
      outChannels: 3,
      eps: 1e-5,
    } satisfies BigGANConfig);
    // Converted keys: the model's, without the power-iteration records.
    expect([...m.tensors.keys()].some((k) => /\.(u0|sv0)$/.test(k))).toBe(false);
    expect(m.tensors.get('blocks.1.1.gamma')!.shape).toEqual([]);
    expect(m.sigmas!.size).toBe(27);
  });

  it('reads the legacy-format copy of the same checkpoint identically', () => {
    const a = convertStateDict(readStateDict(BIGGAN));
    const b = convertStateDict(readStateDict(BIGGAN_LEGACY));
    expect(b.config).toEqual(a.config);
    for (const [k, t] of a.tensors) expect(b.tensors.get(k)!.data, k).toEqual(t.data);
  });

  it('reads the tiny VGG: pools from index gaps, 1x1 adaptive pool, classifier 32 -> 64 -> 64 -> 10', () => {
    const m = convertStateDict(readStateDict(VGG_TINY));
    expect(m.format).toBe('vgg');
    expect(m.config).toEqual({
      inChannels: 3,
      cfg: [8, 'M', 16, 'M', 32, 32, 'M'],
      batchNorm: true,
      avgPool: 1,
      hidden: [64, 64],
      numClasses: 10,
      inputSize: null,
      normalize: false,
      eps: 1e-5,
    } satisfies VGGConfig);
    expect([...m.tensors.keys()].some((k) => k.endsWith('num_batches_tracked'))).toBe(false);
  });

  it('describes the committed default pair as shared/pretrained/README.md does', () => {
    const g = readSafetensors(join(MODELS, 'fmnist_biggan32_G.safetensors'));
    expect(g.metadata.format).toBe('biggan-generator');
    expect(JSON.parse(g.metadata.config)).toMatchObject({ resolution: 32, dimZ: 120, zChunk: 30, channels: [32, 32, 32, 32], nClasses: 1, hierarchical: true });
    const v = readSafetensors(join(MODELS, 'fmnist_vgg_bn64.safetensors'));
    expect(JSON.parse(v.metadata.config)).toMatchObject({
      cfg: [16, 'M', 32, 'M', 64, 64, 'M', 128, 128, 'M', 128, 128, 'M'],
      avgPool: 1,
      hidden: [256, 256],
      numClasses: 10,
      inputSize: 64,
    });
    const j = readSafetensors(join(MODELS, 'fmnist_vgg_judge32.safetensors'));
    expect(JSON.parse(j.metadata.config)).toMatchObject({ cfg: [32, 'M', 64, 'M', 128, 128, 'M'], avgPool: 2, hidden: [128, 128], inputSize: 32 });
  });

  it('infers a class-conditional, non-hierarchical generator without attention', () => {
    const sd = syntheticBigGAN({ nClasses: 5, sharedDim: 6, zChunk: 12, hierarchical: false, channels: [8, 4], attention: [] });
    const c = convertStateDict(sd).config as BigGANConfig;
    expect(c).toMatchObject({ resolution: 8, dimZ: 12, nClasses: 5, sharedDim: 6, hierarchical: false, channels: [8, 4], attention: [] });
  });

  it('infers the bottom width from linear and the channel widths', () => {
    const sd = syntheticBigGAN({ nClasses: 1, sharedDim: 4, zChunk: 5, hierarchical: true, channels: [4, 4, 2], attention: [0], bottomWidth: 2 });
    const c = convertStateDict(sd).config as BigGANConfig;
    expect(c).toMatchObject({ resolution: 8, bottomWidth: 2, dimZ: 15, attention: [{ block: 0, keyChannels: 1, valueChannels: 2 }] });
  });

  it('recognises an ImageNet-shaped VGG without batchnorm (7x7 pool, 1000 classes): 224 input, normalisation on', () => {
    const sd = syntheticVGG({ cfg: [4, 'M', 8, 8, 'M', 8, 'M'], batchNorm: false, avgPool: 7, hidden: [16, 16], numClasses: 1000 });
    const c = convertStateDict(sd).config as VGGConfig;
    expect(c).toMatchObject({ cfg: [4, 'M', 8, 8, 'M', 8, 'M'], batchNorm: false, avgPool: 7, inputSize: 224, normalize: true });
    const small = convertStateDict(sd, { normalize: false, inputSize: 64, finalPool: false }).config as VGGConfig;
    expect(small).toMatchObject({ cfg: [4, 'M', 8, 8, 'M', 8], normalize: false, inputSize: 64 });
  });

  it("infers torchvision's VGG-16 layout (cfg D, with and without batchnorm; widths scaled down)", () => {
    const D: (number | 'M')[] = [4, 4, 'M', 8, 8, 'M', 16, 16, 16, 'M', 32, 32, 32, 'M', 32, 32, 32, 'M'];
    for (const batchNorm of [false, true]) {
      const sd = syntheticVGG({ cfg: D, batchNorm, avgPool: 7, hidden: [24, 24], numClasses: 1000 });
      // torchvision numbers vgg16's last conv features.28, vgg16_bn's features.40; classifier.0 takes 512 * 7 * 7.
      expect(sd.has(batchNorm ? 'features.40.weight' : 'features.28.weight')).toBe(true);
      const c = convertStateDict(sd).config as VGGConfig;
      expect(c).toMatchObject({ cfg: D, batchNorm, avgPool: 7, hidden: [24, 24], numClasses: 1000, inputSize: 224, normalize: true });
    }
  });

  it('strips a DataParallel module. prefix', () => {
    const sd = readStateDict(VGG_TINY);
    const wrapped = new Map([...sd].map(([k, v]) => [`module.${k}`, v]));
    expect(convertStateDict(wrapped).format).toBe('vgg');
  });
});

describe('VGG-Face (vgg_face_dag layout)', () => {
  it("reads the fixture: widths 8/64 of VGG-16, fc 3136 -> 64 -> 64 -> 5, input 224, the port's default mean", () => {
    const m = convertStateDict(readStateDict(VGGFACE));
    expect(m.format).toBe('vggface');
    expect(m.config).toEqual({
      inChannels: 3,
      blocks: [[8, 8], [16, 16], [32, 32, 32], [64, 64, 64], [64, 64, 64]],
      hidden: [64, 64],
      numClasses: 5,
      inputSize: 224,
      mean: [129.186279296875, 104.76238250732422, 93.59396362304688],
    } satisfies VGGFaceConfig);
    expect(m.tensors.size).toBe(32); // 13 convs and 3 linears, weight and bias each
    const text = summarize(m);
    expect(text).toMatch(/VGG-Face \(vgg_face_dag layout\): 3 -> \[8, 8\] M \[16, 16\] M \[32, 32, 32\] M \[64, 64, 64\] M \[64, 64, 64\] M, fc 3136 -> 64 -> 64 -> 5/);
    expect(text).toMatch(/input 224x224, 0\.\.255 minus mean \[129\.186, 104\.762, 93\.594\] \(the vgg_face_dag port's default\), std 1/);
  });

  it('records a mean given at conversion, and refuses one of the wrong length', () => {
    const sd = readStateDict(VGGFACE);
    const m = convertStateDict(sd, { mean: [120, 110, 100] });
    expect((m.config as VGGFaceConfig).mean).toEqual([120, 110, 100]);
    expect(summarize(m)).toMatch(/mean \[120\.000, 110\.000, 100\.000\] \(given at conversion\)/);
    expect(refusal(() => convertStateDict(sd, { mean: [1, 2] })).message).toMatch(/mean \[1, 2\] needs one finite value per input channel \(3\)/);
  });

  it('takes any head and width: a 2-class head on 4-wide convs', () => {
    const sd = readStateDict(VGGFACE);
    const narrow = new Map<string, HostTensor>();
    const g = new Rng(3);
    for (const [k, t] of sd) {
      // Every conv 4 wide (conv1_1 still takes 3 channels), fc6 from 4·7·7, fc8 to 2 classes.
      const shape = [...t.shape];
      if (k.startsWith('conv')) {
        shape[0] = 4;
        if (shape.length === 4 && k !== 'conv1_1.weight') shape[1] = 4;
      }
      if (k === 'fc6.weight') shape[1] = 4 * 49;
      if (k.startsWith('fc8')) shape[0] = 2;
      narrow.set(k, host(shape, g.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)))));
    }
    expect(convertStateDict(narrow).config).toMatchObject({ blocks: [[4, 4], [4, 4], [4, 4, 4], [4, 4, 4], [4, 4, 4]], hidden: [64, 64], numClasses: 2 });
  });

  it('refuses an fc6 that does not read the 7x7 grid after pool5, naming the key and both counts', () => {
    const bad = edited(readStateDict(VGGFACE), (s) => s.set('fc6.weight', host([64, 64 * 36], new Float32Array(64 * 64 * 36))));
    const err = refusal(() => convertStateDict(bad));
    expect(err).toBeInstanceOf(ConversionError);
    expect((err as ConversionError).key).toBe('fc6.weight');
    expect(err.message).toMatch(/'fc6\.weight' has shape \[64, 2304\]: 2304 inputs, but fc6 must take conv5_3's 64 channels on the 7x7 grid after pool5 \(64·7·7 = 3136\)/);
  });

  it('refuses an unknown key, a missing one and a broken chain of widths', () => {
    const base = readStateDict(VGGFACE);
    const extra = edited(base, (s) => s.set('fc9.weight', host([5, 5], new Float32Array(25))));
    expect(refusal(() => convertStateDict(extra)).message).toMatch(/looks like a VGG-Face \(vgg_face_dag\), but key 'fc9\.weight' does not fit that layout/);
    const fourth = edited(base, (s) => s.set('conv5_4.weight', host([64, 64, 3, 3], new Float32Array(64 * 64 * 9))));
    expect(refusal(() => convertStateDict(fourth)).message).toMatch(/key 'conv5_4\.weight' does not fit that layout/);
    const missing = edited(base, (s) => s.delete('conv4_2.bias'));
    expect(refusal(() => convertStateDict(missing)).message).toMatch(/missing key 'conv4_2\.bias' \(expected shape \[64\]\)/);
    const chain = edited(base, (s) => s.set('conv3_1.weight', host([32, 8, 3, 3], new Float32Array(32 * 72))));
    expect(refusal(() => convertStateDict(chain)).message).toMatch(/'conv3_1\.weight' has shape \[32, 8, 3, 3\], expected \[\*, 16, 3, 3\] \(a 3x3 conv from the 16 channels before it\)/);
    const head = edited(base, (s) => s.set('fc8.weight', host([5, 32], new Float32Array(160))));
    expect(refusal(() => convertStateDict(head)).message).toMatch(/'fc8\.weight' has shape \[5, 32\], expected \[\*, 64\]/);
  });

  it("does not collide with torchvision VGG's, ResNet's or BigGAN's keys", () => {
    const fitting = (key: string) => FAMILIES.filter((f) => f.fits(key)).map((f) => f.format);
    expect(fitting('conv1_1.weight')).toEqual(['vggface']);
    expect(fitting('fc8.bias')).toEqual(['vggface']);
    expect(fitting('features.0.weight')).toEqual(['vgg']);
    expect(fitting('classifier.6.bias')).toEqual(['vgg']);
    expect(fitting('conv1.weight')).toEqual(['resnet']);
    expect(fitting('fc.weight')).toEqual(['resnet']);
    expect(fitting('main.0.weight')).toEqual(['dcgan-generator']);
    expect(fitting('embed.weight')).toEqual(['dcgan-generator']);
    for (const k of ['conv1_1.running_mean', 'fc6.weight_orig']) expect(fitting(k)).toEqual([]);
    expect(detectFamily(readStateDict(VGGFACE).keys()).format).toBe('vggface');
    expect(detectFamily(readStateDict(RESNET_TINY).keys()).format).toBe('resnet');
    expect(detectFamily(readStateDict(VGG_TINY).keys()).format).toBe('vgg');
    expect(detectFamily(readStateDict(BIGGAN).keys()).format).toBe('biggan-generator');
  });

  it('the command converts it with a --mean, recorded in the metadata', () => {
    const out = join(tmp, 'vggface.safetensors');
    const r = convertCli(VGGFACE, '-o', out, '--mean', '131,103.5,91');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/VGG-Face \(vgg_face_dag layout\)/);
    const { metadata } = readSafetensors(out);
    expect(metadata.format).toBe('vggface');
    expect(JSON.parse(metadata.config)).toMatchObject({ mean: [131, 103.5, 91], numClasses: 5 });
    const bad = convertCli(VGGFACE, '-o', out, '--mean', '131,x,91');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--mean must be comma-separated numbers/);
  });
});

describe('ResNet', () => {
  const basic = () => syntheticResNet({ block: 'basic', layers: [2, 1], planes: [4, 8], stemWidth: 4, numClasses: 3 });

  it('reads the Bottleneck fixture: layers [1, 1, 1, 1], width_per_group 16, a shortcut in every layer', () => {
    const m = convertStateDict(readStateDict(RESNET_TINY));
    expect(m.format).toBe('resnet');
    expect(m.config).toEqual({
      inChannels: 3,
      block: 'bottleneck',
      layers: [1, 1, 1, 1],
      stemWidth: 64,
      planes: [64, 128, 256, 512],
      widthPerGroup: 16,
      downsample: [true, true, true, true],
      numClasses: 10,
      inputSize: null,
      normalize: false,
      eps: 1e-5,
    } satisfies ResNetConfig);
    expect([...m.tensors.keys()].some((k) => k.endsWith('num_batches_tracked'))).toBe(false);
    expect(m.tensors.get('layer1.0.conv2.weight')!.shape).toEqual([16, 16, 3, 3]); // 64 planes * 16 / 64
  });

  it('infers BasicBlocks, blocks per layer, and where the shortcut convs are', () => {
    const m = convertStateDict(basic());
    expect(m.config).toMatchObject({ block: 'basic', layers: [2, 1], planes: [4, 8], widthPerGroup: 64, downsample: [false, true], numClasses: 3 });
    const wide = convertStateDict(syntheticResNet({ block: 'basic', layers: [1], planes: [6], stemWidth: 4, numClasses: 2 }));
    expect(wide.config).toMatchObject({ downsample: [true] }); // stem 4 -> 6 channels: a stride-1 shortcut
  });

  it('reads width_per_group from every Bottleneck, not layer1.0 alone, and names a block that fits no common one', () => {
    // planes 8, 16, 32, 64 at width_per_group 20: inner widths 2, 5, 10, 20. Layer1's 2 allows 16..23,
    // layer2's 5 only 20..23, layer4's 20 only 20.
    const scaled = (widthPerGroup: number) =>
      syntheticResNet({ block: 'bottleneck', layers: [1, 1, 1, 1], planes: [8, 16, 32, 64], stemWidth: 8, widthPerGroup, numClasses: 3 });
    expect(convertStateDict(scaled(20)).config).toMatchObject({ planes: [8, 16, 32, 64], widthPerGroup: 20 });
    expect(convertStateDict(scaled(16)).config).toMatchObject({ widthPerGroup: 16 });
    // layer2 of a width_per_group 24 network (6 wide) after layer1 of a 20 one (2 wide: 16..23)
    const mixed = edited(scaled(20), (s) => {
      for (const [k, t] of scaled(24)) if (k.startsWith('layer2.')) s.set(k, t);
    });
    const err = refusal(() => convertStateDict(mixed));
    expect(err.message).toMatch(/'layer2\.0\.conv1\.weight' is 6 wide for 16 planes: width_per_group 24\.\.27 gives that .*the blocks before it need width_per_group 16\.\.23/);
    expect((err as ConversionError).key).toBe('layer2.0.conv1.weight');
  });

  it('the committed judge records BasicBlocks [1, 1, 1, 1] at 32x32 without normalisation', () => {
    const m = readModelFile(join(MODELS, 'fmnist_resnet_judge32.safetensors'));
    expect(m.format).toBe('resnet');
    expect(m.config).toMatchObject({ block: 'basic', layers: [1, 1, 1, 1], planes: [64, 128, 256, 512], inputSize: 32, normalize: false, numClasses: 10 });
  });

  it('an ImageNet-shaped ResNet (1000 classes) gets input 224 and ImageNet normalisation', () => {
    const sd = syntheticResNet({ block: 'basic', layers: [1], planes: [4], stemWidth: 4, numClasses: 1000 });
    expect(convertStateDict(sd).config).toMatchObject({ inputSize: 224, normalize: true });
    expect(convertStateDict(sd, { normalize: false, inputSize: 64 }).config).toMatchObject({ inputSize: 64, normalize: false });
  });

  it('refuses groups > 1 (ResNeXt) by name', () => {
    const sd = syntheticResNet({ block: 'bottleneck', layers: [1], planes: [8], stemWidth: 8, widthPerGroup: 64, numClasses: 3 });
    const grouped = edited(sd, (s) => s.set('layer1.0.conv2.weight', host([8, 4, 3, 3], new Float32Array(8 * 4 * 9))));
    expect(refusal(() => convertStateDict(grouped)).message).toMatch(/'layer1\.0\.conv2\.weight' has shape \[8, 4, 3, 3\]: groups=2 \(ResNeXt\) is not supported/);
  });

  it('refuses a block type it does not know, naming the key', () => {
    // conv1 1x1 without a conv3: neither a BasicBlock nor a Bottleneck
    const odd = edited(basic(), (s) => s.set('layer1.0.conv1.weight', host([4, 4, 1, 1], new Float32Array(16))));
    expect(refusal(() => convertStateDict(odd)).message).toMatch(/'layer1\.0\.conv1\.weight' \[4, 4, 1, 1\]: layer1\.0 is neither a BasicBlock .* nor a Bottleneck/);
    // a fourth conv in a block
    const extra = edited(basic(), (s) => s.set('layer2.0.conv3.weight', host([8, 8, 1, 1], new Float32Array(64))));
    const err = refusal(() => convertStateDict(extra));
    expect(err.message).toMatch(/unexpected key 'layer2\.0\.conv3\.weight' \[8, 8, 1, 1\]: not part of a torchvision BasicBlock \(an unknown block type\?\)/);
    expect((err as ConversionError).key).toBe('layer2.0.conv3.weight');
  });

  it('names missing shortcuts, misplaced ones, and shape mismatches', () => {
    const noShortcut = edited(basic(), (s) => {
      for (const k of [...s.keys()]) if (k.startsWith('layer2.0.downsample.')) s.delete(k);
    });
    expect(refusal(() => convertStateDict(noShortcut)).message).toMatch(/missing key 'layer2\.0\.downsample\.0\.weight': the block goes from 4 to 8 channels with stride 2/);
    const sd = basic();
    const misplaced = edited(sd, (s) => {
      for (const k of [...s.keys()]) if (k.startsWith('layer2.0.downsample.')) s.set(k.replace('layer2.0', 'layer1.1'), s.get(k)!);
    });
    expect(refusal(() => convertStateDict(misplaced)).message).toMatch(/unexpected key 'layer1\.1\.downsample\.0\.weight': only a layer's first block/);
    const fc = edited(sd, (s) => s.set('fc.weight', host([3, 5], new Float32Array(15))));
    expect(refusal(() => convertStateDict(fc)).message).toMatch(/'fc\.weight' has shape \[3, 5\], expected \[\*, 8\]/);
    const bn = edited(sd, (s) => s.delete('layer1.1.bn2.running_var'));
    expect(refusal(() => convertStateDict(bn)).message).toMatch(/missing key 'layer1\.1\.bn2\.running_var'/);
  });

  it('refuses a converted file whose ResNet config is inconsistent', async () => {
    const broken = join(tmp, 'broken_resnet.safetensors');
    const { config } = convertStateDict(basic());
    writeSafetensors(broken, new Map(), { format: 'resnet', config: JSON.stringify({ ...config, planes: [4] }) });
    await expect(loadClassifier(broken)).rejects.toThrow(/broken_resnet\.safetensors: the ResNet config in the metadata is inconsistent/);
  });
});

describe('spectral norm', () => {
  it('does one power-iteration step from u0 (diag(3, 1), u0 = [1, 1]: sigma = sqrt(82 / 10))', () => {
    const { weight, sigma } = spectralNormalize(host([2, 2], Float32Array.of(3, 0, 0, 1)), host([1, 2], Float32Array.of(1, 1)));
    expect(sigma).toBeCloseTo(Math.sqrt(82 / 10), 12);
    expect(Array.from(weight.data as Float32Array)).toEqual(Array.from(Float32Array.of(3 / sigma, 0, 0, 1 / sigma)));
  });

  it('reaches the true spectral norm of a rank-one weight in one step, for any u0 not orthogonal to it', () => {
    // W = a b^T (a: 3, b: 2x2 flattened to 4): sigma = |a| |b|.
    const a = [1, -2, 2];
    const b = [0.5, 1, -1, 2];
    const w = Float32Array.from(a.flatMap((x) => b.map((y) => x * y)));
    const { sigma } = spectralNormalize(host([3, 1, 2, 2], w), host([1, 3], Float32Array.of(0.3, 0.1, -0.7)));
    expect(sigma).toBeCloseTo(3 * Math.sqrt(0.25 + 1 + 1 + 4), 5);
  });

  it('baked weights are the raw ones over sigma, and sv0 plays no part', () => {
    const sd = readStateDict(BIGGAN);
    const m = convertStateDict(sd);
    const sigma = m.sigmas!.get('blocks.0.0.conv1')!;
    const raw = sd.get('blocks.0.0.conv1.weight')!.data as Float32Array;
    const baked = m.tensors.get('blocks.0.0.conv1.weight')!.data as Float32Array;
    for (let i = 0; i < raw.length; i += 37) expect(baked[i]).toBe(Math.fround(raw[i] / sigma));
    const noSv = edited(sd, (s) => s.delete('blocks.0.0.conv1.sv0'));
    expect(convertStateDict(noSv).tensors.get('blocks.0.0.conv1.weight')!.data).toEqual(baked);
  });
});

describe('refusals', () => {
  it('refuses a checkpoint that calls a global outside the allow-list, without running it', () => {
    for (const name of ['evil_system.pth', 'evil_system.legacy.pth']) {
      const err = refusal(() => readModelFile(join(CHECKPOINTS, name)));
      expect(err).toBeInstanceOf(CheckpointError);
      expect(err.message).toMatch(/refusing global 'posix\.system'/);
    }
  });

  it('refuses a truncated checkpoint', () => {
    const bytes = readFileSync(BIGGAN);
    for (const cut of [0.5, 0.97]) {
      const path = join(tmp, `truncated_${cut}.pth`);
      writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * cut)));
      const err = refusal(() => readModelFile(path));
      expect(err).toBeInstanceOf(CheckpointError);
      expect(err.message).toMatch(/truncated|corrupt/);
    }
    const legacy = readFileSync(BIGGAN_LEGACY);
    const path = join(tmp, 'truncated.legacy.pth');
    writeFileSync(path, legacy.subarray(0, legacy.length - 100));
    expect(refusal(() => readModelFile(path))).toBeInstanceOf(CheckpointError);
  });

  it('refuses a state dict of another layout, naming the first key', () => {
    const err = refusal(() => readModelFile(join(CHECKPOINTS, 'nested.pth')));
    expect(err).toBeInstanceOf(ConversionError);
    expect(err.message).toMatch(/fits none of these layouts/);
    expect(err.message).toMatch(/key '[^']+'/);
    const transformer = new Map([
      ['blocks.0.attn.qkv.weight', host([6, 2], new Float32Array(12))],
      ['head.weight', host([10, 2], new Float32Array(20))],
    ]);
    expect(refusal(() => convertStateDict(transformer)).message).toMatch(
      /not a BigGAN-PyTorch generator, a BigGAN-deep generator \(pytorch-pretrained-BigGAN\), a torchvision VGG, a VGG-Face \(vgg_face_dag\), a torchvision ResNet nor a conditional DCGAN generator: key 'blocks\.0\.attn\.qkv\.weight' fits none of these layouts/,
    );
    expect(refusal(() => detectFormat([])).message).toMatch(/no tensors/);
  });

  it('refuses a key set that fits two families equally, naming a key of each', () => {
    const mixed = ['shared.weight', 'classifier.0.weight'];
    expect(refusal(() => detectFamily(mixed)).message).toMatch(
      /ambiguous layout: as many keys \(1\) fit a BigGAN-PyTorch generator \(key 'shared\.weight'\) as a torchvision VGG \(key 'classifier\.0\.weight'\)/,
    );
  });

  it('the registry: one format per family, found again by familyOf', () => {
    expect(new Set(FAMILIES.map((f) => f.format)).size).toBe(FAMILIES.length);
    for (const f of FAMILIES) expect(familyOf(f.format)).toBe(f);
    expect(detectFamily(readStateDict(BIGGAN).keys()).kind).toBe('generator');
    expect(detectFamily(readStateDict(VGG_TINY).keys()).kind).toBe('classifier');
    expect(detectFamily(readStateDict(RESNET_TINY).keys()).format).toBe('resnet');
  });

  it('refuses a BigGAN or VGG state dict with a key that has no place in the layout', () => {
    const g = edited(readStateDict(BIGGAN), (s) => s.set('blocks.0.0.conv1.extra', host([1], Float32Array.of(0))));
    expect(refusal(() => convertStateDict(g)).message).toMatch(/key 'blocks\.0\.0\.conv1\.extra' does not fit/);
    const v = edited(readStateDict(VGG_TINY), (s) => s.set('classifier.1.weight', host([1], Float32Array.of(0))));
    expect(refusal(() => convertStateDict(v)).message).toMatch(/key 'classifier\.1\.weight' does not fit/);
  });

  it('names the key and both shapes when a conv has the wrong input channels', () => {
    const sd = edited(readStateDict(BIGGAN), (s) => s.set('blocks.1.0.conv2.weight', host([16, 8, 3, 3], new Float32Array(16 * 8 * 9))));
    const err = refusal(() => convertStateDict(sd));
    expect(err).toBeInstanceOf(ConversionError);
    expect((err as ConversionError).key).toBe('blocks.1.0.conv2.weight');
    expect(err.message).toMatch(/'blocks\.1\.0\.conv2\.weight' has shape \[16, 8, 3, 3\], expected \[16, 16, 3, 3\]/);
  });

  it('names other shape mismatches and missing keys', () => {
    const base = readStateDict(BIGGAN);
    const cases: [(s: Map<string, HostTensor>) => void, RegExp][] = [
      [(s) => s.delete('blocks.2.0.bn2.stored_var'), /missing key 'blocks\.2\.0\.bn2\.stored_var' \(expected shape \[16\]\)/],
      [(s) => s.delete('linear.u0'), /missing key 'linear\.u0'/],
      [
        (s) => {
          for (const k of [...s.keys()].filter((k) => /bn[12]\.(gain|bias)\.weight$/.test(k))) s.set(k, host([16, 40], new Float32Array(640).fill(0.1)));
        },
        /'blocks\.0\.0\.bn1\.gain\.weight' takes 40 inputs: neither shared_dim 32 nor shared_dim \+ z chunk 32\+30/,
      ],
      [(s) => s.set('blocks.0.0.bn1.bias.weight', host([16, 40], new Float32Array(640).fill(0.1))), /'blocks\.0\.0\.bn1\.bias\.weight' has shape \[16, 40\], expected \[16, 62\]/],
      [(s) => s.set('blocks.0.0.bn1.gain.weight', host([16, 62], new Float32Array(16 * 62))), /spectral norm of 'blocks\.0\.0\.bn1\.gain\.weight' \[16, 62\] gave sigma 0/],
      [(s) => s.set('blocks.1.1.o.weight', host([16, 4, 1, 1], new Float32Array(64))), /'blocks\.1\.1\.o\.weight' has shape \[16, 4, 1, 1\], expected \[16, 8, 1, 1\]/],
      [(s) => s.set('linear.weight', host([250, 30], new Float32Array(7500))), /'linear\.(weight|u0)'/],
      [(s) => s.delete('blocks.1.0.conv1.weight'), /missing key 'blocks\.1\.0\.conv1\.weight'/],
    ];
    for (const [edit, message] of cases) expect(refusal(() => convertStateDict(edited(base, edit))).message).toMatch(message);
  });

  it('names the VGG key where the index gaps or the classifier do not fit', () => {
    const base = readStateDict(VGG_TINY);
    // A conv two places after where the next one can be (conv 4 moved to 6).
    const gap = new Map([...base].map(([k, v]) => [k.replace(/^features\.(4|5)\./, (_, i) => `features.${Number(i) + 2}.`), v]));
    expect(refusal(() => convertStateDict(gap)).message).toMatch(/'features\.6\.weight': a conv at index 6 does not fit/);
    const wide = edited(base, (s) => s.set('classifier.0.weight', host([64, 40], new Float32Array(64 * 40))));
    expect(refusal(() => convertStateDict(wide)).message).toMatch(/'classifier\.0\.weight' has shape \[64, 40\]: 40 inputs are not the last conv's 32 channels/);
    const chain = edited(base, (s) => s.set('features.8.weight', host([32, 8, 3, 3], new Float32Array(32 * 72))));
    expect(refusal(() => convertStateDict(chain)).message).toMatch(/'features\.8\.weight' has shape \[32, 8, 3, 3\], expected \[\*, 16, 3, 3\]/);
    const noBn = edited(base, (s) => {
      for (const k of ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']) s.delete(`features.9.${k}`);
    });
    expect(refusal(() => convertStateDict(noBn)).message).toMatch(/features\.(8|9|11)/);
  });

  it('refuses a raw state dict saved as safetensors the same way, and a converted file with a broken config', () => {
    const sd = edited(readStateDict(BIGGAN), (s) => s.set('blocks.1.0.conv2.weight', host([16, 8, 3, 3], new Float32Array(16 * 8 * 9))));
    const path = join(tmp, 'raw_bad.safetensors');
    writeSafetensors(path, sd);
    expect(refusal(() => readModelFile(path)).message).toMatch(/raw_bad\.safetensors: 'blocks\.1\.0\.conv2\.weight' has shape \[16, 8, 3, 3\]/);
    const broken = join(tmp, 'broken.safetensors');
    writeSafetensors(broken, new Map(), { format: 'biggan-generator', config: '{not json' });
    expect(refusal(() => readModelFile(broken)).message).toMatch(/no valid 'config'/);
  });

  it('loadGenerator refuses a classifier file and loadClassifier a generator', async () => {
    await expect(loadGenerator(VGG_TINY)).rejects.toThrow(/holds a VGG classifier, not a BigGAN generator/);
    await expect(loadClassifier(BIGGAN)).rejects.toThrow(/holds a BigGAN generator, not a VGG classifier/);
  });

  it('the command exits non-zero and names the key', () => {
    const r = convertCli(join(CHECKPOINTS, 'nested.pth'), '-o', join(tmp, 'nested.safetensors'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /convert: .*nested\.pth: not a BigGAN-PyTorch generator, a BigGAN-deep generator \(pytorch-pretrained-BigGAN\), a torchvision VGG, a VGG-Face \(vgg_face_dag\), a torchvision ResNet nor a conditional DCGAN generator: key '[^']+' fits none of these layouts/,
    );
  });
});

describe('round trip through the command', () => {
  beforeAll(setupGpu);

  async function outputsAgree(converted: string, original: string, kind: 'generator' | 'classifier') {
    const g = new Rng(5);
    if (kind === 'generator') {
      const [a, b] = [await loadGenerator(converted), await loadGenerator(original)];
      const z = tensor(g.fillNormal(new Float32Array(2 * 120)), [2, 120]);
      expect(await a.forward(z).data()).toEqual(await b.forward(z).data());
      a.dispose();
      b.dispose();
    } else {
      const [a, b] = [await loadClassifier(converted), await loadClassifier(original)];
      const x = tensor(g.fillUniform(new Float32Array(2 * 3 * 32 * 32), -1, 1), [2, 3, 32, 32]);
      const [fa, fb] = [a.forwardWithFeatures(x), b.forwardWithFeatures(x)];
      expect(await fa.logits.data()).toEqual(await fb.logits.data());
      expect(await fa.features.data()).toEqual(await fb.features.data());
      a.dispose();
      b.dispose();
    }
  }

  it('.pth -> .safetensors -> load gives exactly the outputs of loading the .pth', async () => {
    const out = join(tmp, 'g.safetensors');
    const log = execFileSync(process.execPath, ['--import', 'tsx', CONVERT_CLI, BIGGAN, '-o', out], { encoding: 'utf8' });
    expect(log).toMatch(/BigGAN generator: 32x32, z 120 \(hierarchical: 4 chunks of 30\)/);
    expect(log).toMatch(/block 1: 16 -> 16 channels, 16x16, then attention/);
    const { metadata, tensors } = readSafetensors(out);
    expect(metadata).toMatchObject({ format: 'biggan-generator', source: 'biggan32_ch4.pth' });
    expect(JSON.parse(metadata.config)).toEqual(convertStateDict(readStateDict(BIGGAN)).config);
    expect([...tensors.values()].every((t) => t.dtype === 'float32')).toBe(true);
    await outputsAgree(out, BIGGAN, 'generator');
    await outputsAgree(out, BIGGAN_LEGACY, 'generator');

    const vout = join(tmp, 'v.safetensors');
    const vlog = execFileSync(process.execPath, ['--import', 'tsx', CONVERT_CLI, VGG_TINY, '-o', vout, '--input-size', '32'], { encoding: 'utf8' });
    expect(vlog).toMatch(/VGG with batchnorm: 3 -> \[8, M, 16, M, 32, 32, M\], adaptive avg pool 1x1/);
    expect(JSON.parse(readSafetensors(vout).metadata.config)).toMatchObject({ inputSize: 32, normalize: false });
    await outputsAgree(vout, VGG_TINY, 'classifier');

    const rout = join(tmp, 'r.safetensors');
    const rlog = execFileSync(process.execPath, ['--import', 'tsx', CONVERT_CLI, RESNET_TINY, '-o', rout], { encoding: 'utf8' });
    expect(rlog).toMatch(/ResNet \(Bottleneck, width_per_group 16\), layers \[1, 1, 1, 1\]: stem 3 -> 64, layer outputs \[256, 512, 1024, 2048\], fc 2048 -> 10/);
    await outputsAgree(rout, RESNET_TINY, 'classifier');
  });
});
