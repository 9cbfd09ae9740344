/**
 * TensorFlow.js WebGPU backend as a bench peer.
 *
 * - Runs on the shared Dawn GPU (gpu.ts): we request the adapter and the device ourselves, with
 *   the same limits tfjs' own factory asks for, and register `new WebGPUBackend(device, info)` as
 *   the 'webgpu' backend, so tfjs uses exactly our Dawn instance and adapter.
 * - tfjs' image ops are NHWC: x / dy are transposed to NHWC and conv weights to HWIO on the CPU
 *   in prepare(); read() transposes the output back to NCHW. None of that is timed.
 * - WEBGPU_CPU_FORWARD is turned off so small ops are never silently handed to tfjs' CPU path.
 * - run() executes the op inside tf.tidy (intermediates freed), flushes tfjs' deferred command
 *   encoder (it batches up to 15 dispatches before submitting) and awaits
 *   queue.onSubmittedWorkDone(): no read-back. The previous output is disposed at the start of
 *   the next run and kept meanwhile for read().
 */
import type { Tensor, Rank } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { KernelSpec, Peer, PeerRun, Unsupported } from './types.js';
import { describeAdapter, sharedGpu } from './gpu.js';
import { convOutSize, outputShape, specProblems } from './spec.js';
import { NCHW_TO_NHWC, NHWC_TO_NCHW, OIHW_TO_HWIO, permute } from './layout.js';

type TF = typeof import('@tensorflow/tfjs-core');

/** The parts of WebGPUBackend's private state the sync needs. */
interface BackendInternals {
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
  queue: GPUQueue;
}

export interface TfjsPeerOptions {
  /** Dawn GPU to use; defaults to sharedGpu(). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
}

class TfjsRun implements PeerRun {
  private last: Tensor | undefined;
  constructor(
    private readonly tf: TF,
    private readonly backend: WebGPUBackend,
    private readonly fn: () => Tensor,
    private readonly held: Tensor[],
    readonly outputShape: readonly number[],
    /** permutation from the tfjs output layout to NCHW, or null when already NCHW */
    private readonly toNchw: readonly number[] | null,
    readonly notes: readonly string[],
  ) {}

  private async sync(): Promise<void> {
    const be = this.backend as unknown as BackendInternals;
    if (be.commandEncoder) {
      be.endComputePassEncoder();
      be.submitQueue();
    }
    await be.queue.onSubmittedWorkDone();
  }

  private issue(): void {
    this.last?.dispose();
    this.last = this.tf.tidy(this.fn);
  }

  async run(): Promise<void> {
    this.issue();
    await this.sync();
  }

  async runMany(n: number): Promise<void> {
    for (let i = 0; i < n; i++) this.issue();
    await this.sync();
  }

  async read(): Promise<Float32Array> {
    if (!this.last) await this.run();
    const t = this.last!;
    const data = (await t.data()) as Float32Array;
    return this.toNchw ? permute(data, t.shape, this.toNchw) : Float32Array.from(data);
  }

  dispose(): void {
    this.last?.dispose();
    this.last = undefined;
    for (const t of this.held) t.dispose();
  }
}

export class TfjsPeer implements Peer {
  readonly name = 'tfjs-webgpu';
  private tf: TF | undefined;
  private backend: WebGPUBackend | undefined;
  private info = 'not set up';
  private device: GPUDevice | undefined;

  constructor(private readonly opts: TfjsPeerOptions = {}) {}

