// The one device the engine runs on: pipelines, command batching, uniforms, read-backs, counters.
//
// Every kernel launch is recorded into a single open compute pass; nothing is submitted until a
// read-back, an explicit flush(), or a long batch forces it. So a whole training step is one or
// two queue submissions, and tests can count them.
//
// While a Tape captures (capture()), every launch, copy and write is also recorded on it, and each
// launch keeps its own uniform buffer and bind group, so that replay() can submit the same work
// again without any of the per-launch host work (src/engine/capture.ts).
import { BufferPool } from './bufferPool.js';
import { openDevice, type GpuContext } from './device.js';
import { KernelFamily, type Bound, type ParamValues } from './kernelFamily.js';
import type { LaunchProfiler } from './profiler.js';
import { Tape } from './tape.js';

const MAX_DISPATCHES_PER_SUBMIT = 2048;
export const MAX_WORKGROUPS_PER_DIM = 65535;

/** Engine-wide settings of launches. */
export const launchSettings = {
  /**
   * The most bytes bound to one storage binding (null: the device's maxStorageBufferBindingSize).
   * Tests lower it so that small shapes take the split launches (src/engine/split.ts).
   */
  maxBindingBytes: null as number | null,
  /**
   * The most workgroups grid() puts along one dimension before it folds a launch into y (the
   * device's limit is MAX_WORKGROUPS_PER_DIM). Tests lower it so that small launches fold.
   */
  maxWorkgroupsPerDim: MAX_WORKGROUPS_PER_DIM,
};

export interface Stats {
  submits: number;
  readbacks: number;
  dispatches: number;
  pipelines: number;
}

/** A launch of an entry point of a declared family (src/engine/kernelFamily.ts), all by name. */
export interface KernelLaunch {
  kernel: KernelFamily;
  entry: string;
  /** Values of the shader's `override` constants; part of the pipeline's cache key. */
  constants?: Record<string, number>;
  /** The entry's uniform block, field by field. */
  params?: ParamValues;
  /** Every buffer of the entry's layout by name (or a range of one); null for one the entry point does not use. */
  buffers: Record<string, Bound | null>;
  workgroups: [number, number?, number?];
}

export class Runtime {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  readonly stats: Stats = { submits: 0, readbacks: 0, dispatches: 0, pipelines: 0 };
  private pipelines = new Map<string, GPUComputePipeline>();
  private shaderModules = new Map<string, GPUShaderModule>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batched = 0;
  /** Timestamp writes for the next pass to begin (timeNextPass, or the profiler for each launch). */
  private nextPassTimestamps: GPUComputePassTimestampWrites | null = null;
  private profiler: LaunchProfiler | null = null;
  private launchListeners = new Set<(launch: KernelLaunch) => void>();
  private tape: Tape | null = null;

  constructor(readonly ctx: GpuContext) {
    this.device = ctx.device;
    this.pool = new BufferPool(ctx.device, Number(ctx.device.limits.maxBufferSize), (e) => (ctx.pendingError ??= e));
    this.pool.limitBytes = ctx.memoryLimit;
  }

  get adapterName(): string {
    return this.ctx.name;
  }

  /** The most bytes one storage binding may hold: the device's limit, or the lower launchSettings.maxBindingBytes. */
  get bindingLimit(): number {
    const device = Number(this.device.limits.maxStorageBufferBindingSize);
    return Math.min(device, launchSettings.maxBindingBytes ?? device);
  }

  /** True while recorded commands wait for a submit. */
  get hasPendingWork(): boolean {
    return this.encoder !== null;
  }

  pipeline(family: KernelFamily, entry: string, constants: Record<string, number> = {}): GPUComputePipeline {
    const name = family.name;
    const key = `${name}:${entry}:${JSON.stringify(constants)}`;
    let pipeline = this.pipelines.get(key);
    if (pipeline) return pipeline;
    let module = this.shaderModules.get(name);
    if (!module) {
      module = this.device.createShaderModule({ label: name, code: family.source() });
      this.shaderModules.set(name, module);
    }
    pipeline = this.device.createComputePipeline({
      label: key,
      layout: 'auto',
      compute: { module, entryPoint: entry, constants },
    });
    this.pipelines.set(key, pipeline);
    this.stats.pipelines++;
    return pipeline;
  }

