/**
 * Uniform interface over the peer engines the bench compares our kernels with
 * (TensorFlow.js' WebGPU backend, ONNX Runtime's WebGPU execution provider).
 *
 * Layout convention: every tensor crossing this interface is float32, row-major, in NCHW /
 * PyTorch layout, whatever the peer uses internally. A peer that prefers another layout (tfjs:
 * NHWC) converts on upload in `prepare()` and converts its output back in `read()`, both outside
 * the timed `run()`.
 *
 * Inputs of `Peer.prepare(spec, inputs)`, in this order (see `specInputs()` in spec.ts, which
 * returns the same list with shapes, and `makeInputs()` which fills it with test data):
 *
 * | kind              | inputs                                                                  | output                       |
 * |-------------------|-------------------------------------------------------------------------|------------------------------|
 * | matmul            | A (M,K), B (K,N)                                                        | (M,N)                        |
 * | conv2d            | x (N,C,H,W), weight (O,C,k,k), [bias (O) if spec.bias]                  | (N,O,Ho,Wo)                  |
 * | conv2dInputGrad   | dy (N,O,Ho,Wo), weight (O,C,k,k)                                        | dx (N,C,H,W)                 |
 * | batchnorm         | x (N,C,H,W), gamma (C), beta (C), runningMean (C), runningVar (C)       | (N,C,H,W)                    |
 * | upsampleNearest   | x (N,C,H,W)                                                             | (N,C,H*f,W*f)                |
 * | maxPool2x2        | x (N,C,H,W)                                                             | (N,C,floor(H/2),floor(W/2))  |
 * | adaptiveAvgPool   | x (N,C,H,W)                                                             | (N,C,outH,outW)              |
 * | softmaxCrossEntropy | logits (B,classes), labels (B) = class indices stored as floats      | mean loss (1), or (B) if reduction 'none' |
 * | attention         | x (N,C,H,W), wTheta (C/8,C,1,1), wPhi (C/8,C,1,1), wG (C/2,C,1,1), wO (C,C/2,1,1), gamma (1) | (N,C,H,W) |
 *
 * with Ho = floor((H + 2 pad - k) / stride) + 1 (same for Wo).
 */

export interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  /** output channels */
  O: number;
  /** square kernel size */
  k: number;
  stride: number;
  /** symmetric zero padding on each side */
  pad: number;
}

export type KernelSpec =
  /** A (M,K) @ B (K,N) */
  | { kind: 'matmul'; M: number; K: number; N: number }
  /** cross-correlation as in torch.nn.functional.conv2d, optional bias */
  | ({ kind: 'conv2d'; bias: boolean } & ConvGeometry)
  /** dL/dx of conv2d given dL/dy (= conv_transpose2d(dy, weight) sized back to (H,W)); no bias involved */
  | ({ kind: 'conv2dInputGrad'; bias?: boolean } & ConvGeometry)
  /** eval-mode batch norm: (x - mean) / sqrt(var + eps) * gamma + beta; eps defaults to 1e-5 */
  | { kind: 'batchnorm'; N: number; C: number; H: number; W: number; eps?: number }
  /** nearest-neighbour upsampling by an integer factor (F.interpolate(mode='nearest')) */
  | { kind: 'upsampleNearest'; N: number; C: number; H: number; W: number; factor: number }
  /** F.max_pool2d(x, 2) */
  | { kind: 'maxPool2x2'; N: number; C: number; H: number; W: number }
  /**
   * F.adaptive_avg_pool2d(x, (outH, outW)). Peers support it only where it is an ordinary pooling:
   * out = 1x1 (global average pool) or H % outH == 0 and W % outW == 0 (kernel = stride = H/outH).
   */
  | { kind: 'adaptiveAvgPool'; N: number; C: number; H: number; W: number; outH: number; outW: number }
  /** F.cross_entropy(logits, labels, reduction); reduction defaults to 'mean' */
  | { kind: 'softmaxCrossEntropy'; B: number; classes: number; reduction?: 'mean' | 'none' }
  /**
   * BigGAN self-attention block (bias-free 1x1 convs): theta = conv(x, wTheta) (C/8),
   * phi = maxpool2x2(conv(x, wPhi)) (C/8), g = maxpool2x2(conv(x, wG)) (C/2),
   * beta = softmax(theta^T phi) over the HW/4 keys, o = conv(g beta^T, wO) (C/2 -> C),
   * out = x + gamma * o. Needs C % 8 == 0 and even H, W.
   */
  | { kind: 'attention'; N: number; C: number; H: number; W: number };

export type KernelKind = KernelSpec['kind'];

export const KERNEL_KINDS: readonly KernelKind[] = [
  'matmul',
  'conv2d',
  'conv2dInputGrad',
  'batchnorm',
  'upsampleNearest',
  'maxPool2x2',
  'adaptiveAvgPool',
  'softmaxCrossEntropy',
  'attention',
];

/** One prepared op in one peer, with its inputs resident on the GPU. */
export interface PeerRun {
  /** Shape of the output (NCHW / PyTorch layout), i.e. of what `read()` returns. */
  readonly outputShape: readonly number[];
  /** What exactly runs and how it is synchronised (op names, fallbacks, caveats), for reports. */
  readonly notes: readonly string[];
  /** One full execution of the op, awaited until the GPU has finished it. */
  run(): Promise<void>;
  /**
   * `n` executions issued back to back and a single wait at the end, so per-run synchronisation
   * overhead is amortised. Time it and divide by `n` for throughput numbers.
   */
  runMany(n: number): Promise<void>;
  /** Output of the last execution, in NCHW / PyTorch layout (a full read-back, not timed). */
  read(): Promise<Float32Array>;
  /** Free the GPU resources of this op (inputs, outputs, compiled graph). */
  dispose(): void;
}

export interface Unsupported {
  unsupported: string;
}

export interface Peer {
  /** Short stable name for tables / JSON, e.g. "tfjs-webgpu", "ort-webgpu". */
  readonly name: string;
  /** Load the library and create its GPU device; call once before `prepare()`. */
  setup(): Promise<void>;
  /** The adapter this peer runs on, as the peer reports it (after `setup()`). */
  adapterInfo(): string;
  /**
   * Build the op for `spec`, upload `inputs` (order as documented above) to the GPU, and do one
   * warm-up execution (pipeline compilation, first upload). Returns `{unsupported}` with a reason
   * when the peer cannot express the op on its GPU backend (it never silently falls back to CPU).
   */
  prepare(spec: KernelSpec, inputs: Float32Array[]): Promise<PeerRun | Unsupported>;
  /** Release everything the peer holds (device, sessions). */
  dispose(): Promise<void>;
}

export function isUnsupported(r: PeerRun | Unsupported): r is Unsupported {
  return (r as Unsupported).unsupported !== undefined;
}
