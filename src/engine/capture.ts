// Record a function's GPU work once, replay it with new inputs (issue 18).
//
// A training step is a few hundred launches, and each one, recorded eagerly, builds tensors and
// graph nodes, packs a uniform block, takes a pooled uniform buffer, writes it and makes a bind
// group. The GPU work itself depends only on the shapes, so it is recorded once per set of input
// sizes (runtime.capture: the first call runs eagerly and keeps every pipeline, bind group and
// uniform buffer it made) and replayed after that (runtime.replay): the inputs are written into
// the same fixed buffers, the commands encoded again from the kept objects, and the output read
// from its fixed buffer.
//
// What a replay cannot see is host-side work inside `fn`: a value `fn` computes in JavaScript
// (a random draw, a step count, an index list) is frozen at its captured value. So everything that
// changes from call to call must come in through `inputs`, as arrays, and reach the GPU as the
// tensors `fn` is given; the training step draws its noise, components, shift and Adam's bias
// corrections on the host before the call for this reason (src/train/step.ts). Values written
// inside `fn` (tensor(), a constant) are written again at each replay, in their captured order.
// The tensors `fn` closes over (parameters, Adam's moments) are bound by their buffers: change
// them in place (copy_, loadStateDict), never by swapping in new tensors, and a replay sees it.
import { runtime } from './runtime.js';
import { keep, scope, tensor, type Tensor } from './tensor.js';
import type { Tape } from './tape.js';

export type HostArray = Float32Array | Int32Array;

interface Captured {
  tape: Tape;
  inputs: Record<string, Tensor>;
  output: Tensor;
}

export class Replay<K extends string> {
  /** Calls that captured (ran eagerly) and calls that replayed, since construction. */
  readonly counts = { captures: 0, replays: 0 };
  /** Captures by input sizes, the most recently used last. */
  private captured = new Map<string, Captured>();

  constructor(
    /** The work: inputs as 1-D tensors (float32 or int32, as given); one output tensor it makes (the Replay owns it). */
    private readonly fn: (inputs: Record<K, Tensor>) => Tensor,
    /**
     * Captures kept at once: each holds every buffer of one call (the activations of a training
     * step), so a caller whose sizes keep changing should not keep many.
     */
    readonly maxCaptures = 2,
  ) {}

  /**
   * `fn` on these inputs: replayed if inputs of these sizes and types were captured before, else
   * run eagerly and captured. Everything up to the read-back of the output happens before the
   * returned promise first waits.
   */
  run(inputs: Record<K, HostArray>): Promise<HostArray> {
    const key = Object.entries<HostArray>(inputs)
      .map(([name, v]) => `${name}:${v instanceof Int32Array ? 'i32' : 'f32'}:${v.length}`)
      .join(',');
    let c = this.captured.get(key);
    if (c) {
      this.captured.delete(key);
      const rt = runtime();
      rt.flush();
      for (const [name, t] of Object.entries<Tensor>(c.inputs)) rt.write(t.buffer, 0, inputs[name as K]);
      rt.replay(c.tape);
      this.counts.replays++;
    } else {
      c = this.capture(inputs);
      this.counts.captures++;
    }
    this.captured.set(key, c);
    for (const [k, old] of this.captured) {
      if (this.captured.size <= this.maxCaptures) break;
      this.captured.delete(k);
      release(old);
    }
    return c.output.data();
  }

  /** Give back every buffer the captures hold. */
  dispose(): void {
    for (const c of this.captured.values()) release(c);
    this.captured.clear();
  }

  private capture(values: Record<K, HostArray>): Captured {
    const inputs = {} as Record<K, Tensor>;
    for (const name of Object.keys(values) as K[]) inputs[name] = keep(tensor(values[name]));
    try {
      // The inputs were written before the capture began: a replay writes new values instead.
      const { tape, result } = runtime().capture(() => keep(scope(() => this.fn(inputs))));
      return { tape, inputs, output: result };
    } catch (e) {
      for (const t of Object.values<Tensor>(inputs)) t.dispose();
      throw e;
    }
  }
}

function release(c: Captured): void {
  c.tape.dispose(runtime().hasPendingWork);
  for (const t of Object.values<Tensor>(c.inputs)) t.dispose();
  c.output.dispose();
}
