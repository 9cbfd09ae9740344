// Finds a WebGPU adapter through Dawn's Node bindings and opens the one device the engine uses.
import { defaultGpu, hostMemory } from './gpu.js';

export const SETUP_HINT =
  'No WebGPU adapter was found. Dawn needs a Vulkan driver: on a machine without a GPU that is ' +
  "Mesa's lavapipe >= 24 with the Vulkan loader. On Debian bookworm run `sudo bash scripts/setup-vulkan.sh` " +
  '(it installs mesa-vulkan-drivers and libvulkan1 from bookworm-backports); elsewhere install your GPU\'s ' +
  'Vulkan driver or mesa-vulkan-drivers >= 24 and libvulkan1.';

export class NoAdapterError extends Error {
  constructor(detail = '') {
    super(SETUP_HINT + (detail ? ` (${detail})` : ''));
    this.name = 'NoAdapterError';
  }
}

export class DeviceLostError extends Error {
  constructor(reason: string) {
    super(`The GPU device was lost: ${reason}`);
    this.name = 'DeviceLostError';
  }
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isSoftware: boolean;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: AdapterDescription;
  /** Human-readable adapter name, as benchmarks and CI print it. */
  name: string;
  hasTimestamps: boolean;
  hasF16: boolean;
  /**
   * 'subgroups' granted and every subgroup at least 8 invocations wide: the kernels that share
   * values across a subgroup (conv2d's subgroup variants) read from lanes 0-7.
   */
  hasSubgroups: boolean;
  /** The first uncaptured error or device loss since the last check; thrown at the next sync point. */
  pendingError: Error | null;
  /**
   * Bytes the engine may hold in GPU buffers. A software adapter's memory is the host's, where
   * running out kills the process rather than failing an allocation, so it gets 3/4 of it;
   * WebGPU does not tell a real GPU's memory size (Infinity: the driver's own errors decide).
   */
  memoryLimit: number;
}

function describe(adapter: GPUAdapter): AdapterDescription {
  const i = adapter.info;
  const isSoftware = /llvmpipe|lavapipe|swiftshader|software/i.test(`${i.architecture} ${i.device} ${i.description}`);
  return { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isSoftware };
}

/** Prefer a real GPU; fall back to whatever adapter there is (lavapipe here). */
export async function requestAdapter(gpu: Pick<GPU, 'requestAdapter'>): Promise<GPUAdapter> {
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    adapter ??= await gpu.requestAdapter();
  } catch (e) {
    throw new NoAdapterError(`requestAdapter failed: ${(e as Error).message}`);
  }
  if (!adapter) throw new NoAdapterError();
  return adapter;
}

/** The adapter's smallest subgroup size (0 where the bindings do not say). */
function subgroupMinSize(adapter: GPUAdapter): number {
  return Number((adapter.info as { subgroupMinSize?: number }).subgroupMinSize ?? 0);
}

export async function openDevice(gpu: Pick<GPU, 'requestAdapter'> = defaultGpu()): Promise<GpuContext> {
  const adapter = await requestAdapter(gpu);
  const wanted = ['timestamp-query', 'shader-f16', 'subgroups'] as GPUFeatureName[];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  const info = describe(adapter);
  const ctx: GpuContext = {
    device,
    adapter,
    info,
    name: [info.description || info.device || info.architecture, info.vendor && `(${info.vendor})`].filter(Boolean).join(' '),
    hasTimestamps: requiredFeatures.includes('timestamp-query'),
    hasF16: requiredFeatures.includes('shader-f16'),
    hasSubgroups: requiredFeatures.includes('subgroups' as GPUFeatureName) && subgroupMinSize(adapter) >= 8,
    pendingError: null,
    memoryLimit: info.isSoftware ? Math.floor(0.75 * hostMemory()) : Infinity,
  };
  device.lost.then((lost) => {
    if (lost.reason !== 'destroyed') ctx.pendingError ??= new DeviceLostError(lost.message || lost.reason);
  });
  device.addEventListener('uncapturederror', (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    const kind = error.constructor?.name ?? 'GPUError';
    const hint = /OutOfMemory/i.test(kind) ? ' (out of GPU memory: try a smaller batch)' : '';
    ctx.pendingError ??= new Error(`WebGPU ${kind}: ${error.message}${hint}`);
  });
  return ctx;
}
