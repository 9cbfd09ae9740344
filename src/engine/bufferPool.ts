// Reuses GPU buffers by size, so a training loop allocates nothing after its first step.
//
// Running out of memory is an error that names what was being allocated, never a lost device:
// an allocation that would pass `limitBytes` throws at once (after dropping cached free buffers),
// and one the driver itself refuses is reported, by name, at the next submit or read-back.
//
// A buffer released while commands that use it are still recorded but not submitted is held
// back until the next submit: otherwise a queue.writeBuffer into its next owner would land
// before those earlier commands run.
//
// A pinned buffer (one a captured step replays, src/engine/capture.ts) is not handed out again
// when its tensor lets go of it: it waits aside until the last capture that uses it unpins it.

export function roundSize(bytes: number): number {
  return Math.max(256, Math.ceil(bytes / 256) * 256);
}

export class OutOfMemoryError extends Error {
  override name = 'OutOfMemoryError';
}

export function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private heldUntilSubmit: [string, GPUBuffer][] = [];
  /** Pin counts of the buffers captured steps replay, and those of them released meanwhile. */
  private pins = new Map<GPUBuffer, number>();
  private releasedWhilePinned = new Set<GPUBuffer>();
  /** Bytes in buffers handed out and not yet released. */
  liveBytes = 0;
  /** Bytes in all buffers this pool created and has not destroyed. */
  allocatedBytes = 0;
  created = 0;
  /** Bytes this pool may hold in all (Infinity: as much as the driver gives). */
  limitBytes = Infinity;

  constructor(
    private device: GPUDevice,
    private maxBufferSize: number,
    /** Where an allocation the driver refused is reported (thrown at the next submit). */
    private report: (e: Error) => void = () => {},
  ) {}

  /** `what` names the allocation in errors, e.g. "a tensor of shape [4096, 25088] (float32)". */
  acquire(bytes: number, usage: number, what: () => string = () => 'a buffer'): GPUBuffer {
    const size = roundSize(bytes);
    const key = `${usage}:${size}`;
    const reused = this.free.get(key)?.pop();
    if (reused) {
      this.liveBytes += size;
      return reused;
    }
    if (size > this.maxBufferSize) {
      throw new OutOfMemoryError(`cannot allocate ${what()}: ${size} bytes is over the adapter's maxBufferSize of ${this.maxBufferSize}`);
    }
    if (this.allocatedBytes + size > this.limitBytes) this.trim();
    if (this.allocatedBytes + size > this.limitBytes) {
      throw new OutOfMemoryError(
        `out of GPU memory allocating ${what()}: it needs ${formatBytes(size)}, ${formatBytes(this.allocatedBytes)} are held ` +
          `(${formatBytes(this.liveBytes)} by live tensors), the limit is ${formatBytes(this.limitBytes)}. Try a smaller batch.`,
      );
    }
    this.created++;
    this.allocatedBytes += size;
    this.liveBytes += size;
    this.device.pushErrorScope('out-of-memory');
    const buffer = this.device.createBuffer({ size, usage });
    const description = what();
    void this.device.popErrorScope().then((error) => {
      if (error) {
        this.report(new OutOfMemoryError(`out of GPU memory allocating ${description} (${formatBytes(size)}; ${formatBytes(this.allocatedBytes)} held): ${error.message}`));
      }
    });
    return buffer;
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

  /** Keep `buffer` from being handed out again, even once released, until as many unpin() calls. */
  pin(buffer: GPUBuffer): void {
    this.pins.set(buffer, (this.pins.get(buffer) ?? 0) + 1);
  }

  unpin(buffer: GPUBuffer): void {
    const n = this.pins.get(buffer);
    if (n === undefined) throw new Error('internal: unpin of a buffer that is not pinned');
    if (n > 1) {
      this.pins.set(buffer, n - 1);
      return;
    }
    this.pins.delete(buffer);
    if (this.releasedWhilePinned.delete(buffer)) this.push(`${buffer.usage}:${buffer.size}`, buffer);
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
    if (this.pins.has(buffer)) {
      this.releasedWhilePinned.add(buffer);
      return;
    }
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
  }
}
