// The rows of `npm run bench`: every kernel family on the shapes the default models use
// (BigGAN 32x32 generator, VGG-bn 64x64 classifier, the input generator), square matmuls, and a
// VGG-16 at 224x224 (heavy: full run only). Each row pairs a peer KernelSpec (inputs, FLOPs,
// float64 reference, the peers' op) with the engine call that does the same work.
import { TRAINING_DEFAULTS } from '../src/train/defaults.js';
import type { KernelSpec } from './peers/types.js';
import { numel, outputShape, specInputs } from './peers/spec.js';

export const FAMILIES = [
  'matmul',
  'conv2d',
  'conv2dInputGrad',
  'batchnorm',
  'upsample',
  'maxpool',
  'adaptivepool',
  'crossentropy',
  'attention',
  'train',
] as const;
export type Family = (typeof FAMILIES)[number];

/** Engine variant of a row where it differs from the plain peer op. */
export type Variant =
  /** y = x W^T + b (our `linear`, bias fused); peers run the bias-free A @ B */
  | 'linear'
  /** BigGAN's conditional batchnorm: per-sample gain (1 + g[n, c]) and bias b[n, c]; peers: none */
  | 'conditional';

export interface Row {
  family: Family;
  /** kernel label in the table */
  kernel: string;
  /** shape label in the table */
  shape: string;
  /** which model the shape comes from */
  where: string;
  spec: KernelSpec;
  variant?: Variant;
  /** part of --quick */
  quick?: boolean;
  /** only in the full run (VGG-16 at 224, 2048^3) */
  heavy?: boolean;
  /** only on a hardware adapter: minutes a repetition on a software one (issue 7's 4096^3) */
  hardwareOnly?: boolean;
  /** which figure the table shows */
  bound: 'compute' | 'memory';
  /** when set, the peers are not run on this row, for this reason */
  noPeers?: string;
}

const conv = (
  where: string, N: number, C: number, O: number, HW: number, k: number, extra: Partial<Row> = {}, bias = true,
): Row[] => {
  const pad = (k - 1) / 2;
  const g = { N, C, H: HW, W: HW, O, k, stride: 1, pad };
  const shape = `${k}x${k} ${C}->${O} @${HW}x${HW} b${N}`;
  return [
    { family: 'conv2d', kernel: 'conv2d', shape, where, spec: { kind: 'conv2d', ...g, bias }, bound: 'compute', ...extra },
    { family: 'conv2dInputGrad', kernel: 'conv2d dx', shape, where, spec: { kind: 'conv2dInputGrad', ...g }, bound: 'compute', ...extra },
  ];
};

const mm = (where: string, M: number, K: number, N: number, extra: Partial<Row> = {}): Row => ({
  family: 'matmul',
  kernel: extra.variant === 'linear' ? 'linear' : 'matmul',
  shape: extra.variant === 'linear' ? `${M}x${K} -> ${N}` : `${M}x${K} @ ${K}x${N}`,
  where,
  spec: { kind: 'matmul', M, K, N },
  bound: 'compute',
  ...extra,
});

const nchw = (N: number, C: number, H: number, W: number) => `${N}x${C}x${H}x${W}`;

/**
 * The distinct convolutions of BigGAN-deep-256 (pytorch-pretrained-BigGAN's biggan-deep-256
 * config: channel width 128, attention before layer 8, at 64x64): per GenBlock conv_0 1x1 in ->
 * in/4 at the input's size, conv_1 and conv_2 3x3 and conv_3 1x1 -> out at the output's (conv_1
 * reads the upsampled map), then the attention's 1x1s and conv_to_rgb (its 3 computed channels).
 */
function bigganDeep256Convs(): [number, number, number, number, string][] {
  const layers: [boolean, number, number][] = [
    [false, 16, 16], [true, 16, 16], [false, 16, 16], [true, 16, 8], [false, 8, 8], [true, 8, 8],
    [false, 8, 8], [true, 8, 4], [false, 4, 4], [true, 4, 2], [false, 2, 2], [true, 2, 1],
  ];
  const out: [number, number, number, number, string][] = [];
  let size = 4;
  for (const [i, [up, cin, cout]] of layers.entries()) {
    const [inC, outC, mid] = [128 * cin, 128 * cout, 32 * cin];
    const outSize = up ? 2 * size : size;
    const where = `BigGAN-deep-256 layer ${i}`;
    out.push([inC, mid, size, 1, where], [mid, mid, outSize, 3, where], [mid, outC, outSize, 1, where]);
    size = outSize;
  }
  out.push([512, 64, 64, 1, 'BigGAN-deep-256 attention theta/phi'], [512, 256, 64, 1, 'BigGAN-deep-256 attention g'], [256, 512, 64, 1, 'BigGAN-deep-256 attention o']);
  out.push([128, 3, 256, 3, 'BigGAN-deep-256 conv_to_rgb']);
  const seen = new Set<string>();
  return out.filter(([C, O, HW, k]) => !seen.has(`${C} ${O} ${HW} ${k}`) && seen.add(`${C} ${O} ${HW} ${k}`));
}

