// The training loop: only the input generator learns (Adam); G and the classifier stay frozen.
// A run folder holds the config, a checkpoint saved every epoch (and on Ctrl-C), metrics.jsonl,
// a sample grid per epoch, the curves, and the final report.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { Rng } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { float32Values, readSafetensors, writeSafetensors } from '../models/checkpoint/index.js';
import { hostStateDict } from '../models/module.js';
import { loadClassifier, loadGenerator } from '../models/load.js';
import { type AnchorChoice, chooseAnchors, firstRows, labelPool } from './anchors.js';
import { latentClassifierPath, readLatentClassifier, writeLatentClassifier } from './latentClassifierFile.js';
import { chooseComponents, COMPONENTS_FILE, readComponentChoice, writeComponentChoice } from './components.js';
import { fsyncFile, prepareRunFolder, writeFileAtomic } from './files.js';
import { writeImageGrid } from './images.js';
import { InputGenerator, type LatentSampler } from './inputGenerator.js';
import { Adam } from './optim.js';
import { ConditioningPipeline, type LossWeights } from './pipeline.js';
import { plotCurves } from './plot.js';
import { measurePriorRange, priorRangeTensors, type PriorRange } from './priorRange.js';
import { generateImages, stepReplay, trainingStep } from './step.js';
import { terminalStderr } from './terminal.js';

export interface TrainConfig {
  generator: string;
  classifier: string;
  classNames: string[] | null;
  epochs: number;
  /** An epoch is this many optimizer steps of `batch` freshly drawn (class, noise) pairs. */
  stepsPerEpoch: number;
  batch: number;
  lr: number;
  seed: number;
  classifierSize: number;
  generatorClass: number;
  /** A generator with a truncation (BigGAN-deep): the one its statistics are interpolated for. */
  truncation?: number;
  hidden: number;
  /** Gaussians per class in the input generator (absent in runs made before it existed: 1). */
  components?: number;
  /** Learn G's class vector too, starting on generatorClass (a class-conditional G only). */
  learnClassVector?: boolean;
  /** Prior samples the classifier labels to place the components (0 or absent: anchors stay at 0). */
  anchorPool?: number;
  /**
   * Prior samples the classifier labels to train the classifier on z of the latent-filter sampler
   * (latentClassifier.ts), whose report follows the input generator's (0 or absent: none). The
   * anchors take the first anchorPool of the same pool.
   */
  latentPool?: number;
  /** The most confident samples of each class that the anchors are picked from. */
  anchorCandidates?: number;
  /** How anchors are picked among the candidates (anchors.ts; absent: 'farthest', as runs before it). */
  anchorChoice?: AnchorChoice;
  /**
   * After training, leave out of sampling the components the frozen classifier gives their class
   * less often than this (components.ts; 0 or absent: every component is sampled).
   */
  keepComponentsAbove?: number;
  minSigma: number;
  /** InputGeneratorConfig.initialSigma (absent: the layer's own initialisation). */
  initialSigma?: number;
  /** InputGeneratorConfig.freeComponents: each component's mean offset and sigma its own parameters. */
  freeComponents?: boolean;
  /** InputGeneratorConfig.fixedMeans: with freeComponents, only the sigmas learn. */
  fixedMeans?: boolean;
  weights: LossWeights;
  logEvery: number;
  gridPerClass: number;
  out: string;
}

export interface StepRecord {
  step: number;
  epoch: number;
  loss: number;
  crossEntropy: number;
  accuracy: number;
  meanSigma: number;
  seconds: number;
}

export class NonFiniteLossError extends Error {}

interface RunState {
  step: number;
  adamSteps: number;
  rng: number[];
}

const CHECKPOINT = 'checkpoint';
const ANCHORS = 'anchors.json';
/** Draws per component when choosing the kept ones: 2,560 images for 10 classes x 16. */
const KEEP_SAMPLES = 16;

// The step and the image generation are node-free (the demo page runs them); re-exported here.
export { generateImages, stepReplay, trainingStep };

