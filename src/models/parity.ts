// Parity with PyTorch: run a fixture's inputs through the converted networks on the GPU,
// backpropagate, and compare outputs and gradients with the fixture's (max-norm relative error).
//
// Fixture layouts (shared/fixtures/README.md, shared/pretrained/README.md), told apart by keys:
//   generator:  z, y?, image, cotangent, grad_z, config?   -> image, grad_z
//               (BigGAN-deep: class_vector, truncation       -> also grad_class_vector)
//   classifier: x, target, logits, loss, grad_x            -> logits, loss, grad_x
//                (x as the network sees it: mapped back through the classifier's inputMap, if any)
//   pair:       z, target, image, logits, loss, grad_z     -> image, logits, loss, grad_z
//                (z -> G -> nearest upsample -> VGG -> mean cross-entropy)
import { scope, tensor, type Tensor } from '../engine/tensor.js';
import { crossEntropy } from '../kernels/softmax.js';
import { upsampleNearest } from '../kernels/upsample.js';
import { readCheckpoint, toFloat32, type HostTensor } from './checkpoint/index.js';
import { familyOfModel } from './convert.js';
import type { Classifier, ConvertOptions, FrozenModel, ImageGenerator, ModelFamily } from './family.js';
import { buildModel, readModelFile } from './load.js';

/**
 * Float32 on the GPU against float32 PyTorch on a CPU: the same maths in another summation order
 * through a dozen layers. Outputs agree to about 1e-6 relative; gradients, through softmaxes,
 * max-pool ties and cancellations, to about 1e-5. These bounds leave an order of magnitude.
 */
export const PARITY_OUTPUT_REL = 1e-4;
export const PARITY_GRAD_REL = 1e-3;

export type FixtureKind = 'generator' | 'classifier' | 'pair';

export interface ParityLine {
  name: string;
  maxAbsError: number;
  maxReference: number;
  relError: number;
  tolerance: number;
  ok: boolean;
}

export interface ParityResult {
  kind: FixtureKind;
  lines: ParityLine[];
  ok: boolean;
}

const has = (f: Map<string, HostTensor>, ...keys: string[]) => keys.every((k) => f.has(k));

export function fixtureKind(fixture: Map<string, HostTensor>, name = 'fixture'): FixtureKind {
  if (has(fixture, 'z', 'cotangent', 'image', 'grad_z')) return 'generator';
  if (has(fixture, 'x', 'target', 'logits', 'loss', 'grad_x')) return 'classifier';
  if (has(fixture, 'z', 'target', 'image', 'logits', 'loss', 'grad_z')) return 'pair';
  throw new Error(
    `${name}: not a parity fixture (keys ${[...fixture.keys()].join(', ')}); expected a generator fixture ` +
      '(z, cotangent, image, grad_z), a classifier fixture (x, target, logits, loss, grad_x) or a pair fixture (z, target, image, logits, loss, grad_z)',
  );
}

/** max |actual - expected|, max |expected|, and their ratio (the max-norm relative error). */
export function compare(name: string, actual: ArrayLike<number>, expected: HostTensor, tolerance: number): ParityLine {
  const ref = toFloat32(expected);
  if (actual.length !== ref.length) {
    throw new Error(`${name}: the model gives ${actual.length} values, the fixture ${ref.length} (shape [${expected.shape}])`);
  }
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(actual[i] - ref[i]);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d; // a NaN counts as an infinite error
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  const relError = scale === 0 ? diff : diff / scale;
  return { name, maxAbsError: diff, maxReference: scale, relError, tolerance, ok: relError <= tolerance };
}

function upload(f: Map<string, HostTensor>, key: string, requiresGrad = false): Tensor {
  const t = f.get(key)!;
  return tensor(toFloat32(t), t.shape, { requiresGrad });
}

function indices(f: Map<string, HostTensor>, key: string): Int32Array {
  return Int32Array.from(toFloat32(f.get(key)!));
}

function result(kind: FixtureKind, lines: ParityLine[]): ParityResult {
  return { kind, lines, ok: lines.every((l) => l.ok) };
}

/**
 * Reads the tensors back and disposes them. `input` is the leaf whose gradient is wanted: it is
 * returned whole from the scope (disposing it would take its .grad along).
 */
async function readAll(input: Tensor, tensors: Record<string, Tensor>): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  if (!input.grad) throw new Error('internal: no gradient reached the input');
  out.grad = (await input.grad.data()) as Float32Array;
  for (const [k, t] of Object.entries(tensors)) {
    out[k] = (await t.data()) as Float32Array;
    t.dispose();
  }
  input.dispose();
  return out;
}

