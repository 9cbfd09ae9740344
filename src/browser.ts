// The package's browser entry (`webgpu-cgan/browser`, built by scripts/build-browser.mjs): the
// engine, its ops, modules and models, checkpoint reading from bytes, and the method's input
// generator and pipeline. WebGPU is the page's navigator.gpu; shaders are bundled in.
export { init, runtime, type Runtime } from './engine/runtime.js';
export { NoAdapterError, DeviceLostError } from './engine/device.js';
export { Tensor, tensor, empty, scope, keep, type DType, type Shape } from './engine/tensor.js';
export { noGrad, isGradEnabled } from './engine/autograd.js';
export { Replay, type HostArray } from './engine/capture.js';
export { Rng, manualSeed } from './engine/random.js';
export * as ops from './kernels/index.js';
export { Module, Linear, Conv2d, ConvTranspose2d, Embedding, BatchNorm2d, WeightedLayer, type WeightParametrization } from './models/module.js';
export { spectralNorm, type SpectralNormOptions } from './models/spectralNorm.js';
export { buildModel, readModelBytes } from './models/load.js';
export { convertStateDict } from './models/convert.js';
export { readSafetensors } from './models/checkpoint/safetensors.js';
export { parseCheckpoint } from './models/checkpoint/read.js';
export * as optim from './train/optim.js';
export { InputGenerator } from './train/inputGenerator.js';
export { ConditioningPipeline } from './train/pipeline.js';
