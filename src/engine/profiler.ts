// GPU time of every launch, each in a compute pass of its own with timestamp writes around it
// (runtime.profile(...)). The bench's profiles and compile-cost table read it; nothing patches the
// runtime. On lavapipe a pipeline is compiled when it first runs, so a first launch's time holds
// its compile.
import { currentOp } from './autograd.js';
import type { KernelLaunch, Runtime } from './runtime.js';

export interface LaunchRecord {
  family: string;
  entry: string;
  constants: Record<string, number>;
  workgroups: number[];
  /** What the caller was doing (LaunchProfiler.tag), e.g. a phase of the training step. */
  tag: string;
  /** The autograd node whose backward rule launched it ('' outside backward rules). */
  op: string;
}

/** family:entry:constants, as the runtime keys its pipelines. */
export function pipelineKey(k: { family: string; entry: string; constants?: Record<string, number> }): string {
  return `${k.family}:${k.entry}:${JSON.stringify(k.constants ?? {})}`;
}

const QUERIES = 4096;

export class LaunchProfiler {
  readonly records: LaunchRecord[] = [];
  tag = '';
  private querySets: GPUQuerySet[] = [];

  constructor(private readonly rt: Runtime) {
    if (!rt.ctx.hasTimestamps) throw new Error(`LaunchProfiler: the adapter ${rt.adapterName} has no 'timestamp-query'`);
  }

  /** Called by the runtime for each launch while this profiler is active: where its pass writes. */
  timestampWrites(k: KernelLaunch): GPUComputePassTimestampWrites {
    const n = this.records.length;
    const set = Math.floor((2 * n) / QUERIES);
    if (set >= this.querySets.length) this.querySets.push(this.rt.device.createQuerySet({ type: 'timestamp', count: QUERIES }));
    this.records.push({
      family: k.kernel.name, entry: k.entry, constants: k.constants ?? {}, workgroups: k.workgroups.map((n) => n ?? 1),
      tag: this.tag, op: currentOp(),
    });
    const slot = (2 * n) % QUERIES;
    return { querySet: this.querySets[set], beginningOfPassWriteIndex: slot, endOfPassWriteIndex: slot + 1 };
  }

  /** ms of GPU time per record, in launch order (waits for the GPU). */
  async times(): Promise<number[]> {
    const out: number[] = [];
    const { device } = this.rt;
    this.rt.flush();
    for (let s = 0; s < this.querySets.length; s++) {
      const count = Math.min(QUERIES, 2 * this.records.length - s * QUERIES);
      const resolved = device.createBuffer({ size: 8 * QUERIES, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      const back = device.createBuffer({ size: 8 * QUERIES, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const encoder = device.createCommandEncoder();
      encoder.resolveQuerySet(this.querySets[s], 0, count, resolved, 0);
      encoder.copyBufferToBuffer(resolved, 0, back, 0, 8 * count);
      device.queue.submit([encoder.finish()]);
      await back.mapAsync(GPUMapMode.READ, 0, 8 * count);
      const t = new BigUint64Array(back.getMappedRange(0, 8 * count).slice(0));
      back.unmap();
      for (let i = 0; i + 1 < count; i += 2) out.push(Number(t[i + 1] - t[i]) / 1e6);
      resolved.destroy();
      back.destroy();
    }
    return out;
  }

  /** Forget the records (the query sets are reused). */
  clear(): void {
    this.records.length = 0;
  }

  destroy(): void {
    for (const q of this.querySets) q.destroy();
    this.querySets = [];
  }
}
