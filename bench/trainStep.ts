// One training step of `npm run train` on the default pair, as the trainer's loop does it:
// input generator -> frozen BigGAN -> nearest upsample -> shift -> frozen VGG -> loss (cross-
// entropy + KL) -> backward -> Adam step, then the read-back of the step's statistics; recorded
// anew each step (eager) or recorded once and replayed (replay), alternated in one process.
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/engine/random.js';
import { runtime } from '../src/engine/runtime.js';
import { Adam } from '../src/train/optim.js';
import { noGrad } from '../src/engine/autograd.js';
import { scope, tensor } from '../src/engine/tensor.js';
import { buildGan, generatorDimZ, type CganConfig } from '../src/train/cgan.js';
import { CGAN_DEFAULTS, TRAINING_DEFAULTS } from '../src/train/defaults.js';
import { FASHION_MNIST_CLASSES } from '../src/train/fashionMnist.js';
import { ganStep } from '../src/train/ganStep.js';
import type { ConditioningPipeline } from '../src/train/pipeline.js';
import { priorRangeTensors, type PriorRangeTensors } from '../src/train/priorRange.js';
import { buildPipeline, stepReplay, trainingStep, type TrainConfig } from '../src/train/trainer.js';
import { spread, type Spread, type TimingBudget } from './timing.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The default pair of `npm run train` (src/train/cli.ts DEFAULTS). */
export const DEFAULT_PAIR = {
  generator: join(ROOT, 'models', 'fmnist_biggan32_G.safetensors'),
  classifier: join(ROOT, 'models', 'fmnist_vgg_bn64.safetensors'),
};

export interface TrainStepResult {
  /** 'eager': every step recorded anew; 'replay': recorded once, replayed (src/engine/capture.ts) */
  mode: 'eager' | 'replay';
  batch: number;
  /** wall-clock ms per step (queue drained by the statistics read-back, as in the trainer) */
  wall: Spread;
  /**
   * host ms per step: the JavaScript of trainingStep up to its first wait (draws, recording or
   * replaying, the submits and the read-back's copy), measured on the host
   */
  host: Spread;
  imagesPerSec: number;
  submitsPerStep: number;
  dispatchesPerStep: number;
  check: { ok: boolean; message: string };
}

/** `npm run train`'s defaults (src/train/defaults.ts), one epoch of one step. */
export function defaultTrainConfig(batch = TRAINING_DEFAULTS.batch): TrainConfig {
  return {
    ...TRAINING_DEFAULTS,
    generator: DEFAULT_PAIR.generator,
    classifier: DEFAULT_PAIR.classifier,
    classNames: null,
    epochs: 1,
    stepsPerEpoch: 1,
    batch,
    out: '',
  };
}

/**
 * A stand-in for the range the prior-range term measures on the anchor pool (which a bench does
 * not spend the time to label): zero means, unit variances, a radius no sample reaches. The step
 * does the same work with it.
 */
export function standInPriorRange(numClasses: number, features: number): PriorRangeTensors {
  return priorRangeTensors({
    mean: Array.from({ length: numClasses }, () => new Array<number>(features).fill(0)),
    invVar: new Array<number>(features).fill(1),
    radius: new Array<number>(numClasses).fill(1e30),
    support: new Array<number>(numClasses).fill(0),
    confidence: 0.9,
    quantile: 0.95,
  });
}

/** buildPipeline, with a stand-in prior range when the term is on (the default; one forward at batch 1 finds the feature size). */
export async function buildBenchPipeline(config: TrainConfig): Promise<ConditioningPipeline> {
  const pipeline = await buildPipeline(config);
  if ((config.weights.priorRange ?? 0) > 0) {
    const dimZ = pipeline.inputGenerator.config.dimZ;
    const features = noGrad(() => scope(() => pipeline.classify(pipeline.generate(tensor(new Float32Array(dimZ), [1, dimZ]))).features));
    pipeline.priorRange = standInPriorRange(pipeline.numClasses, features.shape[1]);
    features.dispose();
  }
  return pipeline;
}

export function trainStepMissing(): string | null {
  const missing = Object.values(DEFAULT_PAIR).filter((p) => !existsSync(p));
  return missing.length ? `default models missing: ${missing.map((p) => p.slice(ROOT.length + 1)).join(', ')}` : null;
}

/**
 * Eager and replayed steps of one pipeline, alternated step by step in this process (so that load
 * from other processes weighs on both alike), until the budget is spent: eager first, then replay.
 */
