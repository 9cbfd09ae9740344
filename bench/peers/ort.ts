/**
 * ONNX Runtime (onnxruntime-node) WebGPU execution provider as a bench peer.
 *
 * What runs, and how:
 * - Each op is a tiny ONNX graph built here (onnx.ts), run by an InferenceSession with
 *   executionProviders [webgpu] and the session config `session.disable_cpu_ep_fallback = 1`, so a
 *   node the WebGPU EP cannot take makes session creation fail (reported as unsupported) instead
 *   of silently running on the CPU EP.
 * - Device: the Node binding of ORT (1.30) links its own copy of Dawn and creates its own WebGPU
 *   instance and device; it accepts no external GPUDevice (the `device` EP option is for
 *   onnxruntime-web only, and the binding rejects unknown EP options). So ORT runs on the same
 *   physical adapter (Dawn picks it with powerPreference high-performance; on a machine with one
 *   Vulkan device that is it) but not on our GPUDevice.
 * - Activations stay on the GPU between runs: they are uploaded once in prepare() through an
 *   Identity session whose outputs live in 'gpu-buffer', and those GPU tensors are the feeds of
 *   every run. The op's output is also left in 'gpu-buffer' (preferredOutputLocation).
 * - Parameters (conv weights, bias, batchnorm statistics, attention weights) are graph
 *   initializers by default, as in an exported model; ORT uploads them once at session creation
 *   and may pre-pack them (e.g. transpose for its NHWC layout). `paramsAs: 'inputs'` makes them
 *   runtime inputs instead (uploaded once the same way as activations).
 * - Synchronisation: InferenceSession.run() returns once the work is submitted, not finished
 *   (measured: ~0.4 ms for a 512^3 matmul that takes ~30 ms). run() therefore follows every
 *   execution with a second tiny session that slices the output's first element to the CPU, which
 *   waits for the queue. That adds one small dispatch and a 4-byte read-back per run (~0.3-0.5 ms
 *   on lavapipe); runMany(n) pays it once per n executions.
 * - read(): an Identity session copies the last output to the CPU (GPU tensors' download() is not
 *   implemented in the Node binding and aborts the process, so it is never called).
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { KernelSpec, Peer, PeerRun, Unsupported } from './types.js';
import { convOutSize, outputShape, specInputs, specProblems } from './spec.js';
import { encodeModel, DT, type OnnxGraph, type OnnxNode, type OnnxInitializer, type OnnxValueInfo } from './onnx.js';
import { describeAdapter, sharedGpu } from './gpu.js';

type Ort = typeof import('onnxruntime-node');

export interface OrtPeerOptions {
  /** Layout the WebGPU EP converts layout-sensitive ops (Conv, pools, Resize...) to. ORT's Node default is NHWC. */
  preferredLayout?: 'NCHW' | 'NHWC';
  /** How parameters enter the graph (see file comment). Default 'initializers'. */
  paramsAs?: 'initializers' | 'inputs';
  /** WebGPU EP validation mode; ORT's default is 'basic'. */
  validationMode?: 'disabled' | 'wgpuOnly' | 'basic' | 'full';
}

/** One ONNX formulation of an op: the graph plus how to build its runtime feeds. */
interface Formulation {
  label: string;
  nodes: OnnxNode[];
  /** extra constant initializers (shapes, axes, scales...) */
  consts?: OnnxInitializer[];
  /** runtime graph inputs: name, shape, data (already converted from the spec's inputs) */
  feeds: { name: string; shape: number[]; data: Float32Array }[];
  params: { name: string; shape: number[]; data: Float32Array }[];
  output: string;
}

const i64 = (name: string, values: number[]): OnnxInitializer => ({
  name,
  shape: [values.length],
  data: BigInt64Array.from(values.map((v) => BigInt(v))),
});

class OrtRun implements PeerRun {
  private last: Tensor | undefined;
  private readback: InferenceSession | undefined;

  constructor(
    private readonly main: InferenceSession,
    private readonly sync: InferenceSession,
    private readonly makeReadback: () => Promise<InferenceSession>,
    /** sessions that own GPU tensors we hold (the upload session owns the feeds) */
    private readonly owners: InferenceSession[],
    private readonly feeds: Record<string, Tensor>,
    private readonly outName: string,
    readonly outputShape: readonly number[],
    readonly notes: readonly string[],
  ) {}

  private async issue(): Promise<Tensor> {
    const out = (await this.main.run(this.feeds))[this.outName];
    this.last?.dispose();
    this.last = out;
    return out;
  }

