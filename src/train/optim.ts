// Optimizers (PyTorch's torch.optim in camelCase): Adam, which the trainers need, and from
// torch.optim.swa_utils the exponential moving average of weights, which the cGAN samples from,
// and update_bn, which gives that average batchnorm statistics of its own weights.
import { keep, scope, tensor, type Tensor } from '../engine/tensor.js';
import { adamStepKernel, biasCorrections, type AdamHyper } from '../kernels/adam.js';
import { lerp_ } from '../kernels/average.js';
import { zeros } from '../kernels/creation.js';
import { noGrad } from '../engine/autograd.js';
import { NormBase, type Module } from '../models/module.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** PyTorch's parameter group: parameters with a learning rate of their own. */
export interface ParamGroup {
  params: Tensor[];
  lr?: number;
}

export class Adam {
  readonly hyper: AdamHyper;
  readonly params: Tensor[];
  stepCount = 0;
  private moments: { m: Tensor; v: Tensor }[];
  /** Each parameter's learning rate (its group's, or options.lr). */
  private readonly lrs: number[];

  /** Parameters, or groups of them with learning rates of their own (in order: the state's indices). */
  constructor(params: Tensor[] | ParamGroup[], options: AdamOptions = {}) {
    const [beta1, beta2] = options.betas ?? [0.9, 0.999];
    this.hyper = { lr: options.lr ?? 1e-3, beta1, beta2, eps: options.eps ?? 1e-8, weightDecay: options.weightDecay ?? 0 };
    const groups = params.length > 0 && 'params' in params[0] ? (params as ParamGroup[]) : [{ params: params as Tensor[] }];
    this.params = groups.flatMap((g) => g.params);
    this.lrs = groups.flatMap((g) => g.params.map(() => g.lr ?? this.hyper.lr));
    for (const p of this.params) {
      if (!p.requiresGrad) throw new Error(`Adam: parameter ${p.describe()} does not require grad`);
    }
    this.moments = this.params.map((p) => ({ m: keep(zeros(p.shape)), v: keep(zeros(p.shape)) }));
  }

  /** Apply one update to every parameter that has a gradient. */
  step(): void {
    const corrections = tensor(this.countStep());
    this.update(corrections);
    corrections.dispose();
  }

  /**
   * step() in two halves, for a replayed step (src/train/step.ts), where only GPU work repeats:
   * countStep() advances the step count on the host and gives the step's bias corrections;
   * update() applies the step with them, uploaded.
   */
  countStep(): Float32Array {
    this.stepCount++;
    return biasCorrections(this.stepCount, this.hyper);
  }

  update(corrections: Tensor): void {
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      const lr = this.lrs[i];
      adamStepKernel(p, p.grad, this.moments[i].m, this.moments[i].v, corrections, lr === this.hyper.lr ? this.hyper : { ...this.hyper, lr });
    });
  }

  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Moments in parameter order, for checkpoints: exp_avg / exp_avg_sq as torch names them. */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.moments.forEach(({ m, v }, i) => {
      out.set(`state.${i}.exp_avg`, m);
      out.set(`state.${i}.exp_avg_sq`, v);
    });
    return out;
  }

  /** Give the moments' GPU memory back (the optimizer cannot step after this). */
  dispose(): void {
    for (const { m, v } of this.moments) {
      m.dispose();
      v.dispose();
    }
    this.moments = [];
  }
}

/**
 * An exponential moving average of a model's weights: torch.optim.swa_utils.AveragedModel with
 * get_ema_multi_avg_fn(decay) and use_buffers=True, so batchnorm's running statistics are
 * averaged with the parameters. `average` is a second model of the same layout that starts as a
 * copy of `model`; update() after each optimizer step moves it toward `model` by 1 - d, where d
 * warms up as TensorFlow's ExponentialMovingAverage with num_updates, min(decay, (1 + n) / (10 + n))
 * for the n-th update from 0, so the first updates are not held at the initial weights.
 */
export class ExponentialAverage<M extends Module = Module> {
  /** Updates so far: what a checkpoint keeps to continue the warm-up where it was. */
  updates = 0;
  private readonly pairs: [Tensor, Tensor][];

  constructor(readonly model: Module, readonly average: M, readonly decay: number) {
    if (!(decay >= 0 && decay < 1)) throw new Error(`ExponentialAverage: the decay must be in [0, 1), got ${decay}`);
    const averaged = average.stateDict();
    this.pairs = [...model.stateDict()].flatMap(([key, t]): [Tensor, Tensor][] => {
      const a = averaged.get(key);
      if (!a) throw new Error(`ExponentialAverage: the average has no '${key}'`);
      return t.dtype === 'float32' ? [[a, t]] : [];
    });
  }

  /** The decay of the next update. */
  get currentDecay(): number {
    return Math.min(this.decay, (1 + this.updates) / (10 + this.updates));
  }

  update(): void {
    const weight = 1 - this.currentDecay;
    for (const [a, t] of this.pairs) lerp_(a, t, weight);
    this.updates++;
  }
}

/**
 * torch.optim.swa_utils.update_bn: recompute every batchnorm's running statistics in `model` as
 * the plain average over `batches` training-mode forward passes (each batchnorm's momentum null
 * meanwhile, torch's momentum=None), without gradients. An average of weights needs this: the
 * statistics it averaged were measured on other weights. BigGAN calls them standing statistics
 * (Brock et al. 2019). `forward(k)` runs the k-th batch. Momenta and the model's mode are restored
 * after; the number of batchnorms is returned (0: nothing to update).
 */
export function updateBn(model: Module, batches: number, forward: (k: number) => void): number {
  if (!(Number.isInteger(batches) && batches >= 1)) throw new Error(`updateBn: batches must be a whole number of at least 1, got ${batches}`);
  const norms = [...model.namedModules()].map(([, m]) => m).filter((m): m is NormBase => m instanceof NormBase);
  if (norms.length === 0) return 0;
  const momenta = norms.map((n) => n.momentum);
  const wasTraining = model.training;
  for (const n of norms) {
    n.resetRunningStats();
    n.momentum = null;
  }
  model.train();
  try {
    for (let k = 0; k < batches; k++) noGrad(() => scope(() => void forward(k)));
  } finally {
    norms.forEach((n, i) => (n.momentum = momenta[i]));
    model.train(wasTraining);
  }
  return norms.length;
}
