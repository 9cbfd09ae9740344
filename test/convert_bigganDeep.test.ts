// BigGAN-deep conversion (pytorch-pretrained-BigGAN layout): the config.json it needs beside the
// weights, its checks against them, PyTorch's spectral norm, the statistics rows, the truncation.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, readStateDict, toFloat32 } from '../src/models/checkpoint/index.js';
import { checkTruncation, statisticsRows, type BigGANDeepConfig } from '../src/models/bigganDeep.js';
import { ConversionError, convertStateDict, detectFamily } from '../src/models/convert.js';
import { bakeSpectralNorm, bigganDeepGenerator } from '../src/models/families/bigganDeep.js';
import { readModelFile } from '../src/models/load.js';
import { host } from './data/syntheticModels.js';

const FIXTURES = join(import.meta.dirname, 'data', 'fixtures');
const DEEP = join(FIXTURES, 'biggan_deep128_ch4.pth');
const DEEP_CONFIG = join(FIXTURES, 'biggan_deep128_ch4.config.json');
const CONVERT_CLI = join(import.meta.dirname, '..', 'src', 'models', 'convertCli.ts');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'convert-deep-test-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const state = () => readStateDict(DEEP);
const configJson = () => JSON.parse(readFileSync(DEEP_CONFIG, 'utf8')) as Record<string, unknown>;

function refusal(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a refusal, but it was accepted');
}

