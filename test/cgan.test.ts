// The cGAN baseline's trainer on a tiny network and a few random "images": its run folder (the
// files `cgan train` writes, the generator as a converted model), --resume continuing bit for bit
// after a Ctrl-C, and `sample` reading the run like any other.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/engine/random.js';
import { readSafetensors, toFloat32 } from '../src/models/checkpoint/index.js';
import { loadGenerator } from '../src/models/load.js';
import { CGAN_GENERATOR, CGAN_GENERATOR_AVERAGE, cganPipeline, cganSamplingGenerator, trainCgan, type CganConfig, type CganGrade, type CganSampling } from '../src/train/cgan.js';
import { cganGrader, checkCganSampling, gradeRun, PUBLIC_JUDGES, reportStem } from '../src/train/grade.js';
import { chooseTemperature, choiceFile } from '../src/train/temperatureChoice.js';
import { GeneratorPrior } from '../src/train/inputGenerator.js';
import { generateImages } from '../src/train/step.js';
import type { Report } from '../src/train/evaluate.js';
import { tensor } from '../src/engine/tensor.js';
import { FASHION_MNIST_CLASSES, type LabelledBytes } from '../src/train/fashionMnist.js';
import { setupGpu, tinyFashionMnist } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'cgan-'));
beforeAll(setupGpu);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 40 images of random bytes, 4 of each class. */
function tinyData(): LabelledBytes {
  const rng = new Rng(5);
  const pixels = Uint8Array.from({ length: 40 * 28 * 28 }, () => rng.int(256));
  return { pixels, labels: Int32Array.from({ length: 40 }, (_, i) => i % 10), side: 28 };
}

const baseConfig = (out: string): CganConfig => ({
  method: 'cgan', data: '(test)', classifier: '(unused)', classifierSize: 64, classNames: FASHION_MNIST_CLASSES,
  epochs: 2, stepsPerEpoch: 3, batch: 4, lr: 2e-4, beta1: 0.5, loss: 'bce', seed: 3, dimZ: 4, embedDim: 2, width: 2,
  logEvery: 1, gridPerClass: 2, out,
});

const config = baseConfig;

const files = ['generator', 'discriminator', 'optimizerG', 'optimizerD'].map((f) => join('checkpoint', `${f}.safetensors`));

