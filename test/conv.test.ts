import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  conv2d, conv2dInputGrad, conv2dRelu, conv2dWeightGrad, convSettings, upsampleConv2d, upsampleConv2dRelu,
} from '../src/kernels/conv2d.js';
import { launchSettings, MAX_WORKGROUPS_PER_DIM, runtime } from '../src/engine/runtime.js';
import { tensor } from '../src/engine/tensor.js';
import { zeros } from '../src/kernels/creation.js';
import { checkOp, expectClose, randomValues, setupGpu } from './helpers.js';
import { convRef, gradRef, outSize, type Case } from './reference/conv.js';
import { upsampleNearestRef } from './reference/pool.js';
import { FORWARD_REL, GRAD_REL } from './tolerances.js';

beforeAll(setupGpu);

function label(c: Case): string {
  return `B${c.B} C${c.C} ${c.H}x${c.W} -> O${c.O} k${c.kh}x${c.kw} s${c.stride} p${c.padding}${c.bias ? ' +bias' : ''}`;
}

function check(c: Case, seed: number, relu = false) {
  const inputs = [
    { shape: [c.B, c.C, c.H, c.W] },
    { shape: [c.O, c.C, c.kh, c.kw] },
    ...(c.bias ? [{ shape: [c.O] }] : []),
  ];
  const op = relu ? conv2dRelu : conv2d;
  return checkOp(
    ([x, w, b]) => op(x, w, b, { stride: c.stride, padding: c.padding }),
    ([x, w, b]) => convRef(c, x, w, b, relu),
    inputs,
    { seed },
  );
}

async function checkLarge(c: Case, i: number): Promise<void> {
  const [Ho, Wo] = outSize(c);
  const r = (v: Float64Array) => Float64Array.from(Float32Array.from(v));
  const xv = r(randomValues(c.B * c.C * c.H * c.W, 31 + i));
  const wv = r(randomValues(c.O * c.C * c.kh * c.kw, 41 + i, 0.2));
  const bv = r(randomValues(c.O, 51 + i));
  const dyv = r(randomValues(c.B * c.O * Ho * Wo, 61 + i));
  const x = tensor(Float32Array.from(xv), [c.B, c.C, c.H, c.W]);
  const w = tensor(Float32Array.from(wv), [c.O, c.C, c.kh, c.kw]);
  const dy = tensor(Float32Array.from(dyv), [c.B, c.O, Ho, Wo]);
  const options = { stride: c.stride, padding: c.padding };
  const y = conv2d(x, w, c.bias ? tensor(Float32Array.from(bv)) : null, options);
  expectClose(await y.data(), convRef(c, xv, wv, c.bias ? bv : undefined), FORWARD_REL, 'forward');
  const ref = gradRef(c, xv, wv, dyv);
  expectClose(await conv2dInputGrad(dy, w, x.shape, options).data(), ref.dx, FORWARD_REL, 'input gradient');
  expectClose(await conv2dWeightGrad(x, dy, w.shape, options).data(), ref.dw, FORWARD_REL, 'weight gradient');
}

const base = { B: 1, C: 1, H: 5, W: 7, O: 1, kh: 3, kw: 3, stride: 1, padding: 0, bias: false };
const cases: Case[] = [
  { ...base },
  { ...base, B: 2, C: 3, O: 5, padding: 1, bias: true },
  { ...base, B: 2, C: 5, O: 3, kh: 1, kw: 1 },
  { ...base, C: 7, O: 9, kh: 1, kw: 1, stride: 2, bias: true },
  { ...base, B: 2, C: 3, O: 7, kh: 2, kw: 3, padding: 2 },
  { ...base, C: 5, O: 3, stride: 2, padding: 1, bias: true },
  { ...base, B: 2, C: 3, O: 4, H: 7, W: 5, kh: 2, kw: 3, stride: 2, padding: 0 },
  { ...base, C: 2, O: 3, H: 6, W: 6, kh: 3, kw: 3, stride: 3, padding: 2, bias: true },
  { ...base, B: 2, C: 4, O: 11, H: 9, W: 9, padding: 1 },
  { ...base, C: 3, O: 2, H: 5, W: 7, kh: 5, kw: 5, padding: 1 },
  // widths that are multiples of 4 with padding 1 (1x1: planes that are): the subgroup kernels
  // where the device has subgroups, 8, 16 and 4 output channels a thread
  { ...base, B: 2, C: 3, O: 5, W: 8, padding: 1, bias: true },
  { ...base, B: 2, C: 4, O: 11, H: 9, W: 12, padding: 1 },
  { ...base, B: 2, C: 3, O: 13, H: 3, W: 4, kh: 1, kw: 1, bias: true },
  { ...base, B: 2, C: 5, O: 3, H: 6, W: 8, padding: 1, bias: true },
];