  /** Call `listener` with every launch recorded from now on; returns the function that stops it. */
  onLaunch(listener: (launch: KernelLaunch) => void): () => void {
    this.launchListeners.add(listener);
    return () => this.launchListeners.delete(listener);
  }

  /** Time every launch alone in its pass while `profiler` is set (null ends it). */
  profile(profiler: LaunchProfiler | null): void {
    this.closePass();
    this.profiler = profiler;
  }

  /**
   * Write GPU timestamps at the beginning and end of the next compute pass (null cancels): the
   * benchmark times an op's launches, recorded in one pass, this way. Ends the open pass.
   */
  timeNextPass(writes: GPUComputePassTimestampWrites | null): void {
    this.closePass();
    this.nextPassTimestamps = writes;
  }

  /** True while timestamps from timeNextPass wait for a pass (nothing was launched since). */
  get nextPassTimed(): boolean {
    return this.nextPassTimestamps !== null;
  }

  launch(k: KernelLaunch): void {
    const [x, y = 1, z = 1] = k.workgroups;
    // Names are checked even for an empty launch, so a wrong call fails on every shape.
    const uniforms = k.kernel.pack(k.entry, k.params);
    const buffers = k.kernel.bind(k.entry, k.buffers);
    if (x === 0 || y === 0 || z === 0) return;
    if (x > MAX_WORKGROUPS_PER_DIM || y > MAX_WORKGROUPS_PER_DIM || z > MAX_WORKGROUPS_PER_DIM) {
      throw new Error(`${k.kernel.name}.${k.entry}: dispatch (${x}, ${y}, ${z}) exceeds ${MAX_WORKGROUPS_PER_DIM} workgroups per dimension`);
    }
    const pipeline = this.pipeline(k.kernel, k.entry, k.constants);
    const entries: GPUBindGroupEntry[] = [];
    let ubuf: GPUBuffer | null = null;
    if (uniforms) {
      ubuf = this.pool.acquire(uniforms.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      this.device.queue.writeBuffer(ubuf, 0, uniforms);
      entries.push({ binding: 0, resource: { buffer: ubuf } });
      // A captured launch keeps its uniform buffer, as written, for every replay.
      if (!this.tape) this.pool.release(ubuf, true);
    }
    const limit = this.bindingLimit;
    for (const { binding, name, buffer } of buffers) {
      const resource: GPUBufferBinding = 'offset' in buffer ? buffer : { buffer };
      const size = buffer.size;
      if (size > limit) {
        throw new Error(
          `${k.kernel.name}.${k.entry}: buffer '${name}' binds ${size} bytes, over the binding-size limit of ${limit} ` +
            `(maxStorageBufferBindingSize); the operation must split it (src/engine/split.ts)`,
        );
      }
      entries.push({ binding, resource });
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    if (this.profiler) {
      this.closePass();
      this.nextPassTimestamps = this.profiler.timestampWrites(k);
    }
    const pass = this.openPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.stats.dispatches++;
    this.tape?.dispatch({ pipeline, bindGroup, workgroups: [x, y, z] }, buffers.map(({ buffer }) => ('offset' in buffer ? buffer.buffer : buffer)), ubuf);
    if (this.profiler) this.closePass();
    for (const listener of this.launchListeners) listener(k);
    if (++this.batched >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
  }

  /** Record a buffer-to-buffer copy (ends the open compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.closePass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.tape?.copy({ src, srcOffset, dst, dstOffset, bytes });
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (this.encoder) {
      this.closePass();
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.batched = 0;
      this.stats.submits++;
      this.pool.submitted();
      this.tape?.submitted();
    }
    this.throwPendingError();
  }

  /**
   * Record everything `fn` launches, copies and writes on a new tape, besides running it as
   * usual. The tape pins the buffers it uses (see BufferPool) until it is disposed. Work recorded
   * before is submitted first, so the tape starts clean; `fn` cannot read back (it is synchronous).
   */
  capture<T>(fn: () => T): { tape: Tape; result: T } {
    if (this.tape) throw new Error('capture() inside a capture');
    this.flush();
    const tape = new Tape(this.pool);
    this.tape = tape;
    try {
      const result = fn();
      this.flush();
      return { tape, result };
    } catch (e) {
      tape.dispose(this.hasPendingWork);
      throw e;
    } finally {
      this.tape = null;
    }
  }

  /**
   * Run `fn` now but leave its work off the tape being captured (outside a capture: just `fn`):
   * for work whose results persist across replays, as a cache filled once (vgg.ts's FoldedBatchNorm).
   */
  untaped<T>(fn: () => T): T {
    const tape = this.tape;
    this.tape = null;
    try {
      return fn();
    } finally {
      this.tape = tape;
    }
  }

  /**
   * Record a captured tape's work again: its writes, then its commands, segment by segment. Every
   * segment but the last is submitted, where the capture submitted; the last is left recorded, as
   * eager work is, so that the read-back of its output goes in the same submit (a second submit
   * would make the host wait on a GPU already busy with the first).
   */
  replay(tape: Tape): void {
    if (tape.isDisposed) throw new Error('replay() of a disposed tape');
    this.flush();
    const queue = this.device.queue;
    tape.segments.forEach(({ writes, commands }, i) => {
      if (i > 0) this.flush();
      for (const w of writes) queue.writeBuffer(w.buffer, w.offset, w.data);
      let pipeline: GPUComputePipeline | null = null;
      for (const c of commands) {
        if ('bindGroup' in c) {
          const pass = this.openPass();
          if (c.pipeline !== pipeline) pass.setPipeline((pipeline = c.pipeline));
          pass.setBindGroup(0, c.bindGroup);
          pass.dispatchWorkgroups(c.workgroups[0], c.workgroups[1], c.workgroups[2]);
        } else {
          this.copy(c.src, c.srcOffset, c.dst, c.dstOffset, c.bytes);
          pipeline = null;
        }
      }
    });
    this.stats.dispatches += tape.dispatches;
  }

  /** Wait until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwPendingError();
  }

  async read(src: GPUBuffer, byteOffset: number, bytes: number): Promise<ArrayBuffer> {
    if (this.tape) throw new Error('read(): no read-back while a step is captured');
    const aligned = Math.ceil(bytes / 4) * 4;
    const staging = this.pool.acquire(aligned, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    this.copy(src, byteOffset, staging, 0, aligned);
    this.flush();
    this.stats.readbacks++;
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, aligned);
    } catch (e) {
      this.throwPendingError();
      throw e;
    }
    const out = staging.getMappedRange(0, aligned).slice(0, bytes);
    staging.unmap();
    this.pool.release(staging, false);
    this.throwPendingError();
    return out;
  }

  write(dst: GPUBuffer, byteOffset: number, data: ArrayBufferView): void {
    this.device.queue.writeBuffer(dst, byteOffset, data.buffer, data.byteOffset, data.byteLength);
    this.tape?.write(dst, byteOffset, data);
  }

  private openPass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    this.encoder ??= this.device.createCommandEncoder();
    const descriptor: GPUComputePassDescriptor = {};
    if (this.nextPassTimestamps) {
      descriptor.timestampWrites = this.nextPassTimestamps;
      this.nextPassTimestamps = null;
    }
    this.pass = this.encoder.beginComputePass(descriptor);
    return this.pass;
  }

  private closePass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private throwPendingError(): void {
    const e = this.ctx.pendingError;
    if (e) {
      this.ctx.pendingError = null;
      throw e;
    }
  }
}

let current: Runtime | null = null;
let opening: Promise<Runtime> | null = null;

/** Open the GPU device once per process. Every tensor operation needs this to have finished. */
export function init(gpu?: Pick<GPU, 'requestAdapter'>): Promise<Runtime> {
  if (current) return Promise.resolve(current);
  opening ??= openDevice(gpu).then(
    (ctx) => (current = new Runtime(ctx)),
    (e) => {
      opening = null;
      throw e;
    },
  );
  return opening;
}

/** A kernel switch: 'hardware' (on a GPU, not on a software adapter such as lavapipe), or always / never. */
export type KernelChoice = 'hardware' | boolean;

/** Whether a KernelChoice is on for this runtime's adapter. */
export function chosen(choice: KernelChoice): boolean {
  return choice === 'hardware' ? !runtime().ctx.info.isSoftware : choice;
}

export function runtime(): Runtime {
  if (!current) throw new Error('The engine is not initialised: `await init()` before creating tensors.');
  return current;
}

/** Workgroup counts for `n` threads in groups of `size`, folded into y when x would overflow. */
export function grid(n: number, size: number): [number, number] {
  const groups = Math.ceil(n / size);
  const limit = launchSettings.maxWorkgroupsPerDim;
  if (groups <= limit) return [groups, 1];
  const y = Math.ceil(groups / limit);
  return [Math.ceil(groups / y), y];
}