  private async wait(t: Tensor): Promise<void> {
    const r = await this.sync.run({ X: t });
    for (const v of Object.values(r)) v.dispose();
  }

  async run(): Promise<void> {
    await this.wait(await this.issue());
  }

  async runMany(n: number): Promise<void> {
    let t: Tensor | undefined;
    for (let i = 0; i < n; i++) t = await this.issue();
    if (t) await this.wait(t);
  }

  async read(): Promise<Float32Array> {
    if (!this.last) await this.run();
    this.readback ??= await this.makeReadback();
    const r = await this.readback.run({ X: this.last! });
    const y = r.Y;
    const data = Float32Array.from(y.data as Float32Array);
    y.dispose();
    return data;
  }

  dispose(): void {
    // GPU tensors first, then the sessions whose allocators they came from (the other order crashes).
    this.last?.dispose();
    this.last = undefined;
    for (const t of Object.values(this.feeds)) t.dispose();
    for (const s of [this.readback, this.sync, this.main, ...this.owners]) void s?.release();
    this.readback = undefined;
  }
}

export class OrtPeer implements Peer {
  readonly name = 'ort-webgpu';
  private ort: Ort | undefined;
  private info = 'not set up';

  constructor(private readonly opts: OrtPeerOptions = {}) {}

  /** quiet: a formulation that may be refused (another one follows); keeps ORT's expected error off stderr */
  private sessionOptions(outputLocation: 'cpu' | 'gpu-buffer', quiet = false): InferenceSession.SessionOptions {
    const ep: InferenceSession.WebGpuExecutionProviderOption = { name: 'webgpu' };
    const mutable = ep as { -readonly [K in keyof typeof ep]: (typeof ep)[K] };
    if (this.opts.preferredLayout) mutable.preferredLayout = this.opts.preferredLayout;
    if (this.opts.validationMode) mutable.validationMode = this.opts.validationMode;
    return {
      executionProviders: [ep],
      preferredOutputLocation: outputLocation,
      graphOptimizationLevel: 'all',
      extra: { session: { disable_cpu_ep_fallback: '1' } },
      logSeverityLevel: quiet ? 4 : 3,
    };
  }

  private async session(g: OnnxGraph, outputLocation: 'cpu' | 'gpu-buffer', quiet = false): Promise<InferenceSession> {
    return this.ort!.InferenceSession.create(encodeModel(g), this.sessionOptions(outputLocation, quiet));
  }

  async setup(): Promise<void> {
    if (this.ort) return;
    const mod = (await import('onnxruntime-node')) as Ort & { default?: Ort };
    const ort = mod.default ?? mod;
    const backends = ort.listSupportedBackends();
    if (!backends.some((b) => b.name === 'webgpu')) {
      throw new Error(`onnxruntime-node ${ort.env.versions.node} has no WebGPU EP on ${process.platform}-${process.arch} ` +
        `(supported: ${backends.map((b) => b.name).join(', ')})`);
    }
    this.ort = ort;
    // Fail here, not in the first prepare(), if the EP cannot create its device.
    const probe = await this.session(
      { nodes: [{ op: 'Relu', inputs: ['X'], outputs: ['Y'] }], inputs: [{ name: 'X', shape: [4] }], outputs: [{ name: 'Y', shape: [4] }] },
      'cpu',
    );
    const y = (await probe.run({ X: new ort.Tensor('float32', Float32Array.of(-1, 2, -3, 4), [4]) })).Y;
    if ((y.data as Float32Array)[1] !== 2) throw new Error('ORT WebGPU probe returned a wrong result');
    y.dispose();
    await probe.release();
    let ours = 'unknown';
    try {
      const a = await sharedGpu().requestAdapter({ powerPreference: 'high-performance' });
      ours = describeAdapter(a?.info);
    } catch {
      /* leave unknown */
    }
    this.info =
      `ORT ${ort.env.versions.node}'s own Dawn instance and device (the Node binding takes no external GPUDevice and ` +
      `does not expose the adapter name); adapter chosen with powerPreference high-performance — our Dawn's ` +
      `high-performance adapter here: ${ours}`;
  }

  adapterInfo(): string {
    return this.info;
  }

