// Float32 (and int32 index) tensors living in pooled GPU buffers.
//
// Memory: a tensor's storage goes back to the pool when it is disposed, when the scope() it was
// made in ends, or, as a last resort, when JavaScript garbage-collects it. Views (reshape,
// detach) share one reference-counted storage.
import { currentOp, backward as runBackward, record } from './autograd.js';
import type { GradNode } from './autograd.js';
import { runtime } from './runtime.js';

export type DType = 'float32' | 'int32';
export type Shape = readonly number[];

export class Storage {
  refs = 1;
  /** Bumped by every write from the host (copy_): what is computed from these values once (a cache) is stale after it. */
  version = 0;
  constructor(
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {}
}

function releaseStorage(storage: Storage): void {
  if (--storage.refs > 0) return;
  const rt = runtime();
  rt.pool.release(storage.buffer, rt.hasPendingWork);
}

const collector = new FinalizationRegistry<Storage>(releaseStorage);
const scopes: Set<Tensor>[] = [];
let nextId = 1;

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function checkShape(shape: Shape, what = 'shape'): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid ${what} ${formatShape(shape)}: sizes must be non-negative integers`);
  }
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly dtype: DType;
  /** Set by an operation that recorded how to backpropagate through it; null for leaves. */
  gradFn: GradNode | null = null;
  grad: Tensor | null = null;
  requiresGrad: boolean;
  /** For error messages and debugging (e.g. the state-dict key of a parameter). */
  name?: string;
  private storageRef: Storage | null;

  constructor(shape: Shape, dtype: DType, storage: Storage, requiresGrad = false) {
    checkShape(shape);
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.storageRef = storage;
    this.requiresGrad = requiresGrad;
    collector.register(this, storage, this);
    scopes.at(-1)?.add(this);
  }

  get size(): number {
    return numel(this.shape);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get isDisposed(): boolean {
    return this.storageRef === null;
  }
  get storage(): Storage {
    if (!this.storageRef) {
      throw new Error(
        `tensor ${this.describe()} was used after it was disposed (was it made inside a scope() that has ended?)`,
      );
    }
    return this.storageRef;
  }
  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  describe(): string {
    return `${this.name ? `'${this.name}' ` : ''}${formatShape(this.shape)} ${this.dtype}`;
  }

  toString(): string {
    return `Tensor(${this.describe()}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  /** Give the GPU memory back now. Safe to call twice. */
  dispose(): void {
    const storage = this.storageRef;
    if (!storage) return;
    this.storageRef = null;
    collector.unregister(this);
    releaseStorage(storage);
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
    this.gradFn = null;
  }

  /** Copy to the CPU (submits pending work and waits for it). */
  async data(): Promise<Float32Array | Int32Array> {
    const bytes = await runtime().read(this.buffer, 0, this.size * 4);
    return this.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes);
  }

