// The end-of-training report: generated samples graded by the frozen classifier (the paper's
// Table 2: per-class precision, recall, F1, support), and, when given, by an independent judge
// classifier, with variety (mean pairwise distance of penultimate features within a class,
// relative to real images) and a per-class Fréchet distance against real test images.
import { join } from 'node:path';
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/random.js';
import { scope, tensor, type Tensor } from '../engine/tensor.js';
import { upsampleNearest } from '../kernels/upsample.js';
import type { Classifier } from '../models/family.js';
import { loadFashionMnist } from './fashionMnist.js';
import { writeFileAtomic } from './files.js';
import { classificationReport, frechetDistance, meanAndCovariance, meanPairwiseDistance, type ClassScores } from './metrics.js';
import type { ConditioningPipeline } from './pipeline.js';

export interface EvalOptions {
  samples: number;
  seed: number;
  batch: number;
  judge?: Classifier | null;
  judgeName?: string;
  /** Precomputed real-image figures of the judge (`npm run yardsticks`), and the file they came from. */
  realReference?: Yardsticks | null;
  realReferenceName?: string;
  /** Folder of Fashion-MNIST idx files, for real figures and Fréchet distances. */
  realData?: string | null;
  classNames: string[] | null;
  /** Samples per class used for variety and Fréchet (pairwise distances grow quadratically). */
  featureSamples?: number;
  onProgress?: (done: number, total: number) => void;
}

/** The judge's figures on every real test image (models/fmnist_vgg_judge32_yardsticks.json). */
export interface Yardsticks {
  accuracy: number;
  per_class_accuracy: Record<string, number>;
  /** Mean pairwise distance of the judge's penultimate features among all test images of a class. */
  within_class_spread_all: Record<string, number>;
  images_per_class: Record<string, number>;
  feature: string;
  data: string;
  computed_by: string;
}

export interface ClassReport {
  name: string;
  classifier: ClassScores;
  judge?: ClassScores;
  variety?: number;
  realVariety?: number;
  frechet?: number;
}

export interface Report {
  samples: number;
  classifierAccuracy: number;
  judgeAccuracy?: number;
  judgeRealAccuracy?: number;
  meanVarietyRatio?: number;
  meanFrechet?: number;
  featureSource: string;
  /** Where the real-image figures (judge accuracy on real images, real variety) come from. */
  yardstick?: { source: string; images: number };
  perClass: ClassReport[];
}

function argmaxRows(values: Float32Array, rows: number, cols: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < cols; c++) if (values[r * cols + c] > values[r * cols + best]) best = c;
    return best;
  });
}

async function classifyHost(model: Classifier, images: Tensor): Promise<{ logits: Float32Array; features: Float32Array }> {
  const { logits, features } = noGrad(() => scope(() => model.forwardWithFeatures(toInputSize(model, images))));
  const out = { logits: (await logits.data()) as Float32Array, features: (await features.data()) as Float32Array };
  logits.dispose();
  features.dispose();
  return out;
}

/**
 * Images nearest-upsampled to the side a judge was trained at, where it records one that their side
 * divides (a VGG-Face judge takes 224: G's 32 x 7). Otherwise as they are: the judge checks its input.
 */
export function toInputSize(model: Classifier, images: Tensor): Tensor {
  const size = model.inputSize;
  const side = images.shape[2];
  return size === null || size === side || size % side !== 0 ? images : upsampleNearest(images, size / side);
}

