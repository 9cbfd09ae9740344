// The end-of-training report: generated samples graded by the frozen classifier (the paper's
// Table 2: per-class precision, recall, F1, support), and by a panel of independent judges side by
// side (by default both public ones, models/README.md), each against its own real-image yardsticks:
// accuracy and its ratio to the judge's accuracy on real images, variety (mean pairwise distance
// of the judge's penultimate features within a class, relative to real images) and, with real
// data, a per-class Fréchet distance. Judges grade only: no judge is ever in a loss, chooses
// anchors or picks samples (the prior-filter and latent-filter samplers keep samples by the frozen classifier).
import { join } from 'node:path';
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/random.js';
import { scope, tensor, type Tensor } from '../engine/tensor.js';
import { upsampleNearest } from '../kernels/upsample.js';
import type { Classifier } from '../models/family.js';
import { loadFashionMnist } from './fashionMnist.js';
import { writeFileAtomic } from './files.js';
import { argmaxRows, classificationReport, frechetDistanceToSamples, meanAndCovariance, meanNearestNeighbourDistance, meanPairwiseDistance, type ClassScores } from './metrics.js';
import { InputGenerator, type LatentSampler } from './inputGenerator.js';
import type { ConditioningPipeline } from './pipeline.js';
import type { PriorFilterResult } from './priorFilter.js';

/** What the report says about the judges' role, in report.md and report.json. */
export const JUDGES_GRADE_ONLY =
  'Judges grade only: no judge is in any loss, chooses the anchors or picks samples (the prior-filter and latent-filter samplers keep samples by the frozen classifier, and the classifier on z of the latter learns from it alone).';

/** report.json's format: 2 adds `version`, `sampler`, `judges` (the panel) and `judgesRole`; version 1 (no field) had one judge. */
export const REPORT_VERSION = 2;

/** One judge of the panel, as the caller gives it. */
export interface JudgeSpec {
  model: Classifier;
  /** How the report names it (its file, relative to the working folder). */
  name: string;
  /** Its figures on every real test image (`npm run yardsticks`), kept beside it, and that file's name. */
  yardsticks?: Yardsticks | null;
  yardsticksName?: string;
  /** Its real-image figures from --real-data, when the caller already has them (e.g. from a cache). */
  real?: RealFigures | null;
}

