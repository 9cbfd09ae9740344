// 2-D convolution (shaders/conv2d.wgsl, with WGSL from conv2dWgsl.ts), NCHW, PyTorch semantics:
// forward with the bias (and optionally a relu) fused, the input gradient as a transposed
// convolution on the same kernels (flipped weight, swapped channels; stride becomes input
// dilation), the weight gradient as a split reduction over batch and positions, the bias
// gradient as a sum.
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
import { kernelFamily, type Bound } from '../engine/kernelFamily.js';
import { chosen, grid, MAX_WORKGROUPS_PER_DIM, runtime, type KernelChoice } from '../engine/runtime.js';
import { splitUnits } from '../engine/split.js';
import { assertFloat, empty, formatShape, type Shape, type Tensor } from '../engine/tensor.js';
import { flatIndex } from '../engine/wgsl.js';
import { CONV2D_SUBGROUPS_WGSL, CONV2D_WGSL } from './conv2dWgsl.js';
import { zeros } from './creation.js';
import { add, relu as reluOp, reluBackward } from './elementwise.js';
import { sum } from './reduce.js';
import { conv2dUnfold } from './unfold.js';
import { checkUpsample, upsampleBackward, upsampleForward } from './upsample.js';

const WORKGROUP = 64;
/** Output channels per thread in every kernel (one workgroup row y per block of them). */
const OB = 8;
/** The weight gradient splits its reduction until about this many workgroups run. */
const WEIGHT_GRAD_GROUPS = 64;

/** The conv kernels' buffers: input (x, or dy for the input gradient), weight, bias, output. */
const CONV_BUFFERS = { inp: 'read f32', w: 'read f32', bias: 'read f32', out: 'write f32' };

const convKernels = kernelFamily('conv2d', {
  uniforms: {
    // The conv kernels (shaders/conv2d.wgsl's header: the input gradient runs on them too).
    p: {
      C: 'u32', H: 'u32', W: 'u32', // input channels and stored size of `inp`
      O: 'u32', Ho: 'u32', Wo: 'u32', // output channels and size
      padY: 'i32', padX: 'i32', // P along y and x (negative for some input gradients)
      S: 'u32', D: 'u32', // output stride, input dilation (convGeneric only)
      KH: 'u32', KW: 'u32', // kernel size (convGeneric only)
      // w(o, c, ky, kx) = w[wBase + o wO + c wC + ky wKy + kx wKx], in elements
      wBase: 'i32', wO: 'i32', wC: 'i32', wKy: 'i32', wKx: 'i32',
      quadsX: 'u32', // groups of 4 output columns across a row: ceil(Wo / 4)
      blocksY: 'u32', // conv3x3: ceil(Ho / 4); convGeneric: Ho
      quads: 'u32', // groups of 4 output positions in all (threads x groups per thread)
      positions: 'u32', // convTiled: output positions in all (images x Ho x Wo)
      flags: 'u32', // 1: add bias, 2: relu; bit 31 is never set (kept() in the shader)
    },
    // weightGrad: as p, rows = B * Ho split into slices of rowsPerSplit.
    g: {
      C: 'u32', H: 'u32', W: 'u32', O: 'u32', Ho: 'u32', Wo: 'u32',
      padY: 'i32', padX: 'i32',
      S: 'u32', KH: 'u32', KW: 'u32',
      rows: 'u32', rowsPerSplit: 'u32',
    },
    // phaseWeights and phaseWeightsGrad: the weight's output and input channels.
    fold: { O: 'u32', C: 'u32' },
  },
  layouts: {
    conv: { entries: ['conv3x3', 'conv1x1', 'convGeneric'], uniform: 'p', buffers: CONV_BUFFERS },
    weightGrad: { uniform: 'g', buffers: { gx: 'read f32', gdy: 'read f32', part: 'write f32' } },
    // gx4 and gdy4: x and dy again as vec4s (an entry point may not read two variables at one binding).
    weightGrad3x3: { uniform: 'g', buffers: { gx: 'read f32', gdy4: 'read vec4f', part: 'write f32', gx4: 'read vec4f' } },
    fold: { entries: ['phaseWeights', 'phaseWeightsGrad'], uniform: 'fold', buffers: { weight: 'read f32', folded: 'write f32' } },
  },
  prelude: [flatIndex, ...CONV2D_WGSL],
});

