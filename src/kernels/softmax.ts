// Softmax over the last axis, log-softmax, and fused softmax-cross-entropy (shaders/softmax.wgsl).
import { record } from './grad.js';
import { grid, runtime, Uniforms } from '../engine/runtime.js';
import { assertFloat, empty, formatShape, indexTensor, Tensor } from '../engine/tensor.js';
import { mean } from './reduce.js';

const WORKGROUP = 64;

function rowsOf(x: Tensor): [number, number] {
  const cols = x.shape[x.ndim - 1];
  return [x.size / cols, cols];
}

function rowLaunch(entry: string, x: Tensor, buffers: GPUBuffer[], log: boolean, scale = 0): void {
  const [rows, cols] = rowsOf(x);
  runtime().launch({
    family: 'softmax',
    entry,
    constants: { WORKGROUP, LOG: log ? 1 : 0 },
    uniforms: new Uniforms().u32(rows, cols).f32(scale).build(),
    buffers,
    workgroups: grid(rows, 1),
  });
}

function softmaxFamily(x: Tensor, log: boolean): Tensor {
  const name = log ? 'logSoftmax' : 'softmax';
  assertFloat(x, name);
  if (x.ndim === 0) throw new Error(`${name}: needs at least one dimension`);
  const y = empty(x.shape);
  rowLaunch('softmax', x, [x.buffer, y.buffer], log);
  return record(name, y, [x], (g) => {
    const gx = empty(x.shape);
    rowLaunch('softmaxBackward', y, [y.buffer, g.buffer, gx.buffer], log);
    return [gx];
  });
}

export const softmax = (x: Tensor): Tensor => softmaxFamily(x, false);
export const logSoftmax = (x: Tensor): Tensor => softmaxFamily(x, true);

/** Class indices as an int32 tensor, checked against the number of classes when given on the CPU. */
export function toTargets(targets: Tensor | ArrayLike<number>, rows: number, classes: number): Tensor {
  const logits = formatShape([rows, classes]);
  if (!(targets instanceof Tensor)) {
    if (targets.length !== rows) {
      throw new Error(`cross-entropy: logits ${logits} need ${rows} int32 class indices as targets, got [${targets.length}] int32`);
    }
    return indexTensor(targets, classes, 'cross-entropy: target');
  }
  const t = targets;
  if (t.dtype !== 'int32' || t.size !== rows) {
    throw new Error(`cross-entropy: logits ${logits} need ${rows} int32 class indices as targets, got ${t.describe()}`);
  }
  return t;
}

/** Mean over the batch of -log softmax(logits)[target]; logits (B, C), targets B class indices. */
export function crossEntropy(logits: Tensor, targets: Tensor | ArrayLike<number>): Tensor {
  assertFloat(logits, 'crossEntropy');
  if (logits.ndim !== 2) throw new Error(`crossEntropy: logits must be (batch, classes), got ${formatShape(logits.shape)}`);
  const [rows, cols] = rowsOf(logits);
  const t = toTargets(targets, rows, cols);
  const losses = empty([rows]);
  rowLaunch('crossEntropy', logits, [logits.buffer, t.buffer, losses.buffer], false);
  const loss = mean(losses);
  return record('crossEntropy', loss, [logits], (g) => {
    const gx = empty(logits.shape);
    rowLaunch('crossEntropyBackward', logits, [logits.buffer, t.buffer, g.buffer, gx.buffer], false, 1 / rows);
    return [gx];
  });
}
