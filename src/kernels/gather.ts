// Index lookups (shaders/gather.wgsl): embedding rows by class index, and one-hot vectors.
import { record } from './grad.js';
import { kernelFamily } from '../engine/kernelFamily.js';
import { grid, runtime } from '../engine/runtime.js';
import { assertFloat, empty, formatShape, indexTensor, Tensor } from '../engine/tensor.js';
import { flatIndex, nan } from '../engine/wgsl.js';

const gather = kernelFamily('gather', {
  uniforms: {
    p: {
      n: 'u32', // number of indices
      rows: 'u32', // rows in the table (vocabulary / classes)
      width: 'u32', // elements per row
    },
  },
  layouts: {
    // scatterAddRows: table is the incoming gradient, out the table's.
    rows: {
      entries: ['gatherRows', 'scatterAddRows'],
      uniform: 'p',
      buffers: { indices: 'read i32', table: 'read f32', out: 'write f32' },
    },
    oneHot: { uniform: 'p', buffers: { indices: 'read i32', hot: 'write f32' } },
  },
  prelude: [flatIndex, nan],
});

const WORKGROUP = 256;

function toIndices(given: Tensor | ArrayLike<number>, rows: number, op: string): Tensor {
  if (given instanceof Tensor) {
    if (given.dtype !== 'int32') throw new Error(`${op}: indices must be int32, got ${given.describe()}`);
    return given;
  }
  return indexTensor(given, rows, `${op}: index`);
}

function launch(entry: string, n: number, rows: number, width: number, buffers: Record<string, GPUBuffer>, threads: number): void {
  runtime().launch({
    kernel: gather,
    entry,
    constants: { WORKGROUP },
    params: { n, rows, width },
    buffers,
    workgroups: grid(threads, WORKGROUP),
  });
}

/** Rows of `weight` (rows, width) picked by `indices`: (n, width). */
export function embedding(weight: Tensor, indices: Tensor | ArrayLike<number>): Tensor {
  assertFloat(weight, 'embedding');
  if (weight.ndim !== 2) throw new Error(`embedding: weight must be 2-D (rows, width), got ${formatShape(weight.shape)}`);
  const [rows, width] = weight.shape;
  const idx = toIndices(indices, rows, 'embedding');
  const n = idx.size;
  const out = empty([...idx.shape, width]);
  launch('gatherRows', n, rows, width, { indices: idx.buffer, table: weight.buffer, out: out.buffer }, n * width);
  return record('embedding', out, [weight], (g) => {
    const gw = empty(weight.shape);
    launch('scatterAddRows', n, rows, width, { indices: idx.buffer, table: g.buffer, out: gw.buffer }, rows * width);
    return [gw];
  });
}

/** One-hot rows (n, classes) for class indices. */
export function oneHot(indices: Tensor | ArrayLike<number>, classes: number): Tensor {
  const idx = toIndices(indices, classes, 'oneHot');
  const out = empty([...idx.shape, classes]);
  launch('oneHot', idx.size, classes, 1, { indices: idx.buffer, hot: out.buffer }, idx.size * classes);
  return out;
}