export interface EvalOptions {
  samples: number;
  seed: number;
  batch: number;
  /** The panel of judges (none: only the frozen classifier grades). */
  judges?: JudgeSpec[];
  /** One judge, as before the panel: the same as `judges: [{ model: judge, name: judgeName, yardsticks: realReference, ... }]`. */
  judge?: Classifier | null;
  judgeName?: string;
  realReference?: Yardsticks | null;
  realReferenceName?: string;
  /** Folder of Fashion-MNIST idx files, for real figures and Fréchet distances. */
  realData?: string | null;
  classNames: string[] | null;
  /** Samples per class used for variety and Fréchet (pairwise distances grow quadratically). */
  featureSamples?: number;
  /**
   * What drew the graded samples: the trained input generator (absent), or G's prior filtered by the
   * frozen classifier (priorFilter with quotas from evalQuotas), whose kept latents are graded in order.
   */
  priorFilter?: PriorFilterResult;
  /** What drew the samples otherwise, for the report (default: the trained input generator). */
  sampler?: DrawnSampler;
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

/** Samples (and real images) per class that nearest-neighbour distances are measured over. */
export const NEAREST_SAMPLES = 100;

/** A model's figures on the real test images (realFeatures). */
export type RealFigures = Awaited<ReturnType<typeof realFeatures>>;

export interface ClassReport {
  name: string;
  classifier: ClassScores;
  /** The panel's first judge (as in version 1; every judge's figures are in Report.judges). */
  judge?: ClassScores;
  /** On the first judge's features, or the frozen classifier's without a judge. */
  variety?: number;
  realVariety?: number;
  frechet?: number;
  /** prior-filter: G passes one kept sample of this class costs (prior draws / draws kept for it). */
  passesPerSample?: number | null;
}

/** One judge's grades of one class. */
export interface JudgeClassReport {
  name: string;
  /** Its precision, recall, F1 on the samples; recall is its accuracy on the samples of this class. */
  scores: ClassScores;
  accuracy: number;
  /** Its accuracy on this class's real test images, and accuracy / that. */
  realAccuracy?: number;
  accuracyRatio?: number;
  /** Mean pairwise distance of its penultimate features among this class's samples, on real images, and their ratio. */
  variety: number;
  realVariety?: number;
  varietyRatio?: number;
  /**
   * Mean distance from each of NEAREST_SAMPLES samples to its nearest neighbour among them (its
   * features), the same over the class's first NEAREST_SAMPLES real test images, and their ratio:
   * spread at the scale of neighbours, which a table of a few images with a little noise lacks.
   */
  nearest?: number;
  realNearest?: number;
  nearestRatio?: number;
  frechet?: number;
}

/** One judge of the panel, measured against its own yardsticks. */
export interface JudgeReport {
  /** Its file. */
  name: string;
  /** Short name for table headers (the file's name without extension). */
  label: string;
  accuracy: number;
  realAccuracy?: number;
  accuracyRatio?: number;
  meanVarietyRatio?: number;
  meanNearestRatio?: number;
  meanFrechet?: number;
  /** Where its real-image figures come from. */
  yardstick?: { source: string; images: number };
  perClass: JudgeClassReport[];
}

/** A sampler that draws each sample with one G pass: the input generator, or a cGAN's prior. */
export interface DrawnSampler {
  kind: 'input-generator' | 'cgan';
  description: string;
  /** cgan: z = temperature * eps (absent: 1). */
  temperature?: number;
  /** cgan: batches of draws G's batchnorm statistics were measured on (absent: those it stored). */
  standingStats?: number;
}

export type SamplerReport =
  | DrawnSampler
  | {
      /** latent-filter: the prior filter with a classifier on z screening draws before G. */
      kind: 'prior-filter' | 'latent-filter';
      description: string;
      confidence: number;
      budget: number;
      /** G passes spent for all the graded samples together, and per graded sample. */
      passes: number;
      passesPerSample: number;
      /** latent-filter: the screen's threshold, and the prior draws it looked at per graded sample. */
      screen?: number;
      drawsPerSample?: number;
    };

export interface Report {
  /** Absent in version 1 reports (read them with readReport). */
  version?: number;
  sampler?: SamplerReport;
  judgesRole?: string;
  samples: number;
  classifierAccuracy: number;
  /** The panel, in the order given (empty: --judge none). */
  judges?: JudgeReport[];
  // The first judge's figures, where version 1 had its only judge's, so older readers still read them.
  judgeAccuracy?: number;
  judgeRealAccuracy?: number;
  meanVarietyRatio?: number;
  meanFrechet?: number;
  featureSource: string;
  /** Where the real-image figures (judge accuracy on real images, real variety) come from. */
  yardstick?: { source: string; images: number };
  perClass: ClassReport[];
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

/** The class of each graded sample, in order: 0, 1, ..., K-1, 0, 1, ... */
export function evalClasses(samples: number, K: number): number[] {
  return Array.from({ length: samples }, (_, i) => i % K);
}

/** Graded samples per class (the quotas of a prior filter that feeds evaluate). */
export function evalQuotas(samples: number, K: number): number[] {
  return Array.from({ length: K }, (_, c) => Math.floor(samples / K) + (c < samples % K ? 1 : 0));
}

/** A judge's short name: its file's name without folder and extension. */
export function judgeLabel(name: string): string {
  return name.replace(/^.*[\\/]/, '').replace(/\.(safetensors|pth|pt|bin)$/i, '');
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);

/** How far training moved the input generator's components from their anchors, said briefly. */
async function driftNote(sampler: LatentSampler): Promise<string> {
  const moved = sampler instanceof InputGenerator ? await sampler.anchorDrift() : null;
  return moved
    ? `; its components' means lie ${moved.drift.toFixed(2)} from their anchors on average (two anchors of a class lie ${moved.spacing.toFixed(2)} apart)`
    : '';
}

export async function evaluate(pipeline: ConditioningPipeline<LatentSampler>, options: EvalOptions): Promise<Report> {
  const K = pipeline.numClasses;
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const perClassFeatures = options.featureSamples ?? 100;
  const rng = new Rng(options.seed);
  const classes = evalClasses(options.samples, K);
  const predicted: number[] = [];
  const judges: JudgeSpec[] =
    options.judges ??
    (options.judge
      ? [{ model: options.judge, name: options.judgeName ?? 'judge', yardsticks: options.realReference, yardsticksName: options.realReferenceName }]
      : []);
  for (const j of judges) {
    if (j.model.numClasses !== K) throw new Error(`judge ${j.name}: ${j.model.numClasses} classes, but the classifier has ${K}`);
  }
  const judged: number[][] = judges.map(() => []);
  // Per class, the first featureSamples samples' penultimate features: the frozen classifier's, then each judge's.
  const featureSets: number[][][][] = [null, ...judges].map(() => Array.from({ length: K }, () => []));
  const filtered = options.priorFilter;
  if (filtered) {
    const quotas = evalQuotas(options.samples, K);
    quotas.forEach((q, c) => {
      if (filtered.accepted[c] < q) throw new Error(`prior-filter: ${filtered.accepted[c]} kept samples of class ${c}, ${q} to grade`);
    });
  }
  const taken = new Array<number>(K).fill(0);

  for (let start = 0; start < classes.length; start += options.batch) {
    const part = classes.slice(start, start + options.batch);
    let images: Tensor;
    if (filtered) {
      const z = new Float32Array(part.length * dimZ);
      part.forEach((c, i) => z.set(filtered.z[c].subarray(taken[c] * dimZ, ++taken[c] * dimZ), i * dimZ));
      images = noGrad(() => scope(() => pipeline.generate(tensor(z, [part.length, dimZ]))));
    } else {
      const eps = tensor(rng.fillNormal(new Float32Array(part.length * dimZ)), [part.length, dimZ]);
      const component = pipeline.inputGenerator.drawComponents(part, rng);
      images = noGrad(() => scope(() => pipeline.imagesFor(part, eps, component).images));
      eps.dispose();
    }
    const { logits, features } = noGrad(() => scope(() => pipeline.classify(images)));
    const logitsHost = (await logits.data()) as Float32Array;
    predicted.push(...argmaxRows(logitsHost, part.length, K));
    const featureHosts = [(await features.data()) as Float32Array];
    logits.dispose();
    features.dispose();
    for (let j = 0; j < judges.length; j++) {
      const out = await classifyHost(judges[j].model, images);
      judged[j].push(...argmaxRows(out.logits, part.length, K));
      featureHosts.push(out.features);
    }
    images.dispose();
    featureHosts.forEach((featureHost, m) => {
      const d = featureHost.length / part.length;
      part.forEach((c, i) => {
        if (featureSets[m][c].length < perClassFeatures) featureSets[m][c].push(Array.from(featureHost.subarray(i * d, (i + 1) * d)));
      });
    });
    options.onProgress?.(Math.min(classes.length, start + part.length), classes.length);
  }

  const byClassifier = classificationReport(predicted, classes, K);
  const names = (options.classNames ?? []).slice(0, K);
  while (names.length < K) names.push(`class ${names.length}`);
  const flat = (feats: number[][]) => ({ values: Float64Array.from(feats.flat()), n: feats.length, d: feats[0]?.length ?? 0 });

  const panel: JudgeReport[] = [];
  for (let j = 0; j < judges.length; j++) {
    const spec = judges[j];
    const real = options.realData ? (spec.real ?? (await realFeatures(spec.model, options.realData, K))) : null;
    const reference = spec.yardsticks ?? null;
    const scores = classificationReport(judged[j], classes, K);
    const perClass: JudgeClassReport[] = names.map((name, c) => {
      const f = flat(featureSets[j + 1][c]);
      const variety = meanPairwiseDistance(f.values, f.n, f.d);
      const entry: JudgeClassReport = { name, scores: scores.perClass[c], accuracy: scores.perClass[c].recall, variety };
      const realAccuracy = real?.perClassAccuracy[c] ?? reference?.per_class_accuracy[String(c)];
      if (realAccuracy !== undefined) {
        entry.realAccuracy = realAccuracy;
        entry.accuracyRatio = realAccuracy > 0 ? entry.accuracy / realAccuracy : undefined;
      }
      const realVariety = real?.spread[c] ?? reference?.within_class_spread_all[String(c)];
      if (realVariety !== undefined) {
        entry.realVariety = realVariety;
        entry.varietyRatio = realVariety > 0 ? variety / realVariety : undefined;
      }
      // Nearest-neighbour distances shrink as samples are added: only equal counts compare.
      if (f.n === NEAREST_SAMPLES) {
        entry.nearest = meanNearestNeighbourDistance(f.values, f.n, f.d);
        const realNearest = real?.nearest[c];
        if (realNearest != null) {
          entry.realNearest = realNearest;
          entry.nearestRatio = realNearest > 0 ? entry.nearest / realNearest : undefined;
        }
      }
      if (real && f.n > 1) entry.frechet = frechetDistanceToSamples(f.values, f.n, f.d, real.stats[c]);
      return entry;
    });
    const realAccuracy = real?.accuracy ?? reference?.accuracy;
    const yardstick = real
      ? { source: `real test images in ${options.realData}`, images: real.counts.reduce((a, b) => a + b, 0) }
      : reference
        ? { source: spec.yardsticksName ?? 'precomputed yardsticks', images: Object.values(reference.images_per_class).reduce((a, b) => a + b, 0) }
        : undefined;
    panel.push({
      name: spec.name,
      label: judgeLabel(spec.name),
      accuracy: scores.accuracy,
      realAccuracy,
      accuracyRatio: realAccuracy ? scores.accuracy / realAccuracy : undefined,
      meanVarietyRatio: mean(perClass.flatMap((c) => (c.varietyRatio !== undefined ? [c.varietyRatio] : []))),
      meanNearestRatio: mean(perClass.flatMap((c) => (c.nearestRatio !== undefined ? [c.nearestRatio] : []))),
      meanFrechet: mean(perClass.flatMap((c) => (c.frechet !== undefined ? [c.frechet] : []))),
      yardstick,
      perClass,
    });
  }

  // The version 1 fields: the first judge's figures, or, without a judge, the frozen classifier's features.
  const first = panel[0];
  const classifierReal = !first && options.realData ? await realFeatures(pipeline, options.realData, K) : null;
  const perClass: ClassReport[] = names.map((name, c) => {
    const entry: ClassReport = { name, classifier: byClassifier.perClass[c] };
    if (first) {
      const j = first.perClass[c];
      Object.assign(entry, { judge: j.scores, variety: j.variety, realVariety: j.realVariety, frechet: j.frechet });
    } else {
      const f = flat(featureSets[0][c]);
      entry.variety = meanPairwiseDistance(f.values, f.n, f.d);
      if (classifierReal) {
        entry.realVariety = classifierReal.spread[c];
        if (f.n > 1) entry.frechet = frechetDistanceToSamples(f.values, f.n, f.d, classifierReal.stats[c]);
      }
    }
    for (const key of ['judge', 'variety', 'realVariety', 'frechet'] as const) if (entry[key] === undefined) delete entry[key];
    if (filtered) entry.passesPerSample = filtered.passesPerAccepted[c];
    return entry;
  });
  const ratios = perClass.flatMap((c) => (c.realVariety ? [c.variety! / c.realVariety] : []));
  const frechets = perClass.flatMap((c) => (c.frechet !== undefined ? [c.frechet] : []));
  const screen = filtered?.screenThreshold;
  const sampler: SamplerReport = filtered
    ? {
        kind: screen === undefined ? 'prior-filter' : 'latent-filter',
        description:
          screen === undefined
            ? `G's prior N(0, I), kept where the frozen classifier gives the class probability >= ${filtered.confidence} ` +
              `(no training; the ceiling), budget ${filtered.budget} G passes`
            : `G's prior N(0, I), screened by a classifier on z (distilled from the frozen classifier's labels of G's prior) at ` +
              `>= ${screen}, then kept where the frozen classifier gives the class probability >= ${filtered.confidence}; ` +
              `${(filtered.draws / options.samples).toFixed(0)} prior draws screened per sample, budget ${filtered.budget} G passes`,
        confidence: filtered.confidence,
        budget: filtered.budget,
        passes: filtered.passes,
        passesPerSample: filtered.passes / options.samples,
        ...(screen === undefined ? {} : { screen, drawsPerSample: filtered.draws / options.samples }),
      }
    : (options.sampler ?? { kind: 'input-generator', description: `the trained input generator, z = mu + sigma * eps${await driftNote(pipeline.inputGenerator)}` });
  return {
    version: REPORT_VERSION,
    sampler,
    judgesRole: JUDGES_GRADE_ONLY,
    samples: options.samples,
    classifierAccuracy: byClassifier.accuracy,
    judges: panel,
    judgeAccuracy: first?.accuracy,
    judgeRealAccuracy: first?.realAccuracy,
    meanVarietyRatio: mean(ratios),
    meanFrechet: mean(frechets),
    featureSource: first ? `judge ${first.name}` : 'frozen classifier',
    yardstick: first ? first.yardstick : classifierReal ? { source: `real test images in ${options.realData}`, images: classifierReal.counts.reduce((a, b) => a + b, 0) } : undefined,
    perClass,
  };
}

/**
 * Penultimate features of every real test image of each class (about 1,000), from the judge (or
 * the classifier): their mean pairwise distance is the yardstick for variety, their mean and
 * covariance the Fréchet reference. All of them, not the first 100: the file's first 100
 * T-shirts, for one, are 11% less varied than all of its T-shirts.
 */
export async function realFeatures(model: Classifier | ConditioningPipeline<LatentSampler>, dir: string, K: number) {
  const data = loadFashionMnist(dir, 'test');
  const size = data.size;
  const imageSize = 3 * size * size;
  const picked: number[][] = Array.from({ length: K }, () => []);
  data.labels.forEach((label, i) => {
    if (label < K) picked[label].push(i);
  });
  const spread: number[] = [];
  const nearest: (number | null)[] = []; // null: fewer real images than NEAREST_SAMPLES
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
    nearest.push(idx.length >= NEAREST_SAMPLES ? meanNearestNeighbourDistance(all, NEAREST_SAMPLES, d) : null);
    stats.push(meanAndCovariance(all, idx.length, d));
    correctByClass.push(correct);
  }
  const counts = picked.map((idx) => idx.length);
  const accuracy = correctByClass.reduce((a, b) => a + b, 0) / counts.reduce((a, b) => a + b, 0);
  return { spread, nearest, stats, accuracy, perClassAccuracy: correctByClass.map((n, c) => n / counts[c]), counts };
}

/**
 * A report.json of any version as the current Report: a version 1 report (one judge, no `judges`,
 * no `sampler`) gets a panel of its one judge (without the per-class real accuracies it did not
 * keep) and the input-generator sampler; its `version` stays 1.
 */
export function readReport(json: unknown): Report {
  const r = json as Report;
  if (!r || typeof r !== 'object' || !Array.isArray(r.perClass)) throw new Error('not a report.json written by cgan train or cgan eval');
  if (r.version !== undefined && r.version >= 2) return r;
  const judges: JudgeReport[] = [];
  if (r.judgeAccuracy !== undefined) {
    const name = r.featureSource.replace(/^judge\s*/, '') || 'judge';
    judges.push({
      name,
      label: judgeLabel(name),
      accuracy: r.judgeAccuracy,
      realAccuracy: r.judgeRealAccuracy,
      accuracyRatio: r.judgeRealAccuracy ? r.judgeAccuracy / r.judgeRealAccuracy : undefined,
      meanVarietyRatio: r.meanVarietyRatio,
      meanFrechet: r.meanFrechet,
      yardstick: r.yardstick,
      perClass: r.perClass.map((c) => ({
        name: c.name,
        scores: c.judge!,
        accuracy: c.judge?.recall ?? NaN,
        variety: c.variety ?? NaN,
        realVariety: c.realVariety,
        varietyRatio: c.realVariety && c.variety !== undefined ? c.variety / c.realVariety : undefined,
        frechet: c.frechet,
      })),
    });
  }
  return {
    ...r,
    version: 1,
    sampler: { kind: 'input-generator', description: 'the trained input generator, z = mu + sigma * eps' },
    judges,
  };
}

/**
 * Column names for the judges of a panel: their labels less what all of them share at the start
 * and end (fmnist_vgg_judge32, fmnist_resnet_judge32 -> vgg, resnet), cut at a _ - or . boundary.
 */
export function shortLabels(labels: string[]): string[] {
  if (labels.length < 2) return labels;
  let head = 0;
  while (labels.every((l) => head < l.length && l[head] === labels[0][head])) head++;
  let tail = 0;
  while (labels.every((l) => tail < l.length - head && l[l.length - 1 - tail] === labels[0][labels[0].length - 1 - tail])) tail++;
  const prefix = labels[0].slice(0, head);
  const suffix = labels[0].slice(labels[0].length - tail);
  head = Math.max(...['_', '-', '.'].map((sep) => prefix.lastIndexOf(sep) + 1));
  const cut = ['_', '-', '.'].map((sep) => suffix.indexOf(sep)).filter((i) => i >= 0);
  tail = cut.length ? suffix.length - Math.min(...cut) : 0;
  const short = labels.map((l) => l.slice(head, l.length - tail));
  return short.every((l) => l !== '') && new Set(short).size === short.length ? short : labels;
}

export function formatReport(report: Report): string {
  const r = readReport(report);
  const f = (v: number | undefined | null, digits = 3) => (v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(digits));
  const judges = r.judges ?? [];
  const sampler = r.sampler!;
  const filtered = sampler.kind === 'prior-filter' || sampler.kind === 'latent-filter';
  const lines = [`# Conditioning report`, ''];
  lines.push(
    `Sampler: ${sampler.description}` +
      (filtered
        ? `; it spent ${sampler.passes} G passes for ${r.samples} samples, ${sampler.passesPerSample.toFixed(2)} per sample (per class below: what one kept sample of the class costs sampled alone).`
        : '.'),
  );
  lines.push(
    `${r.samples} generated samples. Frozen-classifier accuracy ${f(r.classifierAccuracy)}.` +
      (judges.length === 0
        ? ` No judge (--judge none): only the frozen classifier grades` +
          (r.meanVarietyRatio !== undefined ? `; variety ${f(r.meanVarietyRatio)} of real on its own features` : '') +
          (r.meanFrechet !== undefined ? `; mean per-class Fréchet distance ${f(r.meanFrechet, 2)}` : '') +
          '.'
        : ''),
  );
  lines.push(r.judgesRole ?? JUDGES_GRADE_ONLY);
  if (r.version === 1) lines.push('(A version 1 report: one judge, read as a panel of one.)');
  if (judges.length) {
    const row = (what: string, value: (j: JudgeReport) => string) => `| ${what} | ${judges.map(value).join(' | ')} |`;
    lines.push(
      '',
      '## Judges, side by side',
      '',
      "Each judge against its own yardsticks (its figures on real test images). Accuracy: the share of samples it gives the requested class; " +
        "ratio: that over its accuracy on real images. Variety: the mean pairwise distance of its penultimate features within a class " +
        "(up to 100 samples a class), over the same among that class's real test images, averaged over classes. " +
        `Nearest neighbours: the mean distance from each of ${NEAREST_SAMPLES} samples of a class to the nearest other, over the same among ${NEAREST_SAMPLES} of its real test images ` +
        '(with --real-data): a sampler that draws a few images again and again keeps its variety but not this. Fréchet: per class, on its features, against those real images (with --real-data).',
      '',
      `| | ${judges.map((j) => j.label).join(' | ')} |`,
      `| --- | ${judges.map(() => '---').join(' | ')} |`,
      row('accuracy on the samples', (j) => f(j.accuracy)),
      row('accuracy on real test images', (j) => f(j.realAccuracy)),
      row('ratio to real', (j) => f(j.accuracyRatio)),
      row('variety (of real)', (j) => f(j.meanVarietyRatio)),
      row('nearest-neighbour distance (of real)', (j) => f(j.meanNearestRatio)),
      row('mean per-class Fréchet', (j) => f(j.meanFrechet, 2)),
      row('yardsticks', (j) => (j.yardstick ? `${j.yardstick.source}, ${j.yardstick.images} images` : 'none (no yardsticks file beside it; --real-data gives them)')),
      row('file', (j) => j.name),
    );
  }
  lines.push('', '## Per class', '');
  const short = shortLabels(judges.map((j) => j.label));
  if (judges.length > 1) lines.push(`Judges: ${judges.map((j, k) => `${short[k]} = ${j.label}`).join(', ')}.`, '');
  const header = ['class', 'precision', 'recall', 'F1', 'support'];
  if (filtered) header.push('G passes / sample');
  if (judges.length) for (const l of short) header.push(`${l} acc.`, `${l} acc. / real`, `${l} variety (of real)`, `${l} nearest (of real)`, `${l} Fréchet`);
  else header.push('variety', 'real variety', 'Fréchet');
  lines.push(`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`);
  r.perClass.forEach((c, k) => {
    const cells = [c.name, f(c.classifier.precision), f(c.classifier.recall), f(c.classifier.f1), String(c.classifier.support)];
    if (filtered) cells.push(f(c.passesPerSample, sampler.kind === 'latent-filter' ? 2 : 1));
    if (judges.length) {
      for (const j of judges) {
        const g = j.perClass[k];
        cells.push(f(g?.accuracy), f(g?.accuracyRatio), f(g?.varietyRatio), f(g?.nearestRatio), f(g?.frechet, 2));
      }
    } else cells.push(f(c.variety, 2), f(c.realVariety, 2), f(c.frechet, 2));
    lines.push(`| ${cells.join(' | ')} |`);
  });
  return lines.join('\n') + '\n';
}

/** report.json and report.md in `dir` (or <stem>.json / <stem>.md, e.g. report_prior-filter_0.9). */
export function writeReport(dir: string, report: Report, stem = 'report'): void {
  writeFileAtomic(join(dir, `${stem}.json`), JSON.stringify(report, null, 2));
  writeFileAtomic(join(dir, `${stem}.md`), formatReport(report));
}
