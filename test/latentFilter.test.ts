// The latent-filter sampler: soft-target cross-entropy against float64 and finite differences; the
// classifier on z learns a labelling of z; the prior filter with a screen sends only the draws the
// screen passes through G, counts them, and stops at its limit of screened draws; graded on the
// tiny fixture pair, its classifier on z is trained once, kept in the run folder and read again.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/engine/random.js';
import type { LabelledPool } from '../src/train/anchors.js';
import { gradeRun, PUBLIC_JUDGES } from '../src/train/grade.js';
import { LatentClassifier, softCrossEntropy, trainLatentClassifier } from '../src/train/latentClassifier.js';
import { encodeSafetensors, readSafetensors } from '../src/models/checkpoint/safetensors.js';
import type { ConditioningPipeline } from '../src/train/pipeline.js';
import { filterProgress, generateLatents, priorFilter, PriorFilterBudgetError } from '../src/train/priorFilter.js';
import { scope, tensor } from '../src/engine/tensor.js';
import { softmax } from '../src/kernels/softmax.js';
import { buildPipeline, train, type TrainConfig } from '../src/train/trainer.js';
import { checkOp, setupGpu, tinyTrainConfig } from './helpers.js';

beforeAll(setupGpu);

describe('softCrossEntropy', () => {
  it('is -mean_b sum_c t log softmax(x), with gradients in logits and targets', async () => {
    const [B, C] = [5, 7];
    await checkOp(
      ([x, t]) => softCrossEntropy(x, t),
      ([x, t]) => {
        let loss = 0;
        for (let b = 0; b < B; b++) {
          const row = x.subarray(b * C, (b + 1) * C);
          const top = Math.max(...row);
          const lse = top + Math.log(row.reduce((s, v) => s + Math.exp(v - top), 0));
          for (let c = 0; c < C; c++) loss -= t[b * C + c] * (row[c] - lse);
        }
        return Float64Array.of(loss / B);
      },
      [{ shape: [B, C] }, { shape: [B, C] }],
    );
  });

  it('refuses targets of another shape, naming both', () => {
    expect(() => softCrossEntropy(tensor(new Float32Array(6), [2, 3]), tensor(new Float32Array(8), [2, 4]))).toThrow(/logits .*\[2, 3\].* targets .*\[2, 4\]/);
  });
});

describe('filterProgress', () => {
  it('says how far a filter is every 10,000 G passes, every 1,000 behind a screen', () => {
    for (const [screened, every] of [[false, 10000], [true, 1000]] as const) {
      const lines: string[] = [];
      const report = filterProgress('prior-filter', screened, (l) => lines.push(l));
      for (let passes = 100; passes <= 2.5 * every; passes += 100) report(passes, passes / 100, 2000);
      expect(lines).toEqual([`prior-filter: ${every} G passes, ${every / 100}/2000 kept`, `prior-filter: ${2 * every} G passes, ${(2 * every) / 100}/2000 kept`]);
    }
  });
});

