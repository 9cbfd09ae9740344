// The copy family (shaders/copy.wgsl), declared once for its two users: the strided copy behind
// every layout op (shape.ts) and the whole-pixel shift (translate.ts).
import { kernelFamily } from '../engine/kernelFamily.js';
import { flatIndex, stridedOffsets } from '../engine/wgsl.js';

export const copyFamily = kernelFamily('copy', {
  uniforms: {
    p: {
      shape: { vec4u: 2 },
      srcStrides: { vec4u: 2 },
      dstStrides: { vec4u: 2 },
      rank: 'u32',
      n: 'u32', // threads: runs of up to RUN elements along the last axis (shaders/copy.wgsl)
      runs: 'u32', // runs per row of the last axis
      srcOffset: 'u32',
      dstOffset: 'u32',
    },
    // The shift (dy, dx) comes from a buffer, times `sign` (-1 in backward), so that a replayed
    // step shifts by each step's own draw.
    t: { rows: 'u32', H: 'u32', W: 'u32', sign: 'i32', fill: 'f32' },
  },
  layouts: {
    // Raw bits: float32 and int32 alike.
    stridedCopy: { uniform: 'p', buffers: { src: 'read u32', dst: 'write u32' } },
    translate: {
      entries: ['translate', 'translate4'],
      uniform: 't',
      buffers: { image: 'read f32', shifted: 'write f32 vec4f', translation: 'read i32' },
    },
  },
  prelude: [flatIndex, stridedOffsets],
});