/**
 * G(z, y) against `image`; d sum(image * cotangent) / dz against `grad_z`. A BigGAN-deep fixture
 * gives a float `class_vector` instead of `y` (its gradient checked against `grad_class_vector`)
 * and the `truncation` to run at.
 */
export async function generatorParity(G: ImageGenerator, fixture: Map<string, HostTensor>): Promise<ParityResult> {
  const batch = fixture.get('z')!.shape[0];
  if (fixture.has('truncation')) {
    if (G.truncation === undefined) throw new Error('the fixture gives a truncation, but the generator takes none');
    // stored as float32: its shortest decimal is the truncation the fixture was made with (0.47, not 0.4699999988)
    G.truncation = Number(toFloat32(fixture.get('truncation')!)[0].toPrecision(7));
  }
  const hasVector = fixture.has('class_vector');
  const classes = fixture.has('y') ? indices(fixture, 'y') : new Int32Array(batch);
  const { z, classVector, ...outputs } = scope(() => {
    const z = upload(fixture, 'z', true);
    const classVector = hasVector ? upload(fixture, 'class_vector', true) : null;
    const image = G.forward(z, classVector ?? classes);
    image.backward(upload(fixture, 'cotangent'));
    return { z, classVector, image };
  });
  const gradClass = classVector?.grad ? ((await classVector.grad.data()) as Float32Array) : null;
  classVector?.dispose();
  const got = await readAll(z, outputs);
  const lines = [
    compare('image', got.image, fixture.get('image')!, PARITY_OUTPUT_REL),
    compare('grad_z', got.grad, fixture.get('grad_z')!, PARITY_GRAD_REL),
  ];
  if (hasVector && fixture.has('grad_class_vector')) {
    if (!gradClass) throw new Error('internal: no gradient reached the class vector');
    lines.push(compare('grad_class_vector', gradClass, fixture.get('grad_class_vector')!, PARITY_GRAD_REL));
  }
  return result('generator', lines);
}

/**
 * A classifier fixture's x is the network's own input (fixtures/README.md). For a classifier that
 * maps [-1, 1] images into another space (V.inputMap: input = images * scale + shift), that x is
 * mapped back, in float64, to the images its forward takes.
 */
function classifierImages(V: Classifier, fixture: Map<string, HostTensor>): Tensor {
  const x = fixture.get('x')!;
  if (!V.inputMap) return upload(fixture, 'x', true);
  const { scale, shift } = V.inputMap;
  if (x.shape.length !== 4 || x.shape[1] !== scale.length) {
    throw new Error(`fixture x has shape [${x.shape}], the classifier takes (batch, ${scale.length}, H, W)`);
  }
  const plane = x.shape[2] * x.shape[3];
  const values = toFloat32(x);
  const images = Float32Array.from(values, (v, i) => {
    const c = Math.floor(i / plane) % scale.length;
    return (v - shift[c]) / scale[c];
  });
  return tensor(images, x.shape, { requiresGrad: true });
}

/**
 * d loss / d(network input) from d loss / d(images): divided by the input map's scale (input =
 * images * scale + shift), so it compares with the fixture's grad_x.
 */
function networkInputGrad(V: Classifier, grad: Float32Array, shape: readonly number[]): Float32Array {
  if (!V.inputMap) return grad;
  const { scale } = V.inputMap;
  const plane = shape[2] * shape[3];
  return Float32Array.from(grad, (g, i) => g / scale[Math.floor(i / plane) % scale.length]);
}

/** logits = V(x), loss = mean cross-entropy on `target`, grad_x = d loss / dx. */
export async function classifierParity(V: Classifier, fixture: Map<string, HostTensor>): Promise<ParityResult> {
  const target = indices(fixture, 'target');
  const { x, ...outputs } = scope(() => {
    const x = classifierImages(V, fixture);
    const logits = V.forward(x);
    const loss = crossEntropy(logits, target);
    loss.backward();
    return { x, logits, loss };
  });
  const got = await readAll(x, outputs);
  got.grad = networkInputGrad(V, got.grad, fixture.get('x')!.shape);
  return result('classifier', [
    compare('logits', got.logits, fixture.get('logits')!, PARITY_OUTPUT_REL),
    compare('loss', got.loss, fixture.get('loss')!, PARITY_OUTPUT_REL),
    compare('grad_x', got.grad, fixture.get('grad_x')!, PARITY_GRAD_REL),
  ]);
}

