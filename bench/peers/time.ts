/** Simple wall-clock timing of a PeerRun (performance.now around awaited, GPU-synchronised runs). */
import type { PeerRun } from './types.js';

export interface TimeOptions {
  /** untimed executions first (prepare() already did one); default 2 */
  warmup?: number;
  /** executions per sample: 1 = run() (one sync per execution), n > 1 = runMany(n) / n */
  batch?: number;
  /** stop after this many samples ... (default 50) */
  maxSamples?: number;
  /** ... or once this much time was spent, but never with fewer than minSamples (defaults 300 ms, 5) */
  targetMs?: number;
  minSamples?: number;
}

export interface Timing {
  /** median milliseconds per execution */
  msPerRun: number;
  minMs: number;
  meanMs: number;
  samples: number;
  batch: number;
}

export async function timeRun(run: PeerRun, opts: TimeOptions = {}): Promise<Timing> {
  const batch = Math.max(1, Math.floor(opts.batch ?? 1));
  const once = () => (batch === 1 ? run.run() : run.runMany(batch));
  for (let i = 0; i < (opts.warmup ?? 2); i++) await once();
  const maxSamples = opts.maxSamples ?? 50, minSamples = opts.minSamples ?? 5, targetMs = opts.targetMs ?? 300;
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < maxSamples && (samples.length < minSamples || performance.now() - start < targetMs)) {
    const t0 = performance.now();
    await once();
    samples.push((performance.now() - t0) / batch);
  }
  samples.sort((a, b) => a - b);
  const mid = samples.length >> 1;
  const median = samples.length % 2 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
  return {
    msPerRun: median,
    minMs: samples[0],
    meanMs: samples.reduce((a, b) => a + b, 0) / samples.length,
    samples: samples.length,
    batch,
  };
}