/** The subgroup variants: inp4 is the input as vec4s, pw upConv's phase weights. */
const convSubgroupKernels = convKernels.with('conv2dSubgroups', {
  layouts: {
    shared: {
      entries: ['conv3x3Shared16', 'conv3x3Shared8', 'conv3x3Shared4', 'conv1x1Shared16'],
      uniform: 'p',
      buffers: { ...CONV_BUFFERS, inp4: 'read vec4f' },
    },
    weightGradShared: { entries: ['weightGrad3x3Shared'], uniform: 'g', buffers: { gx: 'read f32', gdy4: 'read vec4f', part: 'write f32', gx4: 'read vec4f' } },
    upConv: {
      entries: ['upConv3x3Shared16', 'upConv3x3GradShared16'],
      uniform: 'p',
      buffers: { ...CONV_BUFFERS, inp4: 'read vec4f', pw: 'read vec4f' },
    },
  },
  prelude: CONV2D_SUBGROUPS_WGSL,
});

/** The workgroup-memory kernel of GPUs (shaders/conv2dTiled.wgsl): unit stride, any taps. */
const convTiledKernels = convKernels.with('conv2dTiled', { layouts: { tiled: { entries: ['convTiled'], uniform: 'p', buffers: CONV_BUFFERS } } });
/** convTiled: output positions and output channels per workgroup. */
const TILED_BLOCK = 64;

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
 * subgroups: use the subgroup variants (shaders/conv2dSubgroups.wgsl) where the device has them.
 * patches: run the layers this file's kernels are not built for as unfold + matmul (viaPatches).
 * The suite switches each off to cover the kernels behind it too.
 */
export const convSettings = {
  subgroups: true,
  patches: true,
  /**
   * The workgroup-memory kernel for unit-stride layers: 'hardware' on a GPU only (on a CPU adapter
   * its barriers cost more than its sharing saves), or always / never (the suite forces both).
   */
  tiled: 'hardware' as KernelChoice,
};

/** Threads along x (folded into z past the dispatch limit), blocks of `ob` output channels along y. */
function convGrid(threads: number, outChannels: number, ob = OB): [number, number, number] {
  const [x, z] = grid(threads, WORKGROUP);
  const y = Math.ceil(outChannels / ob);
  if (y > MAX_WORKGROUPS_PER_DIM) throw new Error(`conv2d: ${outChannels} output channels exceed the dispatch limit`);
  return [x, y, z];
}

/** The conv kernels' uniform block p but for the thread layout and the flags. */
interface ConvShape {
  /** inp: channels, stored height and width; out: channels, height, width. */
  C: number;
  H: number;
  W: number;
  O: number;
  Ho: number;
  Wo: number;
  padY: number;
  padX: number;
  S: number;
  D: number;
  KH: number;
  KW: number;
  /** Weight addressing: wBase + o wO + c wC + ky wKy + kx wKx (elements, signed). */
  wBase: number;
  wO: number;
  wC: number;
  wKy: number;
  wKx: number;
}

interface ConvLaunch {
  inp: Tensor;
  weight: Tensor;
  bias: Tensor | null;
  relu: boolean;
  out: Tensor;
  batch: number;
  shape: ConvShape;
}

/** Groups of 4 x 4 output positions over `batch` images of H x W (conv3x3 and upConv). */
function groups4x4(batch: number, H: number, W: number): { quadsX: number; blocksY: number; quads: number } {
  const quadsX = Math.ceil(W / 4);
  const blocksY = Math.ceil(H / 4);
  return { quadsX, blocksY, quads: batch * blocksY * quadsX };
}

/** p.flags: 1 adds the bias, 2 applies a relu. */
function convFlags(bias: Tensor | null, relu: boolean): number {
  return (bias ? 1 : 0) | (relu ? 2 : 0);
}

/**
 * Picks the kernel (see the headers of shaders/conv2d.wgsl and conv2dSubgroups.wgsl) and its
 * thread layout: groups of 4 output positions per thread, `ob` output channels per thread. Images
 * are independent: a launch whose input or output is over the binding-size limit runs per part
 * of the batch (src/engine/split.ts), every output element computed as before.
 */
function launchConv(op: string, k: ConvLaunch): void {
  for (const part of splitUnits(op, k.batch, { input: k.inp }, { output: k.out })) {
    launchConvPart(k, part.count, part.bind(k.inp), part.write(k.out));
    part.done();
  }
}

