// 2-D convolution (shaders/conv2d.wgsl), NCHW, PyTorch semantics: forward with the bias (and
// optionally a relu) fused, the input gradient as a transposed convolution on the same kernels
// (flipped weight, swapped channels; stride becomes input dilation), the weight gradient as a
// split reduction over batch and positions, the bias gradient as a sum.
//
// Kernel choice (launchConv): 3x3 stride 1 -> conv3x3, 1x1 stride 1 unpadded -> conv1x1,
// anything else -> convGeneric. Where the device has subgroups (at least 8 wide) the 3x3 layers
// with padding 1 and widths that are multiples of 4 run conv3x3Shared16 / 8 / 4 (by output
// channels) of shaders/conv2dSubgroups.wgsl instead, and the 1x1 layers conv1x1Shared16: each
// weight is read by one lane and broadcast to the subgroup, input rows are read as vec4s.
// upsampleConv2d (nearest x2 then 3x3 conv, BigGAN's blocks) has kernels of its own, forward and
// input gradient. On lavapipe the training step's conv time went from 1.16 s to 0.53 s under the
// same load (bench/results/profile-step-lavapipe-2026-11-23.md). Plain kernels, VGG 64x64 layers
// at batch 16: forward 13-21 GFLOP/s, input gradient 14-16 GFLOP/s (bench/conv-try.ts).
import { record } from './grad.js';
import { grid, MAX_WORKGROUPS_PER_DIM, runtime, Uniforms } from '../engine/runtime.js';
import { assertFloat, empty, formatShape, type Shape, type Tensor } from '../engine/tensor.js';
import { zeros } from './creation.js';
import { reluBackward } from './elementwise.js';
import { sum } from './reduce.js';
import { checkUpsample, upsampleBackward, upsampleForward } from './upsample.js';

const WORKGROUP = 64;
/** Output channels per thread in every kernel (one workgroup row y per block of them). */
const OB = 8;
/** The weight gradient splits its reduction until about this many workgroups run. */
const WEIGHT_GRAD_GROUPS = 64;

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
}

interface Geometry {
  B: number;
  C: number;
  H: number;
  W: number;
  O: number;
  kh: number;
  kw: number;
  Ho: number;
  Wo: number;
  stride: number;
  pad: number;
}

function geometry(op: string, xShape: Shape, wShape: Shape, bias: Tensor | null, options: Conv2dOptions): Geometry {
  const stride = options.stride ?? 1;
  const pad = options.padding ?? 0;
  if (!Number.isInteger(stride) || stride < 1) throw new Error(`${op}: stride must be a positive integer, got ${stride}`);
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`${op}: padding must be a non-negative integer, got ${pad}`);
  if (xShape.length !== 4) throw new Error(`${op}: input ${formatShape(xShape)} must be 4-D (batch, channels, height, width)`);
  if (wShape.length !== 4) {
    throw new Error(`${op}: weight ${formatShape(wShape)} must be 4-D (out channels, in channels, kh, kw)`);
  }
  const [B, C, H, W] = xShape;
  const [O, Cw, kh, kw] = wShape;
  if (C !== Cw) {
    throw new Error(
      `${op}: input ${formatShape(xShape)} has ${C} channels but weight ${formatShape(wShape)} expects ${Cw}`,
    );
  }
  if (kh < 1 || kw < 1 || O < 1) throw new Error(`${op}: weight ${formatShape(wShape)} is empty`);
  if (kh > H + 2 * pad || kw > W + 2 * pad) {
    throw new Error(
      `${op}: kernel ${kh}x${kw} of weight ${formatShape(wShape)} is larger than the padded input ` +
        `${H + 2 * pad}x${W + 2 * pad} (input ${formatShape(xShape)}, padding ${pad})`,
    );
  }
  if (bias) {
    assertFloat(bias, op);
    if (bias.ndim !== 1 || bias.shape[0] !== O) {
      throw new Error(`${op}: bias ${formatShape(bias.shape)} must have shape [${O}] for weight ${formatShape(wShape)}`);
    }
  }
  const Ho = Math.floor((H + 2 * pad - kh) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - kw) / stride) + 1;
  return { B, C, H, W, O, kh, kw, Ho, Wo, stride, pad };
}

/**
 * Use the subgroup variants (shaders/conv2dSubgroups.wgsl) where the device has them. The suite
 * switches this off to cover the plain kernels too.
 */
