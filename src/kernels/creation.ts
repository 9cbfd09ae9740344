// Tensor creation: constants filled on the GPU, random values from a seeded CPU generator.
import { defaultRng, type Rng } from '../engine/random.js';
import { empty, tensor, type Shape, type Tensor } from '../engine/tensor.js';
import { fillKernel } from './elementwise.js';

export interface CreateOptions {
  requiresGrad?: boolean;
}

function finish(t: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

export function full(shape: Shape, value: number, options: CreateOptions = {}): Tensor {
  return finish(fillKernel(empty(shape), value), options);
}

export function zeros(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

export const zerosLike = (t: Tensor): Tensor => zeros(t.shape);
export const onesLike = (t: Tensor): Tensor => ones(t.shape);

export interface RandomOptions extends CreateOptions {
  generator?: Rng;
}

/** Standard normal values (mean and std adjustable). */
export function randn(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const g = options.generator ?? defaultRng;
  const values = g.fillNormal(new Float32Array(shapeSize(shape)), options.mean ?? 0, options.std ?? 1);
  return tensor(values, shape, { requiresGrad: options.requiresGrad });
}

/** Uniform values in [low, high). */
export function rand(shape: Shape, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const g = options.generator ?? defaultRng;
  const values = g.fillUniform(new Float32Array(shapeSize(shape)), options.low ?? 0, options.high ?? 1);
  return tensor(values, shape, { requiresGrad: options.requiresGrad });
}

function shapeSize(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}