function launchConvPart(k: ConvLaunch, batch: number, inp: Bound, out: Bound): void {
  const s = k.shape;
  const unit = s.S === 1 && s.D === 1;
  if (unit && chosen(convSettings.tiled)) {
    const positions = batch * s.Ho * s.Wo;
    const [x, z] = grid(positions, TILED_BLOCK);
    runtime().launch({
      kernel: convTiledKernels,
      entry: 'convTiled',
      params: { ...s, quadsX: 0, blocksY: 0, quads: 0, positions, flags: convFlags(k.bias, k.relu) },
      buffers: { inp, w: k.weight.buffer, bias: (k.bias ?? k.weight).buffer, out },
      workgroups: [x, Math.ceil(s.O / TILED_BLOCK), z],
    });
    return;
  }
  const shared = convSettings.subgroups && runtime().ctx.hasSubgroups;
  let kernel = convKernels;
  let entry: string;
  let layout: { quadsX: number; blocksY: number; quads: number };
  let threads: number;
  let ob = OB;
  if (unit && s.KH === 3 && s.KW === 3) {
    entry = 'conv3x3';
    layout = groups4x4(batch, s.Ho, s.Wo);
    threads = Math.ceil(layout.quads / 2);
    // The subgroup kernels read input rows as vec4s: padding 1 along x, width a multiple of 4.
    if (shared && s.padX === 1 && s.W % 4 === 0) {
      kernel = convSubgroupKernels;
      if (s.O > OB) [entry, threads, ob] = ['conv3x3Shared16', layout.quads, 2 * OB];
      else if (s.O > OB / 2) entry = 'conv3x3Shared8';
      else [entry, threads, ob] = ['conv3x3Shared4', Math.ceil(layout.quads / 4), OB / 2];
    }
  } else if (unit && s.KH === 1 && s.KW === 1 && s.padY === 0 && s.padX === 0) {
    entry = 'conv1x1';
    const quadsX = Math.ceil((s.Ho * s.Wo) / 4);
    layout = { quadsX, blocksY: 1, quads: batch * quadsX };
    threads = Math.ceil(layout.quads / 4);
    if (shared && s.O > OB && (s.H * s.W) % 4 === 0) [kernel, entry, ob] = [convSubgroupKernels, 'conv1x1Shared16', 2 * OB];
  } else {
    entry = 'convGeneric';
    const quadsX = Math.ceil(s.Wo / 4);
    layout = { quadsX, blocksY: s.Ho, quads: batch * s.Ho * quadsX };
    threads = Math.ceil(layout.quads / 2);
  }
  runtime().launch({
    kernel,
    entry,
    constants: { WORKGROUP },
    params: { ...s, ...layout, positions: 0, flags: convFlags(k.bias, k.relu) },
    buffers: {
      // Without a bias the flags say not to read it: any buffer fills the binding.
      inp: entry === 'conv1x1Shared16' ? null : inp, w: k.weight.buffer, bias: (k.bias ?? k.weight).buffer, out,
      // The subgroup kernels read the input as vec4s too (conv1x1Shared16 only so).
      ...(kernel === convSubgroupKernels ? { inp4: inp } : {}),
    },
    workgroups: convGrid(threads, s.O, ob),
  });
}

