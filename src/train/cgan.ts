// `cgan cgan`: the baseline the paper's method claims to match, a conditional DCGAN trained on
// Fashion-MNIST's 60,000 labelled training images (src/models/dcgan.ts), on the same engine. Its
// run folder follows `cgan train`'s: config.json, a checkpoint every epoch and on Ctrl-C (G and D
// with their Adam moments and batchnorm statistics, the average of G's weights with --ema, and
// the noise generator's state, so --resume continues bit for bit), metrics.jsonl, a grid per
// epoch, curves.png, and the same report (grade.ts) from the generator saved as a converted model
// file (models/families/dcgan.ts), which `cgan sample` and `cgan eval` read like any run.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/random.js';
import { scope, tensor } from '../engine/tensor.js';
import { conversionMetadata } from '../models/convert.js';
import { BigGANGenerator, type BigGANConfig } from '../models/biggan.js';
import { toFloat32 } from '../models/checkpoint/index.js';
import type { ConvertedModel, FrozenClassifier, FrozenGenerator } from '../models/family.js';
import { DCGANDiscriminator, DCGANGenerator, type DCGANDiscriminatorConfig, type DCGANGeneratorConfig, type DiscriminatorConditioning, type GeneratorConditioning, type GeneratorUpsampling } from '../models/dcgan.js';
import { loadClassifier, loadGenerator, readModelFile } from '../models/load.js';
import { Conv2d } from '../models/module.js';
import { spectralNorm } from '../models/spectralNorm.js';
import { imagesOf, loadFashionMnistBytes, type LabelledBytes } from './fashionMnist.js';
import { prepareRunFolder, writeFileAtomic } from './files.js';
import type { GanLoss } from './ganLoss.js';
import { ganStep, type Gan, type TrainableGenerator } from './ganStep.js';
import { writeImageGrid } from './images.js';
import { GeneratorPrior } from './inputGenerator.js';
import { Adam, ExponentialAverage, updateBn } from './optim.js';
import { ConditioningPipeline } from './pipeline.js';
import { plotCurves } from './plot.js';
import { loadValues, readMetrics, recoverCheckpoint, restoreOptimizer, writeCheckpoint } from './trainer.js';

export interface CganConfig {
  /** Marks a cGAN run folder for `sample` and `eval`. */
  method: 'cgan';
  /** Fashion-MNIST's idx folder: the labelled training images. */
  data: string;
  /** The frozen classifier that grades the report (never in a loss), at classifierSize. */
  classifier: string;
  classifierSize: number;
  classNames: string[];
  epochs: number;
  /** Steps per epoch: batches of the shuffled training set (at most all of it, the last partial batch dropped). */
  stepsPerEpoch: number;
  batch: number;
  /** Adam's learning rate and first beta, both networks (DCGAN: 2e-4 and 0.5). */
  lr: number;
  /**
   * Where given, the learning rate of what starts fresh: D, and a fine-tuned G's class embedding
   * (its rows start as copies of one), while G's pretrained weights take `lr`.
   */
  lrNew?: number;
  beta1: number;
  loss: GanLoss;
  seed: number;
  dimZ: number;
  embedDim: number;
  /** G's channels are [4w, 2w, w] from 4x4 up, D's [w, 2w, 4w] from 16x16 down. */
  width: number;
  logEvery: number;
  gridPerClass: number;
  /**
   * Steps between gradings of G during training (0 or absent: none): gradeSamples samples, an
   * equal share a class, graded by the frozen classifier and the judges (grades.jsonl,
   * judge-curve.png): judge accuracy against training time. Grading only, never a choice.
   */
  gradeEvery?: number;
  gradeSamples?: number;
  /**
   * The transfer question (Wang et al., "Transferring GANs"): G is this BigGAN generator file's
   * architecture instead of a DCGAN, its class embedding given one row a class. Absent: a DCGAN
   * of `width`.
   */
  generator?: string;
  /** With `generator`: 'pretrained' fine-tunes the file's weights (each class's row starts as its row 0); 'scratch' trains the architecture from fresh weights. */
  generatorInit?: 'pretrained' | 'scratch';
  /** Fine-tuning: the class embedding's rows drawn fresh (N(0, 1), as from scratch) instead of copied from the generator's row. */
  freshEmbedding?: boolean;
  /** Train on this many labelled images, an equal share a class, drawn with the seed (absent: all of them). */
  trainImages?: number;
  /** Spectral norm on every convolution of D (Miyato et al. 2018; src/models/spectralNorm.ts). */
  spectralNorm?: boolean;
  /** How the class enters D (absent: 'concat', as runs before the option). */
  discriminator?: DiscriminatorConditioning;
  /** How the DCGAN generator doubles the side (absent: 'transposed', as runs before the option). */
  upsampling?: GeneratorUpsampling;
  /** How the class enters the DCGAN generator (absent: 'concat', its embedding beside z; 'batchnorm': each batchnorm's gain and bias, embedDim unused). */
  generatorConditioning?: GeneratorConditioning;
  /**
   * Sample from an exponential moving average of G's weights with this decay (optim.ts,
   * ExponentialAverage), kept beside G in the checkpoint: the grids, gradings, report, `sample`
   * and `eval` use it. Training itself is unchanged. Absent or 0: G's own weights.
   */
  emaDecay?: number;
  out: string;
}

