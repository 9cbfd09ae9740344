// The browser's twin of gpu.ts: WebGPU is navigator.gpu, its globals are the page's own.
// (The project compiles without the DOM library, so navigator is looked up on globalThis.)
const page = globalThis as { navigator?: { gpu?: GPU; deviceMemory?: number } };

export function defaultGpu(): GPU {
  const gpu = page.navigator?.gpu;
  if (!gpu) {
    throw new Error('This browser has no WebGPU (navigator.gpu): use a recent Chrome or Edge, or Chromium with --enable-unsafe-webgpu');
  }
  return gpu;
}

/** The host's memory in bytes, as far as a page may know it (Chrome's navigator.deviceMemory, capped at 8 GiB). */
export function hostMemory(): number {
  return (page.navigator?.deviceMemory ?? 4) * 2 ** 30;
}
