// record() for every op module, from here rather than from the engine: loading it hands autograd
// the kernels its sweep runs itself (summing gradients, a copy, the seed of ones), which
// engine/autograd.ts cannot import (the kernels import it).
import { record, setGradKernels } from '../engine/autograd.js';
import { empty } from '../engine/tensor.js';
import { add, clone, fillKernel } from './elementwise.js';

setGradKernels({ add, clone, ones: (shape) => fillKernel(empty(shape), 1) });

export { record };
