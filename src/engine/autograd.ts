// Reverse-mode autograd: operations record a node with their inputs and a backward rule;
// backward() sorts the graph topologically (iteratively: BigGAN plus the trainer is deeper than
// a JavaScript stack likes) and sweeps it in reverse, summing gradients where paths meet.
//
// The engine does not import the kernels (they import it): the three the sweep runs itself come
// through setGradKernels, from kernels/grad.ts, where every op module gets record().
import type { Shape, Tensor } from './tensor.js';

export interface GradKernels {
  /** Sums two gradients of the same shape. */
  add(a: Tensor, b: Tensor): Tensor;
  clone(t: Tensor): Tensor;
  /** The seed of a scalar output's backward(). */
  ones(shape: Shape): Tensor;
}

let kernels: GradKernels | null = null;

export function setGradKernels(k: GradKernels): void {
  kernels = k;
}

function gradKernels(): GradKernels {
  if (!kernels) throw new Error('backward(): no kernels are loaded (import the package, or src/kernels/index.js)');
  return kernels;
}

export interface GradNode {
  name: string;
  inputs: Tensor[];
  /** Given d(loss)/d(output), return d(loss)/d(input) for each input (null where none flows). */
  backward: (grad: Tensor) => (Tensor | null)[];
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run `fn` without recording anything for autograd. */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

/** Attach a backward rule to `out` if any input needs a gradient; returns `out`. */
export function record(name: string, out: Tensor, inputs: Tensor[], backward: GradNode['backward']): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradFn = { name, inputs, backward };
  }
  return out;
}

// Observers (the bench's profiler) see which node's rule is running without touching the graph.
let running: GradNode | null = null;
const nodeListeners = new Set<(output: Tensor, node: GradNode) => void>();

/** The name of the graph node whose backward rule is running ('' outside such a rule). */
export function currentOp(): string {
  return running?.name ?? '';
}

/** Call `listener` as backward() reaches each node, before its rule runs; returns the function that stops it. */
export function onBackwardNode(listener: (output: Tensor, node: GradNode) => void): () => void {
  nodeListeners.add(listener);
  return () => nodeListeners.delete(listener);
}

const ownedAsGrad = new WeakSet<Tensor>();

/** Backpropagate from `root`; returns the leaves whose .grad it set (Tensor.backward keeps them out of scopes). */
export function backward(root: Tensor, cotangent: Tensor | undefined, retainGraph: boolean): Tensor[] {
  if (!root.requiresGrad) {
    throw new Error(`backward() on ${root.describe()}, which does not require grad (nothing upstream has requiresGrad)`);
  }
  if (cotangent) {
    if (cotangent.shape.join() !== root.shape.join()) {
      throw new Error(`backward(): cotangent shape [${cotangent.shape}] differs from output shape [${root.shape}]`);
    }
  } else if (root.size !== 1) {
    throw new Error(`backward() without a cotangent needs a scalar output, got shape [${root.shape}]`);
  }
  // The caller keeps its cotangent: a leaf that would receive that very tensor gets a copy, so
  // that disposing one of them cannot pull the storage out from under the other.
  if (cotangent) ownedAsGrad.add(cotangent);
  return noGrad(() => sweep(root, cotangent ?? gradKernels().ones(root.shape), retainGraph));
}

/** Non-leaf tensors whose backward rule an earlier backward() dropped (no retainGraph). */
const freed = new WeakSet<Tensor>();

function sweep(root: Tensor, cotangent: Tensor, retainGraph: boolean): Tensor[] {
  const { add } = gradKernels();
  const leaves: Tensor[] = [];
  const order = topologicalOrder(root);
  // Without this check such a tensor would pass for a leaf: it would collect a .grad of its own
  // and nothing upstream of it would get anything, silently.
  const gone = order.find((t) => freed.has(t));
  if (gone) {
    throw new Error(
      `backward() through ${gone.describe()}, whose graph an earlier backward() already freed: ` +
        'pass { retainGraph: true } to the earlier call to backpropagate through it again',
    );
  }
  const grads = new Map<Tensor, Tensor>([[root, cotangent]]);
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    const g = grads.get(t);
    if (!g) continue;
    grads.delete(t);
    const node = t.gradFn;
    if (!node) {
      accumulateLeafGrad(t, g);
      leaves.push(t);
      continue;
    }
    for (const listener of nodeListeners) listener(t, node);
    running = node;
    let inputGrads: (Tensor | null)[];
    try {
      inputGrads = node.backward(g);
    } finally {
      running = null;
    }
    node.inputs.forEach((input, j) => {
      const gi = inputGrads[j];
      if (!gi || !input.requiresGrad) return;
      if (gi.shape.join() !== input.shape.join()) {
        throw new Error(`internal: backward of '${node.name}' gave a gradient of shape [${gi.shape}] for an input of shape [${input.shape}]`);
      }
      const before = grads.get(input);
      grads.set(input, before ? add(before, gi) : gi);
    });
    if (!retainGraph) {
      t.gradFn = null;
      freed.add(t);
    }
  }
  return leaves;
}

function accumulateLeafGrad(leaf: Tensor, g: Tensor): void {
  // A gradient tensor may be shared by several inputs (add passes it through): copy it then,
  // so that every leaf owns its .grad.
  const { add, clone } = gradKernels();
  const own = ownedAsGrad.has(g) ? clone(g) : g;
  const next = leaf.grad ? add(leaf.grad, own) : own;
  if (leaf.grad) leaf.grad.dispose();
  ownedAsGrad.add(next);
  leaf.grad = next;
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    for (const input of t.gradFn?.inputs ?? []) {
      if (input.requiresGrad && !visited.has(input)) stack.push([input, false]);
    }
  }
  return order;
}

export interface HeldTensor {
  /** The op that made it ('input' for a tensor made outside the graph), or a parameter's name. */
  madeBy: string;
  /** The ops whose backward rules take it as an input. */
  usedBy: string[];
  shape: readonly number[];
  bytes: number;
  kind: 'parameter' | 'activation';
}

/**
 * The tensors the graph behind `root` holds until backward() frees it: the inputs of every node,
 * once per GPU buffer, largest first. Named tensors (module parameters and buffers) are listed
 * apart, since they outlive the graph. Tensors a rule keeps in its closure alone (a pooling's
 * argmax, a batchnorm's statistics) are not visible here: the pool's live bytes after the
 * forward pass, less those before it, count them too.
 */
export function heldForBackward(root: Tensor): HeldTensor[] {
  const held = new Map<GPUBuffer, HeldTensor>();
  const seen = new Set<Tensor>();
  const stack = [root];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t) || !t.gradFn) continue;
    seen.add(t);
    for (const input of t.gradFn.inputs) {
      if (input.isDisposed) continue;
      let entry = held.get(input.buffer);
      if (!entry) {
        const kind = input.name ? 'parameter' : 'activation';
        entry = { madeBy: input.name ?? input.gradFn?.name ?? 'input', usedBy: [], shape: input.shape, bytes: 4 * input.size, kind };
        held.set(input.buffer, entry);
      }
      if (!entry.usedBy.includes(t.gradFn.name)) entry.usedBy.push(t.gradFn.name);
      stack.push(input);
    }
  }
  return [...held.values()].sort((a, b) => b.bytes - a.bytes);
}
