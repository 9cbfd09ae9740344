// Patches as rows and back (shaders/unfold.wgsl): F.unfold and F.fold with each patch a row
// (B, L, C k k) rather than a column, each the other's gradient, and the convolutions a DCGAN
// needs written with them as matrix products: convTranspose2d, and conv2dUnfold for conv2d's
// strided layers larger than 3x3. Patches as rows make a layer one product over the whole batch,
// (B L, C k k) by the weight, instead of B small ones (a 4x4 image is 16 columns).
//
// Why not conv2d's kernels (convTranspose2d's first version ran on them, as the input gradient of
// the matching conv2d; it gave the same numbers): they are built for 3x3 and 1x1 layers, and
// anything else runs convGeneric, which reads each input and weight value per tap, and the input
// gradient of a stride-2 conv (so a transposed conv's forward) runs it over a dilated input, 3 of
// 4 taps on zeros. On lavapipe a DCGAN's 4x4 stride-2 layer (64 images, 32 -> 64 channels,
// 16x16 -> 8x8) took 0.8-1 s forward through convGeneric and 0.16-0.3 s as a matrix product of
// the same size under the same load; a whole DCGAN step at width 32 went from 65-85 s to 12 s.
import { record } from './grad.js';
import { kernelFamily } from '../engine/kernelFamily.js';
import { grid, runtime } from '../engine/runtime.js';
import { assertFloat, empty, formatShape, type Tensor } from '../engine/tensor.js';
import { flatIndex } from '../engine/wgsl.js';
import { add } from './elementwise.js';
import { linear, matmul } from './matmul.js';
import { permute } from './shape.js';

const unfoldKernels = kernelFamily('unfold', {
  uniforms: {
    p: {
      n: 'u32', // threads (launch() says how many each entry runs)
      C: 'u32', H: 'u32', W: 'u32', // channels and size of the image
      KH: 'u32', KW: 'u32', S: 'u32', P: 'u32', // kernel, stride, padding
      Ho: 'u32', Wo: 'u32', // patch positions down and across
    },
  },
  layouts: {
    // unfold reads an image and writes its patches; fold the other way round.
    unfold: { uniform: 'p', buffers: { image: 'read f32', patches: 'write f32' } },
    fold: { uniform: 'p', buffers: { patchesIn: 'read f32', imageOut: 'write f32' } },
  },
  prelude: [flatIndex],
});

const WORKGROUP = 256;
/** shaders/unfold.wgsl's RUN: the pixels of a row one fold thread sums. */
const FOLD_RUN = 16;

export interface UnfoldOptions {
  stride?: number;
  padding?: number;
}

/** An image's geometry and its patches'. */
interface Patches {
  B: number;
  C: number;
  H: number;
  W: number;
  k: number;
  S: number;
  P: number;
  Ho: number;
  Wo: number;
}

function patches(op: string, [B, C, H, W]: readonly number[], k: number, options: UnfoldOptions): Patches {
  const S = options.stride ?? 1;
  const P = options.padding ?? 0;
  if (!Number.isInteger(k) || k < 1) throw new Error(`${op}: kernel size must be a whole number of at least 1, got ${k}`);
  if (!Number.isInteger(S) || S < 1) throw new Error(`${op}: stride must be a positive integer, got ${S}`);
  if (!Number.isInteger(P) || P < 0) throw new Error(`${op}: padding must be a non-negative integer, got ${P}`);
  const Ho = Math.floor((H + 2 * P - k) / S) + 1;
  const Wo = Math.floor((W + 2 * P - k) / S) + 1;
  if (Ho < 1 || Wo < 1) throw new Error(`${op}: kernel ${k} is larger than the padded image ${H + 2 * P}x${W + 2 * P}`);
  return { B, C, H, W, k, S, P, Ho, Wo };
}

function launch(entry: 'unfold' | 'fold', g: Patches, from: Tensor, to: Tensor): void {
  // Threads: unfold one a patch's channel, fold one a run of FOLD_RUN pixels of a row.
  const n = entry === 'unfold' ? g.B * g.Ho * g.Wo * g.C : g.B * g.C * g.H * Math.ceil(g.W / FOLD_RUN);
  runtime().launch({
    kernel: unfoldKernels,
    entry,
    constants: { WORKGROUP },
    params: { n, C: g.C, H: g.H, W: g.W, KH: g.k, KW: g.k, S: g.S, P: g.P, Ho: g.Ho, Wo: g.Wo },
    buffers: entry === 'unfold' ? { image: from.buffer, patches: to.buffer } : { patchesIn: from.buffer, imageOut: to.buffer },
    workgroups: grid(n, WORKGROUP),
  });
}

function unfoldForward(x: Tensor, g: Patches): Tensor {
  const cols = empty([g.B, g.Ho * g.Wo, g.C * g.k * g.k]);
  launch('unfold', g, x, cols);
  return cols;
}

function foldForward(cols: Tensor, g: Patches): Tensor {
  const x = empty([g.B, g.C, g.H, g.W]);
  launch('fold', g, cols, x);
  return x;
}

/**
 * F.unfold(x, kernelSize, stride, padding) transposed, for x (B, C, H, W) and a square kernel k:
 * (B, L, C k k), row l holding the patch at output position l of Ho x Wo.
 */
export function unfold(x: Tensor, kernelSize: number, options: UnfoldOptions = {}): Tensor {
  assertFloat(x, 'unfold');
  if (x.ndim !== 4) throw new Error(`unfold: input must be (B, C, H, W), got ${formatShape(x.shape)}`);
  const g = patches('unfold', x.shape, kernelSize, options);
  return record('unfold', unfoldForward(x, g), [x], (dCols) => [foldForward(dCols, g)]);
}

