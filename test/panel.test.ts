// The report's judge panel and the prior-filter sampler, on the tiny fixture pair: both public
// judges side by side, each against its own yardsticks; --judge none; real figures from a tiny
// Fashion-MNIST-shaped folder (and their cache); version 1 reports still read. The prior filter
// keeps only what the frozen classifier gives >= p (classified again here), counts its G passes,
// and stops at its budget with an error naming it.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/engine/random.js';
import { scope, tensor } from '../src/engine/tensor.js';
import { softmax } from '../src/kernels/softmax.js';
import { formatReport, NEAREST_SAMPLES, readReport, shortLabels, type Report } from '../src/train/evaluate.js';
import { collectJudges, gradeRun, PUBLIC_JUDGES, resolveJudges } from '../src/train/grade.js';
import { frechetDistance, frechetDistanceToSamples, kernelDistance, kernelSelfTerm, meanAndCovariance, meanNearestNeighbourDistance, meanPairwiseDistance } from '../src/train/metrics.js';
import type { ConditioningPipeline } from '../src/train/pipeline.js';
import { generateLatents, priorFilter, PriorFilterBudgetError } from '../src/train/priorFilter.js';
import { buildPipeline, type TrainConfig } from '../src/train/trainer.js';
import { FIXTURES, setupGpu, tinyFashionMnist, tinyTrainConfig } from './helpers.js';

const ROOT = join(import.meta.dirname, '..');
const fresh = () => mkdtempSync(join(tmpdir(), 'cgan-panel-'));

let config: TrainConfig;
let pipeline: ConditioningPipeline;

beforeAll(async () => {
  await setupGpu();
  config = tinyTrainConfig(join(fresh(), 'run'), { epochs: 1, stepsPerEpoch: 1, gridPerClass: 1 });
  // An untrained input generator is enough to grade (and spares the suite compiling a training step).
  pipeline = await buildPipeline(config);
  mkdirSync(config.out);
});

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Report;

/** The frozen classifier's softmax on prior latents z (n * dimZ). */
async function classifierProbabilities(z: Float32Array): Promise<Float32Array> {
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const images = await generateLatents(pipeline, z);
  const r = pipeline.generator.resolution;
  const n = z.length / dimZ;
  return (await scope(() => softmax(pipeline.classify(tensor(images, [n, 3, r, r])).logits)).data()) as Float32Array;
}

