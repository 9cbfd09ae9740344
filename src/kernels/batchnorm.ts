// Batch normalisation (shaders/batchnorm.wgsl): F.batch_norm and BigGAN's conditional batchnorm,
// in training mode (batch statistics, optional in-place running update) and eval mode (running
// statistics), with backward kernels for the input and the affine parameters.
import { record } from './grad.js';
import { kernelFamily, type Bound } from '../engine/kernelFamily.js';
import { splitUnits, type Part } from '../engine/split.js';
import { grid, runtime } from '../engine/runtime.js';
import { assertFloat, empty, formatShape, type Tensor } from '../engine/tensor.js';
import { flatIndex, workgroupReduce } from '../engine/wgsl.js';

const ROW_WORKGROUP = 64;
const ELEMENT_WORKGROUP = 256;
/**
 * Rows at least this long are reduced by a whole workgroup, when there are fewer than
 * MANY_ROWS of them; otherwise a thread reduces a row. A workgroup's tree reduction costs
 * barriers, which lavapipe makes expensive: with 2048 rows of 256-1024 elements (BigGAN at batch
 * 64) a thread per row is 2-3x faster, and still fills the machine.
 */
const WIDE_ROW = 256;
const MANY_ROWS = 1024;

/**
 * normalize, rowGradSums and inputGrad (shaders/batchnorm.wgsl) over rows read as f32s or, for
 * rows of S % 4 == 0 elements, as vec4s (the *4 entry points and the buffers' vec4 views): one
 * text for both, since WGSL has no generics.
 */
function elementKernels(width: 1 | 4): string {
  const [s, T] = width === 1 ? ['', 'f32'] : ['4', 'vec4<f32>'];
  // rowGradSums: f32 rows scale each term of sum(g * x_hat) by invStd, vec4 rows the total once.
  const [rEach, rTotal] = width === 1 ? [' * r', ''] : ['', ' * r'];
  const total = (v: string) => (width === 1 ? v : `dot(${v}, vec4<f32>(1.0))`);
  return /* wgsl */ `
/// The incoming gradient, masked by the relu's (y > 0) when there is one.
fn gradAt${s}(i: u32) -> ${T} {
  var g = grad${s}[i];
  if (RELU) { g = select(${T}(0.0), g, yOut${s}[i] > ${T}(0.0)); }
  return g;
}

@compute @workgroup_size(WORKGROUP)
fn normalize${s}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = flatIndex(gid, groups) * PER_THREAD;
  if (first >= p.N * p.C * p.S / ${width}u) { return; }
  let nc = sampleChannel(first * ${width}u);
  let m = ${T}(mean[nc.y]);
  let a = ${T}(invStd(nc.y) * scaleAt(nc.x, nc.y));
  let b = ${T}(shiftAt(nc.x, nc.y));
  for (var i = first; i < first + PER_THREAD; i++) {
    let v = (x${s}[i] - m) * a + b;
    y${s}[i] = select(v, max(v, ${T}(0.0)), RELU);
  }
}

@compute @workgroup_size(WORKGROUP)
fn rowGradSums${s}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) groups: vec3<u32>) {
  let w = rowWork(wid, lid, groups);
  let rows = p.N * p.C;
  let valid = w.row < rows;
  let end = select(0u, p.S / ${width}u, valid);
  let c = select(0u, w.row % p.C, valid);
  let m = ${T}(mean[c]);
  let r = invStd(c);
  let base = w.row * p.S / ${width}u;
  var sg = ${T}(0.0);
  var sgx = ${T}(0.0);
  for (var i = w.start; i < end; i += w.step) {
    let g = gradAt${s}(base + i);
    sg += g;
    sgx += g * (x${s}[base + i] - m)${rEach};
  }
  let acc = rowTotal(vec2<f32>(${total('sg')}, ${total('sgx')}${rTotal}), lid);
  if (valid && w.start == 0u) {
    rowSumG[w.row] = acc.x;
    rowSumGX[w.row] = acc.y;
  }
}

// Training: gx = invstd * (g*a - mean(g*a) - x_hat * mean(g*a*x_hat)); eval: gx = g * a * invstd.
@compute @workgroup_size(WORKGROUP)
fn inputGrad${s}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = flatIndex(gid, groups) * PER_THREAD;
  if (first >= p.N * p.C * p.S / ${width}u) { return; }
  let nc = sampleChannel(first * ${width}u);
  let c = nc.y;
  let r = invStd(c);
  let ar = ${T}(scaleAt(nc.x, c) * r);
  // The batch statistics' mean terms, read in training only.
  var m = ${T}(0.0);
  var shift = ${T}(0.0);
  var slope = ${T}(0.0);
  if (TRAINING) {
    m = ${T}(mean[c]);
    shift = ${T}(r * meanTermsIn[c]);
    slope = ${T}(r * r * meanTermsIn[p.C + c]);
  }
  for (var i = first; i < first + PER_THREAD; i++) {
    var gx = gradAt${s}(i) * ar;
    if (TRAINING) { gx = gx - shift - (x${s}[i] - m) * slope; }
    gradX${s}[i] = gx;
  }
}`;
}