/** One grading of G during training: accuracies on its samples, after `trainMinutes` of training steps. */
export interface CganGrade {
  step: number;
  epoch: number;
  /** The training steps' own time so far (gradings, grids and checkpoints left out). */
  trainMinutes: number;
  samples: number;
  frozen: number;
  /** Accuracy by judge, by its short label (vgg, resnet). */
  judges: Record<string, number>;
}

export interface CganRecord {
  step: number;
  epoch: number;
  lossD: number;
  lossG: number;
  /** D's mean logit on the real batch and on G's batch (before D's update). */
  dReal: number;
  dFake: number;
  seconds: number;
}

interface CganState {
  step: number;
  adamStepsG: number;
  adamStepsD: number;
  /** The noise generator; the data order is a function of the seed and the epoch. */
  rng: number[];
  /** With emaDecay: the average's updates so far (its warm-up). */
  emaUpdates?: number;
}

const CHECKPOINT = 'checkpoint';
/** Where a cGAN run keeps its generator: a converted model file (`cgan convert`'s format). */
export const CGAN_GENERATOR = join(CHECKPOINT, 'generator.safetensors');
/** With --ema: the average of G's weights, in the same format; what the run samples from. */
export const CGAN_GENERATOR_AVERAGE = join(CHECKPOINT, 'generator_ema.safetensors');

/** The generator file a run samples from: the average of G's weights where it keeps one. */
export function cganSamplingGenerator(config: CganConfig): string {
  return config.emaDecay ? CGAN_GENERATOR_AVERAGE : CGAN_GENERATOR;
}

export function isCganRun(config: object): config is CganConfig {
  return (config as { method?: string }).method === 'cgan';
}

export function generatorConfig(c: CganConfig): DCGANGeneratorConfig {
  const byBatchnorm = c.generatorConditioning === 'batchnorm';
  return {
    dimZ: c.dimZ, numClasses: c.classNames.length, embedDim: byBatchnorm ? 0 : c.embedDim,
    channels: [4 * c.width, 2 * c.width, c.width], outChannels: 3, resolution: 32, eps: 1e-5,
    ...(c.upsampling && c.upsampling !== 'transposed' ? { upsampling: c.upsampling } : {}),
    ...(byBatchnorm ? { conditioning: 'batchnorm' as const } : {}),
  };
}

export function discriminatorConfig(c: CganConfig): DCGANDiscriminatorConfig {
  return { numClasses: c.classNames.length, inChannels: 3, channels: [c.width, 2 * c.width, 4 * c.width], resolution: 32, slope: 0.2, eps: 1e-5, conditioning: c.discriminator ?? 'concat' };
}

/** How `sample` and `eval` draw from a cGAN run. */
export interface CganSampling {
  /** z = temperature * eps, in (0, 1] (GeneratorPrior); absent: 1, G's prior as trained. */
  temperature?: number;
  /**
   * Batches of STANDING_BATCH prior draws (at the temperature) on which G's batchnorm statistics
   * are measured before sampling (BigGAN's standing statistics, updateBn); absent: those G stored.
   */
  standingStats?: number;
  /** How the temperature was chosen, for the report (--temperature auto); absent: given by hand. */
  chosenBy?: string;
}

/** The draws in each batch of standing statistics. */
export const STANDING_BATCH = 256;