describe('the judge panel', () => {
  it('grades with both public judges side by side, each against its own yardsticks', async () => {
    const report = await gradeRun(config.out, config, { pipeline, judges: PUBLIC_JUDGES, evalSamples: 20, realData: null, quiet: true });
    const saved = readJson(join(config.out, 'report.json'));
    expect(saved).toEqual(JSON.parse(JSON.stringify(report)));
    expect(saved.version).toBe(2);
    expect(saved.sampler?.kind).toBe('input-generator');
    expect(saved.judgesRole).toMatch(/Judges grade only: no judge is in any loss/);
    expect(saved.judges!.map((j) => j.label)).toEqual(['fmnist_vgg_judge32', 'fmnist_resnet_judge32']);
    for (const j of saved.judges!) {
      const yardsticks = JSON.parse(readFileSync(join(ROOT, 'models', `${j.label}_yardsticks.json`), 'utf8'));
      expect(j.yardstick).toEqual({ source: expect.stringMatching(new RegExp(`models/${j.label}_yardsticks\\.json$`)), images: 10000 });
      expect(j.realAccuracy).toBe(yardsticks.accuracy);
      expect(j.accuracyRatio).toBeCloseTo(j.accuracy / yardsticks.accuracy, 12);
      expect(j.perClass).toHaveLength(10);
      j.perClass.forEach((c, k) => {
        expect(c.scores.support).toBe(2);
        expect(c.accuracy).toBe(c.scores.recall);
        expect(c.realAccuracy).toBe(yardsticks.per_class_accuracy[String(k)]);
        expect(c.realVariety).toBe(yardsticks.within_class_spread_all[String(k)]);
        expect(c.varietyRatio).toBeCloseTo(c.variety / c.realVariety!, 12);
        expect(c.frechet).toBeUndefined(); // no real data given
      });
      expect(j.meanVarietyRatio).toBeCloseTo(j.perClass.reduce((s, c) => s + c.varietyRatio!, 0) / 10, 12);
    }
    // The version 1 fields still hold the first judge's figures.
    expect(saved.judgeAccuracy).toBe(saved.judges![0].accuracy);
    expect(saved.judgeRealAccuracy).toBe(0.8488);
    expect(saved.perClass[3].judge).toEqual(saved.judges![0].perClass[3].scores);
    const md = readFileSync(join(config.out, 'report.md'), 'utf8');
    expect(md).toMatch(/Judges grade only/);
    expect(md).toMatch(/\| \| fmnist_vgg_judge32 \| fmnist_resnet_judge32 \|/);
    expect(md).toMatch(/\| accuracy on real test images \| 0\.849 \| 0\.850 \|/);
    expect(md).toMatch(/\| yardsticks \| models\/fmnist_vgg_judge32_yardsticks\.json, 10000 images \| models\/fmnist_resnet_judge32_yardsticks\.json, 10000 images \|/);
    expect(md).toMatch(/Judges: vgg = fmnist_vgg_judge32, resnet = fmnist_resnet_judge32\./);
    expect(md).toMatch(/\| class \| precision \| recall \| F1 \| support \| vgg acc\. \| vgg acc\. \/ real \| vgg variety \(of real\) \| vgg nearest \(of real\) \| vgg Fréchet \| resnet acc\. \| .* resnet Fréchet \|/);
  });

  it('--judge none: only the frozen classifier grades', async () => {
    const report = await gradeRun(config.out, config, { pipeline, judges: [], evalSamples: 10, realData: null, quiet: true });
    expect(report.judges).toEqual([]);
    expect(report.judgeAccuracy).toBeUndefined();
    expect(report.featureSource).toBe('frozen classifier');
    expect(report.perClass[0].variety).toBeGreaterThanOrEqual(0);
    expect(readFileSync(join(config.out, 'report.md'), 'utf8')).toMatch(/No judge \(--judge none\): only the frozen classifier grades/);
    expect(resolveJudges(['none'])).toEqual([]);
    expect(resolveJudges(undefined)).toEqual(PUBLIC_JUDGES);
    expect(collectJudges('b, c', collectJudges('a', undefined))).toEqual(['a', 'b', 'c']);
    expect(shortLabels(['fmnist_vgg_judge32', 'fmnist_resnet_judge32'])).toEqual(['vgg', 'resnet']);
    expect(shortLabels(['judge', 'judge'])).toEqual(['judge', 'judge']);
    expect(shortLabels(['vgg_judge'])).toEqual(['vgg_judge']);
  });

  it('a judge list with a bad path, or none with a judge, is refused by name', () => {
    expect(() => resolveJudges([PUBLIC_JUDGES[0], join(FIXTURES, 'nope.pth')])).toThrow(
      /nope\.pth: no such file \(expected the judge \(2 of 2 in --judge\): a VGG or ResNet/,
    );
    expect(() => resolveJudges(['none', PUBLIC_JUDGES[0]])).toThrow(/--judge none grades with no judge; it cannot be combined with .*fmnist_vgg_judge32/);
  });

  it('with real data: per judge Fréchet distances and real figures, kept in the real cache', async () => {
    const real = tinyFashionMnist(fresh(), 3);
    const cache = join(fresh(), 'cache');
    const options = { pipeline, judges: [join(FIXTURES, 'vgg_bn_tiny.pth')], evalSamples: 20, realData: real, realCache: cache, quiet: true };
    const first = await gradeRun(config.out, config, options);
    expect(readdirSync(cache).filter((f) => f.endsWith('.bin'))).toHaveLength(1);
    const again = await gradeRun(config.out, config, options); // from the cache
    expect(again).toEqual(first);
    for (const j of first.judges!) {
      expect(j.yardstick).toEqual({ source: `real test images in ${real}`, images: 30 });
      for (const c of j.perClass) {
        expect(Number.isFinite(c.frechet)).toBe(true);
        expect([0, 1 / 3, 2 / 3, 1].some((a) => Math.abs(a - c.realAccuracy!) < 1e-12)).toBe(true);
      }
      expect(j.meanFrechet).toBeGreaterThan(0);
    }
    expect(first.meanFrechet).toBe(first.judges![0].meanFrechet);
  });

  it(`with ${NEAREST_SAMPLES} samples and real images a class: nearest-neighbour distances against real; a cache from before them is measured again`, async () => {
    const real = tinyFashionMnist(fresh(), NEAREST_SAMPLES);
    const cache = join(fresh(), 'cache');
    const options = { pipeline, judges: [join(FIXTURES, 'vgg_bn_tiny.pth')], evalSamples: 10 * NEAREST_SAMPLES, realData: real, realCache: cache, quiet: true };
    const first = await gradeRun(config.out, config, options);
    for (const c of first.judges![0].perClass) {
      expect(c.nearest).toBeGreaterThan(0);
      expect(c.realNearest).toBeGreaterThan(0);
      expect(c.nearestRatio).toBeCloseTo(c.nearest! / c.realNearest!, 12);
    }
    expect(first.judges![0].meanNearestRatio).toBeGreaterThan(0);
    expect(formatReport(first)).toMatch(/\| nearest-neighbour distance \(of real\) \| \d\.\d{3} \|/);
    // A cache head without the nearest-neighbour figures, as written before them: measured again, rewritten.
    const head = readdirSync(cache).find((f) => f.endsWith('.json'))!;
    const { nearest: _, ...old } = JSON.parse(readFileSync(join(cache, head), 'utf8'));
    writeFileSync(join(cache, head), JSON.stringify(old));
    expect(await gradeRun(config.out, config, options)).toEqual(first);
    expect(JSON.parse(readFileSync(join(cache, head), 'utf8')).nearest).toHaveLength(10);
  });

  it('mean nearest-neighbour distance: each row to its nearest other; a table of a few rows drawn again and again has little of it', () => {
    // Points 0, 1, 3 and 7 on a line: nearest distances 1, 1, 2, 4.
    expect(meanNearestNeighbourDistance(Float64Array.of(0, 0, 1, 0, 3, 0, 7, 0), 4, 2)).toBeCloseTo(2, 12);
    const rng = new Rng(9);
    const [n, d] = [100, 8];
    const spread = Float64Array.from({ length: n * d }, () => rng.normal());
    // 10 of those rows, each drawn 10 times with a little noise: most of the mean pairwise distance, under a tenth of the nearest.
    const table = Float64Array.from({ length: n * d }, (_, i) => spread[(Math.floor(i / d) % 10) * d + (i % d)] + 0.01 * rng.normal());
    expect(meanPairwiseDistance(table, n, d) / meanPairwiseDistance(spread, n, d)).toBeGreaterThan(0.7);
    expect(meanNearestNeighbourDistance(table, n, d) / meanNearestNeighbourDistance(spread, n, d)).toBeLessThan(0.1);
  });

  it("Fréchet distance from fewer samples than features, through the n x n form, is the d x d one", () => {
    const [n, d] = [6, 14];
    const rng = new Rng(5);
    const samples = Float64Array.from({ length: n * d }, () => rng.normal());
    const reference = meanAndCovariance(Float64Array.from({ length: 40 * d }, () => 2 * rng.normal() + 0.5), 40, d);
    const full = frechetDistance(meanAndCovariance(samples, n, d), reference, d);
    // Relative 1e-7: the d x d form takes square roots of the rank-deficient covariance's zero
    // eigenvalues, which Jacobi leaves at about 1e-16 (a square root of 1e-8 each).
    expect(Math.abs(frechetDistanceToSamples(samples, n, d, reference) - full) / full).toBeLessThan(1e-7);
  });

  it('kernel distance: the unbiased squared MMD of the cubic kernel; about 0 between samples of one distribution, where Fréchet is not', () => {
    // x = {0, 1}, y = {0, 2} (d = 1), k(a, b) = (ab + 1)^3: the x-x and y-y pairs give 1 each, the
    // four x-y pairs 1, 1, 1, 27 (mean 7.5), so 1 + 1 - 2 * 7.5.
    expect(kernelDistance(Float64Array.of(0, 1), 2, Float64Array.of(0, 2), 2, 1)).toBeCloseTo(-13, 12);
    expect(() => kernelDistance(Float64Array.of(0), 1, Float64Array.of(0, 2), 2, 1)).toThrow(/2 or more rows on each side, got 1 and 2/);
    // Against the sums written out over all index pairs, in float64, with a d > 1 dot product.
    const rng = new Rng(3);
    const [n, m, d] = [7, 9, 5];
    const x = Float64Array.from({ length: n * d }, () => rng.normal());
    const y = Float64Array.from({ length: m * d }, () => 0.5 * rng.normal() + 0.3);
    const k = (a: Float64Array, i: number, b: Float64Array, j: number) => (Array.from({ length: d }, (_, c) => a[i * d + c] * b[j * d + c]).reduce((s, v) => s + v) / d + 1) ** 3;
    let [xx, yy, xy] = [0, 0, 0];
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) xx += k(x, i, x, j);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if (i !== j) yy += k(y, i, y, j);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) xy += k(x, i, y, j);
    const expected = xx / (n * (n - 1)) + yy / (m * (m - 1)) - (2 * xy) / (n * m);
    expect(kernelDistance(x, n, y, m, d)).toBeCloseTo(expected, 10);
    expect(kernelDistance(x, n, y, m, d, kernelSelfTerm(y, m, d))).toBe(kernelDistance(x, n, y, m, d));
    // 200 draws of 10 samples against 10 of the same normal: the kernel distance averages about 0,
    // Fréchet's about the bias of 10 samples; both see a shifted mean.
    const draw = (shift: number) => Float64Array.from({ length: 10 * 4 }, () => rng.normal() + shift);
    const same = Array.from({ length: 200 }, () => kernelDistance(draw(0), 10, draw(0), 10, 4));
    const meanSame = same.reduce((a, b) => a + b) / same.length;
    const spreadSame = Math.sqrt(same.reduce((a, b) => a + (b - meanSame) ** 2, 0) / (same.length - 1));
    expect(Math.abs(meanSame)).toBeLessThan((3 * spreadSame) / Math.sqrt(same.length));
    const frechetSame = Array.from({ length: 200 }, () => frechetDistance(meanAndCovariance(draw(0), 10, 4), meanAndCovariance(draw(0), 10, 4), 4));
    expect(frechetSame.reduce((a, b) => a + b) / 200).toBeGreaterThan(1);
    const shifted = Array.from({ length: 200 }, () => kernelDistance(draw(1), 10, draw(0), 10, 4));
    expect(shifted.reduce((a, b) => a + b) / 200).toBeGreaterThan(meanSame + 10 * spreadSame / Math.sqrt(200));
  });

  it('a version 1 report still reads, as a panel of its one judge', () => {
    // The report of the default run of 2026-11-23 (docs/default-run until 2026-12-02), as written then.
    const v1 = readReport(JSON.parse(readFileSync(join(ROOT, 'test', 'data', 'report-v1.json'), 'utf8')));
    expect(v1.version).toBe(1);
    expect(v1.judges).toHaveLength(1);
    expect(v1.judges![0]).toMatchObject({ label: 'fmnist_vgg_judge32', accuracy: 0.8925, realAccuracy: 0.8488 });
    expect(v1.judges![0].perClass[6].accuracy).toBe(0.65);
    const md = formatReport(v1);
    expect(md).toMatch(/\| accuracy on the samples \| 0\.892 \|/);
    expect(md).toMatch(/\| Shirt \| 0\.990 \| 0\.995 \| 0\.993 \| 200 \| 0\.650 \| - \| 0\.4\d\d \| - \| 57\.46 \|/);
  });
});