  /** The candidate ONNX formulations of `spec`, best first. */
  private formulations(spec: KernelSpec, inputs: Float32Array[]): Formulation[] | Unsupported {
    const descs = specInputs(spec);
    const named = descs.map((d, i) => ({ name: d.name, shape: d.shape, data: inputs[i], role: d.role }));
    const acts = named.filter((d) => d.role === 'activation');
    const params = named.filter((d) => d.role === 'param');
    const base = (label: string, nodes: OnnxNode[], consts: OnnxInitializer[] = []): Formulation => ({
      label, nodes, consts, feeds: acts, params, output: 'Y',
    });
    const conv = (op: string, X: string, Wn: string, B: string | undefined, Y: string, k: number, s: number, p: number, attrs = {}): OnnxNode => ({
      op,
      inputs: B ? [X, Wn, B] : [X, Wn],
      outputs: [Y],
      attrs: { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p], ...attrs },
    });
    switch (spec.kind) {
      case 'matmul':
        return [base('MatMul', [{ op: 'MatMul', inputs: ['A', 'B'], outputs: ['Y'] }])];
      case 'conv2d':
        return [base('Conv', [conv('Conv', 'x', 'weight', spec.bias ? 'bias' : undefined, 'Y', spec.k, spec.stride, spec.pad)])];
      case 'conv2dInputGrad': {
        const { Ho, Wo } = convOutSize(spec);
        const opH = spec.H + 2 * spec.pad - spec.k - (Ho - 1) * spec.stride;
        const opW = spec.W + 2 * spec.pad - spec.k - (Wo - 1) * spec.stride;
        return [base('ConvTranspose', [conv('ConvTranspose', 'dy', 'weight', undefined, 'Y', spec.k, spec.stride, spec.pad,
          { output_padding: [opH, opW] })])];
      }
      case 'batchnorm':
        return [base('BatchNormalization', [{
          op: 'BatchNormalization',
          inputs: ['x', 'gamma', 'beta', 'runningMean', 'runningVar'],
          outputs: ['Y'],
          attrs: { epsilon: { float: spec.eps ?? 1e-5 } },
        }])];
      case 'upsampleNearest': {
        const f = spec.factor;
        return [base('Resize nearest (asymmetric, floor)', [{
          op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['Y'],
          attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
        }], [{ name: 'scales', shape: [4], data: Float32Array.of(1, 1, f, f) }])];
      }
      case 'maxPool2x2':
        return [base('MaxPool 2x2/2', [{ op: 'MaxPool', inputs: ['x'], outputs: ['Y'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } }])];
      case 'adaptiveAvgPool': {
        if (spec.outH === 1 && spec.outW === 1) {
          return [base('GlobalAveragePool', [{ op: 'GlobalAveragePool', inputs: ['x'], outputs: ['Y'] }])];
        }
        if (spec.H % spec.outH !== 0 || spec.W % spec.outW !== 0) {
          return { unsupported: 'ONNX has no adaptive pooling; only out 1x1 or H % outH == 0 and W % outW == 0 map onto (Global)AveragePool' };
        }
        const kh = spec.H / spec.outH, kw = spec.W / spec.outW;
        return [base(`AveragePool ${kh}x${kw}/${kh}x${kw}`, [{
          op: 'AveragePool', inputs: ['x'], outputs: ['Y'], attrs: { kernel_shape: [kh, kw], strides: [kh, kw] },
        }])];
      }
      case 'softmaxCrossEntropy': {
        const { B, classes } = spec;
        const mean = (spec.reduction ?? 'mean') === 'mean';
        const logits = { name: 'logits', shape: [B, classes], data: inputs[0] };
        const onehot = new Float32Array(B * classes);
        for (let b = 0; b < B; b++) onehot[b * classes + inputs[1][b]] = 1;
        const ohFeed = { name: 'onehot', shape: [B, classes], data: onehot };
        const tail: OnnxNode[] = mean
          ? [{ op: 'ReduceMean', inputs: ['nll'], outputs: ['Y'], attrs: { axes: [0], keepdims: 1 } }]
          : [{ op: 'Identity', inputs: ['nll'], outputs: ['Y'] }];
        const nllFrom = (logp: string): OnnxNode[] => [
          { op: 'Mul', inputs: ['onehot', logp], outputs: ['picked'] },
          { op: 'ReduceSum', inputs: ['picked', 'axis1'], outputs: ['negnll'], attrs: { keepdims: 0 } },
          { op: 'Neg', inputs: ['negnll'], outputs: ['nll'] },
          ...tail,
        ];
        // 1) the fused op (int64 labels): the WebGPU EP has no int64 by default, so this is expected to be refused
        const fused: Formulation = {
          label: 'SoftmaxCrossEntropyLoss',
          nodes: [{ op: 'SoftmaxCrossEntropyLoss', inputs: ['logits', 'labels'], outputs: ['Y0'], attrs: { reduction: mean ? 'mean' : 'none' } },
            mean ? { op: 'Reshape', inputs: ['Y0', 'shape1'], outputs: ['Y'] } : { op: 'Identity', inputs: ['Y0'], outputs: ['Y'] }],
          consts: mean ? [i64('shape1', [1])] : [],
          feeds: [logits],
          params: [],
          output: 'Y',
          int64Labels: Array.from(inputs[1]),
        } as Formulation & { int64Labels: number[] };
        return [
          fused,
          {
            label: 'LogSoftmax + one-hot Mul + ReduceSum (one-hot labels built in prepare)',
            nodes: [{ op: 'LogSoftmax', inputs: ['logits'], outputs: ['logp'], attrs: { axis: 1 } }, ...nllFrom('logp')],
            consts: [i64('axis1', [1])], feeds: [logits, ohFeed], params: [], output: 'Y',
          },
          {
            label: 'logits - ReduceLogSumExp + one-hot Mul + ReduceSum (one-hot labels built in prepare)',
            nodes: [
              { op: 'ReduceLogSumExp', inputs: ['logits'], outputs: ['lse'], attrs: { axes: [1], keepdims: 1 } },
              { op: 'Sub', inputs: ['logits', 'lse'], outputs: ['logp'] },
              ...nllFrom('logp'),
            ],
            consts: [i64('axis1', [1])], feeds: [logits, ohFeed], params: [], output: 'Y',
          },
        ];
      }
      case 'attention': {
        const { N, C, H, W } = spec;
        const C8 = C / 8, C2 = C / 2, HW = H * W, HW4 = HW / 4;
        const c1 = (Wn: string, X: string, Y: string): OnnxNode => conv('Conv', X, Wn, undefined, Y, 1, 1, 0);
        const pool = (X: string, Y: string): OnnxNode => ({ op: 'MaxPool', inputs: [X], outputs: [Y], attrs: { kernel_shape: [2, 2], strides: [2, 2] } });
        const reshape = (X: string, shape: string, Y: string): OnnxNode => ({ op: 'Reshape', inputs: [X, shape], outputs: [Y] });
        return [base('Conv 1x1 x4, MaxPool x2, MatMul x2, Softmax, Transpose, Reshape, Mul, Add', [
          c1('wTheta', 'x', 'theta4'),
          reshape('theta4', 'sTheta', 'theta'), // (N, C8, HW)
          { op: 'Transpose', inputs: ['theta'], outputs: ['thetaT'], attrs: { perm: [0, 2, 1] } }, // (N, HW, C8)
          c1('wPhi', 'x', 'phi4'), pool('phi4', 'phiP'), reshape('phiP', 'sPhi', 'phi'), // (N, C8, HW4)
          c1('wG', 'x', 'g4'), pool('g4', 'gP'), reshape('gP', 'sG', 'g'), // (N, C2, HW4)
          { op: 'MatMul', inputs: ['thetaT', 'phi'], outputs: ['logits'] }, // (N, HW, HW4)
          { op: 'Softmax', inputs: ['logits'], outputs: ['beta'], attrs: { axis: -1 } },
          { op: 'Transpose', inputs: ['beta'], outputs: ['betaT'], attrs: { perm: [0, 2, 1] } }, // (N, HW4, HW)
          { op: 'MatMul', inputs: ['g', 'betaT'], outputs: ['og'] }, // (N, C2, HW)
          reshape('og', 'sOg', 'og4'),
          c1('wO', 'og4', 'o'),
          { op: 'Mul', inputs: ['gamma', 'o'], outputs: ['go'] },
          { op: 'Add', inputs: ['x', 'go'], outputs: ['Y'] },
        ], [i64('sTheta', [N, C8, HW]), i64('sPhi', [N, C8, HW4]), i64('sG', [N, C2, HW4]), i64('sOg', [N, C2, H, W])])];
      }
    }
  }

  async prepare(spec: KernelSpec, inputs: Float32Array[]): Promise<PeerRun | Unsupported> {
    const ort = this.ort;
    if (!ort) throw new Error('ORT peer: call setup() first');
    const problems = specProblems(spec);
    if (problems.length) return { unsupported: problems.join('; ') };
    const forms = this.formulations(spec, inputs);
    if (!Array.isArray(forms)) return forms;

    const outShape = outputShape(spec);
    const refused: string[] = [];
    for (const [fi, f] of forms.entries()) {
      const paramsAsInputs = this.opts.paramsAs === 'inputs';
      const int64Labels = (f as Formulation & { int64Labels?: number[] }).int64Labels;
      const graphInputs: OnnxValueInfo[] = f.feeds.map((d) => ({ name: d.name, shape: d.shape }));
      if (int64Labels) graphInputs.push({ name: 'labels', shape: [int64Labels.length], type: DT.INT64 });
      const inits: OnnxInitializer[] = [...(f.consts ?? [])];
      for (const p of f.params) {
        if (paramsAsInputs) graphInputs.push({ name: p.name, shape: p.shape });
        else inits.push({ name: p.name, shape: p.shape, data: p.data });
      }
      const uploads = paramsAsInputs ? [...f.feeds, ...f.params] : f.feeds;

      let main: InferenceSession;
      try {
        main = await this.session(
          { nodes: f.nodes, inputs: graphInputs, outputs: [{ name: f.output, shape: outShape }], initializers: inits },
          'gpu-buffer',
          fi < forms.length - 1,
        );
      } catch (e) {
        refused.push(`${f.label}: ${firstLine(e)}`);
        continue;
      }

      // Upload the runtime inputs once; keep them as GPU tensors.
      const feeds: Record<string, Tensor> = {};
      const owners: InferenceSession[] = [];
      if (uploads.length) {
        const up = await this.session({
          nodes: uploads.map((u) => ({ op: 'Identity', inputs: [u.name], outputs: [`${u.name}__gpu`] })),
          inputs: uploads.map((u) => ({ name: u.name, shape: u.shape })),
          outputs: uploads.map((u) => ({ name: `${u.name}__gpu`, shape: u.shape })),
        }, 'gpu-buffer');
        const res = await up.run(Object.fromEntries(uploads.map((u) => [u.name, new ort.Tensor('float32', u.data, u.shape)])));
        for (const u of uploads) feeds[u.name] = res[`${u.name}__gpu`];
        owners.push(up); // released after the feeds, in dispose()
      }
      if (int64Labels) {
        // int64 tensors cannot live in the WebGPU EP's memory; they are fed from the CPU.
        feeds.labels = new ort.Tensor('int64', BigInt64Array.from(int64Labels.map((v) => BigInt(v))), [int64Labels.length]);
      }

      const rank = outShape.length;
      const sync = await this.session({
        nodes: [{ op: 'Slice', inputs: ['X', 'starts', 'ends'], outputs: ['Y'] }],
        inputs: [{ name: 'X', shape: outShape }],
        outputs: [{ name: 'Y', shape: new Array(rank).fill(1) }],
        initializers: [i64('starts', new Array(rank).fill(0)), i64('ends', new Array(rank).fill(1))],
      }, 'cpu');
      const makeReadback = () => this.session({
        nodes: [{ op: 'Identity', inputs: ['X'], outputs: ['Y'] }],
        inputs: [{ name: 'X', shape: outShape }],
        outputs: [{ name: 'Y', shape: outShape }],
      }, 'cpu');

      const layout = this.opts.preferredLayout ?? 'NHWC (ORT default)';
      const notes = [
        `ONNX ${f.label}`,
        `WebGPU EP, preferredLayout ${layout}, CPU-EP fallback disabled`,
        f.params.length ? `params as ${paramsAsInputs ? 'runtime inputs (on GPU)' : 'initializers'}` : '',
        uploads.length ? 'activations uploaded once (gpu-buffer feeds)' : '',
        'sync: 1-element Slice read-back after each run()',
        ...refused.map((r) => `refused: ${r}`),
      ].filter((s) => s.length > 0);
      const run = new OrtRun(main, sync, makeReadback, owners, feeds, f.output, outShape, notes);
      try {
        await run.run(); // warm-up: shader compilation, buffer pools
      } catch (e) {
        run.dispose();
        refused.push(`${f.label}: run failed: ${firstLine(e)}`);
        continue;
      }
      return run;
    }
    return { unsupported: `ORT WebGPU EP refused every formulation: ${refused.join(' | ')}` };
  }

  async dispose(): Promise<void> {
    // Sessions are released per PeerRun; ORT's WebGPU context lives until the process exits.
    this.ort = undefined;
  }
}

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  if (m.includes('fallback to CPU EP has been explicitly disabled')) return 'a node has no WebGPU EP kernel (would run on the CPU EP)';
  const line = m.split('\n').find((l) => l.trim().length > 0) ?? m;
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

