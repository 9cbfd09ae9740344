/**
 * Peer engines for `npm run bench`: run one op of a KernelSpec in TensorFlow.js (WebGPU backend)
 * or ONNX Runtime (WebGPU EP) on the same adapter as our kernels, and time it.
 *
 *   import { createPeers, makeInputs, timeRun, isUnsupported, useGpu } from './peers/index.js';
 *   useGpu(ourEngineGpu);                 // optional: share our Dawn GPU instance with tfjs
 *   const peers = createPeers();
 *   for (const p of peers) await p.setup();
 *   const inputs = makeInputs(spec);      // NCHW, order as in types.ts
 *   const r = await peer.prepare(spec, inputs);
 *   if (!isUnsupported(r)) { const t = await timeRun(r); const y = await r.read(); r.dispose(); }
 *
 * bench/peers/try.ts runs every kind in both peers against float64 references.
 */
import type { Peer } from './types.js';
import { TfjsPeer, type TfjsPeerOptions } from './tfjs.js';
import { OrtPeer, type OrtPeerOptions } from './ort.js';

export * from './types.js';
export { specInputs, outputShape, specFlops, specProblems, makeInputs, convOutSize, numel, type InputDesc, type InputRole } from './spec.js';
export { reference, compare, type Comparison } from './reference.js';
export { timeRun, type TimeOptions, type Timing } from './time.js';
export { useGpu, sharedGpu, describeAdapter } from './gpu.js';
export { TfjsPeer, type TfjsPeerOptions } from './tfjs.js';
export { OrtPeer, type OrtPeerOptions } from './ort.js';

export function createPeers(opts: { tfjs?: TfjsPeerOptions; ort?: OrtPeerOptions } = {}): Peer[] {
  return [new TfjsPeer(opts.tfjs), new OrtPeer(opts.ort)];
}