/** What names a report and grid drawn so: '' as trained, else e.g. temperature0.8, standing16 or temperature0.8_standing16. */
export function samplingTag(s: CganSampling): string {
  return [s.temperature === undefined ? '' : `temperature${s.temperature}`, s.standingStats ? `standing${s.standingStats}` : ''].filter(Boolean).join('_');
}

/** In words, for a report's sampler line. */
export function describeSampling(s: CganSampling): string {
  const z = s.temperature === undefined ? 'z from N(0, I)' : `z from N(0, ${s.temperature}^2 I) (temperature ${s.temperature})`;
  const drawn = s.standingStats ? `${z}, batchnorm statistics standing on ${s.standingStats} x ${STANDING_BATCH} such draws` : z;
  return s.chosenBy ? `${drawn} (the temperature chosen by ${s.chosenBy})` : drawn;
}

/** A cGAN run's trained generator with the frozen classifier, as `sample` and `eval` use a run. */
export async function cganPipeline(dir: string, config: CganConfig, sampling: CganSampling = {}): Promise<ConditioningPipeline<GeneratorPrior>> {
  const generator = await loadGenerator(join(dir, cganSamplingGenerator(config)));
  const classifier = await loadClassifier(config.classifier);
  if (classifier.numClasses !== generator.numClasses) {
    throw new Error(`the classifier ${config.classifier} has ${classifier.numClasses} classes, the run's generator ${generator.numClasses}`);
  }
  return drawnAs({ generator, classifier, classifierSize: config.classifierSize }, sampling, config.seed);
}

/**
 * A run's G and classifier (or another pipeline's), drawing as `sampling` says: a prior at its
 * temperature, and G's statistics standing if asked (updateBn replaces them whole, so the same G
 * can be drawn at one temperature and then at another). Without standingStats G keeps the
 * statistics it has.
 */
export function drawnAs(
  { generator, classifier, classifierSize }: { generator: FrozenGenerator; classifier: FrozenClassifier; classifierSize: number },
  sampling: CganSampling,
  seed: number,
): ConditioningPipeline<GeneratorPrior> {
  const prior = new GeneratorPrior({ numClasses: generator.numClasses, dimZ: generator.dimZ, temperature: sampling.temperature });
  if (sampling.standingStats) standingStatistics(generator, prior, sampling.standingStats, seed);
  return new ConditioningPipeline(generator, classifier, prior, classifierSize);
}

/**
 * BigGAN's standing statistics (Brock et al. 2019): G's batchnorm statistics measured on its own
 * prior's draws, an equal share a class, rather than the ones it stored. Those of an average of
 * weights (--ema) are themselves averaged from other weights' batches; at a temperature below 1
 * they were measured on wider draws. The draws come from a stream of the seed of their own, so
 * the graded samples' noise is as without them.
 */
function standingStatistics(G: FrozenGenerator, prior: GeneratorPrior, batches: number, seed: number): void {
  const rng = new Rng(seed * 7919 + 4001);
  const classes = Array.from({ length: STANDING_BATCH }, (_, i) => i % G.numClasses);
  const layers = updateBn(G, batches, () => {
    const { z, classVector } = prior.sample(classes, tensor(rng.fillNormal(new Float32Array(STANDING_BATCH * G.dimZ)), [STANDING_BATCH, G.dimZ]));
    G.forward(z, classVector);
  });
  if (layers === 0) throw new Error(`--standing-stats: the run's generator (${G.constructor.name}) keeps no batchnorm statistics`);
}

/** A fixed shuffle of 0 .. n-1 for a seed (Fisher-Yates). */
function shuffled(n: number, rng: Rng): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Pass p's order of the training images: a fixed shuffle of seed and pass, so a resumed run reads the same batches. */
function passOrder(n: number, seed: number, pass: number): Int32Array {
  return shuffled(n, new Rng(seed * 1009 + pass + 1));
}

/**
 * `count` labelled images, count / classes of each class: the first ones of each class in a
 * shuffle of the seed, so the smaller subsets of a seed lie inside its larger ones.
 */