export async function buildPipeline(config: TrainConfig): Promise<ConditioningPipeline> {
  const generator = await loadGenerator(config.generator);
  if (config.truncation !== undefined) {
    if (generator.truncation === undefined) {
      throw new Error(`--truncation: the generator ${config.generator} has no truncation (only BigGAN-deep has one)`);
    }
    generator.truncation = config.truncation;
  }
  const classifier = await loadClassifier(config.classifier);
  const inputGenerator = new InputGenerator(
    {
      numClasses: classifier.numClasses,
      dimZ: generator.dimZ,
      hidden: config.hidden,
      minSigma: config.minSigma,
      initialSigma: config.initialSigma,
      freeComponents: config.freeComponents,
      fixedMeans: config.fixedMeans,
      components: config.components ?? 1,
      generatorClasses: config.learnClassVector ? generator.numClasses : 0,
      startClass: config.generatorClass,
    },
    config.seed,
  );
  if (config.learnClassVector && generator.numClasses < 2) {
    throw new Error(`--learn-class-vector: the generator ${config.generator} has ${generator.numClasses} class; it needs a class-conditional one`);
  }
  return new ConditioningPipeline(generator, classifier, inputGenerator, config.classifierSize, config.generatorClass);
}

async function saveCheckpoint(dir: string, pipeline: ConditioningPipeline, optimizer: Adam, state: RunState): Promise<void> {
  await writeCheckpoint(dir, [
    { name: 'inputGenerator', tensors: pipeline.inputGenerator.stateDict(), metadata: { format: 'input-generator', config: JSON.stringify(pipeline.inputGenerator.config) } },
    { name: 'optimizer', tensors: optimizer.stateTensors(), metadata: { format: 'adam' } },
  ], state);
}