export async function evaluate(pipeline: ConditioningPipeline, options: EvalOptions): Promise<Report> {
  const K = pipeline.numClasses;
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const perClassFeatures = options.featureSamples ?? 100;
  const rng = new Rng(options.seed);
  const classes = Array.from({ length: options.samples }, (_, i) => i % K);
  const predicted: number[] = [];
  const judged: number[] = [];
  const featureSets: number[][][] = Array.from({ length: K }, () => []);
  const judge = options.judge ?? null;

  for (let start = 0; start < classes.length; start += options.batch) {
    const part = classes.slice(start, start + options.batch);
    const eps = tensor(rng.fillNormal(new Float32Array(part.length * dimZ)), [part.length, dimZ]);
    const component = pipeline.inputGenerator.drawComponents(part.length, rng);
    const images = noGrad(() => scope(() => pipeline.imagesFor(part, eps, component).images));
    eps.dispose();
    const { logits, features } = noGrad(() => scope(() => pipeline.classify(images)));
    const logitsHost = (await logits.data()) as Float32Array;
    predicted.push(...argmaxRows(logitsHost, part.length, K));
    let featureHost = (await features.data()) as Float32Array;
    logits.dispose();
    features.dispose();
    if (judge) {
      const j = await classifyHost(judge, images);
      judged.push(...argmaxRows(j.logits, part.length, K));
      featureHost = j.features;
    }
    images.dispose();
    const d = featureHost.length / part.length;
    part.forEach((c, i) => {
      if (featureSets[c].length < perClassFeatures) featureSets[c].push(Array.from(featureHost.subarray(i * d, (i + 1) * d)));
    });
    options.onProgress?.(Math.min(classes.length, start + part.length), classes.length);
  }

  const byClassifier = classificationReport(predicted, classes, K);
  const byJudge = judge ? classificationReport(judged, classes, K) : null;
  const names = options.classNames ?? Array.from({ length: K }, (_, i) => `class ${i}`);
  const real = options.realData ? await realFeatures(judge ?? pipeline, options.realData, K) : null;

  const perClass: ClassReport[] = names.slice(0, K).map((name, c) => {
    const feats = featureSets[c];
    const d = feats[0]?.length ?? 0;
    const flat = Float64Array.from(feats.flat());
    const variety = meanPairwiseDistance(flat, feats.length, d);
    const entry: ClassReport = { name, classifier: byClassifier.perClass[c], variety };
    if (byJudge) entry.judge = byJudge.perClass[c];
    const realSpread = real?.spread[c] ?? options.realReference?.within_class_spread_all[String(c)];
    if (realSpread !== undefined) entry.realVariety = realSpread;
    if (real) entry.frechet = frechetDistance(meanAndCovariance(flat, feats.length, d), real.stats[c], d);
    return entry;
  });
  const reference = options.realReference;
  const yardstick = real
    ? { source: `real test images in ${options.realData}`, images: real.counts.reduce((a, b) => a + b, 0) }
    : reference
      ? { source: options.realReferenceName ?? 'precomputed yardsticks', images: Object.values(reference.images_per_class).reduce((a, b) => a + b, 0) }
      : undefined;
  const ratios = perClass.filter((c) => c.realVariety).map((c) => c.variety! / c.realVariety!);
  const frechets = perClass.filter((c) => c.frechet !== undefined).map((c) => c.frechet!);
  return {
    samples: options.samples,
    classifierAccuracy: byClassifier.accuracy,
    judgeAccuracy: byJudge?.accuracy,
    judgeRealAccuracy: real?.accuracy ?? options.realReference?.accuracy,
    meanVarietyRatio: ratios.length ? ratios.reduce((a, b) => a + b, 0) / ratios.length : undefined,
    meanFrechet: frechets.length ? frechets.reduce((a, b) => a + b, 0) / frechets.length : undefined,
    featureSource: judge ? `judge ${options.judgeName ?? ''}`.trim() : 'frozen classifier',
    yardstick,
    perClass,
  };
}

/**
 * Penultimate features of every real test image of each class (about 1,000), from the judge (or
 * the classifier): their mean pairwise distance is the yardstick for variety, their mean and
 * covariance the Fréchet reference. All of them, not the first 100: the file's first 100
 * T-shirts, for one, are 11% less varied than all of its T-shirts.
 */