export function balancedSubset(data: LabelledBytes, count: number, classes: number, seed: number): LabelledBytes {
  if (count % classes !== 0) throw new Error(`--train-images ${count}: must be a multiple of the ${classes} classes (an equal share a class)`);
  const share = count / classes;
  const picked: number[][] = Array.from({ length: classes }, () => []);
  for (const i of shuffled(data.labels.length, new Rng(seed * 7919 + 17))) {
    const c = data.labels[i];
    if (picked[c].length < share) picked[c].push(i);
  }
  const short = picked.findIndex((p) => p.length < share);
  if (short >= 0) throw new Error(`--train-images ${count}: class ${short} has ${picked[short].length} training images, ${share} are needed`);
  const indices = picked.flat().sort((a, b) => a - b);
  const area = data.side * data.side;
  const pixels = new Uint8Array(count * area);
  indices.forEach((i, k) => pixels.set(data.pixels.subarray(i * area, (i + 1) * area), k * area));
  return { pixels, labels: Int32Array.from(indices, (i) => data.labels[i]), side: data.side };
}

/** --generator's file, checked: a BigGAN generator of 3x32x32 images with 1 class or `classes`. */
function transferSource(file: string, classes: number): { converted: ConvertedModel; source: BigGANConfig } {
  const converted = readModelFile(file);
  if (converted.format !== 'biggan-generator') {
    throw new Error(`--generator: ${file} holds a ${converted.format}; fine-tuning takes a BigGAN generator (format biggan-generator)`);
  }
  const source = converted.config as BigGANConfig;
  if (source.resolution !== 32 || source.outChannels !== 3) {
    throw new Error(`--generator: ${file} makes ${source.outChannels}x${source.resolution}x${source.resolution} images; the cGAN trains on 3x32x32`);
  }
  if (source.nClasses !== 1 && source.nClasses !== classes) {
    throw new Error(`--generator: ${file} has ${source.nClasses} classes; it needs 1 (each class starts as it) or ${classes}`);
  }
  return { converted, source };
}

/**
 * `generator`'s BigGAN with one class-embedding row a class: the file's weights (each row its row
 * 0, so every class starts as the unconditional generator; or, freshEmbedding, rows drawn N(0, 1)
 * as from scratch, so the classes start apart) or, from scratch, fresh ones (DCGAN's N(0, 0.02)
 * for conv and linear weights, the embedding N(0, 1), batchnorm at identity).
 */
export function bigganForClasses(file: string, classes: number, init: 'pretrained' | 'scratch', seed: number, freshEmbedding = false): BigGANGenerator {
  const { converted, source } = transferSource(file, classes);
  const G = new BigGANGenerator({ ...source, nClasses: classes });
  if (init === 'pretrained') {
    const values = new Map([...converted.tensors].map(([key, t]) => [key, { shape: t.shape, data: toFloat32(t) }]));
    const shared = values.get('shared.weight')!;
    if (source.nClasses === 1) {
      const rows = new Float32Array(classes * shared.data.length);
      for (let c = 0; c < classes; c++) rows.set(shared.data, c * shared.data.length);
      values.set('shared.weight', { shape: [classes, shared.shape[1]], data: rows });
    }
    G.loadStateDict(values, { source: file });
    if (freshEmbedding) G.shared.weight.copy_(new Rng(seed).fillNormal(new Float32Array(G.shared.weight.size)));
  } else {
    const rng = new Rng(seed);
    for (const [key, t] of G.stateDict()) {
      const values = new Float32Array(t.size);
      if (key === 'shared.weight') rng.fillNormal(values);
      else if (key.endsWith('stored_var') || key === 'output_layer.0.gain') values.fill(1);
      else if (key.endsWith('.weight')) rng.fillNormal(values, 0, 0.02);
      t.copy_(values); // biases, attention's gamma, stored means: 0
    }
  }
  return G.train();
}

/** The length of z of --generator's file, checked before any GPU work. */
export function generatorDimZ(file: string, classes: number): number {
  return transferSource(file, classes).source.dimZ;
}

function buildGenerator(config: CganConfig): TrainableGenerator {
  if (!config.generator) return new DCGANGenerator(generatorConfig(config), config.seed);
  return bigganForClasses(config.generator, config.classNames.length, config.generatorInit ?? 'pretrained', config.seed, config.freshEmbedding);
}