export const convSettings = { subgroups: true };

/** Threads along x (folded into z past the dispatch limit), blocks of `ob` output channels along y. */
function convGrid(threads: number, outChannels: number, ob = OB): [number, number, number] {
  const [x, z] = grid(threads, WORKGROUP);
  const y = Math.ceil(outChannels / ob);
  if (y > MAX_WORKGROUPS_PER_DIM) throw new Error(`conv2d: ${outChannels} output channels exceed the dispatch limit`);
  return [x, y, z];
}

interface ConvLaunch {
  inp: Tensor;
  weight: Tensor;
  bias: Tensor | null;
  relu: boolean;
  out: Tensor;
  batch: number;
  /** inp: channels, stored height and width; out: channels, height, width. */
  C: number;
  H: number;
  W: number;
  O: number;
  Ho: number;
  Wo: number;
  kh: number;
  kw: number;
  padY: number;
  padX: number;
  S: number;
  D: number;
  /** Weight addressing: base + o*wO + c*wC + ky*wKy + kx*wKx (elements, signed). */
  wStrides: [number, number, number, number, number];
}

/**
 * Picks the kernel (see the headers of shaders/conv2d.wgsl and conv2dSubgroups.wgsl) and its
 * thread layout: groups of 4 output positions per thread, `ob` output channels per thread.
 */
function launchConv(k: ConvLaunch): void {
  const unit = k.S === 1 && k.D === 1;
  const shared = convSettings.subgroups && runtime().ctx.hasSubgroups;
  let family = 'conv2d';
  let entry: string;
  let quadsX: number;
  let blocksY: number;
  let quads: number;
  let threads: number;
  let ob = OB;
  if (unit && k.kh === 3 && k.kw === 3) {
    entry = 'conv3x3';
    quadsX = Math.ceil(k.Wo / 4);
    blocksY = Math.ceil(k.Ho / 4);
    quads = k.batch * blocksY * quadsX;
    threads = Math.ceil(quads / 2);
    // The subgroup kernels read input rows as vec4s: padding 1 along x, width a multiple of 4.
    if (shared && k.padX === 1 && k.W % 4 === 0) {
      family = 'conv2d+conv2dSubgroups';
      if (k.O > OB) [entry, threads, ob] = ['conv3x3Shared16', quads, 2 * OB];
      else if (k.O > OB / 2) entry = 'conv3x3Shared8';
      else [entry, threads, ob] = ['conv3x3Shared4', Math.ceil(quads / 4), OB / 2];
    }
  } else if (unit && k.kh === 1 && k.kw === 1 && k.padY === 0 && k.padX === 0) {
    entry = 'conv1x1';
    quadsX = Math.ceil((k.Ho * k.Wo) / 4);
    blocksY = 1;
    quads = k.batch * quadsX;
    threads = Math.ceil(quads / 4);
    if (shared && k.O > OB && (k.H * k.W) % 4 === 0) [family, entry, ob] = ['conv2d+conv2dSubgroups', 'conv1x1Shared16', 2 * OB];
  } else {
    entry = 'convGeneric';
    quadsX = Math.ceil(k.Wo / 4);
    blocksY = k.Ho;
    quads = k.batch * k.Ho * quadsX;
    threads = Math.ceil(quads / 2);
  }
  runtime().launch({
    family,
    entry,
    constants: { WORKGROUP },
    uniforms: new Uniforms()
      .u32(k.C, k.H, k.W, k.O, k.Ho, k.Wo)
      .i32(k.padY, k.padX)
      .u32(k.S, k.D, k.kh, k.kw)
      .i32(...k.wStrides)
      .u32(quadsX, blocksY, quads, (k.bias ? 1 : 0) | (k.relu ? 2 : 0))
      .build(),
    // The subgroup kernels read the input as vec4s at binding 5 (conv1x1Shared16 only there).
    buffers: [
      entry === 'conv1x1Shared16' ? null : k.inp.buffer, k.weight.buffer, (k.bias ?? k.weight).buffer, k.out.buffer,
      ...(family === 'conv2d' ? [] : [k.inp.buffer]),
    ],
    workgroups: convGrid(threads, k.O, ob),
  });
}