/** x and the statistics it is normalized with, at the same bindings wherever they are read. */
const normalized = { x: 'read f32 vec4f', mean: 'read f32', variance: 'read f32' };
/** The incoming gradient and, for a fused relu's mask, the forward's output y. */
const incoming = { grad: 'read f32 vec4f', yOut: 'read f32 vec4f' };

/**
 * Each entry point's buffers; the vec4 views (x4, ...) serve the *4 entry points. weight and bias
 * are per channel or, conditional batchnorm, per (n, c).
 */
const kernels = kernelFamily('batchnorm', {
  uniforms: { p: { N: 'u32', C: 'u32', S: 'u32', eps: 'f32', momentum: 'f32' } },
  layouts: {
    // x -> moments: row means, then row sums of squared deviations
    rowMoments: { uniform: 'p', buffers: { x: normalized.x, moments: 'write f32' } },
    // row moments -> batch mean, biased variance (+ the running statistics' update)
    foldMoments: {
      entries: ['foldMoments', 'foldMomentsAndUpdate'],
      uniform: 'p',
      buffers: { rowMomentsIn: 'read f32', batchMean: 'write f32', batchVar: 'write f32', runningMean: 'write f32', runningVar: 'write f32' },
    },
    normalize: {
      entries: ['normalize', 'normalize4'],
      uniform: 'p',
      buffers: { ...normalized, weight: 'read f32', bias: 'read f32', y: 'write f32 vec4f' },
    },
    // -> per-row sum(g), sum(g * x_hat)
    rowGradSums: {
      entries: ['rowGradSums', 'rowGradSums4'],
      uniform: 'p',
      buffers: { ...normalized, rowSumG: 'write f32', rowSumGX: 'write f32', ...incoming },
    },
    // row sums, weight -> (mean of g*a, mean of g*a*x_hat) per channel, the per-channel affine gradients
    foldGradSums: {
      uniform: 'p',
      buffers: { sumG: 'read f32', sumGX: 'read f32', meanTerms: 'write f32', weight: 'read f32', gradWeight: 'write f32', gradBias: 'write f32' },
    },
    inputGrad: {
      entries: ['inputGrad', 'inputGrad4'],
      uniform: 'p',
      buffers: { ...normalized, weight: 'read f32', meanTermsIn: 'read f32', ...incoming, gradX: 'write f32 vec4f' },
    },
  },
  prelude: [flatIndex, workgroupReduce('workgroupSum', 'vec2<f32>', 'a + b'), elementKernels(1), elementKernels(4)],
});

