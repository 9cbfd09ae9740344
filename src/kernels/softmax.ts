// Softmax over the last axis, log-softmax, and fused softmax-cross-entropy (shaders/softmax.wgsl).
import { record } from './grad.js';
import { kernelFamily } from '../engine/kernelFamily.js';
import { grid, runtime } from '../engine/runtime.js';
import { assertFloat, empty, formatShape, indexTensor, Tensor } from '../engine/tensor.js';
import { nan, workgroupReduce } from '../engine/wgsl.js';
import { mean } from './reduce.js';

const softmaxFamily = kernelFamily('softmax', {
  uniforms: {
    p: {
      rows: 'u32',
      cols: 'u32',
      scale: 'f32', // cross-entropy backward: 1 / rows for a mean over the batch
    },
  },
  layouts: {
    softmax: { uniform: 'p', buffers: { x: 'read f32', y: 'write f32' } },
    // output: the forward's y.
    softmaxBackward: { uniform: 'p', buffers: { output: 'read f32', grad: 'read f32', gradIn: 'write f32' } },
    // x: the logits. Forward: a loss per row; backward: the mean loss's gradient (one value) -> the logits'.
    crossEntropy: { uniform: 'p', buffers: { x: 'read f32', targets: 'read i32', rowLoss: 'write f32' } },
    crossEntropyBackward: {
      uniform: 'p',
      buffers: { x: 'read f32', targets: 'read i32', lossGrad: 'read f32', logitsGrad: 'write f32' },
    },
  },
  prelude: [nan, workgroupReduce('reduceMax', 'f32', 'max(a, b)'), workgroupReduce('reduceSum', 'f32', 'a + b')],
});

const WORKGROUP = 64;

function rowsOf(x: Tensor): [number, number] {
  const cols = x.shape[x.ndim - 1];
  return [x.size / cols, cols];
}

function rowLaunch(entry: string, x: Tensor, buffers: Record<string, GPUBuffer>, log: boolean, scale = 0): void {
  const [rows, cols] = rowsOf(x);
  runtime().launch({
    kernel: softmaxFamily,
    entry,
    constants: { WORKGROUP, LOG: log ? 1 : 0 },
    params: { rows, cols, scale },
    buffers,
    workgroups: grid(rows, 1),
  });
}

function softmaxOrLog(x: Tensor, log: boolean): Tensor {
  const name = log ? 'logSoftmax' : 'softmax';
  assertFloat(x, name);
  if (x.ndim === 0) throw new Error(`${name}: needs at least one dimension`);
  const y = empty(x.shape);
  rowLaunch('softmax', x, { x: x.buffer, y: y.buffer }, log);
  return record(name, y, [x], (g) => {
    const gx = empty(x.shape);
    rowLaunch('softmaxBackward', y, { output: y.buffer, grad: g.buffer, gradIn: gx.buffer }, log);
    return [gx];
  });
}

export const softmax = (x: Tensor): Tensor => softmaxOrLog(x, false);
export const logSoftmax = (x: Tensor): Tensor => softmaxOrLog(x, true);

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
  rowLaunch('crossEntropy', logits, { x: logits.buffer, targets: t.buffer, rowLoss: losses.buffer }, false);
  const loss = mean(losses);
  return record('crossEntropy', loss, [logits], (g) => {
    const gx = empty(logits.shape);
    const buffers = { x: logits.buffer, targets: t.buffer, lossGrad: g.buffer, logitsGrad: gx.buffer };
    rowLaunch('crossEntropyBackward', logits, buffers, false, 1 / rows);
    return [gx];
  });
}
