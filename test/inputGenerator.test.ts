// The input generator with several Gaussians per class (beyond the paper): each row gets the
// mean (anchor included) and sigma of its own component, gradients reach only the components that
// were picked, one component is exactly the paper's model, and bad component indices are refused
// by name.
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/engine/random.js';
import { tensor } from '../src/engine/tensor.js';
import { mul } from '../src/kernels/elementwise.js';
import { sum } from '../src/kernels/reduce.js';
import { InputGenerator, type InputGeneratorConfig } from '../src/train/inputGenerator.js';
import { expectClose, randomValues, setupGpu } from './helpers.js';
import { FORWARD_REL } from './tolerances.js';

beforeAll(setupGpu);

const config: InputGeneratorConfig = { numClasses: 3, dimZ: 2, hidden: 4, minSigma: 1e-3, components: 3 };

async function host(model: InputGenerator): Promise<Map<string, Float64Array>> {
  const out = new Map<string, Float64Array>();
  for (const [k, t] of model.stateDict()) out.set(k, Float64Array.from(await t.data()));
  return out;
}

/** float64: relu(W x + b) layers on a one-hot, then the (components * dimZ) heads. */
function referenceHeads(p: Map<string, Float64Array>, cls: number, c: InputGeneratorConfig) {
  const K = c.components ?? 1;
  const linear = (name: string, x: Float64Array, out: number) => {
    const w = p.get(`${name}.weight`)!;
    const b = p.get(`${name}.bias`)!;
    return Float64Array.from({ length: out }, (_, o) => x.reduce((s, v, i) => s + v * w[o * x.length + i], b[o]));
  };
  const relu = (x: Float64Array) => x.map((v) => Math.max(0, v));
  const oneHot = Float64Array.from({ length: c.numClasses }, (_, i) => (i === cls ? 1 : 0));
  const h = relu(linear('trunk2', relu(linear('trunk1', oneHot, c.hidden)), c.hidden));
  const mu = linear('mu', h, K * c.dimZ);
  const sigma = linear('sigma', h, K * c.dimZ).map((v) => Math.log1p(Math.exp(v)) + c.minSigma);
  const logits = c.generatorClasses ? linear('classVector', h, c.generatorClasses) : null;
  const top = logits ? Math.max(...logits) : 0;
  const e = logits?.map((v) => Math.exp(v - top));
  const classVector = e?.map((v) => v / e.reduce((a, b) => a + b, 0));
  return { mu, sigma, classVector };
}