  async toArray(): Promise<number[]> {
    return Array.from(await this.data());
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a tensor with one element, got ${formatShape(this.shape)}`);
    return (await this.data())[0];
  }

  /**
   * Overwrite the values in place from the CPU (torch's copy_), keeping the storage, so that
   * whoever holds this tensor (an optimizer, a module) sees the new values.
   */
  copy_(values: Float32Array | Int32Array): this {
    if (values.length !== this.size) {
      throw new Error(`copy_: ${values.length} values do not fill ${this.describe()}`);
    }
    // Submit first: a queue write lands before commands that are recorded but not yet submitted.
    const rt = runtime();
    rt.flush();
    rt.write(this.buffer, 0, values);
    this.storage.version++;
    return this;
  }

  /** A view with another shape over the same storage; -1 stands for the inferred size. */
  reshape(...dims: number[] | [number[]]): Tensor {
    const wanted = (Array.isArray(dims[0]) ? dims[0] : dims) as number[];
    const shape = inferShape(wanted, this.size, this.shape);
    const view = this.view(shape);
    return record('reshape', view, [this], (g) => [g.reshape(this.shape as number[])]);
  }

  /** The same values, cut off from the graph (shares storage). */
  detach(): Tensor {
    return this.view(this.shape);
  }

  requiresGrad_(value = true): this {
    if (value && this.dtype !== 'float32') throw new Error(`only float32 tensors can require grad, not ${this.describe()}`);
    if (this.gradFn) throw new Error('requiresGrad_ can only be set on leaf tensors (use detach() first)');
    this.requiresGrad = value;
    return this;
  }

  /** Backpropagate from this tensor: a scalar, or any shape with an explicit cotangent. */
  backward(cotangent?: Tensor, options: { retainGraph?: boolean } = {}): void {
    for (const leaf of runBackward(this, cotangent, options.retainGraph ?? false)) keep(leaf.grad!);
  }

  private view(shape: Shape): Tensor {
    const storage = this.storage;
    storage.refs++;
    return new Tensor(shape, this.dtype, storage);
  }
}

function inferShape(wanted: number[], size: number, from: Shape): number[] {
  const unknown = wanted.indexOf(-1);
  const known = wanted.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const shape = [...wanted];
  if (unknown >= 0) shape[unknown] = known === 0 ? 0 : size / known;
  if (numel(shape) !== size || !Number.isInteger(shape[unknown] ?? 0)) {
    throw new Error(`cannot reshape ${formatShape(from)} (${size} elements) to ${formatShape(wanted)}`);
  }
  return shape;
}

/** An uninitialised tensor (the kernels that write every element use this). */
export function empty(shape: Shape, dtype: DType = 'float32'): Tensor {
  checkShape(shape);
  const bytes = Math.max(4, numel(shape) * 4);
  const rt = runtime();
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffer = rt.pool.acquire(bytes, usage, () => {
    const during = currentOp();
    return `a tensor of shape ${formatShape(shape)} (${dtype})${during ? ` in the backward rule of ${during}` : ''}`;
  });
  return new Tensor(shape, dtype, new Storage(buffer, bytes));
}

/** Upload values; the shape defaults to 1-D. Integer arrays make int32 tensors. */
export function tensor(
  values: ArrayLike<number> | Float32Array | Int32Array,
  shape: Shape = [values.length],
  options: { dtype?: DType; requiresGrad?: boolean } = {},
): Tensor {
  const dtype = options.dtype ?? (values instanceof Int32Array ? 'int32' : 'float32');
  if (numel(shape) !== values.length) {
    throw new Error(`tensor(): ${values.length} values do not fill shape ${formatShape(shape)}`);
  }
  const data = dtype === 'int32' ? Int32Array.from(values as ArrayLike<number>) : Float32Array.from(values as ArrayLike<number>);
  const t = empty(shape, dtype);
  if (data.length > 0) runtime().write(t.buffer, 0, data);
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

/**
 * Upload integer indices from the CPU after checking each lies in [0, bound); `what` starts the
 * error message (e.g. 'embedding: index'), which names the bad value and its position.
 */
export function indexTensor(values: ArrayLike<number>, bound: number, what: string): Tensor {
  const ints = Int32Array.from(values);
  const bad = ints.findIndex((v) => v < 0 || v >= bound);
  if (bad >= 0) throw new Error(`${what} ${ints[bad]} at position ${bad} is outside [0, ${bound})`);
  return tensor(ints, [ints.length]);
}

/**
 * Run `fn`; every tensor it creates is disposed when it returns, except the ones it returns
 * (found in a returned tensor, array or plain object) and the ones passed to keep().
 */
export function scope<T>(fn: () => T): T {
  const made = new Set<Tensor>();
  scopes.push(made);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('scope() takes a synchronous function');
  } finally {
    scopes.pop();
  }
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors, 2);
  for (const t of made) if (!survivors.has(t)) t.dispose();
  for (const t of survivors) if (made.has(t)) scopes.at(-1)?.add(t);
  return result;
}

/** Exempt a tensor from the scope()s it was made in. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collectTensors(value: unknown, into: Set<Tensor>, depth: number): void {
  if (value instanceof Tensor) {
    into.add(value);
    if (value.grad) into.add(value.grad);
  } else if (depth > 0 && Array.isArray(value)) {
    for (const v of value) collectTensors(v, into, depth - 1);
  } else if (depth > 0 && value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into, depth - 1);
  }
}

export function assertFloat(t: Tensor, op: string): void {
  if (t.dtype !== 'float32') throw new Error(`${op}: expected a float32 tensor, got ${t.describe()}`);
}

export function assertSameShape(a: Tensor, b: Tensor, op: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op}: shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} must be equal`);
  }
}