export interface BatchNormOptions {
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** x viewed as (N, C, S): batch, channels, and everything after the channels flattened. */
interface Layout {
  N: number;
  C: number;
  S: number;
}

/** How x_hat is scaled and shifted: not at all, per channel, or per sample and channel (1 + gain). */
interface Affine {
  mode: 0 | 1 | 2;
  weight: Tensor | null;
  bias: Tensor | null;
}

interface Settings {
  training: boolean;
  momentum: number;
  eps: number;
}

function layoutOf(x: Tensor, op: string): Layout {
  if (x.ndim < 2) throw new Error(`${op}: input must be (N, C, ...), got ${formatShape(x.shape)}`);
  const S = x.shape.slice(2).reduce((p, d) => p * d, 1);
  return { N: x.shape[0], C: x.shape[1], S };
}

function expectShape(t: Tensor | null, shape: number[], what: string, op: string): void {
  if (!t) return;
  assertFloat(t, op);
  if (t.shape.join() !== shape.join()) {
    throw new Error(`${op}: ${what} must have shape ${formatShape(shape)}, got ${formatShape(t.shape)}`);
  }
}

type Pass = 'rows' | 'channels' | 'elements';

/**
 * `n`: the images of this launch, fewer than l.N for a part of the batch (the kernel choice stays
 * the whole batch's, so a part computes each value as the whole launch would).
 */
function launch(
  entry: string, pass: Pass, l: Layout, s: Settings, buffers: Record<string, Bound | null>,
  constants: Record<string, number> = {}, n = l.N,
): void {
  const wide = l.S >= WIDE_ROW && l.N * l.C < MANY_ROWS;
  const rows = n * l.C;
  // Rows that are multiples of 4 long go as vec4s (the *4 entry points): elementwise passes 4
  // vec4s a thread where rows allow (16 elements: one division and one set of per-channel loads
  // for all), row reductions a vec4 at a time. Other rows: elementwise passes 1 element a thread.
  const vec = l.S % 4 === 0 && entry !== 'rowMoments';
  const vec4PerThread = l.S % 16 === 0 ? 4 : 1;
  const workgroup = pass === 'elements' ? ELEMENT_WORKGROUP : ROW_WORKGROUP;
  const workgroups =
    pass === 'elements' ? grid(vec ? (rows * l.S) / (4 * vec4PerThread) : rows * l.S, ELEMENT_WORKGROUP)
    : pass === 'channels' ? grid(l.C, ROW_WORKGROUP)
    : wide ? grid(rows, 1) : grid(rows, ROW_WORKGROUP);
  const passConstants: Record<string, number> =
    pass === 'rows' ? { GROUP_PER_ROW: wide ? 1 : 0 }
    : pass === 'elements' ? { PER_THREAD: vec ? vec4PerThread : 1 }
    : {};
  runtime().launch({
    kernel: kernels,
    entry: vec && pass !== 'channels' ? `${entry}4` : entry,
    constants: { WORKGROUP: workgroup, ...passConstants, ...constants },
    params: { N: n, C: l.C, S: l.S, eps: s.eps, momentum: s.momentum },
    buffers,
    workgroups,
  });
}

/**
 * A row pass (a value per (n, c) row into each of `outputs`, laid out as `halves` blocks of N * C)
 * over the parts of the batch that fit the binding-size limit (src/engine/split.ts). Split, each
 * part writes a buffer of its own, copied into its rows of every block (a buffer copy has no
 * alignment to keep but 4 bytes).
 */
function rowPass(
  op: string, entry: string, l: Layout, s: Settings, operands: Record<string, Tensor>, outputs: Record<string, Tensor>,
  halves: number, buffers: (part: Part) => Record<string, Bound | null>, constants: Record<string, number> = {},
): void {
  for (const part of splitUnits(op, l.N, operands)) {
    if (part.whole) {
      const whole = Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, t.buffer]));
      launch(entry, 'rows', l, s, { ...buffers(part), ...whole }, constants);
      continue;
    }
    const rows = part.count * l.C;
    const own = Object.fromEntries(Object.keys(outputs).map((name) => [name, empty([halves * rows])]));
    launch(entry, 'rows', l, s, { ...buffers(part), ...Object.fromEntries(Object.entries(own).map(([k, t]) => [k, t.buffer])) }, constants, part.count);
    for (const [name, t] of Object.entries(own)) {
      for (let h = 0; h < halves; h++) {
        runtime().copy(t.buffer, 4 * h * rows, outputs[name].buffer, 4 * (h * l.N * l.C + part.start * l.C), 4 * rows);
      }
      t.dispose();
    }
  }
}

function affineConstants(a: Affine): Record<string, number> {
  return { AFFINE: a.mode, HAS_WEIGHT: a.weight ? 1 : 0, HAS_BIAS: a.bias ? 1 : 0 };
}

/** Batch mean and biased variance per channel; updates the running statistics when given. */
function batchStatistics(op: string, x: Tensor, l: Layout, s: Settings, runningMean: Tensor | null, runningVar: Tensor | null) {
  const moments = empty([2 * l.N * l.C]);
  rowPass(op, 'rowMoments', l, s, { x }, { moments }, 2, (part) => ({ x: part.bind(x) }));
  const mean = empty([l.C]);
  const variance = empty([l.C]);
  const update = runningMean && runningVar;
  launch(update ? 'foldMomentsAndUpdate' : 'foldMoments', 'channels', l, s, {
    rowMomentsIn: moments.buffer, batchMean: mean.buffer, batchVar: variance.buffer,
    runningMean: update ? runningMean.buffer : null, runningVar: update ? runningVar.buffer : null,
  });
  moments.dispose();
  return { mean, variance };
}