/** G, D and their Adams for a run's config, as `cgan cgan` trains them (bench/trainStep.ts times the same). */
export function buildGan(config: CganConfig): Gan {
  const generator = buildGenerator(config);
  const discriminator = new DCGANDiscriminator(discriminatorConfig(config), config.seed + 1);
  if (config.spectralNorm) {
    // Before the optimizer is made: it learns weight_orig, and u and v join D's checkpoint.
    const directions = new Rng(config.seed + 2);
    for (const [, m] of discriminator.namedModules()) if (m instanceof Conv2d) spectralNorm(m, { generator: directions });
  }
  const betas: [number, number] = [config.beta1, 0.999];
  const lrNew = config.lrNew ?? config.lr;
  // A fine-tuned G: its class embedding is new, the rest pretrained.
  const fresh = generator instanceof BigGANGenerator && config.generatorInit !== 'scratch' ? [generator.shared.weight] : [];
  const groupsG = [{ params: fresh, lr: lrNew }, { params: generator.parameters().filter((p) => !fresh.includes(p)) }].filter((g) => g.params.length);
  return {
    generator,
    discriminator,
    optimizerG: new Adam(groupsG, { lr: config.lr, betas }),
    optimizerD: new Adam(discriminator.parameters(), { lr: lrNew, betas }),
    loss: config.loss,
  };
}

async function saveCganCheckpoint(dir: string, gan: Gan, state: CganState, average: ExponentialAverage<TrainableGenerator> | null): Promise<void> {
  const G = gan.generator;
  const converted = { format: G instanceof BigGANGenerator ? 'biggan-generator' : 'dcgan-generator', config: G.config, tensors: new Map() };
  await writeCheckpoint(dir, [
    { name: 'generator', tensors: G.stateDict(), metadata: conversionMetadata(converted) },
    ...(average ? [{ name: 'generator_ema', tensors: average.average.stateDict(), metadata: conversionMetadata(converted) }] : []),
    { name: 'discriminator', tensors: gan.discriminator.stateDict(), metadata: { format: 'dcgan-discriminator', config: JSON.stringify(gan.discriminator.config) } },
    { name: 'optimizerG', tensors: gan.optimizerG.stateTensors(), metadata: { format: 'adam' } },
    { name: 'optimizerD', tensors: gan.optimizerD.stateTensors(), metadata: { format: 'adam' } },
  ], state);
}

function restoreCganCheckpoint(dir: string, gan: Gan, average: ExponentialAverage<TrainableGenerator> | null): CganState {
  recoverCheckpoint(dir);
  const at = join(dir, CHECKPOINT);
  if (!existsSync(join(at, 'state.json'))) throw new Error(`no checkpoint in ${dir} (expected ${at}/state.json)`);
  const state = JSON.parse(readFileSync(join(at, 'state.json'), 'utf8')) as CganState;
  gan.generator.loadStateDict(loadValues(join(at, 'generator.safetensors')), { source: at });
  gan.discriminator.loadStateDict(loadValues(join(at, 'discriminator.safetensors')), { source: at });
  if (average) {
    const file = join(dir, CGAN_GENERATOR_AVERAGE);
    if (!existsSync(file) || state.emaUpdates === undefined) throw new Error(`--resume: the run averages G's weights (emaDecay ${average.decay}) but its checkpoint has no average (${file})`);
    average.average.loadStateDict(loadValues(file), { source: file });
    average.updates = state.emaUpdates;
  }
  restoreOptimizer(join(at, 'optimizerG.safetensors'), gan.optimizerG, state.adamStepsG);
  restoreOptimizer(join(at, 'optimizerD.safetensors'), gan.optimizerD, state.adamStepsD);
  return state;
}

/** A row per class, fixed noise (the seed's), G in eval mode (running statistics), as `sample` will draw it: every epoch's grid of a run draws the same z. */
export async function cganGrid(G: TrainableGenerator, config: CganConfig, path: string): Promise<void> {
  const K = config.classNames.length;
  const n = K * config.gridPerClass;
  const z = new Rng(config.seed + 1).fillNormal(new Float32Array(n * config.dimZ));
  const classes = Array.from({ length: n }, (_, i) => Math.floor(i / config.gridPerClass));
  const training = G.training;
  G.eval();
  const images = noGrad(() => scope(() => G.forward(tensor(z, [n, config.dimZ]), classes)));
  G.train(training);
  const values = (await images.data()) as Float32Array;
  images.dispose();
  writeImageGrid(path, values, [n, 3, 32, 32], config.gridPerClass, { rowLabels: config.classNames });
}

