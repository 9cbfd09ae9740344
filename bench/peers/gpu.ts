/**
 * The one Dawn `GPU` object the peers use, and the browser-style globals (GPUBufferUsage,
 * navigator.gpu, ...) that TensorFlow.js' WebGPU backend expects to find when it is imported.
 *
 * The bench should hand its own GPU (the one our engine uses) to `useGpu()` before setting up
 * the peers, so tfjs runs on the same Dawn instance and adapter as our kernels. Without that call,
 * `sharedGpu()` creates one with `create([])` on first use.
 */
import { create, globals } from 'webgpu';

let gpu: GPU | undefined;

/** Install Dawn's WebGPU globals and make `navigator.gpu` point at `g` (idempotent). */
function installGlobals(g: GPU): void {
  Object.assign(globalThis, globals);
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav && typeof nav === 'object') {
    // Node >= 21 has a read-only `navigator` getter whose object we can still extend.
    try {
      Object.defineProperty(nav, 'gpu', { value: g, configurable: true, writable: true });
      return;
    } catch {
      /* fall through and replace navigator */
    }
  }
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: g }, configurable: true, writable: true });
}

/** Use the given GPU (e.g. our engine's) for every peer that can share it. Call before `setup()`. */
export function useGpu(g: GPU): void {
  gpu = g;
  installGlobals(g);
}

/** The GPU shared by the peers: the one given to `useGpu()`, else a fresh `create([])`. */
export function sharedGpu(): GPU {
  if (!gpu) useGpu(create([]));
  return gpu!;
}

/** "vendor / architecture / device / description" of an adapter, for reports. */
export function describeAdapter(info: GPUAdapterInfo | undefined): string {
  if (!info) return 'unknown adapter';
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0);
  return parts.join(' / ') || 'unknown adapter';
}
