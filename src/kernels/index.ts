// Every op family, as one flat namespace (import * as ops from './kernels/index.js').
export * from './creation.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './matmul.js';
export * from './softmax.js';
export * from './loss.js';
export * from './gather.js';
export * from './translate.js';
export * from './adam.js';
export * from './average.js';
export * from './conv2d.js';
export * from './unfold.js';
export * from './batchnorm.js';
export * from './upsample.js';
export * from './pool.js';
export * from './attention.js';