const lines = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('cgan trainer', () => {
  it('writes a whole run folder; its generator loads as a model file', async () => {
    const out = join(tmp, 'whole');
    const { history, interrupted } = await trainCgan(config(out), { data: tinyData(), quiet: true });
    expect(interrupted).toBe(false);
    expect(history.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(history.every((r) => Number.isFinite(r.lossD) && Number.isFinite(r.lossG))).toBe(true);
    for (const f of ['config.json', 'metrics.jsonl', 'curves.png', 'samples_epoch01.png', 'samples_epoch02.png', 'checkpoint/state.json', ...files]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).method).toBe('cgan');
    const G = await loadGenerator(join(out, CGAN_GENERATOR));
    expect([G.dimZ, G.numClasses, G.resolution]).toEqual([4, 10, 32]);
    await expect(trainCgan(config(out), { data: tinyData(), quiet: true })).rejects.toThrow(/already holds a run/);
  });

  const variants = [
    { name: '', spectralNorm: false },
    { name: ' (--spectral-norm: u and v in the checkpoint)', spectralNorm: true },
    { name: ' (--discriminator projection: its class vectors in the checkpoint)', spectralNorm: false, discriminator: 'projection' as const },
    { name: ' (--discriminator auxiliary: its classifier in the checkpoint)', spectralNorm: false, discriminator: 'auxiliary' as const },
    { name: ' (--upsampling nearest: 3x3 convs in the generator)', spectralNorm: false, upsampling: 'nearest' as const },
    { name: " (--generator-conditioning batchnorm: each class's gains and biases in the generator)", spectralNorm: false, generatorConditioning: 'batchnorm' as const },
  ];
  for (const [v, { name, spectralNorm, discriminator, upsampling, generatorConditioning }] of variants.entries()) {
    it(`--resume after a Ctrl-C at step 4 ends with the same bytes as the run that went through${name}`, async () => {
      const straight = join(tmp, `straight-${v}`);
      const resumed = join(tmp, `resumed-${v}`);
      const config = (out: string): CganConfig => ({ ...baseConfig(out), ...(spectralNorm ? { spectralNorm } : {}), ...(discriminator ? { discriminator } : {}), ...(upsampling ? { upsampling } : {}), ...(generatorConditioning ? { generatorConditioning } : {}) });
      await trainCgan(config(straight), { data: tinyData(), quiet: true });
      const stopSignal = { stop: false };
      const first = await trainCgan(config(resumed), { data: tinyData(), quiet: true, stopSignal, onStep: (r) => (stopSignal.stop = r.step === 4) });
      expect(first.interrupted).toBe(true);
      expect(JSON.parse(readFileSync(join(resumed, 'checkpoint', 'state.json'), 'utf8')).step).toBe(4);
      await trainCgan(config(resumed), { data: tinyData(), quiet: true, resume: true });
      for (const f of [...files, 'metrics.jsonl']) {
        const a = readFileSync(join(straight, f));
        const b = readFileSync(join(resumed, f));
        if (f === 'metrics.jsonl') {
          const losses = (s: Buffer) => s.toString().trim().split('\n').map((l) => { const { seconds: _, ...r } = JSON.parse(l); return r; });
          expect(losses(b)).toEqual(losses(a));
        } else expect(Buffer.compare(a, b), f).toBe(0);
      }
      const keys = [...readSafetensors(join(resumed, 'checkpoint', 'discriminator.safetensors')).tensors.keys()];
      expect(keys.includes('main.0.weight_u'), 'main.0.weight_u').toBe(spectralNorm);
      expect(keys.includes('main.0.weight'), 'main.0.weight').toBe(!spectralNorm);
      expect(keys.includes('projection.weight'), 'projection.weight').toBe(discriminator === 'projection');
      expect(keys.includes('classifier.weight'), 'classifier.weight').toBe(discriminator === 'auxiliary');
      expect(keys.includes('embed.weight'), 'embed.weight').toBe(discriminator === undefined);
      const generatorWeights = readSafetensors(join(resumed, CGAN_GENERATOR)).tensors;
      // Transposed: 4x4 convs at main.0, 3, 6, 9 and batchnorms between. Nearest: 3x3 convs at main.4, 8, 12 after upsamples.
      expect(generatorWeights.get('main.3.weight')?.shape, 'main.3.weight').toEqual(upsampling ? undefined : [8, 4, 4, 4]);
      expect(generatorWeights.get('main.4.weight')?.shape, 'main.4.weight').toEqual(upsampling ? [4, 8, 3, 3] : generatorConditioning ? undefined : [4]);
      // Conditioned by batchnorm: no embedding beside z, a gain and a bias table (10 classes) per batchnorm.
      expect(generatorWeights.has('embed.weight'), 'embed.weight').toBe(!generatorConditioning);
      expect(generatorWeights.get('class_gain.1.weight')?.shape, 'class_gain.1.weight').toEqual(generatorConditioning ? [10, 8] : undefined);
      expect(generatorWeights.get('main.1.weight')?.shape, 'main.1.weight').toEqual(generatorConditioning ? undefined : [8]);
      expect((await loadGenerator(join(resumed, CGAN_GENERATOR))).resolution).toBe(32);
    });
  }

  it('--resume --epochs: a finished run trains on to the bytes of a run started with the epochs', async () => {
    const two = join(tmp, 'two');
    const extended = join(tmp, 'extended');
    await trainCgan(config(two), { data: tinyData(), quiet: true });
    await trainCgan({ ...config(extended), epochs: 1 }, { data: tinyData(), quiet: true });
    await trainCgan(config(extended), { data: tinyData(), quiet: true, resume: true });
    for (const f of files) expect(Buffer.compare(readFileSync(join(two, f)), readFileSync(join(extended, f))), f).toBe(0);
    expect((lines(join(extended, 'metrics.jsonl')) as { step: number }[]).map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("--ema: training is the same bytes as without; the average of G's weights is kept beside G, resumes bit for bit and is what the run samples", async () => {
    const averaged = (out: string): CganConfig => ({ ...config(out), emaDecay: 0.9 });
    const plain = join(tmp, 'ema-plain');
    const straight = join(tmp, 'ema-straight');
    const resumed = join(tmp, 'ema-resumed');
    await trainCgan(config(plain), { data: tinyData(), quiet: true });
    await trainCgan(averaged(straight), { data: tinyData(), quiet: true });
    for (const f of files) expect(Buffer.compare(readFileSync(join(plain, f)), readFileSync(join(straight, f))), f).toBe(0);
    const stopSignal = { stop: false };
    await trainCgan(averaged(resumed), { data: tinyData(), quiet: true, stopSignal, onStep: (r) => (stopSignal.stop = r.step === 4) });
    expect(JSON.parse(readFileSync(join(resumed, 'checkpoint', 'state.json'), 'utf8')).emaUpdates).toBe(4);
    await trainCgan(averaged(resumed), { data: tinyData(), quiet: true, resume: true });
    expect(Buffer.compare(readFileSync(join(straight, CGAN_GENERATOR_AVERAGE)), readFileSync(join(resumed, CGAN_GENERATOR_AVERAGE)))).toBe(0);
    const G = readSafetensors(join(straight, CGAN_GENERATOR)).tensors;
    const average = readSafetensors(join(straight, CGAN_GENERATOR_AVERAGE)).tensors;
    expect([...average.keys()]).toEqual([...G.keys()]);
    // Six updates at the warm-up's decays (0.1, 0.18, ...): the average is not G, and not the start either.
    const differs = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).some((x, i) => x !== b[i]);
    expect(differs(toFloat32(average.get('main.0.weight')!), toFloat32(G.get('main.0.weight')!))).toBe(true);
    const model = await loadGenerator(join(straight, CGAN_GENERATOR_AVERAGE));
    expect([model.dimZ, model.numClasses]).toEqual([4, 10]);
    expect(cganSamplingGenerator(averaged(straight))).toBe(CGAN_GENERATOR_AVERAGE);
    expect(cganSamplingGenerator(config(plain))).toBe(CGAN_GENERATOR);
    // A run that averages, resumed from a checkpoint without the average, says which file is missing.
    rmSync(join(resumed, CGAN_GENERATOR_AVERAGE));
    await expect(trainCgan({ ...averaged(resumed), epochs: 3 }, { data: tinyData(), quiet: true, resume: true })).rejects.toThrow(/generator_ema\.safetensors/);
  });

  it("--temperature T draws z = T * eps: a report and grid of their own names, the grid the training grids' noise scaled", async () => {
    const eps = new Rng(9).fillNormal(new Float32Array(3 * 4));
    const z = new GeneratorPrior({ numClasses: 10, dimZ: 4, temperature: 0.5 }).sample([0, 1, 2], tensor(eps, [3, 4]));
    expect(Array.from((await z.z.data()) as Float32Array)).toEqual(Array.from(eps, (e) => Math.fround(e * 0.5)));
    expect(Array.from((await z.sigma.data()) as Float32Array)).toEqual(new Array(12).fill(0.5));
    for (const t of [0, 1.5, Number.NaN]) expect(() => new GeneratorPrior({ numClasses: 10, dimZ: 4, temperature: t })).toThrow(/temperature must be in \(0, 1\]/);

    const out = join(tmp, 'temperature');
    const run = { ...config(out), classifier: join('models', 'fmnist_vgg_bn64.safetensors') };
    await trainCgan(run, { data: tinyData(), quiet: true });
    const grade = (temperature?: number) => gradeRun(out, run, { judges: [], evalSamples: 20, realData: null, quiet: true, temperature });
    const report = await grade(0.5);
    expect(reportStem(undefined, { temperature: 0.5 })).toBe('report_temperature0.5');
    const saved = JSON.parse(readFileSync(join(out, 'report_temperature0.5.json'), 'utf8')) as Report;
    expect(saved.sampler).toEqual({ kind: 'cgan', description: expect.stringMatching(/z from N\(0, 0\.5\^2 I\) \(temperature 0\.5\)/), temperature: 0.5 });
    expect(saved.classifierAccuracy).toBe(report.classifierAccuracy);
    expect(existsSync(join(out, 'report.json'))).toBe(false);
    // At temperature 1 the grid is the last epoch's, byte for byte: the same G, the same noise.
    await grade(1);
    expect(Buffer.compare(readFileSync(join(out, 'samples_temperature1.png')), readFileSync(join(out, 'samples_epoch02.png')))).toBe(0);
    // The run's pipeline at 0.5 draws G(0.5 * eps): the images of the untempered pipeline at the scaled noise, not at eps.
    const classes = [0, 3, 7];
    const noise = new Rng(11).fillNormal(new Float32Array(3 * 4));
    const tempered = await generateImages(await cganPipeline(out, run, { temperature: 0.5 }), classes, noise);
    const untemperedPipeline = await cganPipeline(out, run);
    expect(Array.from(tempered)).toEqual(Array.from(await generateImages(untemperedPipeline, classes, noise.map((e) => e * 0.5))));
    expect(Array.from(tempered)).not.toEqual(Array.from(await generateImages(untemperedPipeline, classes, noise)));
    const untempered = await grade();
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).sampler).toEqual({ kind: 'cgan', description: expect.stringMatching(/z from N\(0, I\)/) });
    expect(untempered.perClass.map((c) => c.classifier.recall)).toEqual(
      (JSON.parse(readFileSync(join(out, 'report_temperature1.json'), 'utf8')) as Report).perClass.map((c) => c.classifier.recall),
    );
    // A train run's input generator sets z's spread itself.
    await expect(gradeRun(out, { ...run, method: undefined } as unknown as CganConfig, { judges: [], realData: null, quiet: true, temperature: 0.5 })).rejects.toThrow(
      /--temperature: for a cGAN run \(npm run cgan\); .* is a train run/,
    );
  });

  it("--standing-stats N measures G's batchnorm statistics on N batches of its prior's draws, at the temperature; the run's file is untouched; a report and grid of their own names", async () => {
    const out = join(tmp, 'standing');
    const run = { ...config(out), classifier: join('models', 'fmnist_vgg_bn64.safetensors'), emaDecay: 0.9 };
    await trainCgan(run, { data: tinyData(), quiet: true });
    const stored = readFileSync(join(out, CGAN_GENERATOR_AVERAGE));
    const statistics = async (sampling: CganSampling) => {
      const G = (await cganPipeline(out, run, sampling)).generator;
      expect(G.training).toBe(false);
      const values = new Map<string, number[]>();
      for (const [key, t] of G.stateDict()) if (/running_(mean|var)$/.test(key)) values.set(key, Array.from((await t.data()) as Float32Array));
      return values;
    };
    const asStored = await statistics({});
    expect([...asStored.keys()]).toEqual(['main.1.running_mean', 'main.1.running_var', 'main.4.running_mean', 'main.4.running_var', 'main.7.running_mean', 'main.7.running_var']);
    const standing = await statistics({ standingStats: 2 });
    for (const [key, v] of standing) expect(v, key).not.toEqual(asStored.get(key));
    expect(await statistics({ standingStats: 2 })).toEqual(standing);
    // Measured on the draws at the temperature: narrower z, other statistics.
    const cooled = await statistics({ standingStats: 2, temperature: 0.5 });
    for (const [key, v] of cooled) expect(v, key).not.toEqual(standing.get(key));
    expect(Buffer.compare(readFileSync(join(out, CGAN_GENERATOR_AVERAGE)), stored)).toBe(0);

    // The graded samples' noise is the same: only the statistics differ, so the images do.
    const classes = [0, 3, 7];
    const noise = new Rng(11).fillNormal(new Float32Array(3 * 4));
    const images = async (sampling: CganSampling) => Array.from(await generateImages(await cganPipeline(out, run, sampling), classes, noise));
    expect(await images({ standingStats: 2 })).not.toEqual(await images({}));

    const report = await gradeRun(out, run, { judges: [], evalSamples: 20, realData: null, quiet: true, temperature: 0.5, standingStats: 2 });
    expect(reportStem(undefined, { temperature: 0.5, standingStats: 2 })).toBe('report_temperature0.5_standing2');
    const saved = JSON.parse(readFileSync(join(out, 'report_temperature0.5_standing2.json'), 'utf8')) as Report;
    expect(saved.sampler).toEqual({
      kind: 'cgan', description: expect.stringMatching(/temperature 0\.5\), batchnorm statistics standing on 2 x 256 such draws/), temperature: 0.5, standingStats: 2,
    });
    expect(saved.classifierAccuracy).toBe(report.classifierAccuracy);
    expect(existsSync(join(out, 'samples_temperature0.5_standing2.png'))).toBe(true);
    expect(existsSync(join(out, 'report.json'))).toBe(false);
    await gradeRun(out, run, { judges: [], evalSamples: 20, realData: null, quiet: true, standingStats: 2 });
    expect(existsSync(join(out, 'report_standing2.json')) && existsSync(join(out, 'samples_standing2.png'))).toBe(true);
    await expect(gradeRun(out, { ...run, method: undefined } as unknown as CganConfig, { judges: [], realData: null, quiet: true, standingStats: 2 })).rejects.toThrow(
      /--standing-stats: for a cGAN run \(npm run cgan\); .* is a train run/,
    );
  });

  it('--temperature auto: the temperature nearest the training images by kernel distance on the frozen classifier; kept in the run folder and read again', async () => {
    const out = join(tmp, 'auto');
    const data = tinyFashionMnist(mkdtempSync(join(tmp, 'fmnist-')), 6, 'train');
    const run = { ...config(out), data, classifier: join('models', 'fmnist_vgg_bn64.safetensors') };
    await trainCgan(run, { data: tinyData(), quiet: true });
    const said: string[] = [];
    const options = { samplesPerClass: 3, referencePerClass: 6, temperatures: [1, 0.5], standingStats: 1 };
    const choice = await chooseTemperature(out, run, options, (l) => said.push(l));
    expect(choiceFile(out, 1)).toBe(join(out, 'temperature-choice_standing1.json'));
    expect(JSON.parse(readFileSync(choiceFile(out, 1), 'utf8'))).toEqual(choice);
    expect(choice.rows.map((r) => r.temperature)).toEqual([1, 0.5]);
    for (const r of choice.rows) {
      expect(r.perClass).toHaveLength(10);
      expect(r.kernelDistance).toBeCloseTo(r.perClass.reduce((a, b) => a + b) / 10, 12);
    }
    expect(choice.rows[0].kernelDistance).not.toBe(choice.rows[1].kernelDistance);
    expect(choice.temperature).toBe(choice.rows.reduce((a, b) => (b.kernelDistance < a.kernelDistance ? b : a)).temperature);
    expect(choice).toMatchObject({ generator: CGAN_GENERATOR, samplesPerClass: 3, referencePerClass: 6, standingStats: 1 });
    // Read again, not measured; another generator file is measured again.
    said.length = 0;
    expect(await chooseTemperature(out, run, options, (l) => said.push(l))).toEqual(choice);
    expect(said).toEqual([expect.stringMatching(/as chosen before/)]);
    writeFileSync(choiceFile(out, 1), JSON.stringify({ ...choice, generatorSha256: '0'.repeat(64), temperature: 0.7 }));
    said.length = 0;
    expect(await chooseTemperature(out, run, options, (l) => said.push(l))).toEqual(choice);
    expect(said[0]).toMatch(/made for another generator or other settings; choosing again/);
    // Too few training images of a class: said before any sampling.
    await expect(chooseTemperature(out, run, { ...options, referencePerClass: 7, standingStats: undefined })).rejects.toThrow(/has 6 training images of class 0, 7 are needed/);
    // The report says how its temperature was chosen; a train run refuses auto as it refuses a number.
    await gradeRun(out, run, { judges: [], evalSamples: 20, realData: null, quiet: true, temperature: choice.temperature, standingStats: 1, chosenBy: '--temperature auto' });
    expect(JSON.parse(readFileSync(join(out, `report_temperature${choice.temperature}_standing1.json`), 'utf8')).sampler.description).toMatch(/\(the temperature chosen by --temperature auto\)/);
    expect(() => checkCganSampling({ temperature: 'auto' }, { ...run, method: undefined } as unknown as CganConfig, 'a-train-run')).toThrow(/--temperature: for a cGAN run/);
  });

  it('--grade-every grades G during training (grades.jsonl, judge-curve.png), leaves training as it was, and resumes', async () => {
    const graded = (out: string): CganConfig => ({
      ...config(out), classifier: join('models', 'fmnist_vgg_bn64.safetensors'), gradeEvery: 2, gradeSamples: 20,
    });
    const grade = await cganGrader(graded(''), PUBLIC_JUDGES, true);
    const plain = join(tmp, 'plain');
    const withGrades = join(tmp, 'graded');
    await trainCgan(config(plain), { data: tinyData(), quiet: true });
    const stopSignal = { stop: false };
    await trainCgan(graded(withGrades), { data: tinyData(), quiet: true, grade, stopSignal, onStep: (r) => (stopSignal.stop = r.step === 3) });
    await trainCgan(graded(withGrades), { data: tinyData(), quiet: true, grade, resume: true });
    // Grading draws its own noise and runs G in eval mode: the training is the one without it.
    for (const f of files) expect(Buffer.compare(readFileSync(join(plain, f)), readFileSync(join(withGrades, f))), f).toBe(0);
    const grades = lines(join(withGrades, 'grades.jsonl')) as CganGrade[];
    expect(grades.map((g) => g.step)).toEqual([2, 4, 6]);
    const seconds = (lines(join(withGrades, 'metrics.jsonl')) as { step: number; seconds: number }[]).map((r) => r.seconds);
    grades.forEach((g) => {
      expect(g.samples).toBe(20);
      expect(g.trainMinutes).toBeCloseTo(seconds.slice(0, g.step).reduce((a, b) => a + b, 0) / 60, 9);
      expect(Object.keys(g.judges)).toEqual(['vgg', 'resnet']);
      // 20 samples: accuracies are multiples of 1/20.
      for (const a of [g.frozen, ...Object.values(g.judges)]) expect(Math.abs(a * 20 - Math.round(a * 20))).toBeLessThan(1e-9);
    });
    expect(existsSync(join(withGrades, 'judge-curve.png'))).toBe(true);
  });
});