export async function timeTrainSteps(budget: TimingBudget, batch = 64): Promise<TrainStepResult[]> {
  const config = defaultTrainConfig(batch);
  const pipeline = await buildBenchPipeline(config);
  const optimizer = new Adam(pipeline.inputGenerator.parameters(), { lr: config.lr });
  const rng = new Rng(config.seed);
  const rt = runtime();
  const replay = stepReplay(pipeline, optimizer, config.weights);
  const modes = [
    { mode: 'eager' as const, replay: undefined },
    { mode: 'replay' as const, replay },
  ].map((m) => ({ ...m, wall: [] as number[], host: [] as number[], submits: 0, dispatches: 0, last: new Float32Array(4) as Float32Array }));

  // A full garbage collection before each timed step: else the eager step's garbage is collected
  // in whichever step comes next, and the replayed steps, which make little, pay for it.
  const collectGarbage = fullGc();
  const step = async (m: (typeof modes)[number], timed: boolean) => {
    collectGarbage();
    const s0 = { ...rt.stats };
    const t0 = performance.now();
    const pending = trainingStep(pipeline, optimizer, config.batch, rng, config.weights, m.replay);
    const t1 = performance.now();
    m.last = await pending;
    const t2 = performance.now();
    if (!timed) return;
    m.host.push(t1 - t0);
    m.wall.push(t2 - t0);
    m.submits += rt.stats.submits - s0.submits;
    m.dispatches += rt.stats.dispatches - s0.dispatches;
  };

  // warm-up: pipelines compile on the first eager step; the replay captures on its first
  for (const m of modes) await step(m, false);
  const start = performance.now();
  let n = 0;
  while (n < budget.maxReps && (n < budget.minReps || performance.now() - start < 2 * budget.budgetMs)) {
    for (const m of modes) await step(m, true);
    n++;
  }
  replay.dispose();
  optimizer.zeroGrad();
  return modes.map((m) => {
    const wall = spread(m.wall);
    const finite = Array.from(m.last).every(Number.isFinite);
    return {
      mode: m.mode,
      batch,
      wall,
      host: spread(m.host),
      imagesPerSec: (batch * 1000) / wall.median,
      submitsPerStep: m.submits / n,
      dispatchesPerStep: m.dispatches / n,
      check: {
        ok: finite,
        message: `loss ${m.last[0].toFixed(4)}, cross-entropy ${m.last[1].toFixed(4)}, batch accuracy ${(m.last[2] / batch).toFixed(3)}` +
          (finite ? '' : ' (not finite)'),
      },
    };
  });
}

/** V8's full garbage collection as a function (node needs no --expose-gc for this). */
export function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** The cGAN's DCGAN at its defaults, with `--upsampling nearest` or `--generator-conditioning batchnorm`, or the default BigGAN G fine-tuned. */
export type GanStepGenerator = 'dcgan' | 'dcgan-nearest' | 'dcgan-batchnorm' | 'transfer';

/**
 * One training step of `npm run cgan` at its defaults (src/train/defaults.ts CGAN_DEFAULTS): G
 * draws a batch, D learns from it and a real batch, G learns through the updated D, each network
 * with its own Adam, then the losses' read-back (src/train/ganStep.ts). Random "real" images: the
 * step costs the same on any data.
 */
export async function timeGanStep(
  budget: TimingBudget, batch = CGAN_DEFAULTS.batch, generator: GanStepGenerator = 'dcgan',
): Promise<Omit<TrainStepResult, 'mode' | 'host'>> {
  // 'transfer': the default pair's BigGAN generator fine-tuned (cgan --generator, with the transfer
  // table's learning rates) instead of the DCGAN; built as the command builds it.
  const transfer = generator === 'transfer'
    ? { generator: DEFAULT_PAIR.generator, generatorInit: 'pretrained' as const, lr: 5e-5, lrNew: 2e-4, dimZ: generatorDimZ(DEFAULT_PAIR.generator, FASHION_MNIST_CLASSES.length) }
    : generator === 'dcgan-nearest' ? { upsampling: 'nearest' as const }
    : generator === 'dcgan-batchnorm' ? { generatorConditioning: 'batchnorm' as const } : {};
  const config: CganConfig = {
    ...CGAN_DEFAULTS, method: 'cgan', data: '', classifier: '', classNames: FASHION_MNIST_CLASSES,
    stepsPerEpoch: 1, batch, out: '', ...transfer,
  };
  const gan = buildGan(config);
  const [G, D] = [gan.generator, gan.discriminator];
  const rng = new Rng(config.seed);
  const rt = runtime();
  const step = async () => {
    const real = tensor(rng.fillUniform(new Float32Array(batch * 3 * 32 * 32), -1, 1), [batch, 3, 32, 32]);
    const z = tensor(rng.fillNormal(new Float32Array(batch * config.dimZ)), [batch, config.dimZ]);
    const labels = Array.from({ length: batch }, () => rng.int(10));
    const out = await ganStep(gan, real, labels, z);
    real.dispose();
    z.dispose();
    return out;
  };
  let last = await step(); // warm-up: pipelines compile on the first step
  const s0 = { ...rt.stats };
  const times: number[] = [];
  const start = performance.now();
  while (times.length < budget.maxReps && (times.length < budget.minReps || performance.now() - start < budget.budgetMs)) {
    const t0 = performance.now();
    last = await step();
    times.push(performance.now() - t0);
  }
  const n = times.length;
  const wall = spread(times);
  const finite = Array.from(last).every(Number.isFinite);
  for (const m of [G, D]) m.dispose();
  gan.optimizerG.dispose();
  gan.optimizerD.dispose();
  return {
    batch,
    wall,
    imagesPerSec: (batch * 1000) / wall.median,
    submitsPerStep: (rt.stats.submits - s0.submits) / n,
    dispatchesPerStep: (rt.stats.dispatches - s0.dispatches) / n,
    check: { ok: finite, message: `loss D ${last[0].toFixed(4)}, loss G ${last[1].toFixed(4)}` + (finite ? '' : ' (not finite)') },
  };
}
