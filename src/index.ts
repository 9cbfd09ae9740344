// The package's public API: the engine, its ops, modules and models, and the trainer.
// The types name WebGPU's globals (GPUDevice, ...): the reference carries them to consumers'
// compilers through the emitted index.d.ts (preserve: TypeScript drops it otherwise).
/// <reference types="@webgpu/types" preserve="true" />
export { init, runtime, type Runtime } from './engine/runtime.js';
export { NoAdapterError, DeviceLostError } from './engine/device.js';
export { Tensor, tensor, empty, scope, keep, type DType, type Shape } from './engine/tensor.js';
export { noGrad, isGradEnabled } from './engine/autograd.js';
export { Replay, type HostArray } from './engine/capture.js';
export { Rng, manualSeed } from './engine/random.js';
export * as ops from './kernels/index.js';
export * as optim from './train/optim.js';
export { Module, Linear, Conv2d, ConvTranspose2d, Embedding, BatchNorm2d, WeightedLayer, type WeightParametrization } from './models/module.js';
export { spectralNorm, type SpectralNormOptions } from './models/spectralNorm.js';
export * as models from './models/index.js';
export * as checkpoint from './models/checkpoint/index.js';
export { InputGenerator } from './train/inputGenerator.js';
export { ConditioningPipeline } from './train/pipeline.js';
export { train, buildPipeline, generateImages, restoreCheckpoint, type TrainConfig } from './train/trainer.js';
export { evaluate, formatReport, readReport } from './train/evaluate.js';
export { priorFilter, type LatentScreen } from './train/priorFilter.js';
export { chooseAnchors, labelPool } from './train/anchors.js';
export { LatentClassifier, softCrossEntropy, trainLatentClassifier } from './train/latentClassifier.js';
export { CGAN_DEFAULTS, TRAINING_DEFAULTS } from './train/defaults.js';
export { discriminatorLoss, generatorLoss, GAN_LOSSES, type GanLoss } from './train/ganLoss.js';
export { ganStep, type Gan } from './train/ganStep.js';
export { trainCgan, type CganConfig } from './train/cgan.js';
