// Launches whose operands are over the binding-size limit, cut along a leading axis.
//
// WebGPU binds at most maxStorageBufferBindingSize bytes of a buffer to one binding (lavapipe:
// 128 MiB), less than a full-size network's activations at a moderate batch (VGG-16's first
// conv at 224x224, batch 16: 205 MB). An op whose kernel treats the units of a leading axis
// (images, planes, rows or elements) independently launches once per part of that axis, each
// operand bound as the range of its buffer that holds the part's units: the kernel sees a smaller
// batch starting at 0 and computes every element as before, in the same order, so a split
// result is bitwise the unsplit one. Ops that reduce over the axis combine the parts' results.
import { formatShape, type Tensor } from './tensor.js';
import type { Bound } from './kernelFamily.js';
import { runtime } from './runtime.js';

/** Units [start, start + count) of the leading axis of one launch. */
export interface Part {
  start: number;
  count: number;
  /** True when the launch is not split (one part holding every unit). */
  whole: boolean;
  /**
   * The part's units of `t`, which holds `units` equal units one after another: a range of its
   * buffer, or the buffer itself when the launch is not split (the binding stays as it was).
   */
  bind(t: Tensor): Bound;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Cut `units` units of a leading axis into parts such that every operand's share of a part
 * fits the binding-size limit (runtime().bindingLimit) and starts on the device's storage offset
 * alignment (256 bytes). Alignment is had by choosing the part size, never by copying: a part
 * holds a multiple of 256 / gcd(bytes per unit, 256) units of every operand. Operands are named
 * as in errors: one part (every operand bound whole) when all fit; an error naming the operand,
 * the bytes of the fewest units it can be cut into and the limit when those are over it. Operands
 * not cut along the axis (weights, statistics) are bound whole and checked by runtime.launch.
 */
export function splitUnits(op: string, units: number, operands: Record<string, Tensor>): Part[] {
  const rt = runtime();
  const limit = rt.bindingLimit;
  const align = rt.device.limits.minStorageBufferOffsetAlignment;
  const list = Object.entries(operands).map(([name, t]) => {
    const bytes = 4 * t.size;
    if (units > 0 && bytes % units !== 0) throw new Error(`${op}: ${name} ${t.describe()} does not hold ${units} equal parts`);
    return { name, t, perUnit: units > 0 ? bytes / units : 0 };
  });
  const whole = (start: number, count: number): Part => ({ start, count, whole: true, bind: (t) => t.buffer });
  if (units === 0 || list.every((o) => o.t.buffer.size <= limit)) return [whole(0, units)];
  // Units per aligned step: the least count whose bytes are a multiple of the alignment for all.
  let step = 1;
  for (const o of list) {
    const need = align / gcd(o.perUnit, align);
    step = (step * need) / gcd(step, need);
  }
  let most = units;
  for (const o of list) {
    const fits = Math.floor(limit / o.perUnit / step) * step;
    if (fits < 1) {
      // One unit alone over the limit, or the fewest that keep offsets aligned.
      const n = o.perUnit > limit ? 1 : Math.min(step, units);
      throw new Error(
        `${op}: ${n} of the ${units} units along the split axis of ${o.name} ${formatShape(o.t.shape)} take ` +
          `${n * o.perUnit} bytes, over the binding-size limit of ${limit} bytes (maxStorageBufferBindingSize); ` +
          `the launch cannot be split finer${n > 1 ? ` (a part must hold a multiple of ${step} for ${align}-byte aligned offsets)` : ''}`,
      );
    }
    most = Math.min(most, fits);
  }
  // Parts of equal size, rounded up to a whole step (at most `most`, itself a multiple of it).
  const count = Math.ceil(units / Math.ceil(units / most) / step) * step;
  const parts: Part[] = [];
  for (let start = 0; start < units; start += count) {
    const n = Math.min(count, units - start);
    parts.push({
      start,
      count: n,
      whole: false,
      bind: (t) => {
        const perUnit = (4 * t.size) / units;
        return { buffer: t.buffer, offset: start * perUnit, size: n * perUnit };
      },
    });
  }
  return parts;
}