export function allRows(): Row[] {
  const B = 64; // the default training batch: G, VGG and the input generator all run at it
  const COMPONENTS = TRAINING_DEFAULTS.components;
  const L = { variant: 'linear' as const };
  const rows: Row[] = [
    // matmul: square, then the linear layers of the models (x W^T + b, as the models call it)
    mm('square', 256, 256, 256, { quick: true }),
    mm('square', 512, 512, 512, { quick: true }),
    mm('square', 1024, 1024, 1024),
    mm('square', 2048, 2048, 2048, { heavy: true }),
    mm('square', 4096, 4096, 4096, { heavy: true, hardwareOnly: true }),
    mm('input gen trunk1', B, 10, 256, { ...L, quick: true }),
    mm('input gen trunk2', B, 256, 256, { ...L, quick: true }),
    mm(`input gen mu/sigma (${COMPONENTS} components x dimZ 120)`, B, 256, COMPONENTS * 120, L),
    mm('BigGAN linear', B, 30, 32 * 4 * 4, L),
    mm('VGG fc1', B, 128, 256, L),
    mm('VGG fc2', B, 256, 256, L),
    mm('VGG fc3', B, 256, 10, L),

    // conv2d forward and input gradient: BigGAN (32 channels per block, 32x32 output)
    ...conv('BigGAN block0 conv1/2', B, 32, 32, 8, 3),
    ...conv('BigGAN block1 conv1/2', B, 32, 32, 16, 3, { quick: true }),
    ...conv('BigGAN block2 conv1/2', B, 32, 32, 32, 3),
    ...conv('BigGAN block0 shortcut', B, 32, 32, 8, 1),
    ...conv('BigGAN block1 shortcut', B, 32, 32, 16, 1),
    ...conv('BigGAN block2 shortcut', B, 32, 32, 32, 1),
    ...conv('BigGAN attention theta/phi', B, 32, 4, 16, 1, {}, false),
    ...conv('BigGAN attention g', B, 32, 16, 16, 1, {}, false),
    ...conv('BigGAN attention o', B, 16, 32, 16, 1, {}, false),
    ...conv('BigGAN output conv', B, 32, 3, 32, 3),
    // VGG-bn classifier at 64x64
    ...conv('VGG features', B, 3, 16, 64, 3),
    ...conv('VGG features', B, 16, 32, 32, 3, { quick: true }),
    ...conv('VGG features', B, 32, 64, 16, 3),
    ...conv('VGG features', B, 64, 64, 16, 3),
    ...conv('VGG features', B, 64, 128, 8, 3),
    ...conv('VGG features', B, 128, 128, 8, 3),
    ...conv('VGG features', B, 128, 128, 4, 3),
    // VGG-16 at 224x224, batch 1 (heavy)
    ...[
      [3, 64, 224], [64, 64, 224], [64, 128, 112], [128, 128, 112], [128, 256, 56],
      [256, 256, 56], [256, 512, 28], [512, 512, 28], [512, 512, 14],
    ].flatMap(([C, O, HW]) => conv('VGG-16 @224', 1, C, O, HW, 3, { heavy: true })),

    // BigGAN-deep-256 at batch 1 (heavy, hardware only: a repetition takes seconds on a CPU)
    ...bigganDeep256Convs().flatMap(([C, O, HW, k, where]) => conv(where, 1, C, O, HW, k, { heavy: true, hardwareOnly: true })),

    // batchnorm (eval mode: running statistics): VGG-bn after each conv, BigGAN's output bn
    ...[
      [B, 16, 64, 'VGG bn1'], [B, 32, 32, 'VGG bn2'], [B, 64, 16, 'VGG bn3/4'], [B, 128, 8, 'VGG bn5/6'],
      [B, 32, 32, 'BigGAN output bn'],
    ].map(([N, C, HW, where]) => ({
      family: 'batchnorm' as const, kernel: 'batchnorm', shape: nchw(+N, +C, +HW, +HW), where: String(where),
      spec: { kind: 'batchnorm' as const, N: +N, C: +C, H: +HW, W: +HW }, bound: 'memory' as const,
      quick: where === 'VGG bn2',
    })),
    // BigGAN's conditional batchnorm (per-sample gain and bias), engine only
    ...[[8, 'BigGAN block0 bn2'], [16, 'BigGAN block1 bn2'], [32, 'BigGAN block2 bn2']].map(([HW, where]) => ({
      family: 'batchnorm' as const, kernel: 'cond. batchnorm', shape: nchw(B, 32, +HW, +HW), where: String(where),
      spec: { kind: 'batchnorm' as const, N: B, C: 32, H: +HW, W: +HW }, variant: 'conditional' as const, bound: 'memory' as const,
      noPeers: 'peers have no per-sample (conditional) batchnorm op',
      quick: HW === 16,
    })),

    // nearest upsample: G's blocks (x2), G's 32x32 images to the 64x64 VGG (x2) and to a 224x224 VGG-16 (x7)
    ...[
      [B, 32, 8, 2, 'BigGAN block1 upsample'], [B, 32, 16, 2, 'BigGAN block2 upsample'],
      [B, 3, 32, 2, 'images -> VGG 64x64'], [B, 3, 32, 7, 'images -> VGG-16 224x224'],
    ].map(([N, C, HW, factor, where]) => ({
      family: 'upsample' as const, kernel: `upsample x${factor}`, shape: nchw(+N, +C, +HW, +HW), where: String(where),
      spec: { kind: 'upsampleNearest' as const, N: +N, C: +C, H: +HW, W: +HW, factor: +factor }, bound: 'memory' as const,
      quick: where === 'BigGAN block2 upsample',
    })),

    // 2x2 max-pool: VGG's pools, the attention's phi/g pools, a VGG-16 pool
    ...[
      [B, 16, 64, 'VGG pool1'], [B, 32, 32, 'VGG pool2'], [B, 64, 16, 'VGG pool3'], [B, 128, 4, 'VGG pool5'],
      [B, 16, 16, 'BigGAN attention g pool'], [1, 64, 224, 'VGG-16 pool1'],
    ].map(([N, C, HW, where]) => ({
      family: 'maxpool' as const, kernel: 'maxpool 2x2', shape: nchw(+N, +C, +HW, +HW), where: String(where),
      spec: { kind: 'maxPool2x2' as const, N: +N, C: +C, H: +HW, W: +HW }, bound: 'memory' as const,
      quick: where === 'VGG pool2', heavy: where === 'VGG-16 pool1',
    })),

    // adaptive average pool: VGG's (2x2 -> 1x1), larger global pools, a non-integer-bin case
    ...[
      [B, 128, 2, 1, 'VGG avgpool'], [B, 128, 8, 1, 'global pool'], [B, 64, 14, 7, 'VGG-16-like 14 -> 7'],
      [B, 128, 7, 3, 'uneven bins 7 -> 3'],
    ].map(([N, C, HW, out, where]) => ({
      family: 'adaptivepool' as const, kernel: 'adaptive avgpool', shape: `${nchw(+N, +C, +HW, +HW)} -> ${out}x${out}`,
      where: String(where),
      spec: { kind: 'adaptiveAvgPool' as const, N: +N, C: +C, H: +HW, W: +HW, outH: +out, outW: +out },
      bound: 'memory' as const, quick: where === 'VGG avgpool',
    })),

    // softmax cross-entropy (mean over the batch): the VGG's 10 classes, an ImageNet head
    { family: 'crossentropy', kernel: 'softmax x-entropy', shape: `${B}x10`, where: 'VGG logits', spec: { kind: 'softmaxCrossEntropy', B, classes: 10 }, bound: 'memory', quick: true },
    { family: 'crossentropy', kernel: 'softmax x-entropy', shape: `${B}x1000`, where: 'ImageNet-size head', spec: { kind: 'softmaxCrossEntropy', B, classes: 1000 }, bound: 'memory' },
    { family: 'crossentropy', kernel: 'softmax x-entropy', shape: `1024x1000`, where: 'large batch', spec: { kind: 'softmaxCrossEntropy', B: 1024, classes: 1000 }, bound: 'memory' },

    // BigGAN's self-attention block after block 1 (32 channels, 16x16)
    { family: 'attention', kernel: 'self-attention', shape: nchw(8, 32, 16, 16), where: 'BigGAN attention, batch 8', spec: { kind: 'attention', N: 8, C: 32, H: 16, W: 16 }, bound: 'compute', quick: true },
    { family: 'attention', kernel: 'self-attention', shape: nchw(B, 32, 16, 16), where: 'BigGAN attention', spec: { kind: 'attention', N: B, C: 32, H: 16, W: 16 }, bound: 'compute' },
  ];
  return rows;
}

/** Bytes the op must move at least: every input read once, the output written once. */
export function rowBytes(row: Row): number {
  let elements = specInputs(row.spec).reduce((a, d) => a + numel(d.shape), 0) + numel(outputShape(row.spec));
  if (row.variant === 'linear' && row.spec.kind === 'matmul') elements += row.spec.N; // bias
  if (row.variant === 'conditional' && row.spec.kind === 'batchnorm') elements += 2 * row.spec.N * row.spec.C - 2 * row.spec.C;
  return 4 * elements;
}