/** The forward convolution, without autograd. */
function convForward(op: string, x: Tensor, weight: Tensor, bias: Tensor | null, relu: boolean, g: Geometry): Tensor {
  const out = empty([g.B, g.O, g.Ho, g.Wo]);
  launchConv(op, {
    inp: x, weight, bias, relu, out, batch: g.B,
    shape: {
      C: g.C, H: g.H, W: g.W, O: g.O, Ho: g.Ho, Wo: g.Wo, padY: g.pad, padX: g.pad, S: g.stride, D: 1, KH: g.kh, KW: g.kw,
      wBase: 0, wO: g.C * g.kh * g.kw, wC: g.kh * g.kw, wKy: g.kw, wKx: 1,
    },
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
  launchConv('conv2d input gradient', {
    inp: dy, weight, bias: null, relu: false, out: dx, batch: g.B,
    shape: {
      C: g.O, H: g.Ho, W: g.Wo, O: g.C, Ho: g.H, Wo: g.W,
      padY: g.kh - 1 - g.pad, padX: g.kw - 1 - g.pad, S: 1, D: g.stride, KH: g.kh, KW: g.kw,
      // Output channel c, input channel o, tap (ky, kx): weight[o, c, kh - 1 - ky, kw - 1 - kx].
      wBase: kk - 1, wO: kk, wC: g.C * kk, wKy: -g.kw, wKx: -1,
    },
  });
  return dx;
}

/**
 * d(loss)/d(weight): a reduction over batch and output positions, split across workgroups. Where
 * x or dy is over the binding-size limit, each part of the batch reduces its images alone and the
 * parts' sums are added (another summation order than one launch: float32 rounding differs).
 */
function weightGrad(x: Tensor, dy: Tensor, g: Geometry): Tensor {
  let dw: Tensor | null = null;
  for (const part of splitUnits('conv2d weight gradient', g.B, { input: x, 'output gradient': dy })) {
    const partial = weightGradPart(part.bind(x), part.bind(dy), part.count, g);
    if (!dw) dw = partial;
    else {
      const next = add(dw, partial);
      dw.dispose();
      partial.dispose();
      dw = next;
    }
  }
  return dw!;
}

/** The weight gradient of `batch` images, x and dy bound as given. */
function weightGradPart(x: Bound, dy: Bound, batch: number, g: Geometry): Tensor {
  const taps = g.C * g.kh * g.kw;
  const rows = batch * g.Ho;
  if (rows === 0 || taps === 0) return zeros([g.O, g.C, g.kh, g.kw]);
  // 3x3, stride 1, padding 1 on rows of a multiple of 4: a thread per input channel, all 9 taps;
  // with subgroups, a workgroup no wider than the input channels (lanes past them compute copies).
  const taps3x3 = g.kh === 3 && g.kw === 3 && g.stride === 1 && g.pad === 1 && g.W % 4 === 0;
  const shared = taps3x3 && convSettings.subgroups && runtime().ctx.hasSubgroups;
  const workgroup = shared ? Math.min(WORKGROUP, Math.max(8, 2 ** Math.ceil(Math.log2(g.C)))) : WORKGROUP;
  const gx = Math.ceil((taps3x3 ? g.C : taps / 4) / workgroup);
  const gy = Math.ceil(g.O / OB);
  // The partial sums (one weight-sized slice per split) stay within one binding.
  const slices = Math.max(1, Math.floor(runtime().bindingLimit / (4 * g.O * taps)));
  const splits = Math.min(rows, MAX_WORKGROUPS_PER_DIM, slices, Math.max(1, Math.ceil(WEIGHT_GRAD_GROUPS / (gx * gy))));
  const rowsPerSplit = Math.ceil(rows / splits);
  const used = Math.ceil(rows / rowsPerSplit);
  const part = empty([used, g.O, g.C, g.kh, g.kw]);
  runtime().launch({
    kernel: shared ? convSubgroupKernels : convKernels,
    entry: shared ? 'weightGrad3x3Shared' : taps3x3 ? 'weightGrad3x3' : 'weightGrad',
    constants: { WORKGROUP: workgroup },
    params: {
      C: g.C, H: g.H, W: g.W, O: g.O, Ho: g.Ho, Wo: g.Wo, padY: g.pad, padX: g.pad, S: g.stride, KH: g.kh, KW: g.kw,
      rows, rowsPerSplit,
    },
    buffers: taps3x3 ? { gx: x, gx4: x, gdy4: dy, part: part.buffer } : { gx: x, gdy: dy, part: part.buffer },
    workgroups: [gx, gy, used],
  });
  // A view of one slice; the view holds the storage once part lets go of it.
  const dw = used === 1 ? part.reshape(g.O, g.C, g.kh, g.kw) : sum(part, 0);
  part.dispose();
  return dw;
}

/**
 * Whether a layer runs as unfold + matmul (src/kernels/unfold.ts) rather than on this file's
 * kernels, which are built for 3x3 layers with padding 1 over rows a multiple of 4 wide and 1x1
 * layers over planes a multiple of 4, at stride 1. Anything else falls to convGeneric or to
 * conv3x3 over a mostly empty 4 x 4 group: a ResNet's strided and 2x2 / 1x1 layers. As one
 * matrix product over the batch they were 2.3-12x faster on lavapipe (ResNet judge layers at
 * batch 100: 856 -> 73 ms for 256 -> 512 channels at stride 2, 1663 -> 149 ms for a 3x3 layer on
 * 1x1 images), the 7x7 stem the same, and the sums come in the same order. The patches must fit
 * one binding (convGeneric splits, unfold does not); the kernels keep the rest.
 */
function viaPatches(g: Geometry): boolean {
  const kernelsFit =
    g.stride === 1 &&
    (chosen(convSettings.tiled) || (g.kh === 3 && g.kw === 3 && g.pad === 1 && g.W % 4 === 0) || (g.kh === 1 && g.kw === 1 && g.pad === 0 && (g.H * g.W) % 4 === 0));
  if (!convSettings.patches || kernelsFit || g.kh !== g.kw) return false;
  const rows = g.B * g.Ho * g.Wo;
  return 4 * rows * Math.max(g.C * g.kh * g.kw, g.O) <= runtime().bindingLimit;
}

function convOp(name: string, x: Tensor, weight: Tensor, bias: Tensor | null, relu: boolean, options: Conv2dOptions): Tensor {
  assertFloat(x, name);
  assertFloat(weight, name);
  const g = geometry(name, x.shape, weight.shape, bias, options);
  if (viaPatches(g)) {
    const y = conv2dUnfold(x, weight, bias, { stride: g.stride, padding: g.pad });
    return relu ? reluOp(y) : y;
  }
  const out = convForward(name, x, weight, bias, relu, g);
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
    kernel: convKernels,
    entry: 'phaseWeights',
    constants: { WORKGROUP },
    params: { O, C },
    buffers: { weight: weight.buffer, folded: pw.buffer },
    // A 1536 -> 1536 layer needs 147,456 workgroups: grid() folds them into y.
    workgroups: grid(4 * O * C, WORKGROUP),
  });
  return pw;
}

