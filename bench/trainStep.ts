// One training step of `npm run train` on the default pair, as the trainer's loop does it:
// input generator -> frozen BigGAN -> nearest upsample -> shift -> frozen VGG -> loss (cross-
// entropy + KL) -> backward -> Adam step, then the read-back of the step's statistics.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/engine/random.js';
import { runtime } from '../src/engine/runtime.js';
import { Adam } from '../src/train/optim.js';
import { TRAINING_DEFAULTS } from '../src/train/defaults.js';
import { buildPipeline, trainingStep, type TrainConfig } from '../src/train/trainer.js';
import { spread, type Spread, type TimingBudget } from './timing.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The default pair of `npm run train` (src/train/cli.ts DEFAULTS). */
export const DEFAULT_PAIR = {
  generator: join(ROOT, 'models', 'fmnist_biggan32_G.safetensors'),
  classifier: join(ROOT, 'models', 'fmnist_vgg_bn64.safetensors'),
};

export interface TrainStepResult {
  batch: number;
  /** wall-clock ms per step (queue drained by the statistics read-back, as in the trainer) */
  wall: Spread;
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

export function trainStepMissing(): string | null {
  const missing = Object.values(DEFAULT_PAIR).filter((p) => !existsSync(p));
  return missing.length ? `default models missing: ${missing.map((p) => p.slice(ROOT.length + 1)).join(', ')}` : null;
}

export async function timeTrainStep(budget: TimingBudget, batch = 64): Promise<TrainStepResult> {
  const config = defaultTrainConfig(batch);
  const pipeline = await buildPipeline(config);
  const optimizer = new Adam(pipeline.inputGenerator.parameters(), { lr: config.lr });
  const rng = new Rng(config.seed);
  const rt = runtime();

  const step = () => trainingStep(pipeline, optimizer, config.batch, rng, config.weights);

  // warm-up: pipelines compile on the first step
  let last = await step();
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
  optimizer.zeroGrad();
  return {
    batch,
    wall,
    imagesPerSec: (batch * 1000) / wall.median,
    submitsPerStep: (rt.stats.submits - s0.submits) / n,
    dispatchesPerStep: (rt.stats.dispatches - s0.dispatches) / n,
    check: {
      ok: finite,
      message: `loss ${last[0].toFixed(4)}, cross-entropy ${last[1].toFixed(4)}, batch accuracy ${(last[2] / batch).toFixed(3)}` +
        (finite ? '' : ' (not finite)'),
    },
  };
}