describe('input generator with several components', () => {
  const classes = [0, 2, 1, 2, 0];
  const component = [2, 0, 1, 2, 1];

  it('gives each row the mean and sigma of its class and component, and the mean\'s offset from its anchor (float64 reference)', async () => {
    const model = new InputGenerator(config, 4);
    model.setAnchors(Float32Array.from(randomValues(config.numClasses * 3 * config.dimZ, 11)));
    const { mu, sigma, anchorOffset } = model.forward(classes, component);
    expect(mu.shape).toEqual([classes.length, config.dimZ]);
    const p = await host(model);
    const wantMu: number[] = [];
    const wantSigma: number[] = [];
    const wantOffset: number[] = [];
    classes.forEach((cls, i) => {
      const r = referenceHeads(p, cls, config);
      const at = component[i] * config.dimZ;
      const anchor = p.get('anchors')!.subarray((cls * 3 + component[i]) * config.dimZ);
      wantMu.push(...r.mu.subarray(at, at + config.dimZ).map((v, d) => v + anchor[d]));
      wantOffset.push(...r.mu.subarray(at, at + config.dimZ));
      wantSigma.push(...r.sigma.subarray(at, at + config.dimZ));
    });
    expectClose(await mu.data(), wantMu, FORWARD_REL, 'mu');
    expectClose(await sigma.data(), wantSigma, FORWARD_REL, 'sigma');
    expectClose(await anchorOffset!.data(), wantOffset, FORWARD_REL, 'anchor offset');
  });

  it('sends gradients only to the components that were picked', async () => {
    const model = new InputGenerator(config, 4);
    const eps = tensor(Float32Array.from(randomValues(classes.length * config.dimZ, 9)), [classes.length, config.dimZ]);
    const { z } = model.sample(classes, eps, component);
    const cot = Float32Array.from(randomValues(z.size, 10));
    sum(mul(z, tensor(cot, z.shape))).backward();
    // d/d(mu bias) of sum(cot * (mu + sigma eps)) = cot, summed over the rows that picked that slot.
    const want = new Float64Array(config.components! * config.dimZ);
    component.forEach((k, i) => {
      for (let d = 0; d < config.dimZ; d++) want[k * config.dimZ + d] += cot[i * config.dimZ + d];
    });
    expectClose(await model.muHead!.bias!.grad!.data(), want, FORWARD_REL, 'mu bias gradient');
  });

  it('with one component is the paper model, same draws, no anchors', async () => {
    const single = new InputGenerator({ ...config, components: 1 }, 4);
    const paper = new InputGenerator({ numClasses: 3, dimZ: 2, hidden: 4, minSigma: 1e-3 }, 4);
    const [a, b] = [await host(single), await host(paper)];
    expect([...a.keys()]).toEqual(['trunk1.weight', 'trunk1.bias', 'trunk2.weight', 'trunk2.bias', 'mu.weight', 'mu.bias', 'sigma.weight', 'sigma.bias']);
    for (const [k, v] of b) expect(Array.from(a.get(k)!), k).toEqual(Array.from(v));
    expect(single.drawComponents([0, 1, 2, 0], new Rng(1))).toBeUndefined();
    expect(() => single.setAnchors(new Float32Array(6))).toThrow(/anchors need more than one component/);
    const drawn = new InputGenerator(config, 4).drawComponents(new Array<number>(1000).fill(1), new Rng(1))!;
    expect(new Set(drawn)).toEqual(new Set([0, 1, 2]));
  });

  it('draws only the kept components of each class, and as rng.int(components) when all are kept', () => {
    const model = new InputGenerator(config, 4);
    const classes = Array.from({ length: 600 }, (_, i) => i % 3);
    const rng = new Rng(5);
    expect(model.drawComponents(classes, new Rng(5))).toEqual(classes.map(() => rng.int(3)));
    model.kept = [[2], [0, 1, 2], [0, 2]];
    const drawn = model.drawComponents(classes, new Rng(5))!;
    const byClass = [0, 1, 2].map((c) => new Set(drawn.filter((_, i) => classes[i] === c)));
    expect(byClass).toEqual([new Set([2]), new Set([0, 1, 2]), new Set([0, 2])]);
  });

  it('refuses missing or out-of-range component indices by name', () => {
    const model = new InputGenerator(config, 4);
    expect(() => model.forward([0, 1])).toThrow(/3 components need a component index for each of the 2 rows/);
    expect(() => model.forward([0, 1], [0, 3])).toThrow(/component 3 is outside \[0, 3\)/);
    expect(() => new InputGenerator({ ...config, components: 0 })).toThrow(/components must be a whole number >= 1/);
  });
});

it('starts sigma at --initial-sigma: the bias is softplus^-1 of it less the floor, and refuses one at or under the floor', async () => {
  const model = new InputGenerator({ ...config, initialSigma: 0.05 }, 4);
  const p = await host(model);
  const bias = p.get('sigma.bias')!;
  for (const b of bias) expect(Math.log1p(Math.exp(b)) + config.minSigma).toBeCloseTo(0.05, 6);
  // From the bias alone (the weights' share zeroed): every row and component starts at 0.05.
  model.sigmaHead!.weight.copy_(new Float32Array(model.sigmaHead!.weight.size));
  expectClose(await model.forward([0, 2], [1, 0]).sigma.data(), new Float64Array(2 * config.dimZ).fill(0.05), FORWARD_REL, 'sigma');
  expect(() => new InputGenerator({ ...config, initialSigma: 1e-3 })).toThrow(/initial sigma 0.001 must exceed the minimum sigma 0.001/);
});