/**
 * An elementwise pass over the parts of the batch that fit the binding-size limit: `operands` are
 * cut with the batch (x and what has its shape; a conditional batchnorm's per-sample gain and
 * bias), everything else is bound whole.
 */
function elementPass(
  op: string, entry: string, l: Layout, s: Settings, operands: Record<string, Tensor>,
  buffers: (part: Part) => Record<string, Bound | null>, constants: Record<string, number>,
): void {
  for (const part of splitUnits(op, l.N, operands)) {
    launch(entry, 'elements', l, s, buffers(part), constants, part.count);
    part.done();
  }
}

function normalizeCore(
  op: string, x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, affine: Affine, options: BatchNormOptions,
  relu = false,
): Tensor {
  assertFloat(x, op);
  const s: Settings = { training: options.training ?? false, momentum: options.momentum ?? 0.1, eps: options.eps ?? 1e-5 };
  const l = layoutOf(x, op);
  expectShape(runningMean, [l.C], 'runningMean', op);
  expectShape(runningVar, [l.C], 'runningVar', op);
  const paramShape = affine.mode === 2 ? [l.N, l.C] : [l.C];
  expectShape(affine.weight, paramShape, affine.mode === 2 ? 'gain' : 'weight', op);
  expectShape(affine.bias, paramShape, 'bias', op);
  if ((runningMean === null) !== (runningVar === null)) throw new Error(`${op}: give both running statistics or neither`);

  let mean: Tensor;
  let variance: Tensor;
  if (s.training) {
    if (l.N * l.S <= 1) {
      throw new Error(`${op}: expected more than 1 value per channel when training, got input ${formatShape(x.shape)}`);
    }
    ({ mean, variance } = batchStatistics(op, x, l, s, runningMean, runningVar));
  } else {
    if (!runningMean || !runningVar) throw new Error(`${op}: eval mode (training: false) needs running statistics`);
    mean = runningMean;
    variance = runningVar;
  }

  const y = empty(x.shape);
  // x stands in for the buffers a kernel names but, by its constants, does not read: a pipeline
  // binds every buffer its code names. A conditional batchnorm's gain and bias go with the batch.
  const perSample: Record<string, Tensor> = affine.mode === 2 ? { weight: affine.weight!, bias: affine.bias! } : {};
  elementPass(op, 'normalize', l, s, { x, y, ...perSample }, (part) => {
    const bind = (t: Tensor | null) => (t === null ? part.bind(x) : affine.mode === 2 ? part.bind(t) : t.buffer);
    return { x: part.bind(x), mean: mean.buffer, variance: variance.buffer, weight: bind(affine.weight), bias: bind(affine.bias), y: part.write(y) };
  }, { ...affineConstants(affine), RELU: relu ? 1 : 0 });

  const params = [affine.weight, affine.bias].filter((t): t is Tensor => t !== null);
  const out = record(op, y, [x, ...params], (g) => {
    const grads = normalizeBackward(op, g, x, l, s, mean, variance, affine, relu ? y : null);
    return [grads.x, ...(affine.weight ? [grads.weight] : []), ...(affine.bias ? [grads.bias] : [])];
  });
  // Batch statistics live on only as long as the backward closure that needs them.
  if (s.training && !out.gradFn) {
    mean.dispose();
    variance.dispose();
  }
  return out;
}