describe('BigGAN-deep conversion', () => {
  it('reads the fixture with the NAME.config.json beside it: 128x128, z 32, 10 classes, attention before layer 8', () => {
    const m = readModelFile(DEEP);
    expect(m.format).toBe('biggan-deep-generator');
    const c = m.config as BigGANDeepConfig;
    expect(c).toMatchObject({ resolution: 128, channelWidth: 4, dimZ: 32, nClasses: 10, attentionPosition: 8, nStats: 51, eps: 1e-4, truncation: 1 });
    expect(c.layers.length).toBe(10);
    // weight_orig, weight_u and weight_v become one baked weight under the module's own name
    expect(m.tensors.get('generator.layers.0.conv_1.weight')?.shape).toEqual([16, 16, 3, 3]);
    expect([...m.tensors.keys()].some((k) => /weight_(orig|u|v)$/.test(k))).toBe(false);
    expect(m.tensors.get('generator.layers.8.gamma')?.data[0]).toBeCloseTo(0.7, 6);
    expect(m.tensors.get('generator.bn.running_means')?.shape).toEqual([51, 4]);
  });

  it('finds config.json beside pytorch_model.bin, as the released checkpoints ship, and takes an explicit --config', () => {
    const dir = mkdtempSync(join(tmp, 'release-'));
    copyFileSync(DEEP, join(dir, 'pytorch_model.bin'));
    copyFileSync(DEEP_CONFIG, join(dir, 'config.json'));
    expect(readModelFile(join(dir, 'pytorch_model.bin')).format).toBe('biggan-deep-generator');

    const bare = mkdtempSync(join(tmp, 'bare-'));
    copyFileSync(DEEP, join(bare, 'weights.pth'));
    copyFileSync(DEEP_CONFIG, join(bare, 'elsewhere.json'));
    const m = readModelFile(join(bare, 'weights.pth'), { config: join(bare, 'elsewhere.json'), truncation: 0.4 });
    expect((m.config as BigGANDeepConfig).truncation).toBe(0.4);
  });

  it('refuses a checkpoint without a config, saying where it looked and which fields it needs', () => {
    const bare = mkdtempSync(join(tmp, 'noconfig-'));
    copyFileSync(DEEP, join(bare, 'pytorch_model.bin'));
    const err = refusal(() => readModelFile(join(bare, 'pytorch_model.bin')));
    expect(err).toBeInstanceOf(ConversionError);
    expect(err.message).toMatch(/needs its config\.json \(looked for .*pytorch_model\.config\.json and .*config\.json\): give --config/);
    expect(err.message).toMatch(/layers.*up-sampling flags .* cannot be told from the weights/);
    // a config that lacks fields names them
    const { layers: _l, eps: _e, ...partial } = configJson();
    expect(refusal(() => convertStateDict(state(), { config: partial })).message).toMatch(/missing fields layers, eps/);
  });

  it('refuses a config.json that disagrees with the weights, naming the key', () => {
    const conv = (edit: (c: Record<string, unknown>) => void) => {
      const c = configJson();
      edit(c);
      return refusal(() => convertStateDict(state(), { config: c }));
    };
    expect(conv((c) => (c.z_dim = 64)).message).toMatch(/disagrees with the weights: 'embeddings\.weight' is \[32, 10\], the config says z_dim 64/);
    expect(conv((c) => (c.num_classes = 1000)).message).toMatch(/'embeddings\.weight' is \[32, 10\].*num_classes 1000/);
    expect(conv((c) => (c.channel_width = 8)).message).toMatch(/'generator\.gen_z\.weight_orig' is \[1024, 64\]/);
    expect(conv((c) => (c.attention_layer_position = 3)).message).toMatch(
      /attention_layer_position 3 puts the SelfAttn at 'generator\.layers\.3', but it is at 'generator\.layers\.8\.gamma'/,
    );
    const layers = (c: Record<string, unknown>) => c.layers as [boolean, number, number][];
    expect(conv((c) => (layers(c)[3][2] = 16)).message).toMatch(/'generator\.layers\.3\.conv_3\.weight_orig' gives 32 channels, the config's layer 3 says 16\*4 = 64/);
    // an up-sampling flag the weights cannot show: caught by output_dim
    expect(conv((c) => (layers(c)[0][0] = true)).message).toMatch(/output_dim 128 is not 4 \* 2\^6/);
    expect(conv((c) => (c.n_stats = 52)).message).toMatch(/'generator\.layers\.0\.bn_0\.running_means' has 51 rows of statistics, .* says n_stats 52/);
  });

  it('reads other sizes: output 64 (attention over 8 channels), and one without a SelfAttn (its position past the layers)', () => {
    const deep64 = readModelFile(join(FIXTURES, 'biggan_deep64_ch4.pth'));
    expect(deep64.config).toMatchObject({ resolution: 64, channelWidth: 4, dimZ: 8, nClasses: 5, attentionPosition: 6, nStats: 51 });
    expect(deep64.tensors.get('generator.layers.6.snconv1x1_theta.weight')?.shape).toEqual([1, 8, 1, 1]);
    // pytorch-pretrained-BigGAN inserts the SelfAttn where the layer index equals the position: none here
    const noAttn = readModelFile(join(FIXTURES, 'biggan_deep32_ch4_noattn.pth'));
    expect(noAttn.config).toMatchObject({ resolution: 32, attentionPosition: 5, nStats: 11 });
    expect([...noAttn.tensors.keys()].some((k) => k.includes('snconv1x1') || k.endsWith('.gamma'))).toBe(false);
    expect(bigganDeepGenerator.summarize(noAttn).join('\n')).toMatch(/no self-attention \(attention_layer_position 5 is outside the 5 layers\)/);
    // a position outside the layers while the weights hold a SelfAttn is a disagreement, by name
    for (const position of [10, -1]) {
      const err = refusal(() => convertStateDict(state(), { config: { ...configJson(), attention_layer_position: position } }));
      expect(err.message).toMatch(new RegExp(`attention_layer_position ${position} is outside its 10 layers \\(no SelfAttn\\), but there is one at 'generator\\.layers\\.8\\.gamma'`));
    }
  });

  it('refuses missing rows of batchnorm statistics, naming the key', () => {
    const cut = new Map(state());
    const t = cut.get('generator.layers.4.bn_2.running_vars')!;
    const width = t.shape[1];
    cut.set('generator.layers.4.bn_2.running_vars', host([50, width], Float32Array.from(t.data as Float32Array).subarray(0, 50 * width)));
    const err = refusal(() => convertStateDict(cut, { config: configJson() }));
    expect(err.message).toMatch(/'generator\.layers\.4\.bn_2\.running_vars' has 50 rows of statistics, the config option says n_stats 51/);
    expect(refusal(() => convertStateDict(new Map([...cut].filter(([k]) => !k.includes('layers.4.bn_2'))), { config: configJson() })).message).toMatch(
      /missing key 'generator\.layers\.4\.bn_2\.running_means' \(expected shape \[51, 8\]\)/,
    );
  });

  it('refuses a truncation outside (0, 1]', () => {
    for (const t of [0, -0.1, 1.01, Number.NaN]) {
      expect(() => checkTruncation(t)).toThrow(/truncation .* is outside \(0, 1\]/);
      expect(refusal(() => convertStateDict(state(), { config: configJson(), truncation: t })).message).toMatch(/is outside \(0, 1\]/);
    }
  });

  it('recognises the layout by its keys, and refuses an unexpected key', () => {
    expect(detectFamily(state().keys()).format).toBe('biggan-deep-generator');
    const extra = new Map(state());
    extra.set('generator.layers.11.conv_0.bias', host([4], new Float32Array(4)));
    expect(refusal(() => convertStateDict(extra, { config: configJson() })).message).toMatch(/'generator\.layers\.11\.conv_0\.bias' is past the 11 modules/);
  });
});

describe("BigGAN-deep's spectral norm and statistics rows", () => {
  it('sigma = u . (W v) with u and v as stored, no power iteration', () => {
    const w = host([2, 2], Float32Array.of(3, 0, 0, 1));
    const { weight, sigma } = bakeSpectralNorm(w, host([2], Float32Array.of(0.5, 0.75)), host([2], Float32Array.of(0.25, 1)));
    // W v = [0.75, 1]; u . W v = 0.375 + 0.75 (a power-iteration step would give sigma 3 or near it)
    expect(sigma).toBe(1.125);
    expect(Array.from(toFloat32(weight))).toEqual([3, 0, 0, 1].map((x) => Math.fround(x / 1.125)));
    expect(() => bakeSpectralNorm(w, host([2], Float32Array.of(0, 0)), host([2], Float32Array.of(1, 0)), 'x.weight_orig')).toThrow(/'x\.weight_orig'/);
  });

  it('picks rows as that code does: modf(truncation / 0.02), the fraction weighing the lower row', () => {
    expect(statisticsRows(1, 51)).toEqual({ start: 50, coef: 0 });
    const a = statisticsRows(0.405, 51);
    expect(a.start).toBe(20);
    expect(a.coef).toBeCloseTo(0.25, 12);
    const b = statisticsRows(0.47, 51);
    expect(b.start).toBe(23);
    expect(b.coef).toBeCloseTo(0.5, 12);
  });

  it('the command converts with --config and --truncation and records both in the metadata', () => {
    const bare = mkdtempSync(join(tmp, 'cli-'));
    copyFileSync(DEEP, join(bare, 'g.pth'));
    const out = join(bare, 'g.safetensors');
    const missing = spawnSync(process.execPath, ['--import', 'tsx', CONVERT_CLI, join(bare, 'g.pth'), '-o', out], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/needs its config\.json/);
    const r = spawnSync(process.execPath, ['--import', 'tsx', CONVERT_CLI, join(bare, 'g.pth'), '-o', out, '--config', DEEP_CONFIG, '--truncation', '0.4'], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/BigGAN-deep generator: 128x128, z 32, 10 classes, channel_width 4, truncation 0.4/);
    expect(r.stdout).toMatch(/attention at 64x64 over 8 channels/);
    const { metadata } = readSafetensors(out);
    expect(metadata.format).toBe('biggan-deep-generator');
    expect(JSON.parse(metadata.config)).toMatchObject({ truncation: 0.4, attentionPosition: 8 });
    // the converted file needs no config.json, and a truncation option overrides the recorded one
    expect((readModelFile(out, { truncation: 0.8 }).config as BigGANDeepConfig).truncation).toBe(0.8);
    expect(() => readModelFile(out, { truncation: 2 })).toThrow(/the truncation option: truncation 2 is outside \(0, 1\]/);
  });
});