describe('the prior-filter sampler', () => {
  /** A class and threshold the tiny classifier gives about half of the prior's draws. */
  async function halfwayThreshold(): Promise<{ c: number; p: number }> {
    const dimZ = pipeline.inputGenerator.config.dimZ;
    const probs = await classifierProbabilities(new Rng(99).fillNormal(new Float32Array(32 * dimZ)));
    const column = (c: number) => Array.from({ length: 32 }, (_, i) => probs[i * 10 + c]).sort((a, b) => a - b);
    const spread = (c: number) => column(c)[31] - column(c)[0];
    const c = [...Array(10).keys()].reduce((best, k) => (spread(k) > spread(best) ? k : best), 0);
    return { c, p: column(c)[16] };
  }

  it('keeps only samples the frozen classifier gives >= p, and counts its G passes', async () => {
    const { c, p } = await halfwayThreshold();
    const quota = new Array(10).fill(0);
    quota[c] = 5;
    const kept = await priorFilter(pipeline, quota, { confidence: p, budget: 1000, seed: 7, batch: 8 });
    const dimZ = pipeline.inputGenerator.config.dimZ;
    expect(kept.accepted[c]).toBe(5);
    expect(kept.z[c].length).toBe(5 * dimZ);
    // Classified again: every kept sample is at p or above (up to float32 rounding of a different batch).
    const again = await classifierProbabilities(kept.z[c]);
    for (let i = 0; i < 5; i++) {
      expect(again[i * 10 + c]).toBeGreaterThanOrEqual(p - 1e-6);
      expect(again[i * 10 + c]).toBeCloseTo(kept.probability[c][i], 5);
    }
    // The passes: the same stream of draws, up to the fifth one at p or above, whatever the batch.
    const probs = await classifierProbabilities(new Rng(7).fillNormal(new Float32Array(kept.passes * dimZ)));
    const above = Array.from({ length: kept.passes }, (_, i) => probs[i * 10 + c] >= p);
    expect(above.filter(Boolean)).toHaveLength(5);
    expect(above[kept.passes - 1]).toBe(true);
    expect(kept.hits[c]).toBe(5);
    expect(kept.passesPerAccepted[c]).toBe(kept.passes / 5);
    expect(kept.passes).toBeGreaterThan(5); // about half the draws pass
    const batched = await priorFilter(pipeline, quota, { confidence: p, budget: 1000, seed: 7, batch: 3 });
    expect(batched.passes).toBe(kept.passes);
  });

  it('stops at its budget with an error naming the budget and how many were accepted', async () => {
    const { c, p } = await halfwayThreshold();
    const quota = new Array(10).fill(0);
    quota[c] = 40;
    const names = Array.from({ length: 10 }, (_, k) => `c${k}`);
    const run = priorFilter(pipeline, quota, { confidence: p, budget: 12, seed: 7, batch: 8, classNames: names });
    await expect(run).rejects.toThrow(PriorFilterBudgetError);
    await expect(run).rejects.toThrow(new RegExp(`the budget of 12 G passes is spent with \\d+ of 40 samples of c${c} accepted .*>= ${p}.*raise --budget or lower --confidence`));
    const error = (await run.catch((e) => e)) as PriorFilterBudgetError;
    expect(error.passes).toBe(12); // 8, then the last 4: never past the budget
    expect(error.accepted[c]).toBeLessThan(40);
  });

  it('is graded like a run: the ceiling report with its cost per class', async () => {
    const report = await gradeRun(config.out, config, {
      pipeline,
      judges: [PUBLIC_JUDGES[0]],
      evalSamples: 10,
      realData: null,
      quiet: true,
      sampler: { kind: 'prior-filter', confidence: 0.05, budget: 500 },
    });
    expect(report.sampler).toMatchObject({ kind: 'prior-filter', confidence: 0.05, budget: 500 });
    if (report.sampler?.kind !== 'prior-filter') throw new Error('unreachable');
    expect(report.sampler.passes).toBeGreaterThanOrEqual(10);
    expect(report.sampler.passes).toBeLessThan(100); // not the batch of 100 it drew in
    expect(report.sampler.passesPerSample).toBe(report.sampler.passes / 10);
    for (const c of report.perClass) expect(c.passesPerSample).toBeGreaterThanOrEqual(1);
    expect(report.classifierAccuracy).toBeGreaterThan(0);
    for (const f of ['report_prior-filter_0.05.json', 'report_prior-filter_0.05.md', 'samples_prior-filter_0.05.png']) {
      expect(existsSync(join(config.out, f)), f).toBe(true);
    }
    const md = readFileSync(join(config.out, 'report_prior-filter_0.05.md'), 'utf8');
    expect(md).toMatch(/Sampler: G's prior N\(0, I\), kept where the frozen classifier gives the class probability >= 0\.05/);
    expect(md).toMatch(/\| class \| precision \| recall \| F1 \| support \| G passes \/ sample \| fmnist_vgg_judge32 acc\./);
  });
});