/** `reluOut`: the output of a batchnorm with a fused relu, whose mask (y > 0) applies to g. */
function normalizeBackward(
  op: string, g: Tensor, x: Tensor, l: Layout, s: Settings, mean: Tensor, variance: Tensor, affine: Affine, reluOut: Tensor | null,
): { x: Tensor | null; weight: Tensor | null; bias: Tensor | null } {
  const wantX = x.requiresGrad;
  const wantWeight = affine.weight?.requiresGrad ?? false;
  const wantBias = affine.bias?.requiresGrad ?? false;
  const constants = affineConstants(affine);
  const result = { x: null as Tensor | null, weight: null as Tensor | null, bias: null as Tensor | null };
  // What a pass cuts with the batch: x, the incoming gradient, the relu's output.
  const cut: Record<string, Tensor> = { x, grad: g, ...(reluOut ? { yOut: reluOut } : {}) };
  const stats = (part: Part) => ({
    x: part.bind(x), mean: mean.buffer, variance: variance.buffer, grad: part.bind(g), yOut: part.bind(reluOut ?? x),
  });

  // Per-row sums of g and g * x_hat: the affine gradients, and (training) the input's mean terms.
  const needRowSums = (s.training && wantX) || wantWeight || wantBias;
  let sumG: Tensor | null = null;
  let sumGX: Tensor | null = null;
  if (needRowSums) {
    sumG = empty([l.N * l.C]);
    sumGX = empty([l.N * l.C]);
    rowPass(`${op} backward`, 'rowGradSums', l, s, cut, { rowSumG: sumG, rowSumGX: sumGX }, 1, stats, { RELU: reluOut ? 1 : 0 });
  }

  let meanTerms: Tensor | null = null;
  if (sumG && sumGX && ((s.training && wantX) || affine.mode === 1)) {
    meanTerms = empty([2 * l.C]);
    const gradWeight = empty([l.C]);
    const gradBias = empty([l.C]);
    launch('foldGradSums', 'channels', l, s, {
      sumG: sumG.buffer, sumGX: sumGX.buffer, weight: (affine.weight ?? sumG).buffer,
      meanTerms: meanTerms.buffer, gradWeight: gradWeight.buffer, gradBias: gradBias.buffer,
    }, constants);
    if (affine.mode === 1) {
      result.weight = wantWeight ? gradWeight : null;
      result.bias = wantBias ? gradBias : null;
    }
    if (!result.weight) gradWeight.dispose();
    if (!result.bias) gradBias.dispose();
  }
  if (affine.mode === 2 && sumG && sumGX) {
    result.weight = wantWeight ? sumGX.reshape(l.N, l.C) : null;
    result.bias = wantBias ? sumG.reshape(l.N, l.C) : null;
  }

  if (wantX) {
    const gx = empty(x.shape);
    const perSample: Record<string, Tensor> = affine.mode === 2 ? { weight: affine.weight! } : {};
    elementPass(`${op} backward`, 'inputGrad', l, s, { ...cut, gradX: gx, ...perSample }, (part) => ({
      ...stats(part),
      weight: affine.weight === null ? part.bind(x) : affine.mode === 2 ? part.bind(affine.weight) : affine.weight.buffer,
      meanTermsIn: meanTerms ? meanTerms.buffer : part.bind(x), gradX: part.write(gx),
    }), { ...constants, TRAINING: s.training ? 1 : 0, RELU: reluOut ? 1 : 0 });
    result.x = gx;
  }
  // Views made above hold their own references, so the originals can go.
  sumG?.dispose();
  sumGX?.dispose();
  meanTerms?.dispose();
  return result;
}

/**
 * F.batch_norm: (x - mean) / sqrt(var + eps) * weight + bias over the channel axis 1.
 * training: batch statistics (biased variance), and running statistics, when given, updated in
 * place (momentum 0.1, unbiased variance). Eval: the running statistics.
 */
export function batchNorm(
  x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  weight: Tensor | null = null, bias: Tensor | null = null, options: BatchNormOptions = {},
): Tensor {
  return normalizeCore('batchNorm', x, runningMean, runningVar, { mode: 1, weight, bias }, options);
}

/** BigGAN's conditional batchnorm: x_hat * (1 + gain[n, c]) + bias[n, c], gain and bias (N, C). */
export function conditionalBatchNorm(
  x: Tensor, gain: Tensor, bias: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  options: BatchNormOptions = {},
): Tensor {
  return normalizeCore('conditionalBatchNorm', x, runningMean, runningVar, { mode: 2, weight: gain, bias }, options);
}

/** relu(batchNorm(...)) in one pass forward and backward (the relu's mask applied in the batchnorm's backward). */
export function batchNormRelu(
  x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  weight: Tensor | null = null, bias: Tensor | null = null, options: BatchNormOptions = {},
): Tensor {
  return normalizeCore('batchNormRelu', x, runningMean, runningVar, { mode: 1, weight, bias }, options, true);
}

/** relu(conditionalBatchNorm(...)) in one pass forward and backward. */
export function conditionalBatchNormRelu(
  x: Tensor, gain: Tensor, bias: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  options: BatchNormOptions = {},
): Tensor {
  return normalizeCore('conditionalBatchNormRelu', x, runningMean, runningVar, { mode: 2, weight: gain, bias }, options, true);
}
