// 2-D pooling over NCHW tensors (shaders/pool.wgsl): max pooling and torchvision's adaptive
// average pooling, each with its backward.
import { record } from './grad.js';
import { kernelFamily } from '../engine/kernelFamily.js';
import { grid, runtime } from '../engine/runtime.js';
import { splitUnits, type Part } from '../engine/split.js';
import { assertFloat, empty, formatShape, type Tensor } from '../engine/tensor.js';
import { flatIndex } from '../engine/wgsl.js';

const pool = kernelFamily('pool', {
  uniforms: {
    p: {
      planes: 'u32',
      H: 'u32',
      W: 'u32',
      outH: 'u32',
      outW: 'u32',
      kernel: 'u32', // max pooling only
      stride: 'u32',
      padding: 'u32', // max pooling only: implicit -inf border (maxPoolPadded and the gathering backward)
    },
  },
  // The vec2 / vec4 views serve maxPool2x2 and its backward.
  layouts: {
    forward: {
      entries: ['maxPool', 'maxPoolPadded', 'maxPool2x2', 'adaptiveAvgPool'],
      uniform: 'p',
      buffers: { x: 'read f32 vec4f', y: 'write f32 vec2f', argmax: 'write i32 vec2i' },
    },
    backward: {
      entries: ['maxPoolBackward', 'maxPoolBackwardTiled', 'maxPool2x2Backward', 'adaptiveAvgPoolBackward'],
      uniform: 'p',
      buffers: { gradOut: 'read f32 vec2f', argmaxIn: 'read i32 vec2i', gradX: 'write f32 vec4f' },
    },
  },
  prelude: [flatIndex],
});

const WORKGROUP = 256;

// A type, not an interface, so that it passes as the params record.
type PoolShape = {
  planes: number;
  H: number;
  W: number;
  outH: number;
  outW: number;
  kernel: number;
  stride: number;
  padding: number;
};

function planesOf(x: Tensor, op: string): [number, number, number, number] {
  assertFloat(x, op);
  if (x.ndim !== 4) throw new Error(`${op}: input must be (N, C, H, W), got ${formatShape(x.shape)}`);
  return x.shape as [number, number, number, number];
}

/**
 * The parts of the planes (an image's channels) a pool's launches go in: planes are independent,
 * so operands over the binding-size limit are cut along them (src/engine/split.ts). The forward's
 * parts serve its backward too, whose operands have the same bytes per plane: argmax holds input
 * indices within a part.
 */
function planeParts(op: string, s: PoolShape, x: Tensor, outputs: Record<string, Tensor>): Part[] {
  return splitUnits(op, s.planes, { x }, outputs);
}

/** The buffers the pool kernels write. */
const WRITTEN = new Set(['y', 'argmax', 'gradX']);

/** `threads` per plane over `parts`. */
function launch(parts: Part[], entry: string, s: PoolShape, buffers: Record<string, Tensor | null>, threads: number, tiled = false): void {
  for (const part of parts) {
    runtime().launch({
      kernel: pool,
      entry,
      constants: { WORKGROUP, TILED: tiled ? 1 : 0 },
      params: { ...s, planes: part.count },
      buffers: Object.fromEntries(Object.entries(buffers).map(([name, t]) => [name, t && (WRITTEN.has(name) ? part.write(t) : part.bind(t))])),
      workgroups: grid(threads * part.count, WORKGROUP),
    });
    part.done();
  }
}

/**
 * F.max_pool2d(x, kernel, stride, padding) in floor mode, the padding counting as -inf (as in
 * PyTorch, at most kernel / 2); the gradient goes to the first maximum.
 */
export function maxPool2d(x: Tensor, kernel = 2, stride = kernel, padding = 0): Tensor {
  const [N, C, H, W] = planesOf(x, 'maxPool2d');
  if (!Number.isInteger(kernel) || !Number.isInteger(stride) || kernel < 1 || stride < 1) {
    throw new Error(`maxPool2d: kernel ${kernel} and stride ${stride} must be positive integers`);
  }
  if (!Number.isInteger(padding) || padding < 0 || 2 * padding > kernel) {
    throw new Error(`maxPool2d: padding ${padding} must be an integer from 0 to half the kernel ${kernel}`);
  }
  if (kernel > H + 2 * padding || kernel > W + 2 * padding) {
    throw new Error(`maxPool2d: kernel ${kernel} is larger than the input ${formatShape(x.shape)}${padding ? ` with padding ${padding}` : ''}`);
  }
  const outH = Math.floor((H + 2 * padding - kernel) / stride) + 1;
  const outW = Math.floor((W + 2 * padding - kernel) / stride) + 1;
  const s = { planes: N * C, H, W, outH, outW, kernel, stride, padding };
  // Windows that tile the input exactly (the usual 2x2, stride 2 on even sizes) take a faster path.
  const tiled = padding === 0 && stride === kernel && H === s.outH * kernel && W === s.outW * kernel;
  // 2x2, stride 2 on widths that are multiples of 4: a thread per 2 outputs, vector loads/stores.
  const pairs = tiled && kernel === 2 && W % 4 === 0;
  const y = empty([N, C, s.outH, s.outW]);
  const argmax = empty(y.shape, 'int32');
  const forward = { x, y, argmax };
  const parts = planeParts('maxPool2d', s, x, { y, argmax });
  const outPlane = s.outH * s.outW;
  if (pairs) launch(parts, 'maxPool2x2', s, forward, outPlane / 2, true);
  else if (padding > 0) launch(parts, 'maxPoolPadded', s, forward, outPlane);
  else launch(parts, 'maxPool', s, forward, outPlane, tiled);
  const out = record('maxPool2d', y, [x], (g) => {
    const gx = empty(x.shape);
    const backward = { gradOut: g, argmaxIn: argmax, gradX: gx };
    if (pairs) launch(parts, 'maxPool2x2Backward', s, backward, outPlane / 2, true);
    else if (tiled) launch(parts, 'maxPoolBackwardTiled', s, backward, outPlane, true);
    else launch(parts, 'maxPoolBackward', s, backward, H * W);
    return [gx];
  });
  if (!out.gradFn) argmax.dispose();
  return out;
}

/** torchvision's adaptive average pool: output cell i averages [floor(i*In/Out), ceil((i+1)*In/Out)). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: [number, number]): Tensor {
  const [N, C, H, W] = planesOf(x, 'adaptiveAvgPool2d');
  const [outH, outW] = outputSize;
  if (![outH, outW].every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`adaptiveAvgPool2d: output size [${outputSize}] must be positive integers`);
  }
  if (H === 0 || W === 0) throw new Error(`adaptiveAvgPool2d: empty input ${formatShape(x.shape)}`);
  const s = { planes: N * C, H, W, outH, outW, kernel: 0, stride: 0, padding: 0 };
  const y = empty([N, C, outH, outW]);
  const parts = planeParts('adaptiveAvgPool2d', s, x, { y });
  launch(parts, 'adaptiveAvgPool', s, { x, y, argmax: null }, outH * outW);
  return record('adaptiveAvgPool2d', y, [x], (g) => {
    const gx = empty(x.shape);
    launch(parts, 'adaptiveAvgPoolBackward', s, { gradOut: g, argmaxIn: null, gradX: gx }, H * W);
    return [gx];
  });
}
