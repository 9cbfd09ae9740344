// Timing of the engine's kernels.
//
// GPU time: each timed repetition is recorded in its own compute pass with timestamp writes at
// its beginning and end (runtime().timeNextPass), submitted on its own and waited for; the
// query set is resolved and read back once per row.
// Wall-clock (the comparison with the peers, which have no GPU timer): k executions recorded back
// to back, one submit, one wait, divided by k (k > 1 for short ops, as the peers' runMany(k)),
// sampled round-robin with the peers.
import { create, globals } from 'webgpu';
import { init, runtime, type Runtime } from '../src/engine/runtime.js';
import { scope, type Tensor } from '../src/engine/tensor.js';

/**
 * Opens the engine on a Dawn instance of its own without timestamp quantization (Dawn rounds
 * timestamps to ~65 us by default), with Dawn's `flags` besides; the instance stays referenced for
 * the life of the process (the engine and tfjs share it).
 */
export async function initTimedEngine(flags: string[] = []): Promise<{ gpu: GPU; rt: Runtime }> {
  Object.assign(globalThis, globals);
  const gpu = create(['disable-dawn-features=timestamp_quantization', ...flags]) as unknown as GPU;
  (globalThis as { __benchGpu?: GPU }).__benchGpu = gpu;
  return { gpu, rt: await init(gpu) };
}

export interface Spread {
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  samples: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 1) return sorted[0];
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at), hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), q1: quantile(s, 0.25), q3: quantile(s, 0.75), min: s[0], max: s[s.length - 1], samples: s.length };
}

export interface TimingBudget {
  /** keep sampling until this much wall time went by ... */
  budgetMs: number;
  /** ... but take at least this many samples ... */
  minReps: number;
  /** ... and at most this many */
  maxReps: number;
}

/** Target duration of one batched wall-clock sample. */
const BATCH_TARGET_MS = 25;
const MAX_BATCH = 32;
const MAX_REPS = 256;

class TimestampReader {
  readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private readonly readBack: GPUBuffer;

  constructor(device: GPUDevice, readonly capacity: number) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * capacity });
    this.resolve = device.createBuffer({ size: 16 * capacity, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.readBack = device.createBuffer({ size: 16 * capacity, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** (end - begin) of the first `count` slot pairs, in milliseconds. */
  async read(device: GPUDevice, count: number): Promise<number[]> {
    const enc = device.createCommandEncoder();
    enc.resolveQuerySet(this.querySet, 0, 2 * count, this.resolve, 0);
    enc.copyBufferToBuffer(this.resolve, 0, this.readBack, 0, 16 * count);
    device.queue.submit([enc.finish()]);
    await this.readBack.mapAsync(GPUMapMode.READ, 0, 16 * count);
    const t = new BigUint64Array(this.readBack.getMappedRange(0, 16 * count).slice(0));
    this.readBack.unmap();
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push(Number(t[2 * i + 1] - t[2 * i]) / 1e6);
    return out;
  }
}

let reader: TimestampReader | null = null;

/** Run `fn` once and dispose whatever tensors it made. */
function once(fn: () => Tensor): void {
  scope(fn).dispose();
}

/** Count the copies an op records (a copy ends the compute pass the timestamps bracket). */
function countCopies<T>(rt: Runtime, body: () => T): { value: T; copies: number } {
  const original = rt.copy;
  let copies = 0;
  rt.copy = function (this: Runtime, ...args: Parameters<Runtime['copy']>) {
    copies++;
    return original.apply(this, args);
  };
  try {
    return { value: body(), copies };
  } finally {
    rt.copy = original;
  }
}

/**
 * Single executions of an op, each in its own compute pass bracketed by timestamp writes (where
 * the adapter has 'timestamp-query'), submitted alone and waited for. `sample()` returns the
 * wall-clock ms of one such execution; `gpuTimes()` reads back the GPU ms of all of them.
 */
export class GpuRepetitions {
  private count = 0;
  /** the op left its first compute pass (a copy), or launched nothing: timestamps incomplete */
  partial = false;
  readonly hasTimestamps: boolean;

  constructor(private readonly fn: () => Tensor) {
    const rt = runtime();
    this.hasTimestamps = rt.ctx.hasTimestamps;
    if (this.hasTimestamps) reader ??= new TimestampReader(rt.device, MAX_REPS);
  }

  get full(): boolean {
    return this.count >= MAX_REPS;
  }

  readonly sample: Sampler = async () => {
    const rt = runtime();
    rt.flush();
    const i = this.count;
    if (this.hasTimestamps && i < MAX_REPS) {
      rt.timeNextPass({ querySet: reader!.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 });
      this.count++;
    }
    const t0 = performance.now();
    const { copies } = countCopies(rt, () => once(this.fn));
    await rt.sync();
    const ms = performance.now() - t0;
    if (copies > 0) this.partial = true;
    if (rt.nextPassTimed) {
      rt.timeNextPass(null); // the op launched nothing, so no pass consumed the timestamps
      this.partial = true;
    }
    return ms;
  };

  /** GPU ms of every repetition so far (from `from` on); empty without timestamps. */
  async gpuTimes(from = 0): Promise<number[]> {
    if (!this.hasTimestamps || this.count === 0) return [];
    return (await reader!.read(runtime().device, this.count)).slice(from);
  }
}

/** Executions per batched wall-clock sample for an op taking `estimateMs`. */
export function batchFor(estimateMs: number): number {
  return Math.max(1, Math.min(MAX_BATCH, Math.round(BATCH_TARGET_MS / Math.max(estimateMs, 0.001))));
}

/** One wall-clock sample of an engine: ms per execution. */
export type Sampler = () => Promise<number>;

/** k executions of ours recorded back to back, one submit, one wait (like a peer's runMany(k)). */
export function ourSampler(fn: () => Tensor, k: number): Sampler {
  return async () => {
    const rt = runtime();
    const t0 = performance.now();
    for (let i = 0; i < k; i++) once(fn);
    await rt.sync();
    return (performance.now() - t0) / k;
  };
}

/**
 * Wall-clock samples of several engines taken round-robin, so a machine whose load changes
 * (other processes on a shared CPU) weighs on all of them alike. An optional warm-up round;
 * then rounds until the budget (per engine) is spent and minReps rounds are done.
 */
export async function interleaved(
  samplers: Sampler[], budget: TimingBudget, warmup: boolean,
): Promise<{ spreads: (Spread | null)[]; errors: (string | null)[] }> {
  const samples: number[][] = samplers.map(() => []);
  const errors: (string | null)[] = samplers.map(() => null);
  const take = async (i: number, keep: boolean) => {
    if (errors[i]) return;
    try {
      const ms = await samplers[i]();
      if (keep) samples[i].push(ms);
    } catch (e) {
      errors[i] = ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 300);
    }
  };
  if (warmup) for (let i = 0; i < samplers.length; i++) await take(i, false);
  const start = performance.now();
  const total = budget.budgetMs * samplers.length;
  let rounds = 0;
  while (rounds < budget.maxReps && (rounds < budget.minReps || performance.now() - start < total)) {
    for (let i = 0; i < samplers.length; i++) await take(i, true);
    rounds++;
  }
  return { spreads: samples.map((s) => (s.length ? spread(s) : null)), errors };
}