function writeCganCurves(dir: string, history: CganRecord[], stepsPerEpoch: number): void {
  if (history.length === 0) return;
  const png = plotCurves(
    [
      { label: "Discriminator's loss", axis: 'loss D', points: history.map((h) => [h.step, h.lossD]) },
      { label: "Generator's loss", axis: 'loss G', points: history.map((h) => [h.step, h.lossG]) },
      { label: "D's mean logit on the real batch", axis: 'logit', points: history.map((h) => [h.step, h.dReal]) },
      { label: "D's mean logit on G's batch", axis: 'logit', points: history.map((h) => [h.step, h.dFake]) },
    ],
    { stepsPerEpoch },
  );
  writeFileAtomic(join(dir, 'curves.png'), png);
}

export interface CganOptions {
  resume?: boolean;
  stopSignal?: { stop: boolean };
  quiet?: boolean;
  onStep?: (record: CganRecord) => void;
  /** The training images (tests pass a small set); default: config.data's training split. */
  data?: LabelledBytes;
  /** Grades G (in eval mode) every config.gradeEvery steps and at the end; the CLI passes the frozen classifier and judges. */
  grade?: (generator: TrainableGenerator, samples: number) => Promise<Pick<CganGrade, 'frozen' | 'judges'>>;
}

function writeJudgeCurve(dir: string, grades: CganGrade[]): void {
  if (grades.length === 0) return;
  const minutes = (g: CganGrade) => g.trainMinutes;
  const series = [
    { label: "The frozen classifier's accuracy on G's samples", axis: 'accuracy', points: grades.map((g): [number, number] => [minutes(g), g.frozen]) },
    ...Object.keys(grades[0].judges).map((name) => ({
      label: `The ${name} judge's accuracy on G's samples`,
      axis: 'accuracy',
      points: grades.map((g): [number, number] => [minutes(g), g.judges[name]]),
    })),
  ];
  writeFileAtomic(join(dir, 'judge-curve.png'), plotCurves(series, { xLabel: 'training minutes (the steps alone)' }));
}