  async setup(): Promise<void> {
    if (this.tf) return;
    const gpu = this.opts.gpu ?? sharedGpu(); // also installs navigator.gpu + GPU* globals
    const adapter = await gpu.requestAdapter({ powerPreference: this.opts.powerPreference ?? 'high-performance' });
    if (!adapter) throw new Error('tfjs peer: no WebGPU adapter');
    // tfjs checks navigator.gpu when its module is evaluated, hence the dynamic imports after the globals.
    const tf: TF = await import('@tensorflow/tfjs-core');
    const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      },
    });
    this.device = device;
    // Replace the backend factory registered at import time (it would create its own device).
    tf.removeBackend('webgpu');
    const backend = new WebGPUBackend(device, adapter.info);
    tf.registerBackend('webgpu', () => backend, 100);
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs peer: could not initialise the webgpu backend');
    await tf.ready();
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    this.tf = tf;
    this.backend = backend;
    this.info = `${describeAdapter(adapter.info)} (shared Dawn instance, own GPUDevice)`;
  }

  adapterInfo(): string {
    return this.info;
  }

  async prepare(spec: KernelSpec, inputs: Float32Array[]): Promise<PeerRun | Unsupported> {
    const tf = this.tf;
    const backend = this.backend;
    if (!tf || !backend) throw new Error('tfjs peer: call setup() first');
    const problems = specProblems(spec);
    if (problems.length) return { unsupported: problems.join('; ') };

    const held: Tensor[] = [];
    const keep = <T extends Tensor>(t: T): T => {
      held.push(t);
      return t;
    };
    /** NCHW activation -> NHWC tensor */
    const nhwc = (data: Float32Array, N: number, C: number, H: number, W: number) =>
      keep(tf.tensor4d(permute(data, [N, C, H, W], NCHW_TO_NHWC), [N, H, W, C]));
    /** (O,C,k,k) conv weight -> (k,k,C,O) filter */
    const hwio = (data: Float32Array, O: number, C: number, k: number) =>
      keep(tf.tensor4d(permute(data, [O, C, k, k], OIHW_TO_HWIO), [k, k, C, O]));

    let fn: () => Tensor;
    let toNchw: readonly number[] | null = NHWC_TO_NCHW;
    const notes: string[] = [];

    switch (spec.kind) {
      case 'matmul': {
        const A = keep(tf.tensor2d(inputs[0], [spec.M, spec.K]));
        const B = keep(tf.tensor2d(inputs[1], [spec.K, spec.N]));
        fn = () => tf.matMul(A, B);
        toNchw = null;
        notes.push('tf.matMul');
        break;
      }
      case 'conv2d': {
        const x = nhwc(inputs[0], spec.N, spec.C, spec.H, spec.W);
        const w = hwio(inputs[1], spec.O, spec.C, spec.k);
        const strides: [number, number] = [spec.stride, spec.stride];
        if (spec.bias) {
          const b = keep(tf.tensor1d(inputs[2]));
          fn = () => tf.fused.conv2d({ x, filter: w, strides, pad: spec.pad, bias: b });
          notes.push('tf.fused.conv2d (bias fused), NHWC');
        } else {
          fn = () => tf.conv2d(x, w, strides, spec.pad);
          notes.push('tf.conv2d, NHWC');
        }
        break;
      }
      case 'conv2dInputGrad': {
        const { Ho, Wo } = convOutSize(spec);
        const dy = nhwc(inputs[0], spec.N, spec.O, Ho, Wo);
        const w = hwio(inputs[1], spec.O, spec.C, spec.k);
        const outShape: [number, number, number, number] = [spec.N, spec.H, spec.W, spec.C];
        fn = () => tf.conv2dTranspose(dy, w, outShape, [spec.stride, spec.stride], spec.pad);
        notes.push('tf.conv2dTranspose (= Conv2DBackpropInput), NHWC');
        break;
      }
      case 'batchnorm': {
        const x = nhwc(inputs[0], spec.N, spec.C, spec.H, spec.W);
        const [gamma, beta, mean, variance] = inputs.slice(1, 5).map((d) => keep(tf.tensor1d(d)));
        const eps = spec.eps ?? 1e-5;
        fn = () => tf.batchNorm(x, mean, variance, beta, gamma, eps);
        notes.push('tf.batchNorm, NHWC');
        break;
      }
      case 'upsampleNearest': {
        const x = nhwc(inputs[0], spec.N, spec.C, spec.H, spec.W);
        const size: [number, number] = [spec.H * spec.factor, spec.W * spec.factor];
        fn = () => tf.image.resizeNearestNeighbor(x as Tensor<Rank.R4>, size, false, false);
        notes.push('tf.image.resizeNearestNeighbor(alignCorners=false, halfPixelCenters=false), NHWC');
        break;
      }
      case 'maxPool2x2': {
        const x = nhwc(inputs[0], spec.N, spec.C, spec.H, spec.W);
        fn = () => tf.maxPool(x as Tensor<Rank.R4>, 2, 2, 'valid');
        notes.push('tf.maxPool 2x2/2 valid, NHWC');
        break;
      }
      case 'adaptiveAvgPool': {
        if (spec.H % spec.outH !== 0 || spec.W % spec.outW !== 0) {
          return { unsupported: 'tfjs has no adaptive pooling; only H % outH == 0 and W % outW == 0 map onto avgPool' };
        }
        const x = nhwc(inputs[0], spec.N, spec.C, spec.H, spec.W);
        const kh = spec.H / spec.outH, kw = spec.W / spec.outW;
        fn = () => tf.avgPool(x as Tensor<Rank.R4>, [kh, kw], [kh, kw], 'valid');
        notes.push(`tf.avgPool ${kh}x${kw}/${kh}x${kw} valid, NHWC`);
        break;
      }
      case 'softmaxCrossEntropy': {
        const logits = keep(tf.tensor2d(inputs[0], [spec.B, spec.classes]));
        const labels = Int32Array.from(inputs[1]);
        const onehot = keep(tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), spec.classes), 'float32')));
        const reduction = (spec.reduction ?? 'mean') === 'mean' ? tf.Reduction.MEAN : tf.Reduction.NONE;
        fn = () => {
          const l = tf.losses.softmaxCrossEntropy(onehot, logits, undefined, 0, reduction);
          return l.rank === 0 ? tf.reshape(l, [1]) : l;
        };
        toNchw = null;
        notes.push('tf.losses.softmaxCrossEntropy (one-hot labels built in prepare)');
        break;
      }
      case 'attention': {
        const { N, C, H, W } = spec;
        const C8 = C / 8, C2 = C / 2, HW = H * W, HW4 = HW / 4;
        const x = nhwc(inputs[0], N, C, H, W);
        const wT = hwio(inputs[1], C8, C, 1);
        const wP = hwio(inputs[2], C8, C, 1);
        const wG = hwio(inputs[3], C2, C, 1);
        const wO = hwio(inputs[4], C, C2, 1);
        const gamma = keep(tf.scalar(inputs[5][0]));
        fn = () => {
          const x4 = x as Tensor<Rank.R4>;
          const theta = tf.reshape(tf.conv2d(x4, wT as Tensor<Rank.R4>, 1, 0), [N, HW, C8]);
          const phi = tf.reshape(tf.maxPool(tf.conv2d(x4, wP as Tensor<Rank.R4>, 1, 0), 2, 2, 'valid'), [N, HW4, C8]);
          const g = tf.reshape(tf.maxPool(tf.conv2d(x4, wG as Tensor<Rank.R4>, 1, 0), 2, 2, 'valid'), [N, HW4, C2]);
          const beta = tf.softmax(tf.matMul(theta, phi, false, true)); // (N, HW, HW/4)
          const og = tf.reshape(tf.matMul(beta, g), [N, H, W, C2]); // (g beta^T)^T in NHWC
          const o = tf.conv2d(og as Tensor<Rank.R4>, wO as Tensor<Rank.R4>, 1, 0);
          return tf.add(x, tf.mul(gamma, o));
        };
        notes.push('composed: 4x tf.conv2d 1x1, 2x tf.maxPool, 2x tf.matMul, tf.softmax, mul/add; NHWC');
        break;
      }
    }

    const run = new TfjsRun(tf, backend, fn, held, outputShape(spec), toNchw, notes);
    try {
      await run.run(); // warm-up: uploads inputs, compiles pipelines
    } catch (e) {
      run.dispose();
      return { unsupported: `tfjs failed: ${(e as Error).message}` };
    }
    return run;
  }

  async dispose(): Promise<void> {
    if (this.tf) {
      this.tf.removeBackend('webgpu');
      this.tf = undefined;
      this.backend = undefined;
    }
    this.device?.destroy();
    this.device = undefined;
  }
}