/** The forward convolution, without autograd. */
function convForward(x: Tensor, weight: Tensor, bias: Tensor | null, relu: boolean, g: Geometry): Tensor {
  const out = empty([g.B, g.O, g.Ho, g.Wo]);
  launchConv({
    inp: x, weight, bias, relu, out, batch: g.B,
    C: g.C, H: g.H, W: g.W, O: g.O, Ho: g.Ho, Wo: g.Wo, kh: g.kh, kw: g.kw,
    padY: g.pad, padX: g.pad, S: g.stride, D: 1,
    wStrides: [0, g.C * g.kh * g.kw, g.kh * g.kw, g.kw, 1],
  });
  return out;
}

/** d(loss)/d(input) from dy (B, O, Ho, Wo): the transposed convolution with the flipped weight. */
export function conv2dInputGrad(dy: Tensor, weight: Tensor, inputShape: readonly number[], options: Conv2dOptions = {}): Tensor {
  assertFloat(dy, 'conv2dInputGrad');
  assertFloat(weight, 'conv2dInputGrad');
  const g = geometry('conv2dInputGrad', inputShape, weight.shape, null, options);
  checkOutputGrad('conv2dInputGrad', dy, g, inputShape, weight.shape);
  return inputGrad(dy, weight, g);
}

/** d(loss)/d(weight) from the input x and dy (B, O, Ho, Wo). */
export function conv2dWeightGrad(x: Tensor, dy: Tensor, weightShape: readonly number[], options: Conv2dOptions = {}): Tensor {
  assertFloat(x, 'conv2dWeightGrad');
  assertFloat(dy, 'conv2dWeightGrad');
  const g = geometry('conv2dWeightGrad', x.shape, weightShape, null, options);
  checkOutputGrad('conv2dWeightGrad', dy, g, x.shape, weightShape);
  return weightGrad(x, dy, g);
}

function checkOutputGrad(op: string, dy: Tensor, g: Geometry, xShape: Shape, wShape: Shape): void {
  if (dy.ndim !== 4 || dy.shape[0] !== g.B || dy.shape[1] !== g.O || dy.shape[2] !== g.Ho || dy.shape[3] !== g.Wo) {
    throw new Error(
      `${op}: output gradient ${formatShape(dy.shape)} does not match the output [${g.B}, ${g.O}, ${g.Ho}, ${g.Wo}] ` +
        `of input ${formatShape(xShape)} and weight ${formatShape(wShape)}`,
    );
  }
}

function inputGrad(dy: Tensor, weight: Tensor, g: Geometry): Tensor {
  const dx = empty([g.B, g.C, g.H, g.W]);
  const kk = g.kh * g.kw;
  launchConv({
    inp: dy, weight, bias: null, relu: false, out: dx, batch: g.B,
    C: g.O, H: g.Ho, W: g.Wo, O: g.C, Ho: g.H, Wo: g.W, kh: g.kh, kw: g.kw,
    padY: g.kh - 1 - g.pad, padX: g.kw - 1 - g.pad, S: 1, D: g.stride,
    wStrides: [kk - 1, kk, g.C * kk, -g.kw, -1],
  });
  return dx;
}

/** d(loss)/d(weight): a reduction over batch and output positions, split across workgroups. */
function weightGrad(x: Tensor, dy: Tensor, g: Geometry): Tensor {
  const taps = g.C * g.kh * g.kw;
  const rows = g.B * g.Ho;
  if (rows === 0 || taps === 0) return zeros([g.O, g.C, g.kh, g.kw]);
  const gx = Math.ceil(taps / 4 / WORKGROUP);
  const gy = Math.ceil(g.O / OB);
  const splits = Math.min(rows, MAX_WORKGROUPS_PER_DIM, Math.max(1, Math.ceil(WEIGHT_GRAD_GROUPS / (gx * gy))));
  const rowsPerSplit = Math.ceil(rows / splits);
  const used = Math.ceil(rows / rowsPerSplit);
  const part = empty([used, g.O, g.C, g.kh, g.kw]);
  runtime().launch({
    family: 'conv2d',
    entry: 'weightGrad',
    constants: { WORKGROUP },
    uniforms: new Uniforms()
      .u32(g.C, g.H, g.W, g.O, g.Ho, g.Wo)
      .i32(g.pad, g.pad)
      .u32(g.stride, g.kh, g.kw, rows, rowsPerSplit)
      .build(),
    buffers: [x.buffer, dy.buffer, part.buffer],
    workgroups: [gx, gy, used],
  });
  if (used === 1) return part.reshape(g.O, g.C, g.kh, g.kw);
  const dw = sum(part, 0);
  part.dispose();
  return dw;
}