describe('the classifier on z', () => {
  it("learns a labelling of z from soft targets, and its held-out agreement says how well", async () => {
    // Three classes by the sign pattern of z's first two coordinates, targets a little soft.
    const [size, dimZ, K] = [1536, 6, 3];
    const z = new Rng(3).fillNormal(new Float32Array(size * dimZ));
    const probs = new Float32Array(size * K);
    for (let i = 0; i < size; i++) {
      const c = z[i * dimZ] < 0 ? 0 : z[i * dimZ + 1] < 0 ? 1 : 2;
      for (let k = 0; k < K; k++) probs[i * K + k] = k === c ? 0.9 : 0.05;
    }
    const pool: LabelledPool = { size, z, probs, features: new Float32Array(0) };
    const epochs: number[] = [];
    const { classifier, agreement } = await trainLatentClassifier(pool, K, {
      hidden: 32,
      epochs: 8,
      batch: 64,
      lr: 1e-2,
      seed: 1,
      heldOut: 0.25,
      onEpoch: (_, __, held) => epochs.push(held),
    });
    expect(epochs).toHaveLength(8);
    expect(epochs[7]).toBe(agreement);
    expect(agreement).toBeGreaterThan(0.9); // chance: about 0.5 for the largest class
    // probabilities() in chunks is the same as in one pass.
    const whole = await classifier.probabilities(z.subarray(0, 100 * dimZ));
    const chunked = await classifier.probabilities(z.subarray(0, 100 * dimZ), 7);
    expect(Array.from(chunked)).toEqual(Array.from(whole));
    for (let i = 0; i < 100; i++) expect(whole[i * K] + whole[i * K + 1] + whole[i * K + 2]).toBeCloseTo(1, 5);
  });

  it('refuses a pool too small for one batch, naming both', async () => {
    const pool: LabelledPool = { size: 40, z: new Float32Array(40 * 2), probs: new Float32Array(40 * 2), features: new Float32Array(0) };
    await expect(trainLatentClassifier(pool, 2, { hidden: 4, epochs: 1, batch: 64, lr: 1e-3, seed: 0, heldOut: 0.1 })).rejects.toThrow(
      /a pool of 40 leaves 36 latents to train on, fewer than a batch of 64/,
    );
  });
});