export async function realFeatures(model: Classifier | ConditioningPipeline, dir: string, K: number) {
  const data = loadFashionMnist(dir, 'test');
  const size = data.size;
  const imageSize = 3 * size * size;
  const picked: number[][] = Array.from({ length: K }, () => []);
  data.labels.forEach((label, i) => {
    if (label < K) picked[label].push(i);
  });
  const spread: number[] = [];
  const stats: ReturnType<typeof meanAndCovariance>[] = [];
  const correctByClass: number[] = [];
  for (let c = 0; c < K; c++) {
    let correct = 0;
    const idx = picked[c];
    let d = 0;
    const featureChunks: Float32Array[] = [];
    for (let start = 0; start < idx.length; start += 250) {
      const part = idx.slice(start, start + 250);
      const imgs = new Float32Array(part.length * imageSize);
      part.forEach((i, k) => imgs.set(data.images.subarray(i * imageSize, (i + 1) * imageSize), k * imageSize));
      const images = tensor(imgs, [part.length, 3, size, size]);
      let logits: Float32Array;
      let features: Float32Array;
      if ('classify' in model) {
        const out = noGrad(() => scope(() => model.classify(images)));
        logits = (await out.logits.data()) as Float32Array;
        features = (await out.features.data()) as Float32Array;
      } else {
        ({ logits, features } = await classifyHost(model, images));
      }
      images.dispose();
      argmaxRows(logits, part.length, K).forEach((p) => (correct += p === c ? 1 : 0));
      d = features.length / part.length;
      featureChunks.push(features);
    }
    const all = new Float32Array(idx.length * d);
    let at = 0;
    for (const f of featureChunks) {
      all.set(f, at);
      at += f.length;
    }
    spread.push(meanPairwiseDistance(all, idx.length, d));
    stats.push(meanAndCovariance(all, idx.length, d));
    correctByClass.push(correct);
  }
  const counts = picked.map((idx) => idx.length);
  const accuracy = correctByClass.reduce((a, b) => a + b, 0) / counts.reduce((a, b) => a + b, 0);
  return { spread, stats, accuracy, perClassAccuracy: correctByClass.map((n, c) => n / counts[c]), counts };
}

export function formatReport(r: Report): string {
  const pct = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(3));
  const lines = [
    `# Conditioning report`,
    '',
    `${r.samples} generated samples. Frozen-classifier accuracy ${pct(r.classifierAccuracy)}` +
      (r.judgeAccuracy !== undefined ? `; judge accuracy ${pct(r.judgeAccuracy)} (judge on real test images: ${pct(r.judgeRealAccuracy)})` : '') +
      (r.meanVarietyRatio !== undefined ? `; variety ${pct(r.meanVarietyRatio)} of real` : '') +
      (r.meanFrechet !== undefined ? `; mean per-class Fréchet distance ${r.meanFrechet.toFixed(2)}` : '') +
      '.',
    `Variety and Fréchet distance use the penultimate features of the ${r.featureSource}.`,
    ...(r.yardstick ? [`Real-image yardsticks (judge on real images, real variety): ${r.yardstick.source}, ${r.yardstick.images} images.`] : []),
    '',
    '| class | precision | recall | F1 | support | judge recall | variety | real variety | Fréchet |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.perClass.map(
      (c) =>
        `| ${c.name} | ${pct(c.classifier.precision)} | ${pct(c.classifier.recall)} | ${pct(c.classifier.f1)} | ${c.classifier.support} | ` +
        `${pct(c.judge?.recall)} | ${c.variety?.toFixed(2) ?? '-'} | ${c.realVariety?.toFixed(2) ?? '-'} | ${c.frechet?.toFixed(2) ?? '-'} |`,
    ),
  ];
  return lines.join('\n') + '\n';
}

export function writeReport(dir: string, report: Report): void {
  writeFileAtomic(join(dir, 'report.json'), JSON.stringify(report, null, 2));
  writeFileAtomic(join(dir, 'report.md'), formatReport(report));
}
