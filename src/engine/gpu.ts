// Where WebGPU comes from in Node: Dawn's bindings (npm `webgpu`). The browser build swaps this
// file for gpu.browser.ts (navigator.gpu).
import { totalmem } from 'node:os';
import { create, globals } from 'webgpu';

let gpuInstance: GPU | null = null;

/** The process-wide Dawn instance, its globals (GPUBufferUsage, ...) installed first. */
export function defaultGpu(): GPU {
  if (!gpuInstance) {
    Object.assign(globalThis, globals);
    gpuInstance = create([]) as unknown as GPU;
  }
  return gpuInstance;
}

/** The host's memory in bytes: a software adapter's GPU memory is the host's. */
export function hostMemory(): number {
  return totalmem();
}
