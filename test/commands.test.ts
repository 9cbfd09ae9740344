// The commands refuse bad arguments before any work: counts below 1, missing paths (named, with
// what belongs there, never a raw ENOENT), files that are no checkpoint (one message everywhere);
// every command answers --help; parity reads BigGAN-PyTorch's shared_dim 0 as that code does.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, NOT_A_CHECKPOINT, checkpointFormat, encodeSafetensors, readCheckpoint } from '../src/models/checkpoint/index.js';
import type { BigGANConfig } from '../src/models/biggan.js';
import { checkGeneratorConfig } from '../src/models/families/biggan.js';
import { readModelFile } from '../src/models/load.js';
import { host } from './data/syntheticModels.js';

const ROOT = join(import.meta.dirname, '..');
const CGAN = join(ROOT, 'bin', 'cgan.js');
const G = join(ROOT, 'models', 'fmnist_biggan32_G.safetensors');
const PAIR = join(ROOT, 'models', 'fmnist_pair.io.pth');

let tmp: string;
let text: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'commands-test-'));
  text = join(tmp, 'notes.pth');
  writeFileSync(text, 'a text file named like a checkpoint\n');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `cgan <args>`; never throws. */
async function cgan(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CGAN, ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Refused with `message`, before the device was opened (no adapter line) and with no raw ENOENT. */
async function refused(args: string[], message: RegExp, code = 1) {
  const r = await cgan(...args);
  expect(r.stderr, args.join(' ')).toMatch(message);
  expect(r.stderr).not.toMatch(/ENOENT|Cannot read properties/);
  expect(r.stdout).not.toMatch(/adapter:/);
  expect(r.code).toBe(code);
}

describe.concurrent('counts are whole numbers of at least 1', () => {
  it('train --batch 0, --epochs 0, --steps-per-epoch 1.5, --components -1, --hidden x; an --anchor-choice it does not know', async () => {
    await refused(['train', '--batch', '0'], /--batch must be a whole number of at least 1/);
    await refused(['train', '--epochs', '0'], /--epochs must be a whole number of at least 1/);
    await refused(['train', '--steps-per-epoch', '1.5'], /--steps-per-epoch must be a whole number of at least 1/);
    await refused(['train', '--components', '-1'], /--components must be a whole number of at least 1/);
    await refused(['train', '--hidden', 'x'], /--hidden must be a whole number of at least 1/);
    await refused(['train', '--anchor-choice', 'nearest'], /--anchor-choice must be one of farthest, random, got nearest/);
    await refused(['train', '--latent-pool', '200'], /--latent-pool 200: the classifier on z trains on 0\.9 of the pool in batches of 256; give a larger pool, or 0 for none/);
  });

  it('cgan --batch 0, --epochs 1.5, --steps-per-epoch -1, --width x, --dim-z 0, --ema 1; a --loss or --discriminator it does not know', async () => {
    await refused(['cgan', '--batch', '0'], /--batch must be a whole number of at least 1/);
    await refused(['cgan', '--epochs', '1.5'], /--epochs must be a whole number of at least 1/);
    await refused(['cgan', '--steps-per-epoch', '-1'], /--steps-per-epoch must be a whole number of at least 1/);
    await refused(['cgan', '--width', 'x'], /--width must be a whole number of at least 1/);
    await refused(['cgan', '--dim-z', '0'], /--dim-z must be a whole number of at least 1/);
    await refused(['cgan', '--loss', 'wgan'], /--loss must be one of bce, lsgan, hinge, got wgan/);
    await refused(['cgan', '--discriminator', 'sum'], /--discriminator must be one of concat, projection, auxiliary, got sum/);
    await refused(['cgan', '--ema', '1'], /--ema must be in \[0, 1\), got 1/);
    await refused(['cgan', '--upsampling', 'bilinear'], /--upsampling must be one of transposed, nearest, got bilinear/);
    await refused(['cgan', '--generator', 'models/fmnist_biggan32_G.safetensors', '--upsampling', 'nearest'], /--upsampling: for the DCGAN generator/);
    await refused(['cgan', '--generator-conditioning', 'film'], /--generator-conditioning must be one of concat, batchnorm, got film/);
    await refused(['cgan', '--generator', 'models/fmnist_biggan32_G.safetensors', '--generator-conditioning', 'batchnorm'], /--generator-conditioning: for the DCGAN generator/);
    await refused(['cgan', '--generator-conditioning', 'batchnorm', '--embed-dim', '8'], /--embed-dim: the width of the class embedding beside z, which --generator-conditioning batchnorm does not have/);
    await refused(['cgan', '--batch', '1000', '--steps-per-epoch', '61'], /--steps-per-epoch 61: 60,000 training images make 60 batches of 1000/);
  });

  it('cgan --generator, --from-scratch, --lr-new, --train-images: what each needs, before any work', async () => {
    const generator = join(ROOT, 'models', 'fmnist_biggan32_G.safetensors');
    await refused(['cgan', '--from-scratch'], /--from-scratch: give the generator whose architecture to train \(--generator <path>\)/);
    await refused(['cgan', '--lr-new', '1e-4'], /--lr-new: only when fine-tuning/);
    await refused(['cgan', '--fresh-embedding'], /--fresh-embedding: only when fine-tuning/);
    await refused(['cgan', '--generator', generator, '--from-scratch', '--lr-new', '1e-4'], /--lr-new: only when fine-tuning/);
    await refused(['cgan', '--train-images', '35'], /--train-images 35: a multiple of 10 \(an equal share a class\), at most the 60,000 training images/);
    await refused(['cgan', '--train-images', '60010'], /--train-images 60010: a multiple of 10/);
    await refused(['cgan', '--train-images', '100', '--batch', '128'], /--batch 128: more than the 100 training images/);
    await refused(['cgan', '--generator', join(tmp, 'none.safetensors')], /none\.safetensors.*--generator: a pretrained BigGAN generator/);
    const judge = join(ROOT, 'models', 'fmnist_vgg_judge32.safetensors');
    await refused(['cgan', '--generator', judge], /fmnist_vgg_judge32\.safetensors holds a vgg; fine-tuning takes a BigGAN generator/);
  });

  it('cgan: a missing data folder says how to install it; a run folder is never overwritten', async () => {
    await refused(['cgan', '--data', join(tmp, 'nowhere')], /nowhere: no such folder .*apt-get install dataset-fashion-mnist/);
    const run = join(tmp, 'cgan-run');
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, 'config.json'), JSON.stringify({ method: 'cgan' }));
    await refused(['cgan', '--out', run], /already holds a run \(config\.json\).*--resume.*--force/);
    await refused(['cgan', '--out', run, '--resume', '--force'], /pick one/);
    // --resume continues a run as it was started: a training flag would be ignored, so it is refused.
    await refused(['cgan', '--out', run, '--resume', '--spectral-norm'], /--spectral-norm: --resume continues the run in .*cgan-run as it was started \(its config\.json\); drop --spectral-norm, or start a new run/);
    await refused(['train', '--out', run, '--resume', '--lr', '0.01'], /--lr: --resume continues the run/);
  });

  it('sample --n 0, eval --eval-samples 0, parity --upsample 0', async () => {
    await refused(['sample', '--run', tmp, '--class', '1', '--n', '0', '--out', join(tmp, 'x.png')], /--n must be a whole number of at least 1/);
    await refused(['eval', '--run', tmp, '--eval-samples', '0'], /--eval-samples must be a whole number of at least 1/);
    await refused(['parity', G, PAIR, '--upsample', '0'], /--upsample must be a whole number of at least 1/);
  });

  it('0 stays allowed where it means something (seed, shift, anchor pool, generator class)', async () => {
    // Parsed fine: the run stops at the missing generator, the first thing checked after the options.
    const args = ['--seed', '0', '--shift', '0', '--anchor-pool', '0', '--generator-class', '0', '--generator', join(tmp, 'none.pth')];
    await refused(['train', ...args], /none\.pth: no such file \(expected the generator/);
    await refused(['train', '--seed', '-1'], /--seed must be a whole number \(0 or more\)/);
    // With the models there, a pool of 0 is refused while the prior-range term (on by default) needs one.
    await refused(['train', '--anchor-pool', '0', '--out', join(tmp, 'no-pool')], /--anchor-pool 0: the prior-range term \(--prior-range-weight 1; on by default\) measures its range on the anchor pool; give --anchor-pool a size, or --prior-range-weight 0/);
  });
});

