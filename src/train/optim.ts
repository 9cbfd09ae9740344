// Optimizers (PyTorch's torch.optim in camelCase). Only Adam is needed by the trainer.
import { keep, tensor, type Tensor } from '../engine/tensor.js';
import { adamStepKernel, biasCorrections, type AdamHyper } from '../kernels/adam.js';
import { zeros } from '../kernels/creation.js';

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
