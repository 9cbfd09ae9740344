// Launches whose operands are over the binding-size limit, cut along a leading axis.
//
// WebGPU binds at most maxStorageBufferBindingSize bytes of a buffer to one binding (lavapipe:
// 128 MiB), less than a full-size network's activations at a moderate batch (VGG-16's first
// conv at 224x224, batch 16: 205 MB). An op whose kernel treats the units of a leading axis
// (images, planes, rows or elements) independently launches once per part of that axis, each
// operand bound as the range of its buffer that holds the part's units: the kernel sees a smaller
// batch starting at 0 and computes every element as before, in the same order, so a split
// result is bitwise the unsplit one. Ops that reduce over the axis combine the parts' results.
import { empty, formatShape, type Tensor } from './tensor.js';
import type { Bound } from './kernelFamily.js';
import { runtime } from './runtime.js';

/** Units [start, start + count) of the leading axis of one launch. */
export interface Part {
  start: number;
  count: number;
  /** True when the launch is not split (one part holding every unit). */
  whole: boolean;
  /**
   * The part's units of `t`, read by the launch (t holds `units` equal units one after another):
   * a range of its buffer, or the buffer itself when the launch is not split (the binding stays
   * as it was); a copy of the range where it would start off the alignment.
   */
  bind(t: Tensor): Bound;
  /** As bind, for a tensor the launch writes: off the alignment, a buffer that done() copies into place. */
  write(t: Tensor): Bound;
  /** After the part's launch: copy its staged outputs into place. */
  done(): void;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Cut `units` units of a leading axis into parts such that every operand's share of a part fits
 * the binding-size limit (runtime().bindingLimit) and starts on the device's storage offset
 * alignment (256 bytes). Alignment is had by choosing the part size where possible: a multiple of
 * 256 / gcd(bytes per unit, 256) units of every operand, or else of the read `operands` only; where
 * even that is over the limit (a 7x7 plane is 196 bytes: 64 of them at a time), parts of any size.
 * A share that then starts off the alignment is copied: a read operand's into a buffer of its own
 * before the launch, a written one's (`outputs`) out of one after it, by done() (a buffer copy
 * needs 4-byte alignment only). One part, every operand bound whole, when all fit; an error naming
 * the operand, the bytes of one unit and the limit when one unit alone is over it. Operands not cut
 * along the axis (weights, statistics) are bound whole and checked by runtime.launch.
 */
export function splitUnits(op: string, units: number, operands: Record<string, Tensor>, outputs: Record<string, Tensor> = {}): Part[] {
  const rt = runtime();
  const limit = rt.bindingLimit;
  const align = rt.device.limits.minStorageBufferOffsetAlignment;
  const describe = (all: Record<string, Tensor>) => Object.entries(all).map(([name, t]) => {
    const bytes = 4 * t.size;
    if (units > 0 && bytes % units !== 0) throw new Error(`${op}: ${name} ${t.describe()} does not hold ${units} equal parts`);
    return { name, t, perUnit: units > 0 ? bytes / units : 0 };
  });
  const inputs = describe(operands);
  const list = [...inputs, ...describe(outputs)];
  const whole = (start: number, count: number): Part => ({ start, count, whole: true, bind: (t) => t.buffer, write: (t) => t.buffer, done: () => {} });
  if (units === 0 || list.every((o) => o.t.buffer.size <= limit)) return [whole(0, units)];
  // Units per aligned step: the least count whose bytes are a multiple of the alignment for all.
  const stepOf = (of: typeof list) => of.reduce((step, o) => {
    const need = align / gcd(o.perUnit, align);
    return (step * need) / gcd(step, need);
  }, 1);
  const fitsStep = (step: number) => list.every((o) => step * o.perUnit <= limit);
  const step = [stepOf(list), stepOf(inputs), 1].find(fitsStep) ?? 1;
  let most = units;
  for (const o of list) {
    const fits = Math.floor(limit / o.perUnit / step) * step;
    if (fits < 1) {
      throw new Error(
        `${op}: one of the ${units} units along the split axis of ${o.name} ${formatShape(o.t.shape)} takes ` +
          `${o.perUnit} bytes, over the binding-size limit of ${limit} bytes (maxStorageBufferBindingSize); the launch cannot be split finer`,
      );
    }
    most = Math.min(most, fits);
  }
  // Parts of equal size, rounded up to a whole step (at most `most`, itself a multiple of it).
  const count = Math.ceil(units / Math.ceil(units / most) / step) * step;
  const parts: Part[] = [];
  for (let start = 0; start < units; start += count) {
    const n = Math.min(count, units - start);
    const staged: [Tensor, Tensor, number][] = [];
    const range = (t: Tensor, written: boolean): Bound => {
      const perUnit = (4 * t.size) / units;
      const offset = start * perUnit;
      if (offset % align === 0) return { buffer: t.buffer, offset, size: n * perUnit };
      const own = empty([(n * perUnit) / 4], t.dtype);
      const buffer = own.buffer;
      if (written) staged.push([own, t, offset]);
      else {
        rt.copy(t.buffer, offset, buffer, 0, n * perUnit); // recorded before the launch that reads it
        own.dispose(); // the pool holds the buffer until the recorded commands are submitted
      }
      return buffer;
    };
    parts.push({
      start,
      count: n,
      whole: false,
      bind: (t) => range(t, false),
      write: (t) => range(t, true),
      done: () => {
        for (const [own, t, offset] of staged.splice(0)) {
          rt.copy(own.buffer, 0, t.buffer, offset, 4 * own.size);
          own.dispose();
        }
      },
    });
  }
  return parts;
}