describe('input generator with free components (--free-components)', () => {
  const free: InputGeneratorConfig = { ...config, freeComponents: true, initialSigma: 0.05 };
  const classes = [0, 2, 1, 2, 0];
  const component = [2, 0, 1, 2, 2];

  it('starts each component at its anchor with sigma at --initial-sigma, and has no trunk or heads', async () => {
    const model = new InputGenerator(free, 4);
    const anchors = Float32Array.from(randomValues(config.numClasses * 3 * config.dimZ, 11));
    model.setAnchors(anchors);
    expect([...(await host(model)).keys()].sort()).toEqual(['anchors', 'offsets', 'sigmas']);
    const { mu, sigma, anchorOffset } = model.forward(classes, component);
    const want = classes.flatMap((c, i) => Array.from(anchors.subarray((c * 3 + component[i]) * 2, (c * 3 + component[i] + 1) * 2)));
    expectClose(await mu.data(), Float64Array.from(want), FORWARD_REL, 'mu');
    expect(Array.from(await anchorOffset!.data())).toEqual(new Array(classes.length * 2).fill(0));
    expectClose(await sigma.data(), new Float64Array(classes.length * 2).fill(0.05), FORWARD_REL, 'sigma');
  });

  it('gives each row its own component\'s offset and sigma (float64), and sends gradients to those rows alone', async () => {
    const model = new InputGenerator(free, 4);
    const offsets = randomValues(config.numClasses * 3 * 2, 12);
    const raw = randomValues(config.numClasses * 3 * 2, 13);
    model.offsets!.copy_(Float32Array.from(offsets));
    model.rawSigmas!.copy_(Float32Array.from(raw));
    const weight = randomValues(classes.length * 2, 14);
    const { mu, sigma } = model.forward(classes, component);
    const row = (c: number, i: number) => (c * 3 + component[i]) * 2;
    const wantSigma = classes.flatMap((c, i) => [0, 1].map((d) => Math.log1p(Math.exp(raw[row(c, i) + d])) + config.minSigma));
    expectClose(await sigma.data(), Float64Array.from(wantSigma), FORWARD_REL, 'sigma');
    sum(mul(mu, tensor(Float32Array.from(weight), [classes.length, 2]))).backward();
    // d(sum w * mu)/d offsets: each picked row collects the weights of the batch rows that drew it.
    const wantGrad = new Float64Array(offsets.length);
    classes.forEach((c, i) => [0, 1].forEach((d) => (wantGrad[row(c, i) + d] += weight[i * 2 + d])));
    expectClose(await model.offsets!.grad!.data(), wantGrad, FORWARD_REL, 'offsets gradient');
  });

  it('measures how far the components moved from their anchors, and how far apart the anchors lie (float64)', async () => {
    const model = new InputGenerator(free, 4);
    const anchors = randomValues(config.numClasses * 3 * 2, 15);
    model.setAnchors(Float32Array.from(anchors));
    expect((await model.anchorDrift())!.drift).toBe(0);
    const offsets = randomValues(config.numClasses * 3 * 2, 16);
    model.offsets!.copy_(Float32Array.from(offsets));
    const { drift, spacing } = (await model.anchorDrift())!;
    const rows = config.numClasses * 3;
    const norm = (v: ArrayLike<number>, i: number, j?: number) => Math.hypot(...[0, 1].map((d) => v[i * 2 + d] - (j === undefined ? 0 : v[j * 2 + d])));
    const wantDrift = Array.from({ length: rows }, (_, r) => norm(offsets, r)).reduce((a, b) => a + b) / rows;
    const pairs = Array.from({ length: config.numClasses }, (_, c) => [[0, 1], [0, 2], [1, 2]].map(([k, l]) => norm(anchors, c * 3 + k, c * 3 + l))).flat();
    expectClose([drift, spacing], [wantDrift, pairs.reduce((a, b) => a + b) / pairs.length], FORWARD_REL, 'drift and spacing');
    expect(await new InputGenerator({ ...config, components: 1 }, 4).anchorDrift()).toBeNull();
  });

  it('with fixed means (--fixed-means), keeps each mean on its anchor and trains only the sigmas', async () => {
    const model = new InputGenerator({ ...free, fixedMeans: true }, 4);
    model.setAnchors(Float32Array.from(randomValues(config.numClasses * 3 * 2, 17)));
    expect(model.namedParameters().map(([k]) => k)).toEqual(['sigmas']);
    // Still saved and restored (a buffer), so a checkpoint's layout is that of --free-components.
    expect([...(await host(model)).keys()].sort()).toEqual(['anchors', 'offsets', 'sigmas']);
    const eps = tensor(Float32Array.from(randomValues(classes.length * 2, 18)), [classes.length, 2]);
    const { z, sigma } = model.sample(classes, eps, component);
    sum(z).backward();
    expect(model.offsets!.grad).toBeNull();
    // d(sum z)/d raw sigma = eps * softplus'(raw) = eps * (1 - exp(-(sigma - minSigma))), summed per picked row.
    const e = await eps.data();
    const s = await sigma.data();
    const wantGrad = new Float64Array(config.numClasses * 3 * 2);
    classes.forEach((c, i) => [0, 1].forEach((d) => (wantGrad[(c * 3 + component[i]) * 2 + d] += e[i * 2 + d] * (1 - Math.exp(-(s[i * 2 + d] - config.minSigma))))));
    expectClose(await model.rawSigmas!.grad!.data(), wantGrad, FORWARD_REL, 'sigmas gradient');
    expect(() => new InputGenerator({ ...config, fixedMeans: true })).toThrow(/fixed means need free components/);
  });

  it('refuses a single component or a learned class vector', () => {
    expect(() => new InputGenerator({ ...free, components: 1 })).toThrow(/free components need more than one component/);
    expect(() => new InputGenerator({ ...free, generatorClasses: 4 })).toThrow(/free components need more than one component, and a fixed G class/);
  });
});