/**
 * F.fold of patches as rows, (B, L, C k k), into (B, C, H, W): each patch added back where
 * unfold took it from.
 */
export function fold(cols: Tensor, outputSize: [number, number], kernelSize: number, options: UnfoldOptions = {}): Tensor {
  assertFloat(cols, 'fold');
  const kk = kernelSize * kernelSize;
  if (cols.ndim !== 3 || cols.shape[2] % kk !== 0) {
    throw new Error(`fold: input must be (B, L, C * ${kernelSize} * ${kernelSize}), got ${formatShape(cols.shape)}`);
  }
  const [B, L, Ckk] = cols.shape;
  const g = patches('fold', [B, Ckk / kk, outputSize[0], outputSize[1]], kernelSize, options);
  if (g.Ho * g.Wo !== L) {
    throw new Error(`fold: ${L} patches, but a ${outputSize.join('x')} image has ${g.Ho}x${g.Wo} of kernel ${kernelSize}, stride ${g.S}, padding ${g.P}`);
  }
  return record('fold', foldForward(cols, g), [cols], (dx) => [unfoldForward(dx, g)]);
}

export interface ConvTranspose2dOptions extends UnfoldOptions {
  /** Extra rows and columns on the bottom and right of the output (less than the stride). */
  outputPadding?: number;
}

/**
 * torch.nn.functional.conv_transpose2d for x (B, Cin, H, W), weight (Cin, Cout, k, k), optional
 * bias (Cout): output (B, Cout, Ho, Wo), Ho = (H - 1) stride - 2 padding + k + outputPadding.
 * Each input pixel's contribution to its k x k patch of the output is one row of x's pixels
 * times the weight, (B H W, Cin) by (Cin, Cout k k), and fold adds the patches up where they land.
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  assertFloat(x, op);
  assertFloat(weight, op);
  const stride = options.stride ?? 1;
  const padding = options.padding ?? 0;
  const outPad = options.outputPadding ?? 0;
  if (!Number.isInteger(outPad) || outPad < 0 || outPad >= stride) {
    throw new Error(`${op}: outputPadding must be a whole number smaller than the stride ${stride}, got ${outPad}`);
  }
  if (x.ndim !== 4) throw new Error(`${op}: input ${formatShape(x.shape)} must be 4-D (batch, channels, height, width)`);
  if (weight.ndim !== 4 || weight.shape[2] !== weight.shape[3]) {
    throw new Error(`${op}: weight ${formatShape(weight.shape)} must be (in channels, out channels, k, k)`);
  }
  const [B, Cin, H, W] = x.shape;
  const [Cw, Cout, k] = weight.shape;
  if (Cin !== Cw) throw new Error(`${op}: input ${formatShape(x.shape)} has ${Cin} channels but weight ${formatShape(weight.shape)} expects ${Cw}`);
  const Ho = (H - 1) * stride - 2 * padding + k + outPad;
  const Wo = (W - 1) * stride - 2 * padding + k + outPad;
  if (Ho < 1 || Wo < 1) throw new Error(`${op}: padding ${padding} leaves no output for input ${formatShape(x.shape)} and weight ${formatShape(weight.shape)}`);
  if (bias) {
    assertFloat(bias, op);
    if (bias.ndim !== 1 || bias.shape[0] !== Cout) throw new Error(`${op}: bias ${formatShape(bias.shape)} must have shape [${Cout}] for weight ${formatShape(weight.shape)}`);
  }
  // x's pixels as rows (B H W, Cin), one product with the weight: each row is a pixel's patch.
  const rows = permute(x.reshape(B, Cin, H * W), [0, 2, 1]).reshape(B * H * W, Cin);
  const cols = matmul(rows, weight.reshape(Cin, Cout * k * k)).reshape(B, H * W, Cout * k * k);
  const y = fold(cols, [Ho, Wo], k, { stride, padding });
  return bias ? add(y, bias.reshape(1, Cout, 1, 1)) : y;
}

/**
 * conv2d(x, weight, bias, { stride, padding }) for a square kernel as unfold(x), (B L, C k k),
 * times the weight (O, C k k) transposed: the route for DCGAN's 4x4 stride-2 layers (see the
 * header). Gradients come from matmul's, permute's and unfold's rules.
 */
export function conv2dUnfold(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, options: UnfoldOptions = {}): Tensor {
  assertFloat(weight, 'conv2dUnfold');
  const [O, C, kh, kw] = weight.shape;
  if (weight.ndim !== 4 || kh !== kw) throw new Error(`conv2dUnfold: weight must be (O, C, k, k), got ${formatShape(weight.shape)}`);
  if (x.ndim !== 4 || x.shape[1] !== C) throw new Error(`conv2dUnfold: input ${formatShape(x.shape)} does not match weight ${formatShape(weight.shape)}`);
  const g = patches('conv2dUnfold', x.shape, kh, options);
  const L = g.Ho * g.Wo;
  // The bias is added in the product (linear), over (B L, O) rows, not after the permute.
  const rows = linear(unfold(x, kh, options).reshape(g.B * L, C * kh * kw), weight.reshape(O, C * kh * kw), bias ?? undefined);
  return permute(rows.reshape(g.B, L, O), [0, 2, 1]).reshape(g.B, O, g.Ho, g.Wo);
}