describe.concurrent('missing paths are named with what belongs there', () => {
  const missing = () => join(tmp, 'missing');
  it('train: generator, classifier, judge, real data', async () => {
    await refused(['train', '--generator', missing()], /missing: no such file \(expected the generator: a BigGAN-PyTorch \.pth or a converted \.safetensors\)/);
    await refused(['train', '--classifier', missing()], /missing: no such file \(expected the classifier: a torchvision VGG/);
    await refused(['train', '--judge', missing()], /missing: no such file \(expected the judge: .*or --judge none\)/);
    await refused(['train', '--real-data', missing()], /missing: no such folder \(expected --real-data: Fashion-MNIST's idx files/);
    await refused(['train', '--real-data', tmp], /no t10k-images-idx3-ubyte\[\.gz\] in /);
    await refused(['train', '--resume', '--out', missing()], /missing: no such folder \(expected a run folder written by `cgan train` or `cgan cgan`\)/);
  });

  it('eval and sample: the run folder, its config and checkpoint', async () => {
    await refused(['eval', '--run', missing()], /missing: no such folder \(expected a run folder written by `cgan train` or `cgan cgan`\)/);
    await refused(['eval', '--run', tmp], /config\.json: no such file \(expected the config\.json of a run folder/);
    const run = join(tmp, 'run');
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, 'config.json'), JSON.stringify({ generator: G, classifier: G }));
    await refused(['sample', '--run', run, '--class', '1', '--out', join(tmp, 'x.png')], /state\.json: no such file \(expected the checkpoint of a run folder/);
    mkdirSync(join(run, 'checkpoint'), { recursive: true });
    writeFileSync(join(run, 'checkpoint', 'state.json'), '{}');
    await refused(['sample', '--run', run, '--class', '1', '--out', join(missing(), 'x.png')], /missing: no such folder \(expected the folder of --out/);
    // --temperature is a cGAN run's: a train run's input generator sets z's spread itself.
    await refused(['sample', '--run', run, '--class', '1', '--out', join(tmp, 'x.png'), '--temperature', '0.5'], /--temperature: for a cGAN run \(npm run cgan\); .*run is a train run/);
    await refused(['eval', '--run', run, '--temperature', '0.5'], /--temperature: for a cGAN run \(npm run cgan\); .*run is a train run/);
    await refused(['eval', '--run', run, '--standing-stats', '16'], /--standing-stats: for a cGAN run \(npm run cgan\); .*run is a train run, whose generator keeps the statistics/);
    writeFileSync(join(run, 'config.json'), JSON.stringify({ generator: missing(), classifier: G }));
    await refused(['eval', '--run', run], /missing: no such file \(expected the generator/);
  });

  it("sample: the demo page's one-file download (a .safetensors with the run's config)", async () => {
    const out = join(tmp, 'x.png');
    await refused(['sample', '--run', G, '--class', '1', '--out', out], /not a trained input generator with its run config/);
    const file = join(tmp, 'demo-run.safetensors');
    const run = JSON.stringify({ generator: 'elsewhere_G.safetensors', classifier: 'fmnist_vgg_bn64.safetensors' });
    writeFileSync(file, encodeSafetensors(new Map(), { format: 'input-generator', config: '{}', run }));
    await refused(['sample', '--run', file, '--class', '1', '--out', out], /was trained with elsewhere_G\.safetensors; put it beside that file or pass --generator/);
    await refused(['sample', '--run', file, '--class', '1', '--out', out, '--generator', missing()], /missing: no such file \(expected the generator/);
  });

  it('a judge list with a bad path, none with a judge; the sampler and its options', async () => {
    const judge = join(ROOT, 'models', 'fmnist_vgg_judge32.safetensors');
    const sample = ['sample', '--run', tmp, '--class', '1', '--out', join(tmp, 'x.npy')];
    // Independent commands, refused before any GPU work: run side by side.
    await Promise.all([
      refused(['eval', '--run', tmp, '--judge', `${judge},${missing()}`], /missing: no such file \(expected the judge \(2 of 2 in --judge\): a VGG or ResNet/),
      refused(['train', '--judge', judge, '--judge', missing()], /missing: no such file \(expected the judge \(2 of 2 in --judge\)/),
      refused(['eval', '--run', tmp, '--judge', 'none,x'], /--judge none grades with no judge; it cannot be combined with x/),
      refused([...sample, '--sampler', 'posterior'], /--sampler must be one of input-generator, prior-filter, latent-filter, got posterior/),
      refused([...sample, '--sampler', 'latent-filter', '--screen', '0'], /--screen must be a probability in \(0, 1\], got 0/),
      refused(['eval', '--run', tmp, '--sampler', 'latent-filter', '--latent-pool', '-3'], /--latent-pool must be a whole number of at least 1/),
      refused([...sample, '--sampler', 'prior-filter', '--confidence', '1.5'], /--confidence must be a probability in \(0, 1\], got 1\.5/),
      refused(['eval', '--run', tmp, '--sampler', 'prior-filter', '--budget', '0'], /--budget must be a whole number of at least 1/),
      refused([...sample, '--temperature', '0'], /--temperature must be in \(0, 1\], got 0/),
      refused(['eval', '--run', tmp, '--temperature', '1.5'], /--temperature must be in \(0, 1\], got 1\.5/),
      refused([...sample, '--standing-stats', '0'], /--standing-stats must be a whole number of at least 1/),
    ]);
  });

  it('convert and parity', async () => {
    await refused(['convert', missing()], /convert: .*missing: no such file \(expected a BigGAN-PyTorch or BigGAN-deep generator, or a torchvision VGG, VGG-Face or torchvision ResNet classifier checkpoint/);
    await refused(['parity', missing(), PAIR], /parity: .*missing: no such file \(expected the model/, 2);
    await refused(['parity', G, missing()], /parity: .*missing: no such file \(expected a parity fixture/, 2);
    await refused(['parity', G, PAIR, '--classifier', missing()], /parity: .*missing: no such file \(expected --classifier/, 2);
  });
});

describe.concurrent('a file that is no checkpoint', () => {
  const message = new RegExp(`notes\\.pth: ${NOT_A_CHECKPOINT.replace(/[()]/g, '\\$&')}`);
  it('gets the same message from every command', async () => {
    await refused(['train', '--generator', text], message);
    await refused(['convert', text], message);
    await refused(['parity', text, PAIR], message, 2);
    await refused(['parity', G, text], message, 2);
  });

  it('and from the library', () => {
    expect(() => readModelFile(text)).toThrow(message);
    expect(() => readCheckpoint(text)).toThrow(CheckpointError);
    expect(() => readCheckpoint(tmp)).toThrow(/is a folder, not a checkpoint file/);
  });

  it('safetensors whose header length starts with byte 0x80 is not taken for a pickle', () => {
    const bytes = encodeSafetensors({ x: host([1], Float32Array.of(1)) }, { pad: 'x'.repeat(400) });
    const head = new Uint8Array(bytes);
    new DataView(head.buffer).setBigUint64(0, 0x180n, true); // 384: first byte 0x80
    expect(checkpointFormat(head)).toBe('safetensors');
    expect(checkpointFormat(Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20))).toBe('pytorch');
    expect(checkpointFormat(new TextEncoder().encode('PK\x03\x04 rest of a zip'))).toBe('pytorch');
    expect(checkpointFormat(new TextEncoder().encode('hello, world'))).toBe(null);
  });
});

describe.concurrent('--help', () => {
  for (const command of ['train', 'cgan', 'sample', 'eval', 'convert', 'parity', 'adapter', 'ablation', 'baseline', 'bench']) {
    it(`cgan ${command} --help prints its usage and does nothing else`, async () => {
      const r = await cgan(command, '--help');
      expect(r.stdout).toMatch(new RegExp(`^Usage: cgan ${command} `));
      expect(r.stdout).not.toMatch(/adapter:|==/);
      expect(r.code).toBe(0);
    });
  }

  it('cgan --help lists the commands; an unknown one is refused', async () => {
    expect((await cgan('--help')).stdout).toMatch(/train[\s\S]*cgan[\s\S]*sample[\s\S]*eval[\s\S]*convert[\s\S]*parity[\s\S]*adapter[\s\S]*bench/);
    await refused(['trian'], /unknown command 'trian'/);
  });
});

describe("parity reads a fixture's config as BigGAN-PyTorch does", () => {
  const config = (sharedDim: number, hierarchical = false): BigGANConfig => ({
    resolution: 32, bottomWidth: 4, dimZ: 120, zChunk: hierarchical ? 30 : 120, nClasses: 1, sharedDim, hierarchical,
    channels: [16, 16, 16, 16], attention: [], outChannels: 3, eps: 1e-5,
  });
  // [resolution, ch, hier, n_classes, dim_z, shared_dim]
  const fixture = (hier: number, sharedDim: number) => new Map([['config', host([6], Float32Array.of(32, 4, hier, 1, 120, sharedDim))]]);

  it('shared_dim 0 (its default) is dim_z', () => {
    expect(() => checkGeneratorConfig(config(120), fixture(0, 0))).not.toThrow();
    expect(() => checkGeneratorConfig(config(120, true), fixture(1, 0))).not.toThrow();
    expect(() => checkGeneratorConfig(config(64), fixture(0, 64))).not.toThrow();
  });

  it('a real mismatch is still refused, naming both values', () => {
    expect(() => checkGeneratorConfig(config(64), fixture(0, 0))).toThrow(/shared_dim 120 \(model: 64\) \(its shared_dim 0 stands for dim_z\)/);
    expect(() => checkGeneratorConfig(config(64), fixture(0, 32))).toThrow(/shared_dim 32 \(model: 64\)$/);
    expect(() => checkGeneratorConfig(config(120), fixture(1, 0))).toThrow(/hierarchical 1 \(model: 0\)/);
  });
});