export async function trainCgan(config: CganConfig, options: CganOptions = {}): Promise<{ history: CganRecord[]; interrupted: boolean }> {
  prepareRunFolder(config.out, { resume: options.resume });
  mkdirSync(config.out, { recursive: true });
  const log = (line: string) => {
    if (!options.quiet) console.log(line);
  };
  const all = options.data ?? loadFashionMnistBytes(config.data, 'train');
  const data = config.trainImages ? balancedSubset(all, config.trainImages, config.classNames.length, config.seed) : all;
  // Batches are read pass after pass over the shuffled images. A run's epoch is one pass, or,
  // when the images make fewer batches than an epoch has steps (a small --train-images), as
  // many passes as it takes.
  const perPass = Math.min(config.stepsPerEpoch, Math.floor(data.labels.length / config.batch));
  if (perPass < 1) throw new Error(`--batch ${config.batch}: more than the ${data.labels.length} training images`);
  const gan = buildGan(config);
  // The average starts as G's copy: the same file or seed gives the same initial weights. It only samples.
  const average = config.emaDecay ? new ExponentialAverage(gan.generator, buildGenerator(config).eval(), config.emaDecay) : null;
  const sampler = average?.average ?? gan.generator;
  const rng = new Rng(config.seed);
  let state: CganState = { step: 0, adamStepsG: 0, adamStepsD: 0, rng: rng.getState() };
  const metricsPath = join(config.out, 'metrics.jsonl');
  const gradesPath = join(config.out, 'grades.jsonl');
  if (options.resume) {
    state = restoreCganCheckpoint(config.out, gan, average);
    rng.setState(state.rng);
    for (const path of [metricsPath, gradesPath]) {
      if (!existsSync(path)) continue;
      const kept = readMetrics<{ step: number }>(path).filter((r) => r.step <= state.step);
      writeFileAtomic(path, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
    }
  } else {
    writeFileAtomic(join(config.out, 'config.json'), JSON.stringify(config, null, 2));
    writeFileAtomic(metricsPath, '');
  }
  const total = config.epochs * config.stepsPerEpoch;
  const history = readMetrics<CganRecord>(metricsPath);
  const grades = existsSync(gradesPath) ? readMetrics<CganGrade>(gradesPath) : [];
  const gradeEvery = options.grade ? (config.gradeEvery ?? 0) : 0;
  const every = Math.max(1, Math.round(total / 20));
  let order: Int32Array | null = null;
  let orderPass = -1;
  let interrupted = false;
  let rate = 0;
  while (state.step < total) {
    const t0 = performance.now();
    const epoch = Math.floor(state.step / config.stepsPerEpoch);
    const pass = Math.floor(state.step / perPass);
    if (pass !== orderPass) [order, orderPass] = [passOrder(data.labels.length, config.seed, pass), pass];
    const at = (state.step % perPass) * config.batch;
    const picked = order!.subarray(at, at + config.batch);
    const labels = Array.from(picked, (i) => data.labels[i]);
    const real = tensor(imagesOf(data, picked), [config.batch, 3, 32, 32]);
    const z = tensor(rng.fillNormal(new Float32Array(config.batch * config.dimZ)), [config.batch, config.dimZ]);
    const [lossD, lossG, dReal, dFake] = await ganStep(gan, real, labels, z);
    average?.update();
    real.dispose();
    z.dispose();
    if (![lossD, lossG].every(Number.isFinite)) {
      throw new Error(`the losses became D ${lossD}, G ${lossG} at step ${state.step + 1}; the last good checkpoint is in ${join(config.out, CHECKPOINT)}: try a lower --lr`);
    }
    state.step++;
    const record: CganRecord = { step: state.step, epoch: epoch + 1, lossD, lossG, dReal, dFake, seconds: (performance.now() - t0) / 1000 };
    history.push(record);
    if (state.step % config.logEvery === 0 || state.step === total) appendFileSync(metricsPath, `${JSON.stringify(record)}\n`);
    options.onStep?.(record);
    rate = rate ? 0.9 * rate + 0.1 / record.seconds : 1 / record.seconds;
    if (state.step % every === 0 || state.step === total || history.length === 1) {
      log(
        `step ${state.step}/${total} epoch ${record.epoch} | ${rate.toFixed(2)} steps/s | ETA ${Math.round((total - state.step) / rate)}s | ` +
          `loss D ${lossD.toFixed(4)} G ${lossG.toFixed(4)} | D logit real ${dReal.toFixed(3)} fake ${dFake.toFixed(3)}`,
      );
    }
    const epochEnd = state.step % config.stepsPerEpoch === 0;
    if (epochEnd || options.stopSignal?.stop) {
      state.rng = rng.getState();
      state.adamStepsG = gan.optimizerG.stepCount;
      state.adamStepsD = gan.optimizerD.stepCount;
      if (average) state.emaUpdates = average.updates;
      await saveCganCheckpoint(config.out, gan, state, average);
    }
    if (epochEnd) {
      await cganGrid(sampler, config, join(config.out, `samples_epoch${String(record.epoch).padStart(2, '0')}.png`));
      writeCganCurves(config.out, history, config.stepsPerEpoch);
    }
    if (gradeEvery > 0 && (state.step % gradeEvery === 0 || state.step === total)) {
      const samples = config.gradeSamples ?? 500;
      const training = sampler.training;
      sampler.eval();
      const graded = await options.grade!(sampler, samples);
      sampler.train(training);
      const trainMinutes = history.reduce((t, h) => t + h.seconds, 0) / 60;
      const grade: CganGrade = { step: state.step, epoch: record.epoch, trainMinutes, samples, ...graded };
      grades.push(grade);
      appendFileSync(gradesPath, `${JSON.stringify(grade)}\n`);
      writeJudgeCurve(config.out, grades);
      const judges = Object.entries(graded.judges).map(([name, a]) => ` ${name} ${a.toFixed(3)}`).join('');
      log(`graded at step ${state.step} (${trainMinutes.toFixed(1)} training minutes, ${samples} samples): frozen ${graded.frozen.toFixed(3)}${judges}`);
    }
    if (options.stopSignal?.stop && state.step < total) {
      interrupted = true;
      break;
    }
  }
  writeCganCurves(config.out, history, config.stepsPerEpoch);
  for (const m of [gan.generator, gan.discriminator, ...(average ? [average.average] : [])]) m.dispose();
  gan.optimizerG.dispose();
  gan.optimizerD.dispose();
  return { history, interrupted };
}