function convOp(name: string, x: Tensor, weight: Tensor, bias: Tensor | null, relu: boolean, options: Conv2dOptions): Tensor {
  assertFloat(x, name);
  assertFloat(weight, name);
  const g = geometry(name, x.shape, weight.shape, bias, options);
  const out = convForward(x, weight, bias, relu, g);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(name, out, inputs, (dOut) => {
    const dy = relu ? reluBackward(dOut, out) : dOut;
    const grads = [
      x.requiresGrad ? inputGrad(dy, weight, g) : null,
      weight.requiresGrad ? weightGrad(x, dy, g) : null,
      ...(bias ? [bias.requiresGrad ? sum(dy, [0, 2, 3]) : null] : []),
    ];
    if (dy !== dOut) dy.dispose();
    return grads;
  });
}

/**
 * torch.nn.functional.conv2d for x (B, C, H, W), weight (O, C, kh, kw), optional bias (O):
 * output (B, O, Ho, Wo), Ho = floor((H + 2 padding - kh) / stride) + 1.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options?: { stride?: number; padding?: number }): Tensor {
  return convOp('conv2d', x, weight, bias ?? null, false, options ?? {});
}

/** relu(conv2d(x, weight, bias)) in one kernel. */
export function conv2dRelu(x: Tensor, weight: Tensor, bias?: Tensor | null, options?: Conv2dOptions): Tensor {
  return convOp('conv2dRelu', x, weight, bias ?? null, true, options ?? {});
}

// ---- nearest upsample + conv, fused ---------------------------------------------------------

/** The phase weights of an x2 upsample + 3x3 conv (shaders/conv2d.wgsl phaseWeights): (4, O, C, 2, 2). */
function phaseWeights(weight: Tensor, O: number, C: number): Tensor {
  const pw = empty([4, O, C, 2, 2]);
  runtime().launch({
    family: 'conv2d',
    entry: 'phaseWeights',
    constants: { WORKGROUP },
    uniforms: new Uniforms().u32(C, 0, 0, O, 0, 0).i32(0, 0).u32(0, 0, 0, 0).i32(0, 0, 0, 0, 0).u32(0, 0, 0, 0).build(),
    buffers: [null, weight, null, pw].map((t) => t?.buffer ?? null),
    // A 1536 -> 1536 layer needs 147,456 workgroups: grid() folds them into y.
    workgroups: grid(4 * O * C, WORKGROUP),
  });
  return pw;
}

/** upsample x2 + 3x3 conv (padding 1) in one kernel: upConv3x3Shared16 (shaders/conv2dSubgroups.wgsl). */
function upConvForward(x: Tensor, weight: Tensor, bias: Tensor | null, relu: boolean, g: Geometry): Tensor {
  const [B, C, H, W] = x.shape;
  const pw = phaseWeights(weight, g.O, C);
  const out = empty([B, g.O, g.Ho, g.Wo]);
  const quadsX = Math.ceil(W / 4);
  const blocksY = Math.ceil(H / 4);
  const quads = B * blocksY * quadsX;
  const [gx, , gz] = convGrid(quads, g.O, 2 * OB);
  const phases = 4 * Math.ceil(g.O / (2 * OB));
  if (phases > MAX_WORKGROUPS_PER_DIM) throw new Error(`upsampleConv2d: ${g.O} output channels exceed the dispatch limit`);
  runtime().launch({
    family: 'conv2d+conv2dSubgroups',
    entry: 'upConv3x3Shared16',
    constants: { WORKGROUP },
    uniforms: new Uniforms()
      .u32(C, H, W, g.O, g.Ho, g.Wo)
      .i32(1, 1)
      .u32(1, 1, 3, 3)
      .i32(0, 0, 0, 0, 0)
      .u32(quadsX, blocksY, quads, (bias ? 1 : 0) | (relu ? 2 : 0))
      .build(),
    buffers: [x.buffer, null, (bias ?? x).buffer, out.buffer, x.buffer, pw.buffer],
    workgroups: [gx, phases, gz],
  });
  pw.dispose();
  return out;
}

