// What the runtime records while it captures (runtime.capture): every dispatch with its pipeline
// and bind group, every buffer copy, every queue write, split where the capture submitted. A
// replay (runtime.replay) re-encodes these as they are; nothing is packed, pooled or bound again.
//
// WebGPU command buffers are single-use (GPUCommandBuffer can be submitted once), and compute has
// no bundles (GPURenderBundle is for render passes only), so a replay encodes its commands anew
// each time: three calls a dispatch, from objects made once.
import type { BufferPool } from './bufferPool.js';

export interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

export interface Copy {
  src: GPUBuffer;
  srcOffset: number;
  dst: GPUBuffer;
  dstOffset: number;
  bytes: number;
}

/** Queue writes made between two submits land before the commands of the second: so, per segment. */
export interface Segment {
  writes: { buffer: GPUBuffer; offset: number; data: Uint8Array<ArrayBuffer> }[];
  commands: (Dispatch | Copy)[];
}

export class Tape {
  readonly segments: Segment[] = [{ writes: [], commands: [] }];
  dispatches = 0;
  /** Every buffer a command or write uses: the pool keeps them for this tape (pinned). */
  private readonly buffers = new Set<GPUBuffer>();
  /** Uniform buffers of the captured launches, owned by the tape. */
  private readonly uniforms: GPUBuffer[] = [];
  private disposed = false;
  /** The capture submitted: the next write or command starts a new segment. */
  private split = false;

  constructor(private readonly pool: BufferPool) {}

  private get current(): Segment {
    if (this.split) this.segments.push({ writes: [], commands: [] });
    this.split = false;
    return this.segments[this.segments.length - 1];
  }

  dispatch(d: Dispatch, buffers: GPUBuffer[], uniform: GPUBuffer | null): void {
    this.use(buffers);
    if (uniform) this.uniforms.push(uniform);
    this.current.commands.push(d);
    this.dispatches++;
  }

  copy(c: Copy): void {
    this.use([c.src, c.dst]);
    this.current.commands.push(c);
  }

  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.use([buffer]);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    this.current.writes.push({ buffer, offset, data: bytes });
  }

  /** The capture submitted: later writes land after the commands so far. */
  submitted(): void {
    const s = this.segments[this.segments.length - 1];
    if (s.commands.length || s.writes.length) this.split = true;
  }

  /** Unpin the buffers and give the uniform buffers back; the tape cannot be replayed after this. */
  dispose(pending: boolean): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.buffers) this.pool.unpin(b);
    for (const u of this.uniforms) this.pool.release(u, pending);
    this.buffers.clear();
    this.segments.length = 0;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private use(buffers: GPUBuffer[]): void {
    for (const b of buffers) {
      if (this.buffers.has(b)) continue;
      this.buffers.add(b);
      this.pool.pin(b);
    }
  }
}
