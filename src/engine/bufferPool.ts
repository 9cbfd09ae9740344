// Reuses GPU buffers by size, so a training loop allocates nothing after its first step.
//
// A buffer released while commands that use it are still recorded but not submitted is held
// back until the next submit: otherwise a queue.writeBuffer into its next owner would land
// before those earlier commands run.

export function roundSize(bytes: number): number {
  return Math.max(256, Math.ceil(bytes / 256) * 256);
}

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private heldUntilSubmit: [string, GPUBuffer][] = [];
  /** Bytes in buffers handed out and not yet released. */
  liveBytes = 0;
  /** Bytes in all buffers this pool created and has not destroyed. */
  allocatedBytes = 0;
  created = 0;

  constructor(
    private device: GPUDevice,
    private maxBufferSize: number,
  ) {}

  acquire(bytes: number, usage: number): GPUBuffer {
    const size = roundSize(bytes);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    const reused = list?.pop();
    this.liveBytes += size;
    if (reused) return reused;
    if (size > this.maxBufferSize) {
      this.liveBytes -= size;
      throw new Error(`cannot allocate a GPU buffer of ${size} bytes: the adapter's limit is ${this.maxBufferSize}`);
    }
    this.created++;
    this.allocatedBytes += size;
    return this.device.createBuffer({ size, usage });
  }

  /** Return a buffer; `pending` says recorded-but-unsubmitted commands may still use it. */
  release(buffer: GPUBuffer, pending: boolean): void {
    const key = `${buffer.usage}:${buffer.size}`;
    this.liveBytes -= buffer.size;
    if (pending) this.heldUntilSubmit.push([key, buffer]);
    else this.push(key, buffer);
  }

  /** Called right after a submit: held buffers may now be reused. */
  submitted(): void {
    for (const [key, buffer] of this.heldUntilSubmit) this.push(key, buffer);
    this.heldUntilSubmit = [];
  }

  /** Destroy every free buffer (for example before a big allocation, or at shutdown). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.allocatedBytes -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
  }

  private push(key: string, buffer: GPUBuffer): void {
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
  }
}