/** The upsampling between G and V: V's input side over G's resolution when known, else 2 (the default pair). */
export function pairUpsampleFactor(G: ImageGenerator, V: Classifier): number {
  const size = V.inputSize;
  if (size === null) return 2;
  const factor = size / G.resolution;
  if (!Number.isInteger(factor) || factor < 1) {
    throw new Error(`the classifier's input size ${size} is not a whole multiple of the generator's resolution ${G.resolution}`);
  }
  return factor;
}

/** z -> G -> nearest upsample -> V -> mean cross-entropy on `target`; grad_z = d loss / dz. */
export async function pairParity(
  G: ImageGenerator,
  V: Classifier,
  fixture: Map<string, HostTensor>,
  upsample = pairUpsampleFactor(G, V),
): Promise<ParityResult> {
  const target = indices(fixture, 'target');
  const { z, ...outputs } = scope(() => {
    const z = upload(fixture, 'z', true);
    const image = G.forward(z);
    const logits = V.forward(upsample === 1 ? image : upsampleNearest(image, upsample));
    const loss = crossEntropy(logits, target);
    loss.backward();
    return { z, image, logits, loss };
  });
  const got = await readAll(z, outputs);
  return result('pair', [
    compare('image', got.image, fixture.get('image')!, PARITY_OUTPUT_REL),
    compare('logits', got.logits, fixture.get('logits')!, PARITY_OUTPUT_REL),
    compare('loss', got.loss, fixture.get('loss')!, PARITY_OUTPUT_REL),
    compare('grad_z', got.grad, fixture.get('grad_z')!, PARITY_GRAD_REL),
  ]);
}

export interface ParityOptions {
  /** The classifier of a pair fixture (the model argument is then the generator). */
  classifier?: string;
  /** Upsampling factor between G and the classifier (pair fixtures). */
  upsample?: number;
  /** The model's config.json (BigGAN-deep .pth), where it is not beside the checkpoint. */
  config?: string;
}

/** What `npm run parity` does: load the model(s), recognise the fixture, compare. */
export async function runParity(modelPath: string, fixturePath: string, options: ParityOptions = {}): Promise<ParityResult> {
  const fixture = readCheckpoint(fixturePath).tensors;
  const kind = fixtureKind(fixture, fixturePath);
  const loaded: { family: ModelFamily; config: object; model: FrozenModel }[] = [];
  const load = (path: string, convertOptions: ConvertOptions = {}) => {
    const converted = readModelFile(path, convertOptions);
    loaded.push({ family: familyOfModel(converted), config: converted.config, model: buildModel(converted, path) });
  };
  try {
    load(modelPath, options.config ? { config: options.config } : {});
    if (options.classifier) load(options.classifier);
    const G = loaded.find((m) => m.family.kind === 'generator');
    const V = loaded.find((m) => m.family.kind === 'classifier');
    const holds = loaded[0].family.name;
    if (kind === 'generator') {
      if (!G) throw new Error(`${fixturePath} is a generator fixture, but ${modelPath} holds ${holds}`);
      G.family.checkFixture?.(G.config, fixture);
      return await generatorParity(G.model as ImageGenerator, fixture);
    }
    if (kind === 'classifier') {
      if (!V) throw new Error(`${fixturePath} is a classifier fixture, but ${modelPath} holds ${holds}`);
      V.family.checkFixture?.(V.config, fixture);
      return await classifierParity(V.model as Classifier, fixture);
    }
    if (!G || !V) {
      throw new Error(`${fixturePath} is a generator + classifier fixture: give the generator and --classifier <classifier>`);
    }
    return await pairParity(G.model as ImageGenerator, V.model as Classifier, fixture, options.upsample);
  } finally {
    for (const m of loaded) m.model.dispose();
  }
}

export function formatParity(r: ParityResult): string {
  const width = Math.max(...r.lines.map((l) => l.name.length));
  return r.lines
    .map(
      (l) =>
        `${l.name.padEnd(width)}  max abs err ${l.maxAbsError.toExponential(2)}  max |ref| ${l.maxReference.toExponential(2)}  ` +
        `rel err ${l.relError.toExponential(2)}  (tolerance ${l.tolerance.toExponential(0)})  ${l.ok ? 'ok' : 'FAIL'}`,
    )
    .join('\n');
}