describe('input generator that learns G\'s class vector (--learn-class-vector)', () => {
  const learned: InputGeneratorConfig = { numClasses: 3, dimZ: 2, hidden: 4, minSigma: 1e-3, generatorClasses: 5, startClass: 3 };

  it('gives each row a mixture over G\'s classes (float64 reference), starting 0.9 on the start class', async () => {
    const model = new InputGenerator(learned, 4);
    const { classVector } = model.forward([0, 2, 1]);
    expect(classVector!.shape).toEqual([3, 5]);
    const p = await host(model);
    const want = [0, 2, 1].flatMap((cls) => Array.from(referenceHeads(p, cls, learned).classVector!));
    const got = await classVector!.data();
    expectClose(got, want, FORWARD_REL, 'class vector');
    // The trunk's output moves the logits a little from the bias alone: about 0.9.
    for (let r = 0; r < 3; r++) expect(got[r * 5 + 3]).toBeGreaterThan(0.8);
  });

  it('passes gradients to the class head, and refuses a start class G does not have', async () => {
    const model = new InputGenerator(learned, 4);
    const { classVector } = model.forward([0, 1]);
    sum(mul(classVector!, tensor(Float32Array.from(randomValues(10, 3)), [2, 5]))).backward();
    const grad = await model.classHead!.weight.grad!.data();
    expect(grad.some((v) => v !== 0)).toBe(true);
    expect(() => new InputGenerator({ ...learned, startClass: 5 })).toThrow(/start class 5 is outside G's 5 classes/);
    expect(new InputGenerator({ ...learned, generatorClasses: 0 }).forward([0]).classVector).toBeUndefined();
  });
});