/** d(loss)/dx of upsample x2 + 3x3 conv (padding 1) from dy: upConv3x3GradShared16. */
function upConvInputGrad(dy: Tensor, weight: Tensor, xShape: Shape, g: Geometry): Tensor {
  const [B, C, H, W] = xShape;
  const K = empty([C, g.O, 4, 4]);
  runtime().launch({
    family: 'conv2d',
    entry: 'phaseWeightsGrad',
    constants: { WORKGROUP },
    uniforms: new Uniforms().u32(C, 0, 0, g.O, 0, 0).i32(0, 0).u32(0, 0, 0, 0).i32(0, 0, 0, 0, 0).u32(0, 0, 0, 0).build(),
    buffers: [null, weight.buffer, null, K.buffer],
    workgroups: grid(g.O * C, WORKGROUP),
  });
  const dx = empty(xShape);
  const quadsX = Math.ceil(W / 4);
  const blocksY = Math.ceil(H / 4);
  const quads = B * blocksY * quadsX;
  runtime().launch({
    family: 'conv2d+conv2dSubgroups',
    entry: 'upConv3x3GradShared16',
    constants: { WORKGROUP },
    uniforms: new Uniforms()
      .u32(g.O, g.Ho, g.Wo, C, H, W)
      .i32(0, 0)
      .u32(1, 1, 4, 4)
      .i32(0, 0, 0, 0, 0)
      .u32(quadsX, blocksY, quads, 0)
      .build(),
    buffers: [dy.buffer, null, dy.buffer, dx.buffer, dy.buffer, K.buffer],
    workgroups: convGrid(quads, C, 2 * OB),
  });
  K.dispose();
  return dx;
}

function upConvOp(name: string, x: Tensor, weight: Tensor, bias: Tensor | null, factor: number, relu: boolean): Tensor {
  checkUpsample(x, factor, name);
  assertFloat(weight, name);
  const [B, C, H, W] = x.shape;
  // The geometry of the conv over the upsampled image.
  const g = geometry(name, [B, C, H * factor, W * factor], weight.shape, bias, { padding: 1 });
  const fused = factor === 2 && g.kh === 3 && g.kw === 3 && W % 4 === 0 && convSettings.subgroups && runtime().ctx.hasSubgroups;
  let out: Tensor;
  if (fused) out = upConvForward(x, weight, bias, relu, g);
  else {
    const up = upsampleForward(x, factor);
    out = convForward(up, weight, bias, relu, g);
    up.dispose();
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(name, out, inputs, (dOut) => {
    const dy = relu ? reluBackward(dOut, out) : dOut;
    let dx: Tensor | null = null;
    if (x.requiresGrad && fused) dx = upConvInputGrad(dy, weight, x.shape, g);
    else if (x.requiresGrad) {
      const dUp = inputGrad(dy, weight, g);
      dx = upsampleBackward(dUp, factor);
      dUp.dispose();
    }
    let dw: Tensor | null = null;
    if (weight.requiresGrad) {
      const up = upsampleForward(x, factor);
      dw = weightGrad(up, dy, g);
      up.dispose();
    }
    const grads = [dx, dw, ...(bias ? [bias.requiresGrad ? sum(dy, [0, 2, 3]) : null] : [])];
    if (dy !== dOut) dy.dispose();
    return grads;
  });
}

/**
 * conv2d(upsampleNearest(x, factor), weight, bias, { padding: 1 }) without the upsampled image:
 * BigGAN upsamples and then convolves in every block. For factor 2, a 3x3 weight and an input
 * width that is a multiple of 4 on a device with subgroups, one kernel whose conv reads its input
 * at (y / 2, x / 2), as 4 phases of 2x2 taps (4 multiply-adds per output instead of 9; see
 * phaseWeights in shaders/conv2d.wgsl), and the input gradient likewise without the upsampled
 * size (a stride-2 4x4 correlation of dy: 16 multiply-adds per input pixel instead of 36;
 * phaseWeightsGrad); otherwise the upsample and the conv one after the other (backward: the
 * conv's input gradient at the upsampled size, summed back over each block).
 */
export function upsampleConv2d(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, factor: number): Tensor {
  return upConvOp('upsampleConv2d', x, weight, bias ?? null, factor, false);
}

/** relu(upsampleConv2d(x, weight, bias, factor)) in one kernel. */
export function upsampleConv2dRelu(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, factor: number): Tensor {
  return upConvOp('upsampleConv2dRelu', x, weight, bias ?? null, factor, true);
}