/** The upConv kernels read their weights from pw, not through p's weight strides. */
const PW_STRIDES = { wBase: 0, wO: 0, wC: 0, wKy: 0, wKx: 0 };

/** upsample x2 + 3x3 conv (padding 1) in one kernel: upConv3x3Shared16 (shaders/conv2dSubgroups.wgsl), per part of the batch. */
function upConvForward(op: string, x: Tensor, weight: Tensor, bias: Tensor | null, relu: boolean, g: Geometry): Tensor {
  const [B, C, H, W] = x.shape;
  const pw = phaseWeights(weight, g.O, C);
  const out = empty([B, g.O, g.Ho, g.Wo]);
  for (const part of splitUnits(op, B, { input: x }, { output: out })) {
    const layout = groups4x4(part.count, H, W);
    const [gx, , gz] = convGrid(layout.quads, g.O, 2 * OB);
    const phases = 4 * Math.ceil(g.O / (2 * OB));
    if (phases > MAX_WORKGROUPS_PER_DIM) throw new Error(`upsampleConv2d: ${g.O} output channels exceed the dispatch limit`);
    const inp = part.bind(x);
    runtime().launch({
      kernel: convSubgroupKernels,
      entry: 'upConv3x3Shared16',
      constants: { WORKGROUP },
      // p describes the source image and the conv's output (shaders/conv2dSubgroups.wgsl).
      params: {
        C, H, W, O: g.O, Ho: g.Ho, Wo: g.Wo, padY: 1, padX: 1, S: 1, D: 1, KH: 3, KW: 3, ...PW_STRIDES,
        ...layout, positions: 0, flags: convFlags(bias, relu),
      },
      buffers: { inp, w: null, bias: (bias ?? x).buffer, out: part.write(out), inp4: inp, pw: pw.buffer },
      workgroups: [gx, phases, gz],
    });
    part.done();
  }
  pw.dispose();
  return out;
}

/** d(loss)/dx of upsample x2 + 3x3 conv (padding 1) from dy: upConv3x3GradShared16, per part of the batch. */
function upConvInputGrad(dy: Tensor, weight: Tensor, xShape: Shape, g: Geometry): Tensor {
  const [B, C, H, W] = xShape;
  const K = empty([C, g.O, 4, 4]);
  runtime().launch({
    kernel: convKernels,
    entry: 'phaseWeightsGrad',
    constants: { WORKGROUP },
    params: { O: g.O, C },
    buffers: { weight: weight.buffer, folded: K.buffer },
    workgroups: grid(g.O * C, WORKGROUP),
  });
  const dx = empty(xShape);
  for (const part of splitUnits('upsampleConv2d input gradient', B, { 'output gradient': dy }, { 'input gradient': dx })) {
    const layout = groups4x4(part.count, H, W);
    const inp = part.bind(dy);
    runtime().launch({
      kernel: convSubgroupKernels,
      entry: 'upConv3x3GradShared16',
      constants: { WORKGROUP },
      // p describes the correlation of dy (C, H, W) with K into dx (O, Ho, Wo): a 4x4 kernel, no bias.
      params: {
        C: g.O, H: g.Ho, W: g.Wo, O: C, Ho: H, Wo: W, padY: 0, padX: 0, S: 1, D: 1, KH: 4, KW: 4, ...PW_STRIDES,
        ...layout, positions: 0, flags: 0,
      },
      // No bias is read (flags 0), but the stores name the binding: dy fills it.
      buffers: { inp, w: null, bias: inp, out: part.write(dx), inp4: inp, pw: K.buffer },
      workgroups: convGrid(layout.quads, C, 2 * OB),
    });
    part.done();
  }
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
  if (fused) out = upConvForward(name, x, weight, bias, relu, g);
  else {
    const up = upsampleForward(x, factor);
    out = convForward(name, up, weight, bias, relu, g);
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