describe('conv2d', () => {
  cases.forEach((c, i) => {
    it(`forward and gradients: ${label(c)}`, () => check(c, i + 1));
  });

  it('fused relu: forward and gradients', () =>
    check({ ...base, B: 2, C: 3, O: 5, padding: 1, bias: true }, 21, true));
  it('fused relu, input width a multiple of 4: forward and gradients', () =>
    check({ ...base, B: 2, C: 3, O: 17, W: 8, padding: 1, bias: true }, 22, true));

  // Shapes big enough for several workgroups, output-channel blocks and (for the weight
  // gradient) split reductions; checked against float64 references rather than finite differences.
  const large: Case[] = [
    { B: 3, C: 20, H: 12, W: 10, O: 20, kh: 3, kw: 3, stride: 1, padding: 1, bias: true },
    { B: 2, C: 9, H: 13, W: 11, O: 6, kh: 3, kw: 3, stride: 2, padding: 1, bias: false },
    { B: 4, C: 12, H: 8, W: 8, O: 17, kh: 1, kw: 1, stride: 1, padding: 0, bias: true },
    // several workgroups along x, the last one part-filled, and a part-filled block of 16
    // channels (widths / planes that are multiples of 4: the subgroup kernels where there are)
    { B: 5, C: 9, H: 17, W: 16, O: 19, kh: 3, kw: 3, stride: 1, padding: 1, bias: true },
    { B: 3, C: 10, H: 9, W: 12, O: 21, kh: 1, kw: 1, stride: 1, padding: 0, bias: false },
    { B: 2, C: 6, H: 10, W: 8, O: 3, kh: 3, kw: 3, stride: 1, padding: 1, bias: true },
    { B: 20, C: 4, H: 16, W: 16, O: 3, kh: 3, kw: 3, stride: 1, padding: 1, bias: false },
    // weightGrad3x3 over two workgroups of input channels, the second part-filled
    { B: 2, C: 70, H: 4, W: 8, O: 10, kh: 3, kw: 3, stride: 1, padding: 1, bias: false },
  ];
  large.forEach((c, i) => {
    it(`larger shapes match float64 references: ${label(c)}`, () => checkLarge(c, i));
  });


  it('gradients accumulate into leaves used twice, and frozen weights get none', async () => {
    const c: Case = { ...base, B: 2, C: 3, O: 4, padding: 1 };
    const xv = randomValues(c.B * c.C * c.H * c.W, 71);
    const wv = randomValues(c.O * c.C * 9, 72);
    const x = tensor(Float32Array.from(xv), [c.B, c.C, c.H, c.W], { requiresGrad: true });
    const w = tensor(Float32Array.from(wv), [c.O, c.C, 3, 3]);
    const y1 = conv2d(x, w, null, { padding: 1 });
    const y2 = conv2d(x, w, null, { padding: 1 });
    const dyv = randomValues(y1.size, 73);
    const dy = tensor(Float32Array.from(dyv), y1.shape);
    y1.backward(dy);
    y2.backward(dy);
    const r = (v: Float64Array) => Float64Array.from(Float32Array.from(v));
    const { dx } = gradRef(c, r(xv), r(wv), r(dyv));
    expectClose(await x.grad!.data(), dx.map((v) => 2 * v), GRAD_REL, 'input gradient');
    expect(w.grad).toBeNull();
  });

  it('an empty batch gives empty outputs and zero weight gradients', async () => {
    const x = tensor(new Float32Array(0), [0, 3, 6, 6]);
    const w = tensor(new Float32Array(4 * 3 * 9).fill(1), [4, 3, 3, 3]);
    expect(conv2d(x, w, null, { padding: 1 }).shape).toEqual([0, 4, 6, 6]);
    const dy = tensor(new Float32Array(0), [0, 4, 6, 6]);
    expect(conv2dInputGrad(dy, w, x.shape, { padding: 1 }).shape).toEqual([0, 3, 6, 6]);
    expect(Array.from(await conv2dWeightGrad(x, dy, w.shape, { padding: 1 }).data())).toEqual(new Array(4 * 3 * 9).fill(0));
  });

  it('conv2dInputGrad checks the output-gradient shape', () => {
    const w = tensor(new Float32Array(4 * 3 * 9), [4, 3, 3, 3]);
    const dy = tensor(new Float32Array(2 * 4 * 5 * 5), [2, 4, 5, 5]);
    expect(conv2dInputGrad(dy, w, [2, 3, 5, 5], { padding: 1 }).shape).toEqual([2, 3, 5, 5]);
    expect(() => conv2dInputGrad(dy, w, [2, 3, 5, 5])).toThrow(/\[2, 4, 5, 5\].*\[2, 4, 3, 3\]/);
  });

  it('runs the subgroup kernels where the device has subgroups', () => {
    const rt = runtime();
    const entries: string[] = [];
    const stop = rt.onLaunch((k) => entries.push(k.entry));
    try {
      const x = tensor(new Float32Array(2 * 3 * 6 * 8), [2, 3, 6, 8]);
      conv2d(x, tensor(new Float32Array(20 * 3 * 9), [20, 3, 3, 3]), null, { padding: 1 });
      conv2d(x, tensor(new Float32Array(6 * 3 * 9), [6, 3, 3, 3]), null, { padding: 1 });
      conv2d(x, tensor(new Float32Array(4 * 3 * 9), [4, 3, 3, 3]), null, { padding: 1 });
      conv2d(x, tensor(new Float32Array(20 * 3), [20, 3, 1, 1]));
    } finally {
      stop();
    }
    const expected = rt.ctx.hasSubgroups
      ? ['conv3x3Shared16', 'conv3x3Shared8', 'conv3x3Shared4', 'conv1x1Shared16']
      : ['conv3x3', 'conv3x3', 'conv3x3', 'conv1x1'];
    expect(entries).toEqual(expected);
  });

  it('takes the weight gradient of 3x3 layers with padding 1 on rows a multiple of 4 wide with all 9 taps a thread (dy shared across a subgroup where there are subgroups)', () => {
    const rt = runtime();
    const entries: string[] = [];
    const stop = rt.onLaunch((k) => entries.push(k.entry));
    try {
      for (const [W, padding] of [[8, 1], [7, 1], [8, 0]]) {
        const x = tensor(new Float32Array(2 * 3 * 6 * W), [2, 3, 6, W]);
        const dy = tensor(new Float32Array(2 * 5 * (6 + 2 * padding - 2) * (W + 2 * padding - 2)), [2, 5, 6 + 2 * padding - 2, W + 2 * padding - 2]);
        conv2dWeightGrad(x, dy, [5, 3, 3, 3], { padding });
      }
    } finally {
      stop();
    }
    const nineTaps = rt.ctx.hasSubgroups ? 'weightGrad3x3Shared' : 'weightGrad3x3';
    expect(entries.filter((e) => e.startsWith('weightGrad'))).toEqual([nineTaps, 'weightGrad', 'weightGrad']);
  });

  it('runs strided, 7x7 and narrow layers as unfold + matmul, and the 3x3 and 1x1 layers it has kernels for on them', () => {
    const rt = runtime();
    const entries: string[] = [];
    const stop = rt.onLaunch((k) => entries.push(k.entry));
    const x = tensor(new Float32Array(2 * 4 * 8 * 8), [2, 4, 8, 8]);
    const run = (w: number[], options: { stride?: number; padding?: number }) => {
      entries.length = 0;
      conv2d(x, tensor(new Float32Array(w.reduce((a, b) => a * b)), w), null, options);
      return entries.some((e) => e.startsWith('matmul')) && entries.includes('unfold');
    };
    try {
      expect(run([8, 4, 3, 3], { stride: 2, padding: 1 })).toBe(true);
      expect(run([8, 4, 7, 7], { stride: 2, padding: 3 })).toBe(true);
      expect(run([8, 4, 1, 1], { stride: 2 })).toBe(true);
      expect(run([8, 4, 3, 3], { padding: 1 })).toBe(false);
      expect(run([8, 4, 1, 1], {})).toBe(false);
      // Patches over the binding limit (4.5 KiB here) stay on the kernels, which split.
      launchSettings.maxBindingBytes = 2048;
      expect(run([8, 4, 3, 3], { stride: 2, padding: 1 })).toBe(false);
    } finally {
      launchSettings.maxBindingBytes = null;
      stop();
    }
  });

  it('names both shapes when they do not fit', () => {
    const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
    const w4 = tensor(new Float32Array(8 * 4 * 9), [8, 4, 3, 3]);
    expect(() => conv2d(x, w4)).toThrow('input [2, 3, 4, 4] has 3 channels but weight [8, 4, 3, 3] expects 4');
    const w5 = tensor(new Float32Array(2 * 3 * 25), [2, 3, 5, 5]);
    expect(() => conv2d(x, w5)).toThrow(/kernel 5x5 of weight \[2, 3, 5, 5\] is larger than the padded input 4x4 \(input \[2, 3, 4, 4\]/);
    expect(conv2d(x, w5, null, { padding: 1 }).shape).toEqual([2, 2, 2, 2]);
    const w3 = tensor(new Float32Array(2 * 3 * 9), [2, 3, 3, 3]);
    expect(() => conv2d(x, w3, tensor(new Float32Array(3)))).toThrow(/bias \[3\] must have shape \[2\] for weight \[2, 3, 3, 3\]/);
    expect(() => conv2d(x.reshape(6, 4, 4), w3)).toThrow(/input \[6, 4, 4\] must be 4-D/);
    expect(() => conv2d(x, w3.reshape(2, 27))).toThrow(/weight \[2, 27\] must be 4-D/);
    expect(() => conv2d(x, w3, null, { stride: 0 })).toThrow(/stride must be a positive integer/);
    expect(() => conv2d(x, w3, null, { padding: -1 })).toThrow(/padding must be a non-negative integer/);
  });
});

// The cases above that the conv kernels are not built for (strides, 5x5, rows narrower than 4)
// run as unfold + matmul; these run them on convGeneric and conv3x3, as where the patches do not
// fit one binding.
describe('conv2d, every layer on the conv kernels (no unfold + matmul)', () => {
  beforeAll(() => {
    convSettings.patches = false;
  });
  afterAll(() => {
    convSettings.patches = true;
  });
  [cases[0], cases[3], cases[5], cases[7], cases[9]].forEach((c, i) => {
    it(`forward and gradients: ${label(c)}`, () => check(c, 101 + i));
  });
  it('larger shapes match float64 references: B2 C9 13x11 -> O6 k3x3 s2 p1', () =>
    checkLarge({ B: 2, C: 9, H: 13, W: 11, O: 6, kh: 3, kw: 3, stride: 2, padding: 1, bias: false }, 21));
});

// Where the device has subgroups the cases above run the subgroup kernels
// (shaders/conv2dSubgroups.wgsl); these run the plain ones on the same device.
describe('conv2d, plain kernels (no subgroups)', () => {

  beforeAll(() => {
    convSettings.subgroups = false;
  });
  afterAll(() => {
    convSettings.subgroups = true;
  });
  [cases[1], cases[2], cases[8], cases[10], cases[11], cases[12]].forEach((c, i) => {
    it(`forward and gradients: ${label(c)}`, () => check(c, 81 + i));
  });
  it('fused relu: forward and gradients', () => check({ ...base, B: 2, C: 3, O: 5, padding: 1, bias: true }, 91, true));
  [
    { B: 5, C: 9, H: 17, W: 16, O: 19, kh: 3, kw: 3, stride: 1, padding: 1, bias: true },
    { B: 3, C: 10, H: 9, W: 12, O: 21, kh: 1, kw: 1, stride: 1, padding: 0, bias: false },
    { B: 2, C: 70, H: 4, W: 8, O: 10, kh: 3, kw: 3, stride: 1, padding: 1, bias: false },
  ].forEach((c, i) => {
    it(`larger shapes match float64 references: ${label(c)}`, () => checkLarge(c, 10 + i));
  });
});

// The workgroup-memory kernel of GPUs (shaders/conv2dTiled.wgsl), forced: every unit-stride case
// above (3x3, 1x1, 5x5, paddings 0-2; forward and input gradient), the fused relu, and shapes past
// one block of 64 positions and 64 channels with reductions past one step of 16.
describe('conv2d, tiled kernel (convTiled)', () => {
  beforeAll(() => {
    convSettings.tiled = true;
  });
  afterAll(() => {
    convSettings.tiled = 'hardware';
  });
  cases.filter((c) => c.stride === 1).forEach((c, i) => {
    it(`forward and gradients: ${label(c)}`, () => check(c, 201 + i));
  });
  it('fused relu: forward and gradients', () => check({ ...base, B: 2, C: 3, O: 5, padding: 1, bias: true }, 231, true));
  [
    { B: 3, C: 20, H: 12, W: 10, O: 70, kh: 3, kw: 3, stride: 1, padding: 1, bias: true },
    { B: 4, C: 12, H: 8, W: 8, O: 17, kh: 1, kw: 1, stride: 1, padding: 0, bias: true },
    { B: 2, C: 6, H: 10, W: 8, O: 3, kh: 3, kw: 3, stride: 1, padding: 2, bias: true },
  ].forEach((c, i) => {
    it(`larger shapes match float64 references: ${label(c)}`, () => checkLarge(c, 240 + i));
  });
  it('runs convTiled', () => {
    const entries: string[] = [];
    const stop = runtime().onLaunch((k) => entries.push(k.entry));
    try {
      conv2d(zeros([1, 2, 4, 4]), zeros([3, 2, 3, 3]), null, { padding: 1 });
    } finally {
      stop();
    }
    expect(entries.filter((e) => e.startsWith('conv'))).toEqual(['convTiled']);
  });
});

// ---- upsampleConv2d: conv2d(upsampleNearest(x, f), w, b, { padding: 1 }) ------------------------

interface UpCase {
  B: number;
  C: number;
  H: number;
  W: number;
  O: number;
  k: number;
  factor: number;
  bias: boolean;
}

function upLabel(c: UpCase): string {
  return `B${c.B} C${c.C} ${c.H}x${c.W} x${c.factor} -> O${c.O} k${c.k}x${c.k}${c.bias ? ' +bias' : ''}`;
}

/** The composition in float64: upsample, then PyTorch's conv2d with padding 1. */
function upConvRef(c: UpCase, x: Float64Array, w: Float64Array, b: Float64Array | undefined, relu: boolean): Float64Array {
  const up = upsampleNearestRef(x, [c.B, c.C, c.H, c.W], c.factor);
  const conv: Case = { B: c.B, C: c.C, H: c.H * c.factor, W: c.W * c.factor, O: c.O, kh: c.k, kw: c.k, stride: 1, padding: 1, bias: c.bias };
  return convRef(conv, up, w, b, relu);
}

function checkUp(c: UpCase, seed: number, relu = false) {
  const op = relu ? upsampleConv2dRelu : upsampleConv2d;
  return checkOp(
    ([x, w, b]) => op(x, w, b, c.factor),
    ([x, w, b]) => upConvRef(c, x, w, b, relu),
    [{ shape: [c.B, c.C, c.H, c.W] }, { shape: [c.O, c.C, c.k, c.k] }, ...(c.bias ? [{ shape: [c.O] }] : [])],
    { seed },
  );
}

const upBase: UpCase = { B: 2, C: 3, H: 3, W: 4, O: 5, k: 3, factor: 2, bias: true };
// x2 with a 3x3 weight and widths that are multiples of 4 take the fused kernel where the device
// has subgroups (a part-filled block of 16 channels, part-filled groups of 4 x 4); the others the
// composition.
const upCases: UpCase[] = [
  upBase,
  { ...upBase, B: 1, C: 2, H: 5, W: 8, O: 17, bias: false },
  { ...upBase, H: 2, W: 3, O: 4 },
  { ...upBase, B: 1, H: 2, W: 4, factor: 3 },
  { ...upBase, B: 1, k: 1, O: 3 },
];

describe('upsampleConv2d', () => {
  upCases.forEach((c, i) => {
    it(`forward and gradients: ${upLabel(c)}`, () => checkUp(c, 101 + i));
  });
  it('fused relu: forward and gradients', () => checkUp({ ...upBase, O: 9 }, 111, true));

  it('runs one kernel where it can', () => {
    const rt = runtime();
    const entries: string[] = [];
    const stop = rt.onLaunch((k) => entries.push(k.entry));
    try {
      const x = tensor(new Float32Array(2 * 3 * 4 * 8), [2, 3, 4, 8], { requiresGrad: true });
      const y = upsampleConv2d(x, tensor(new Float32Array(5 * 27), [5, 3, 3, 3]), null, 2);
      y.backward(tensor(new Float32Array(y.size), y.shape));
    } finally {
      stop();
    }
    expect(entries).toEqual(rt.ctx.hasSubgroups
      ? ['phaseWeights', 'upConv3x3Shared16', 'phaseWeightsGrad', 'upConv3x3GradShared16']
      : ['upsample2', 'conv3x3', 'conv3x3', 'upsample2Backward']);
  });

  // Several workgroups along x and two phases' worth of channel blocks, against float64.
  it('larger shapes match float64 references, forward and input gradient: B8 C6 16x16 x2 -> O20', async () => {
    const c: UpCase = { B: 8, C: 6, H: 16, W: 16, O: 20, k: 3, factor: 2, bias: true };
    const r = (v: Float64Array) => Float64Array.from(Float32Array.from(v));
    const xv = r(randomValues(c.B * c.C * c.H * c.W, 121));
    const wv = r(randomValues(c.O * c.C * 9, 122, 0.2));
    const bv = r(randomValues(c.O, 123));
    const x = tensor(Float32Array.from(xv), [c.B, c.C, c.H, c.W], { requiresGrad: true });
    const y = upsampleConv2d(x, tensor(Float32Array.from(wv), [c.O, c.C, 3, 3]), tensor(Float32Array.from(bv)), 2);
    expect(y.shape).toEqual([8, 20, 32, 32]);
    expectClose(await y.data(), upConvRef(c, xv, wv, bv, false), FORWARD_REL, 'forward');
    // The input gradient: the conv's at 32x32, summed over each 2x2 block.
    const dyv = r(randomValues(y.size, 124));
    y.backward(tensor(Float32Array.from(dyv), y.shape));
    const conv: Case = { B: c.B, C: c.C, H: 32, W: 32, O: c.O, kh: 3, kw: 3, stride: 1, padding: 1, bias: true };
    const dUp = gradRef(conv, upsampleNearestRef(xv, [c.B, c.C, c.H, c.W], 2), wv, dyv).dx;
    const dx = new Float64Array(xv.length);
    dUp.forEach((v, i) => {
      const [col, row, plane] = [i % 32, Math.floor(i / 32) % 32, Math.floor(i / 1024)];
      dx[(plane * 16 + (row >> 1)) * 16 + (col >> 1)] += v;
    });
    expectClose(await x.grad!.data(), dx, FORWARD_REL, 'input gradient');
  });

  // phaseWeights runs a thread per (phase, o, c), phaseWeightsGrad one per (o, c): past the
  // dispatch limit (65,535 workgroups of 64, a 1024 -> 1024 layer for phaseWeights) grid() folds
  // them into y. The limit is lowered to 16 workgroups here, so that a 40 -> 40 layer folds both
  // (100 and 25 workgroups); a tiny image keeps the convs cheap. Every output against float64.
  it('wide layers fold the phase weights into a 2-D grid: B1 C40 1x4 x2 -> O40, 16 workgroups a dimension', async () => {
    const [C, O, W] = [40, 40, 4];
    launchSettings.maxWorkgroupsPerDim = 16;
    try {
      await wideUpConv(C, O, W);
    } finally {
      launchSettings.maxWorkgroupsPerDim = MAX_WORKGROUPS_PER_DIM;
    }
  });

  async function wideUpConv(C: number, O: number, W: number) {
    const hash = (i: number, seed: number) => (Math.imul(i + seed, 2654435761) >>> 0) / 2 ** 32 - 0.5;
    const wv = Float32Array.from({ length: O * C * 9 }, (_, i) => 0.05 * hash(i, 1));
    const xv = Float32Array.from({ length: C * W }, (_, i) => hash(i, 2));
    const bv = Float32Array.from({ length: O }, (_, i) => hash(i, 3));
    const rt = runtime();
    const launches: { entry: string; y: number }[] = [];
    const stop = rt.onLaunch((k) => launches.push({ entry: k.entry, y: k.workgroups[1] ?? 1 }));
    const x = tensor(xv, [1, C, 1, W], { requiresGrad: true });
    const y = upsampleConv2d(x, tensor(wv, [O, C, 3, 3]), tensor(bv), 2);
    const dyv = Float32Array.from({ length: y.size }, (_, i) => hash(i, 4));
    y.backward(tensor(dyv, y.shape));
    stop();
    if (rt.ctx.hasSubgroups) {
      const folded = launches.filter((l) => l.entry.startsWith('phaseWeights'));
      expect(folded.map((l) => [l.entry, l.y > 1])).toEqual([['phaseWeights', true], ['phaseWeightsGrad', true]]);
    }
    // The upsampled image is 2 x 8; up(c, u, v) = x[c, 0, v >> 1] for u in {0, 1}.
    const [Ho, Wo] = [2, 2 * W];
    const up = (c: number, u: number, v: number) => (u < 0 || u >= Ho || v < 0 || v >= Wo ? 0 : xv[c * W + (v >> 1)]);
    const out = await y.data();
    const got: number[] = [];
    const want: number[] = [];
    for (let o = 0; o < O; o++) {
      for (let u = 0; u < Ho; u++) {
        for (let v = 0; v < Wo; v++) {
          let acc = bv[o];
          for (let c = 0; c < C; c++) {
            for (let t = 0; t < 9; t++) acc += wv[(o * C + c) * 9 + t] * up(c, u + Math.floor(t / 3) - 1, v + (t % 3) - 1);
          }
          got.push(out[(o * Ho + u) * Wo + v]);
          want.push(acc);
        }
      }
    }
    expectClose(got, want, FORWARD_REL, 'forward');
    // dx[c, 0, X] sums the conv's input gradient over its 2x2 block of the upsampled image.
    const dx = await x.grad!.data();
    const dxGot: number[] = [];
    const dxWant: number[] = [];
    for (let c = 0; c < C; c++) {
      for (let X = 0; X < W; X++) {
        let acc = 0;
        for (let u = 0; u < Ho; u++) {
          for (const v of [2 * X, 2 * X + 1]) {
            for (let o = 0; o < O; o++) {
              for (let t = 0; t < 9; t++) {
                const [yy, xx] = [u - Math.floor(t / 3) + 1, v - (t % 3) + 1];
                if (yy >= 0 && yy < Ho && xx >= 0 && xx < Wo) acc += dyv[(o * Ho + yy) * Wo + xx] * wv[(o * C + c) * 9 + t];
              }
            }
          }
        }
        dxGot.push(dx[c * W + X]);
        dxWant.push(acc);
      }
    }
    expectClose(dxGot, dxWant, FORWARD_REL, 'input gradient');
  }

  it('checks its input', () => {
    const w = tensor(new Float32Array(4 * 3 * 9), [4, 3, 3, 3]);
    expect(() => upsampleConv2d(tensor(new Float32Array(12), [3, 4]), w, null, 2)).toThrow(/input must be \(N, C, H, W\)/);
    expect(() => upsampleConv2d(tensor(new Float32Array(2 * 4 * 4), [1, 2, 4, 4]), w, null, 2)).toThrow(/has 2 channels but weight/);
    expect(() => upsampleConv2d(tensor(new Float32Array(3 * 16), [1, 3, 4, 4]), w, null, 1.5)).toThrow(/positive integer/);
  });
});

describe('upsampleConv2d, plain kernels (no subgroups)', () => {
  beforeAll(() => {
    convSettings.subgroups = false;
  });
  afterAll(() => {
    convSettings.subgroups = true;
  });
  it(`forward and gradients: ${upLabel(upCases[1])}`, () => checkUp(upCases[1], 131));
});
