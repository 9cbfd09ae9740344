// Nearest-neighbour upsampling by an integer factor (shaders/upsample.wgsl), with backward; and
// bilinear resizing to any size, composed from two matrix products.
import { record } from './grad.js';
import { kernelFamily } from '../engine/kernelFamily.js';
import { grid, runtime } from '../engine/runtime.js';
import { splitUnits } from '../engine/split.js';
import { assertFloat, empty, formatShape, tensor, type Tensor } from '../engine/tensor.js';
import { flatIndex } from '../engine/wgsl.js';
import { matmul } from './matmul.js';

const upsampleKernels = kernelFamily('upsample', {
  uniforms: { p: { rows: 'u32', W: 'u32', factor: 'u32' } }, // rows: planes * input height
  layouts: {
    upsample: {
      entries: ['upsample', 'upsampleBackward', 'upsample2', 'upsample2Backward'],
      uniform: 'p',
      // As vec4s too: src4, dst4 (factor 2, widths that are multiples of 4).
      buffers: { src: 'read f32 vec4f', dst: 'write f32 vec4f' },
    },
  },
  prelude: [flatIndex],
});

const WORKGROUP = 256;

/**
 * A thread per input pixel, forward and backward; for factor 2 and widths that are multiples of 4
 * a thread per 4 input pixels (upsample2 / upsample2Backward). x is the input (low resolution).
 * Planes are independent: operands over the binding-size limit go in parts of them (src/engine/split.ts).
 */
function launch(entry: string, x: Tensor, factor: number, src: Tensor, dst: Tensor): void {
  const [N, C, H, W] = x.shape;
  const quads = factor === 2 && W % 4 === 0;
  for (const part of splitUnits(`upsampleNearest (${entry})`, N * C, { src }, { dst })) {
    runtime().launch({
      kernel: upsampleKernels,
      entry: quads ? entry.replace('upsample', 'upsample2') : entry,
      constants: { WORKGROUP },
      params: { rows: part.count * H, W, factor },
      buffers: { src: part.bind(src), dst: part.write(dst) },
      workgroups: grid((part.count * H * W) / (quads ? 4 : 1), WORKGROUP),
    });
    part.done();
  }
}

export function checkUpsample(x: Tensor, factor: number, op: string): void {
  assertFloat(x, op);
  if (x.ndim !== 4) throw new Error(`${op}: input must be (N, C, H, W), got ${formatShape(x.shape)}`);
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`${op}: factor must be a positive integer, got ${factor}`);
}

/** The upsampled x, without autograd. */
export function upsampleForward(x: Tensor, factor: number): Tensor {
  const [N, C, H, W] = x.shape;
  const y = empty([N, C, H * factor, W * factor]);
  launch('upsample', x, factor, x, y);
  return y;
}

/** d(loss)/dx from the gradient g of the upsampled x (sums over each factor x factor block), without autograd. */
export function upsampleBackward(g: Tensor, factor: number): Tensor {
  const [N, C, H, W] = g.shape;
  const gx = empty([N, C, H / factor, W / factor]);
  launch('upsampleBackward', gx, factor, g, gx);
  return gx;
}

/** F.interpolate(x, scale_factor=factor, mode='nearest') for NCHW x and an integer factor. */
export function upsampleNearest(x: Tensor, factor: number): Tensor {
  checkUpsample(x, factor, 'upsampleNearest');
  return record('upsampleNearest', upsampleForward(x, factor), [x], (g) => [upsampleBackward(g, factor)]);
}

/**
 * The (out, in) matrix of 1-D linear interpolation as PyTorch's bilinear resize does it with
 * align_corners=False and no antialiasing: output i reads input src = (i + 0.5) * in / out - 0.5,
 * clamped at 0, between floor(src) and the next input (the last one repeated).
 */
export function linearResizeWeights(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const src = Math.max(0, (i + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const t = src - i0;
    m[i * inSize + i0] += 1 - t;
    m[i * inSize + i1] += t;
  }
  return m;
}

/**
 * F.interpolate(x, size=[outH, outW], mode='bilinear', align_corners=False) for NCHW x: the
 * classifier's input size when it is no whole multiple of the generator's. Two products with the
 * interpolation matrices, Ry (outH, H) and Rx (outW, W): y = Ry x Rx^T per plane, so the
 * gradient is matmul's (the transposed interpolation). Fine at the sizes images have (the
 * matrices are dense: outH x H and outW x W).
 */
export function resizeBilinear(x: Tensor, outH: number, outW: number): Tensor {
  assertFloat(x, 'resizeBilinear');
  if (x.ndim !== 4) throw new Error(`resizeBilinear: input must be (N, C, H, W), got ${formatShape(x.shape)}`);
  if (![outH, outW].every((s) => Number.isInteger(s) && s >= 1)) {
    throw new Error(`resizeBilinear: the output size must be whole numbers of at least 1, got ${outH}x${outW}`);
  }
  const [N, C, H, W] = x.shape;
  const rx = tensor(linearResizeWeights(W, outW), [outW, W]);
  const ry = tensor(linearResizeWeights(H, outH), [outH, H]);
  const rows = matmul(x.reshape(N * C, H, W), rx, { transB: true }); // (NC, H, outW)
  // rows, rx and ry stay alive for the backward pass (the caller's scope frees them).
  return matmul(ry, rows).reshape(N, C, outH, outW); // (NC, outH, outW)
}