describe('the prior filter with a screen on z', () => {
  let config: TrainConfig;
  let pipeline: ConditioningPipeline;
  beforeAll(async () => {
    config = tinyTrainConfig(join(mkdtempSync(join(tmpdir(), 'cgan-latent-')), 'run'), { epochs: 1, stepsPerEpoch: 1, gridPerClass: 1 });
    pipeline = await buildPipeline(config);
    mkdirSync(config.out);
  });

  /** A screen that gives class c to the draws whose first coordinate is positive, and records every draw it saw. */
  function signScreen(c: number, seen: number[]) {
    const dimZ = pipeline.inputGenerator.config.dimZ;
    return async (z: Float32Array) => {
      const n = z.length / dimZ;
      const q = new Float32Array(n * 10);
      for (let i = 0; i < n; i++) {
        seen.push(z[i * dimZ]);
        q[i * 10 + (z[i * dimZ] > 0 ? c : (c + 1) % 10)] = 1;
      }
      return q;
    };
  }

  it('sends only the draws the screen passes through G, keeps those the frozen classifier gives >= p, and counts both', async () => {
    const dimZ = pipeline.inputGenerator.config.dimZ;
    const c = 4;
    const quota = new Array(10).fill(0);
    quota[c] = 6;
    const seen: number[] = [];
    const p = 1e-4; // every screened draw is kept: the passes are the screened draws up to the sixth
    const kept = await priorFilter(pipeline, quota, { confidence: p, budget: 1000, seed: 7, batch: 4, screen: { probabilities: signScreen(c, seen), threshold: 0.5, chunk: 32 } });
    expect(kept.accepted[c]).toBe(6);
    expect(kept.passes).toBe(6);
    expect(kept.draws).toBe(32);
    expect(kept.draws).toBe(seen.length);
    expect(kept.screenThreshold).toBe(0.5);
    for (let i = 0; i < 6; i++) expect(kept.z[c][i * dimZ]).toBeGreaterThan(0);
    // The first six positive draws of the stream, in order.
    const stream = new Rng(7).fillNormal(new Float32Array(32 * dimZ));
    const positive = Array.from({ length: 32 }, (_, i) => i).filter((i) => stream[i * dimZ] > 0);
    expect(Array.from(kept.z[c].subarray(0, dimZ))).toEqual(Array.from(stream.subarray(positive[0] * dimZ, (positive[0] + 1) * dimZ)));
    expect(Array.from(kept.z[c].subarray(5 * dimZ, 6 * dimZ))).toEqual(Array.from(stream.subarray(positive[5] * dimZ, (positive[5] + 1) * dimZ)));
    expect(kept.passesPerAccepted[c]).toBe(1);
    // With a real threshold, kept samples are those the frozen classifier gives >= p, classified again.
    const images = await generateLatents(pipeline, kept.z[c]);
    const r = pipeline.generator.resolution;
    const again = (await scope(() => softmax(pipeline.classify(tensor(images, [6, 3, r, r])).logits)).data()) as Float32Array;
    const median = Array.from({ length: 6 }, (_, i) => again[i * 10 + c]).sort((a, b) => a - b)[3];
    const strict = await priorFilter(pipeline, quota, { confidence: median, budget: 1000, seed: 7, batch: 4, screen: { probabilities: signScreen(c, []), threshold: 0.5, chunk: 32 } });
    expect(strict.passes).toBeGreaterThan(6);
    expect(strict.hits[c]).toBe(6);
    expect(strict.passesPerAccepted[c]).toBe(strict.passes / 6);
    for (const q of strict.probability[c]) expect(q).toBeGreaterThanOrEqual(median);
    // Its cost does not depend on the batch: draws of a class filled earlier in a batch are not counted.
    const wide = await priorFilter(pipeline, quota, { confidence: median, budget: 1000, seed: 7, batch: 50, screen: { probabilities: signScreen(c, []), threshold: 0.5, chunk: 32 } });
    expect(wide.passes).toBe(strict.passes);
    expect(Array.from(wide.z[c])).toEqual(Array.from(strict.z[c]));
    // Two classes in one batch: once class c has its 2, its later draws in the batch cost nothing.
    const two = new Array(10).fill(0);
    two[c] = 2;
    two[c + 1] = 6;
    const both = await priorFilter(pipeline, two, { confidence: 1e-4, budget: 1000, seed: 7, batch: 50, screen: { probabilities: signScreen(c, []), threshold: 0.5, chunk: 32 } });
    expect(both.accepted).toEqual(two);
    expect(both.passes).toBe(8);
  });

  it('stops at its limit of screened draws when the screen passes nothing, naming it', async () => {
    const quota = new Array(10).fill(0);
    quota[2] = 3;
    const nothing = async (z: Float32Array) => new Float32Array((z.length / pipeline.inputGenerator.config.dimZ) * 10);
    const run = priorFilter(pipeline, quota, { confidence: 0.5, budget: 100, seed: 1, screen: { probabilities: nothing, threshold: 0.5, chunk: 50, maxDraws: 200 } });
    await expect(run).rejects.toThrow(PriorFilterBudgetError);
    await expect(run).rejects.toThrow(/latent-filter: the limit of 200 screened prior draws is reached with 0 of 3 samples of class 2 accepted .*raise --budget or lower --screen or --confidence/);
  });

  it('is graded like a run: its classifier on z trained once, kept in the run folder, read again', async () => {
    const sampler = { kind: 'latent-filter' as const, confidence: 1e-4, screen: 0.05, pool: 600, budget: 500 };
    const report = await gradeRun(config.out, config, { pipeline, judges: [PUBLIC_JUDGES[0]], evalSamples: 10, realData: null, quiet: true, sampler });
    expect(report.sampler).toMatchObject({ kind: 'latent-filter', confidence: 1e-4, budget: 500, screen: 0.05 });
    if (report.sampler?.kind !== 'latent-filter') throw new Error('unreachable');
    expect(report.sampler.passesPerSample).toBe(report.sampler.passes / 10);
    expect(report.sampler.drawsPerSample).toBeGreaterThanOrEqual(1);
    const saved = join(config.out, 'latent-classifier_pool600.safetensors');
    for (const f of ['report_latent-filter_0.05_0.0001_pool600.json', 'report_latent-filter_0.05_0.0001_pool600.md', 'samples_latent-filter_0.05_0.0001_pool600.png', 'latent-classifier_pool600.safetensors']) {
      expect(existsSync(join(config.out, f)), f).toBe(true);
    }
    const md = readFileSync(join(config.out, 'report_latent-filter_0.05_0.0001_pool600.md'), 'utf8');
    expect(md).toMatch(/Sampler: G's prior N\(0, I\), screened by a classifier on z .* at >= 0\.05, then kept where the frozen classifier gives the class probability >= 0\.0001/);
    const written = statSync(saved).mtimeMs;
    const again = await gradeRun(config.out, config, { pipeline, judges: [PUBLIC_JUDGES[0]], evalSamples: 10, realData: null, quiet: true, sampler });
    expect(statSync(saved).mtimeMs).toBe(written);
    expect(again.sampler).toEqual(report.sampler);
    // A file under that name that is no classifier on z of this run is refused by name, not used.
    const other = join(config.out, 'latent-classifier_pool700.safetensors');
    const config7 = JSON.stringify({ dimZ: 7, numClasses: 10, hidden: 4 });
    writeFileSync(other, encodeSafetensors(new Map(), { format: 'latent-classifier', config: config7 }));
    const refused = gradeRun(config.out, config, { pipeline, judges: [], evalSamples: 10, realData: null, quiet: true, sampler: { ...sampler, pool: 700 } });
    await expect(refused).rejects.toThrow(/latent-classifier_pool700\.safetensors: a classifier on z of 7 latent dims and 10 classes, but this run's G has \d+ and its classifier 10; move it aside/);
    writeFileSync(other, encodeSafetensors(new Map(), { format: 'input-generator' }));
    await expect(gradeRun(config.out, config, { pipeline, judges: [], evalSamples: 10, realData: null, quiet: true, sampler: { ...sampler, pool: 700 } })).rejects.toThrow(
      /latent-classifier_pool700\.safetensors: not a classifier on z/,
    );
  });
});

describe('train --latent-pool', () => {
  it("labels one pool for the anchors and the classifier on z: training is that of the same run without it, and eval's latent filter reads the classifier it wrote", async () => {
    await setupGpu();
    const tmp = mkdtempSync(join(tmpdir(), 'latent-pool-'));
    const base = { components: 3, anchorPool: 40, anchorCandidates: 8, epochs: 1, weights: { variance: 0, kl: 0.2, shift: 2, priorRange: 1 } };
    const without = tinyTrainConfig(join(tmp, 'without'), base);
    const withPool = tinyTrainConfig(join(tmp, 'with'), { ...base, latentPool: 300 });
    await train(without, { quiet: true });
    await train(withPool, { quiet: true });
    // The anchors and the prior range come from the pool's first 40 rows: the 40 draws and labels of the run without it.
    for (const f of ['anchors.json', 'checkpoint/inputGenerator.safetensors', 'checkpoint/optimizer.safetensors']) {
      expect(Buffer.compare(readFileSync(join(without.out, f)), readFileSync(join(withPool.out, f))), f).toBe(0);
    }
    const saved = join(withPool.out, 'latent-classifier_pool300.safetensors');
    expect(existsSync(join(without.out, 'latent-classifier_pool300.safetensors'))).toBe(false);
    expect(readSafetensors(saved).metadata).toMatchObject({ format: 'latent-classifier', pool: '300' });
    const bytes = readFileSync(saved);
    const sampler = { kind: 'latent-filter' as const, confidence: 1e-4, screen: 0.05, pool: 300, budget: 500 };
    const report = await gradeRun(withPool.out, withPool, { judges: [], evalSamples: 10, realData: null, quiet: true, sampler });
    expect(report.sampler).toMatchObject({ kind: 'latent-filter', screen: 0.05 });
    expect(Buffer.compare(readFileSync(saved), bytes), 'the classifier on z is read, not trained again').toBe(0);
  });
});

describe('train --latent-class-weight', () => {
  it('adds w * -log q(c | z) at the input generator draws, and a run with it resumes bit for bit', async () => {
    await setupGpu();
    const tmp = mkdtempSync(join(tmpdir(), 'latent-class-'));
    const config = (out: string) =>
      tinyTrainConfig(join(tmp, out), { components: 3, anchorPool: 40, anchorCandidates: 8, latentPool: 300, epochs: 2, weights: { variance: 0, kl: 0.2, shift: 2, latentClass: 0.5 } });
    // The term's value: the loss with it, less the loss without it, on the same draws.
    const pipeline = await buildPipeline(config('value'));
    const classes = [0, 3, 7, 3];
    const draws = pipeline.drawInputs(classes, new Rng(1), config('value').weights);
    const inputs = () => Object.fromEntries(Object.entries(draws).map(([k, v]) => [k, tensor(v)])) as never;
    const weights = config('value').weights;
    expect(() => scope(() => pipeline.lossOf(inputs(), weights))).toThrow(/the latent-class term needs the classifier on z/);
    const onZ = new LatentClassifier({ dimZ: pipeline.inputGenerator.config.dimZ, numClasses: pipeline.numClasses, hidden: 8 }, 4).requiresGrad_(false);
    pipeline.latentClassifier = onZ;
    const [withTerm, without, z] = scope(() => {
      const a = pipeline.lossOf(inputs(), weights).loss;
      const b = pipeline.lossOf(inputs(), { ...weights, latentClass: 0 }).loss;
      const eps = tensor(draws.eps, [classes.length, pipeline.inputGenerator.config.dimZ]);
      return [a, b, pipeline.inputGenerator.sample(classes, eps, draws.pick ? { pick: tensor(draws.pick), anchorRows: tensor(draws.anchorRows!) } : undefined).z];
    });
    const logits = await onZ.forward(z).data();
    let ce = 0;
    classes.forEach((c, i) => {
      const row = Array.from(logits.subarray(i * 10, (i + 1) * 10));
      const top = Math.max(...row);
      ce += top + Math.log(row.reduce((s, v) => s + Math.exp(v - top), 0)) - row[c];
    });
    expect((await withTerm.item()) - (await without.item())).toBeCloseTo((0.5 * ce) / classes.length, 4);
    // Trained with it: the classifier on z the run wrote is read back on resume, so the halves match the whole.
    const whole = config('whole');
    await train(whole, { quiet: true });
    const split = config('split');
    const stop = { stop: false };
    expect((await train(split, { quiet: true, stopSignal: stop, onStep: (r) => (stop.stop = r.step === 3) })).interrupted).toBe(true);
    await train(split, { quiet: true, resume: true });
    const a = readSafetensors(join(whole.out, 'checkpoint', 'inputGenerator.safetensors')).tensors;
    const b = readSafetensors(join(split.out, 'checkpoint', 'inputGenerator.safetensors')).tensors;
    for (const [k, t] of a) expect(Array.from(b.get(k)!.data as Float32Array), k).toEqual(Array.from(t.data as Float32Array));
    // ... and the term moved training: without it the input generator ends elsewhere.
    const plain = tinyTrainConfig(join(tmp, 'plain'), { ...whole, out: join(tmp, 'plain'), weights: { ...whole.weights, latentClass: 0 } });
    await train(plain, { quiet: true });
    const c = readSafetensors(join(plain.out, 'checkpoint', 'inputGenerator.safetensors')).tensors;
    expect([...a].some(([k, t]) => Buffer.compare(Buffer.from((t.data as Float32Array).buffer), Buffer.from((c.get(k)!.data as Float32Array).buffer)) !== 0)).toBe(true);
    // A resume whose classifier on z is gone says so.
    rmSync(join(split.out, 'latent-classifier_pool300.safetensors'));
    await expect(train(split, { quiet: true, resume: true })).rejects.toThrow(/latent-classifier_pool300\.safetensors: missing; the run cannot resume with the latent-class term/);
  });
});