/** One file of a checkpoint: its tensors by key and its safetensors metadata. */
export interface CheckpointFile {
  name: string;
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/**
 * A run's checkpoint folder: each file as <name>.safetensors and `state` as state.json, written
 * into checkpoint.tmp and swapped in whole (recoverCheckpoint finishes a swap cut short).
 */
export async function writeCheckpoint(dir: string, files: CheckpointFile[], state: { step: number }): Promise<void> {
  const tmp = join(dir, `${CHECKPOINT}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const file of files) {
    const path = join(tmp, `${file.name}.safetensors`);
    writeSafetensors(path, await hostStateDict(file.tensors), file.metadata);
    fsyncFile(path);
  }
  // state.json last, atomically: a checkpoint.tmp that has it is complete (recoverCheckpoint).
  writeFileAtomic(join(tmp, 'state.json'), JSON.stringify(state, null, 1));
  await pauseForTest('written', state.step);
  // Swap folders only once everything is written: an interrupt mid-save keeps the last good one.
  const final = join(dir, CHECKPOINT);
  const old = join(dir, `${CHECKPOINT}.old`);
  rmSync(old, { recursive: true, force: true });
  if (existsSync(final)) renameSync(final, old);
  await pauseForTest('swapped', state.step);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
}

/**
 * Test hook: CGAN_PAUSE_SAVE=<phase>@<step> stops the save of that step at that phase and waits
 * to be killed (test/trainer.test.ts kills a run mid-save this way).
 */
async function pauseForTest(phase: 'written' | 'swapped', step: number): Promise<void> {
  if (process.env.CGAN_PAUSE_SAVE !== `${phase}@${step}`) return;
  console.log(`paused in saveCheckpoint: ${phase}@${step}`);
  await new Promise(() => setInterval(() => {}, 1000));
}

/**
 * Put the folders of a save that was interrupted back in order: a complete checkpoint.tmp
 * (it has state.json) whose swap was cut short after checkpoint moved to checkpoint.old is the
 * newest checkpoint; otherwise checkpoint (or, failing it, checkpoint.old) is.
 */
export function recoverCheckpoint(dir: string): void {
  const final = join(dir, CHECKPOINT);
  const tmp = join(dir, `${CHECKPOINT}.tmp`);
  const old = join(dir, `${CHECKPOINT}.old`);
  if (!existsSync(final)) {
    if (existsSync(join(tmp, 'state.json')) && existsSync(old)) renameSync(tmp, final);
    else if (existsSync(old)) renameSync(old, final);
  }
  rmSync(tmp, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}

export function loadValues(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  return float32Values(readSafetensors(path).tensors);
}

/** Restore the input generator (and optimizer, if given) from a run folder's checkpoint. */
export function restoreCheckpoint(dir: string, pipeline: ConditioningPipeline, optimizer?: Adam): RunState {
  recoverCheckpoint(dir);
  const at = join(dir, CHECKPOINT);
  if (!existsSync(join(at, 'state.json'))) throw new Error(`no checkpoint in ${dir} (expected ${at}/state.json)`);
  pipeline.inputGenerator.loadStateDict(loadValues(join(at, 'inputGenerator.safetensors')), { source: at });
  const state = JSON.parse(readFileSync(join(at, 'state.json'), 'utf8')) as RunState;
  if (optimizer) restoreOptimizer(join(at, 'optimizer.safetensors'), optimizer, state.adamSteps);
  const choice = join(dir, COMPONENTS_FILE);
  if (existsSync(choice)) {
    const ig = pipeline.inputGenerator;
    ig.kept = readComponentChoice(choice, readFileSync(choice, 'utf8'), pipeline.numClasses, ig.components).kept;
  }
  return state;
}

/** Adam's moments from a checkpoint file, and its step count. */
export function restoreOptimizer(path: string, optimizer: Adam, steps: number): void {
  const moments = loadValues(path);
  for (const [k, t] of optimizer.stateTensors()) {
    const v = moments.get(k);
    if (!v || v.shape.join() !== t.shape.join()) throw new Error(`${path}: '${k}' missing or of the wrong shape`);
    t.copy_(v.data);
  }
  optimizer.stepCount = steps;
}

/** Fixed noise per class so that the grids of successive epochs compare; a row per class, named. */
export async function sampleGrid(
  pipeline: ConditioningPipeline<LatentSampler>,
  perClass: number,
  seed: number,
  path: string,
  classNames: string[] | null = null,
): Promise<void> {
  const rng = new Rng(seed);
  const n = pipeline.numClasses * perClass;
  const classes = Array.from({ length: n }, (_, i) => Math.floor(i / perClass));
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const eps = rng.fillNormal(new Float32Array(n * dimZ));
  const images = await generateImages(pipeline, classes, eps, pipeline.inputGenerator.drawComponents(classes, rng));
  const r = pipeline.generator.resolution;
  const rowLabels = Array.from({ length: pipeline.numClasses }, (_, k) => classNames?.[k] ?? `class ${k}`);
  writeImageGrid(path, images, [n, 3, r, r], perClass, { rowLabels });
}

export interface TrainOptions {
  resume?: boolean;
  /** Called after each step (tests use it to interrupt). */
  onStep?: (record: StepRecord) => void;
  /** Set to true from outside (SIGINT) to stop after the current step, saving state. */
  stopSignal?: { stop: boolean };
  quiet?: boolean;
  /**
   * Record the training step once and replay it (default true; src/engine/capture.ts): the same
   * numbers as eager steps, bit for bit, with a fraction of the host work. false: every step eager.
   */
  replay?: boolean;
}

export interface TrainResult {
  pipeline: ConditioningPipeline;
  history: StepRecord[];
  interrupted: boolean;
}

/** metrics.jsonl's records; a last line cut short by a kill mid-append is dropped. */
export function readMetrics<R extends { step: number } = StepRecord>(path: string): R[] {
  if (!existsSync(path)) return [];
  const records: R[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    try {
      if (line) records.push(JSON.parse(line) as R);
    } catch {
      break;
    }
  }
  return records;
}

export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  prepareRunFolder(config.out, { resume: options.resume });
  mkdirSync(config.out, { recursive: true });
  const pipeline = await buildPipeline(config);
  const optimizer = new Adam(pipeline.inputGenerator.parameters(), { lr: config.lr });
  const rng = new Rng(config.seed);
  let state: RunState = { step: 0, adamSteps: 0, rng: rng.getState() };
  const metricsPath = join(config.out, 'metrics.jsonl');
  if (options.resume) {
    state = restoreCheckpoint(config.out, pipeline, optimizer);
    restorePlacement(config, pipeline);
    rng.setState(state.rng);
    // Keep only the metrics up to the checkpoint: the resumed run rewrites what came after.
    const kept = readMetrics(metricsPath).filter((r) => r.step <= state.step);
    writeFileAtomic(metricsPath, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  } else {
    writeFileAtomic(join(config.out, 'config.json'), JSON.stringify(config, null, 2));
    writeFileAtomic(metricsPath, '');
    await placeComponents(config, pipeline, options.quiet ?? false);
  }

  const totalSteps = config.epochs * config.stepsPerEpoch;
  const history = readMetrics(metricsPath);
  const progress = makeProgress(totalSteps, state.step, options.quiet ?? false);
  let interrupted = false;
  const replay = options.replay === false ? undefined : stepReplay(pipeline, optimizer, config.weights);
  try {
    while (state.step < totalSteps) {
      const t0 = performance.now();
      const [loss, ce, correct, meanSigma] = await trainingStep(pipeline, optimizer, config.batch, rng, config.weights, replay);
      if (!Number.isFinite(loss)) {
        throw new NonFiniteLossError(
          `the loss became ${loss} at step ${state.step + 1} (cross-entropy ${ce}, mean sigma ${meanSigma}); ` +
            `the last good checkpoint is in ${join(config.out, CHECKPOINT)} — try a lower --lr`,
        );
      }
      state.step++;
      state.adamSteps = optimizer.stepCount;
      const record: StepRecord = {
        step: state.step,
        epoch: Math.ceil(state.step / config.stepsPerEpoch),
        loss,
        crossEntropy: ce,
        accuracy: correct / config.batch,
        meanSigma,
        seconds: (performance.now() - t0) / 1000,
      };
      history.push(record);
      // Appends stay cheap: one line per write; readMetrics drops a line cut short by a kill.
      if (state.step % config.logEvery === 0 || state.step === totalSteps) appendFileSync(metricsPath, `${JSON.stringify(record)}\n`);
      progress.update(record);
      options.onStep?.(record);

      const epochEnd = state.step % config.stepsPerEpoch === 0;
      if (epochEnd || options.stopSignal?.stop) {
        state.rng = rng.getState();
        await saveCheckpoint(config.out, pipeline, optimizer, state);
      }
      if (epochEnd) {
        const grid = join(config.out, `samples_epoch${String(record.epoch).padStart(2, '0')}.png`);
        await sampleGrid(pipeline, config.gridPerClass, config.seed + 1, grid, config.classNames);
        writeCurves(config.out, history, config.stepsPerEpoch);
      }
      if (options.stopSignal?.stop && state.step < totalSteps) {
        interrupted = true;
        break;
      }
    }
  } finally {
    progress.stop();
    replay?.dispose();
  }
  writeCurves(config.out, history, config.stepsPerEpoch);
  if (!interrupted) await keepComponents(config, pipeline, options.quiet ?? false);
  return { pipeline, history, interrupted };
}

/** The components the trained sampler draws from (components.ts), and the last grid redrawn with them. */
async function keepComponents(config: TrainConfig, pipeline: ConditioningPipeline, quiet: boolean): Promise<void> {
  const threshold = config.keepComponentsAbove ?? 0;
  if (!(threshold > 0) || pipeline.inputGenerator.components === 1) return;
  const t0 = performance.now();
  const choice = await chooseComponents(pipeline, { threshold, samples: KEEP_SAMPLES, seed: config.seed + 3 });
  writeComponentChoice(join(config.out, COMPONENTS_FILE), choice);
  pipeline.inputGenerator.kept = choice.kept;
  const epochs = String(config.epochs).padStart(2, '0');
  await sampleGrid(pipeline, config.gridPerClass, config.seed + 1, join(config.out, `samples_epoch${epochs}.png`), config.classNames);
  if (!quiet) {
    const total = choice.accuracy.flat().length;
    const kept = choice.kept.flat().length;
    const dropped = choice.kept.flatMap((row, c) => (row.length < choice.accuracy[c].length ? [`${config.classNames?.[c] ?? `class ${c}`} ${row.length}`] : []));
    console.log(
      `components: ${kept} of ${total} kept, those the frozen classifier gives their class on >= ${threshold} of ${KEEP_SAMPLES} draws ` +
        `(${((performance.now() - t0) / 1000).toFixed(1)} s; ${COMPONENTS_FILE})${dropped.length ? `; fewer for ${dropped.join(', ')}` : ''}`,
    );
  }
}

/**
 * Anchors for the components (saved with the input generator, so a resumed run keeps them) and,
 * for the prior-range term, the range of G's prior samples per class (kept in anchors.json); and,
 * with a latentPool, the classifier on z of the latent-filter sampler, kept in the run folder.
 * One labelled pool serves both: the anchors take its first anchorPool rows, the very draws and
 * labels a pool of that size alone would give, so a latent pool leaves training as it was.
 */
async function placeComponents(config: TrainConfig, pipeline: ConditioningPipeline, quiet: boolean): Promise<void> {
  const components = config.components ?? 1;
  const pool = config.anchorPool ?? 0;
  const latentPool = config.latentPool ?? 0;
  const wantsRange = (config.weights.priorRange ?? 0) > 0;
  const wantsAnchors = pool > 0 && (components > 1 || wantsRange);
  if (!wantsAnchors && latentPool === 0) return;
  const total = Math.max(wantsAnchors ? pool : 0, latentPool);
  if (!quiet) {
    const uses = [
      ...(wantsAnchors ? [`${components > 1 ? `to place ${components} components per class` : 'to measure the prior range'} (the first ${pool})`] : []),
      ...(latentPool > 0 ? [`to train the classifier on z of the latent-filter sampler (${latentPool === total ? 'all' : `the first ${latentPool}`})`] : []),
    ];
    console.log(`the classifier labels ${total} samples of G's prior, ${uses.join(' and ')}`);
  }
  const t0 = performance.now();
  let printed = 0;
  const options = {
    pool,
    candidates: config.anchorCandidates ?? 128,
    choice: config.anchorChoice,
    seed: config.seed + 2,
    onProgress: (done: number, all: number) => {
      const quarter = Math.floor((4 * done) / all);
      if (!quiet && quarter > printed && done < all) console.log(`labelled ${done}/${all}`);
      printed = quarter;
    },
  };
  // Batches of 256 label about 1.2x faster than 64 on lavapipe, and give the same bits (each row's labels are its own).
  const labelledAll = await labelPool(pipeline, { ...options, pool: total, batch: 256 });
  if (!quiet) console.log(`labelled ${total} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (wantsAnchors) {
    const labelled = firstRows(labelledAll, pool);
    const anchors = components > 1 ? await chooseAnchors(pipeline, components, options, labelled) : null;
    if (anchors) pipeline.inputGenerator.setAnchors(anchors.values);
    const range = wantsRange ? measurePriorRange(labelled.probs, labelled.features, pipeline.numClasses) : undefined;
    if (range) pipeline.priorRange = priorRangeTensors(range);
    writeFileAtomic(join(config.out, ANCHORS), JSON.stringify({ pool, confidence: anchors?.confidence ?? [], priorRange: range }, null, 1));
    if (!quiet && anchors) {
      const lowest = Math.min(...anchors.confidence.flat());
      console.log(`anchors placed; lowest confidence ${lowest.toFixed(3)} (anchors.json)`);
      const unsure = anchors.confidence.flatMap((c, k) => (c[0] < 0.5 ? [config.classNames?.[k] ?? `class ${k}`] : []));
      if (unsure.length) console.log(`warning: no latent in the pool the classifier gives 0.5 for ${unsure.join(', ')}; a larger --anchor-pool helps`);
    }
    if (!quiet && range) {
      console.log(`prior range measured on ${Math.min(...range.support)}-${Math.max(...range.support)} pool samples a class (anchors.json)`);
    }
  }
  if (latentPool > 0) {
    const log = quiet ? () => {} : (line: string) => console.log(line);
    const onZ = await writeLatentClassifier(latentClassifierPath(config.out, latentPool), firstRows(labelledAll, latentPool), pipeline.numClasses, config.seed, log);
    if ((config.weights.latentClass ?? 0) > 0) pipeline.latentClassifier = onZ.requiresGrad_(false);
  }
}

/** A resumed run's prior range and classifier on z, as placeComponents saved them. */
function restorePlacement(config: TrainConfig, pipeline: ConditioningPipeline): void {
  if ((config.weights.latentClass ?? 0) > 0) {
    const path = latentClassifierPath(config.out, config.latentPool ?? 0);
    const onZ = readLatentClassifier(path, pipeline.inputGenerator.config.dimZ, pipeline.numClasses);
    if (!onZ) throw new Error(`${path}: missing; the run cannot resume with the latent-class term (--latent-class-weight) without its classifier on z`);
    pipeline.latentClassifier = onZ.requiresGrad_(false);
  }
  if (!((config.weights.priorRange ?? 0) > 0)) return;
  const path = join(config.out, ANCHORS);
  const saved = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { priorRange?: PriorRange }) : {};
  if (!saved.priorRange) throw new Error(`${path}: no priorRange saved; the run cannot resume with the prior-range term`);
  pipeline.priorRange = priorRangeTensors(saved.priorRange);
}

export function writeCurves(dir: string, history: StepRecord[], stepsPerEpoch?: number): void {
  if (history.length === 0) return;
  const png = plotCurves(
    [
      { label: 'Loss (cross-entropy + regularisers)', axis: 'loss', points: history.map((h) => [h.step, h.loss]) },
      { label: 'Frozen-classifier accuracy on the training batch', axis: 'accuracy', points: history.map((h) => [h.step, h.accuracy]) },
      { label: 'Mean σ of the input generator', axis: 'mean σ', points: history.map((h) => [h.step, h.meanSigma]) },
    ],
    { stepsPerEpoch },
  );
  writeFileAtomic(join(dir, 'curves.png'), png);
}

interface Progress {
  update(r: StepRecord): void;
  stop(): void;
}

/** A live bar on a terminal; plain lines (every ~5%) otherwise, e.g. in CI logs. */
function makeProgress(total: number, start: number, quiet: boolean): Progress {
  if (quiet) return { update() {}, stop() {} };
  let rate = 0;
  const terminal = terminalStderr();
  if (terminal) {
    const bar = new cliProgress.SingleBar(
      { format: 'train [{bar}] {value}/{total} | {rate} steps/s | ETA {eta_formatted} | loss {loss} | acc {acc}', stream: terminal },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, start, { rate: '-', loss: '-', acc: '-' });
    return {
      update(r) {
        rate = rate ? 0.9 * rate + 0.1 / r.seconds : 1 / r.seconds;
        bar.update(r.step, { rate: rate.toFixed(2), loss: r.loss.toFixed(4), acc: r.accuracy.toFixed(3) });
      },
      stop: () => bar.stop(),
    };
  }
  const every = Math.max(1, Math.round(total / 20));
  return {
    update(r) {
      rate = rate ? 0.9 * rate + 0.1 / r.seconds : 1 / r.seconds;
      if (r.step % every === 0 || r.step === total || r.step === start + 1) {
        const eta = (total - r.step) / rate;
        console.log(
          `step ${r.step}/${total} epoch ${r.epoch} | ${rate.toFixed(2)} steps/s | ETA ${Math.round(eta)}s | loss ${r.loss.toFixed(4)} | acc ${r.accuracy.toFixed(3)} | sigma ${r.meanSigma.toFixed(3)}`,
        );
      }
    },
    stop() {},
  };
}
