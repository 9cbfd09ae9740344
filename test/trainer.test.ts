// The trainer's mechanics on the tiny fixture models (BigGAN with 16 channels, a tiny VGG):
// only the input generator learns, the frozen networks stay bit-identical, the loss falls,
// an interrupted and resumed run ends where an uninterrupted one does (also when killed in the
// middle of a checkpoint save), a run folder is never overwritten, NaN stops the run.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../src/models/checkpoint/index.js';
import { conversionMetadata, convertStateDict } from '../src/models/convert.js';
import { syntheticBigGAN } from './data/syntheticModels.js';
import { Rng } from '../src/engine/random.js';
import { scope, tensor } from '../src/engine/tensor.js';
import { chooseAnchors, randomPick } from '../src/train/anchors.js';
import { prepareRunFolder } from '../src/train/files.js';
import { imageGridPng } from '../src/train/images.js';
import { Adam } from '../src/train/optim.js';
import { buildPipeline, NonFiniteLossError, restoreCheckpoint, train, type TrainConfig } from '../src/train/trainer.js';
import { FIXTURES, setupGpu, tinyTrainConfig } from './helpers.js';



/** A PNG's width and height, from its IHDR chunk. */
function pngSize(png: Buffer): [number, number] {
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

const fresh = () => mkdtempSync(join(tmpdir(), 'cgan-test-'));
const REPO = join(import.meta.dirname, '..');

/** Train in a child process that pauses in saveCheckpoint at `pause` (phase@step); SIGKILL it there. */
function killedInSave(config: TrainConfig, pause: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'trainChild.ts'), JSON.stringify(config)], {
    cwd: REPO,
    env: { ...process.env, CGAN_PAUSE_SAVE: pause },
  });
  let output = '';
  return new Promise((done, fail) => {
    const read = (chunk: Buffer) => {
      output += chunk;
      if (output.includes(`paused in saveCheckpoint: ${pause}`)) child.kill('SIGKILL');
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (_, signal) => (signal === 'SIGKILL' ? done() : fail(new Error(`child ended without pausing:\n${output}`))));
  });
}

async function snapshot(tensors: Map<string, { data(): Promise<Float32Array | Int32Array> }>) {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of tensors) out.set(k, Float32Array.from(await t.data()));
  return out;
}

beforeAll(setupGpu);

describe('trainer mechanics', () => {
  it('sets a BigGAN-deep generator to --truncation, and refuses it for a generator without one', async () => {
    const deep = await buildPipeline(
      tinyTrainConfig(fresh(), { generator: join(FIXTURES, 'biggan_deep128_ch4.pth'), classifierSize: 128, truncation: 0.4 }),
    );
    expect(deep.generator.truncation).toBe(0.4);
    await expect(buildPipeline(tinyTrainConfig(fresh(), { truncation: 0.4 }))).rejects.toThrow(/--truncation: .*biggan32_ch4\.pth has no truncation/);
  });

  it('updates only the input generator; G and the classifier stay frozen bit for bit', async () => {
    const out = fresh();
    let before: Map<string, Float32Array> | null = null;
    const { pipeline, history } = await train(tinyTrainConfig(out, { epochs: 1 }), {
      quiet: true,
      onStep: () => {},
    });
    // Frozen networks: no parameter requires grad or holds a gradient.
    for (const net of [pipeline.generator, pipeline.classifier]) {
      for (const p of net.parameters()) {
        expect(p.requiresGrad).toBe(false);
        expect(p.grad).toBeNull();
      }
    }
    // Compare the frozen weights after training with a fresh load of the same files.
    const reference = await buildPipeline(tinyTrainConfig(out));
    before = await snapshot(reference.generator.stateDict());
    const after = await snapshot(pipeline.generator.stateDict());
    for (const [k, v] of before) expect(after.get(k), k).toEqual(v);
    const cBefore = await snapshot(reference.classifier.stateDict());
    const cAfter = await snapshot(pipeline.classifier.stateDict());
    for (const [k, v] of cBefore) expect(cAfter.get(k), k).toEqual(v);
    // The input generator did move.
    const igBefore = await snapshot(reference.inputGenerator.stateDict());
    const igAfter = await snapshot(pipeline.inputGenerator.stateDict());
    const moved = [...igBefore].some(([k, v]) => v.some((x, i) => x !== igAfter.get(k)![i]));
    expect(moved).toBe(true);
    expect(history).toHaveLength(3);
    for (const f of ['config.json', 'metrics.jsonl', 'curves.png', 'samples_epoch01.png', 'checkpoint/state.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    // Grid: a row of 2 tiles per class, 32x32 scaled 3x with 4 px gaps, class names in a left column.
    const [width, height] = pngSize(readFileSync(join(out, 'samples_epoch01.png')));
    expect(height).toBe(4 + pipeline.numClasses * (96 + 4));
    expect(width).toBeGreaterThan(4 + 2 * (96 + 4) + 40);
    // Curves: three panels of 240 px, and the step axis with its epoch labels.
    expect(pngSize(readFileSync(join(out, 'curves.png')))).toEqual([820, 3 * 240 + 50]);
  });

  it('the anchor term adds its weight times the mean square offset of the drawn components from their anchors', async () => {
    const pipeline = await buildPipeline(tinyTrainConfig(fresh(), { components: 3 }));
    const ig = pipeline.inputGenerator;
    const dimZ = ig.config.dimZ;
    ig.setAnchors(Float32Array.from({ length: pipeline.numClasses * 3 * dimZ }, (_, i) => Math.sin(i)));
    const classes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 3];
    const weights = { variance: 0, kl: 0, shift: 0 };
    const loss = async (anchor: number) => scope(() => pipeline.lossFor(classes, new Rng(5), { ...weights, anchor }).loss).item();
    // The same draws by hand: the components lossFor picks, and their means less their anchors.
    const { pick } = pipeline.drawInputs(classes, new Rng(5), weights);
    const component = Array.from(pick!, (row, i) => row - i * 3);
    const mu = Float64Array.from(await ig.forward(classes, component).mu.data());
    const anchors = await ig.anchors!.data();
    let square = 0;
    classes.forEach((c, i) => {
      for (let d = 0; d < dimZ; d++) square += (mu[i * dimZ + d] - anchors[(c * 3 + component[i]) * dimZ + d]) ** 2;
    });
    expect(square).toBeGreaterThan(0);
    expect((await loss(0.5)) - (await loss(0))).toBeCloseTo((0.5 * square) / (classes.length * dimZ), 4);
    const single = await buildPipeline(tinyTrainConfig(fresh(), { components: 1 }));
    expect(() => single.lossFor([0, 1], new Rng(5), { ...weights, anchor: 1 })).toThrow(/the anchor term needs anchored components/);
  });

  it('lowers the loss on a fixed batch with a fixed seed', async () => {
    // On the real default pair (the tiny fixtures have random weights: their logits hardly depend
    // on the image). The same classes and noise every step make the objective fixed, so the
    // comparison is not drowned by batch-to-batch noise.
    const models = join(import.meta.dirname, '..', 'models');
    const pipeline = await buildPipeline(
      tinyTrainConfig(fresh(), {
        generator: join(models, 'fmnist_biggan32_G.safetensors'),
        classifier: join(models, 'fmnist_vgg_bn64.safetensors'),
        classifierSize: 64,
      }),
    );
    const optimizer = new Adam(pipeline.inputGenerator.parameters(), { lr: 1e-2 });
    const classes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const losses: number[] = [];
    for (let step = 0; step < 12; step++) {
      const loss = scope(() => {
        const s = pipeline.lossFor(classes, new Rng(5), { variance: 0, kl: 0, shift: 0 });
        s.loss.backward();
        optimizer.step();
        optimizer.zeroGrad();
        return s.crossEntropy;
      });
      losses.push(await loss.item());
      loss.dispose();
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0] * 0.75);
  });

  it.each([
    [1, 0, false],
    [3, 0, false],
    [3, 1, false],
    [3, 0, true],
  ])('resumes an interrupted run to the same result as an uninterrupted one (components: %i, prior-range weight: %i, free components: %s)', async (components, priorRange, freeComponents) => {
    const config = (out: string) =>
      tinyTrainConfig(out, {
        components,
        freeComponents,
        anchorPool: components > 1 ? 12 : 0,
        anchorCandidates: 6,
        weights: { variance: 0, kl: 0.2, shift: 2, priorRange },
      });
    const whole = fresh();
    await train(config(whole), { quiet: true });
    const split = fresh();
    const stop = { stop: false };
    const first = await train(config(split), { quiet: true, stopSignal: stop, onStep: (r) => (stop.stop = r.step === 4) });
    expect(first.interrupted).toBe(true);
    expect(JSON.parse(readFileSync(join(split, 'checkpoint', 'state.json'), 'utf8')).step).toBe(4);
    await train(config(split), { quiet: true, resume: true });
    const a = readSafetensors(join(whole, 'checkpoint', 'inputGenerator.safetensors')).tensors;
    const b = readSafetensors(join(split, 'checkpoint', 'inputGenerator.safetensors')).tensors;
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, t] of a) expect(Array.from(b.get(k)!.data as Float32Array), k).toEqual(Array.from(t.data as Float32Array));
    const lines = (p: string) => readFileSync(join(p, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
    expect(lines(split)).toEqual(lines(whole));
    // The prior range is measured once, kept in anchors.json, and restored on resume.
    const anchors = join(whole, 'anchors.json');
    expect(existsSync(anchors)).toBe(components > 1);
    const saved = components > 1 ? JSON.parse(readFileSync(anchors, 'utf8')) : {};
    expect(saved.priorRange !== undefined).toBe(priorRange > 0);
    if (priorRange) expect(saved.priorRange.radius.every((r: number) => Number.isFinite(r) && r > 0)).toBe(true);
  });

  // Killed in saveCheckpoint of step 6 (of 9): with the new checkpoint written to checkpoint.tmp
  // but not swapped in ('written'), or with checkpoint already moved to checkpoint.old ('swapped').
  const killedConfig = (out: string) => tinyTrainConfig(out, { epochs: 3 });
  let uninterrupted: Promise<string> | null = null; // one run that both kills are compared with
  it.each(['written', 'swapped'])('a run killed mid-save (%s) resumes from its last complete checkpoint, bit for bit', async (phase) => {
    uninterrupted ??= (async () => {
      const out = fresh();
      await train(killedConfig(out), { quiet: true });
      return out;
    })();
    const whole = await uninterrupted;
    const split = fresh();
    await killedInSave(killedConfig(split), `${phase}@6`);
    const expected = phase === 'written' ? ['checkpoint', 'checkpoint.tmp'] : ['checkpoint.old', 'checkpoint.tmp'];
    expect(readdirSync(split).filter((f) => f.startsWith('checkpoint')).sort()).toEqual(expected);
    // A kill in the middle of a metrics append leaves a cut line.
    appendFileSync(join(split, 'metrics.jsonl'), '{"step":7,"epo');
    await train(killedConfig(split), { quiet: true, resume: true });
    expect(readdirSync(split).filter((f) => f.startsWith('checkpoint'))).toEqual(['checkpoint']);
    const a = readSafetensors(join(whole, 'checkpoint', 'inputGenerator.safetensors')).tensors;
    const b = readSafetensors(join(split, 'checkpoint', 'inputGenerator.safetensors')).tensors;
    for (const [k, t] of a) expect(Array.from(b.get(k)!.data as Float32Array), k).toEqual(Array.from(t.data as Float32Array));
    for (const f of ['checkpoint/optimizer.safetensors', 'checkpoint/state.json']) {
      expect(readFileSync(join(split, f)).equals(readFileSync(join(whole, f))), f).toBe(true);
    }
    // Every step's line once, with the same figures (all but its wall time).
    const metrics = (p: string) => readFileSync(join(p, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => ({ ...JSON.parse(l), seconds: 0 }));
    expect(metrics(split)).toEqual(metrics(whole));
  });

  it('--resume continues a run that was copied elsewhere in its new folder, not where it began', async () => {
    const first = fresh();
    await train(tinyTrainConfig(first, { epochs: 1, stepsPerEpoch: 2 }), { quiet: true });
    const copy = join(fresh(), 'moved');
    cpSync(first, copy, { recursive: true });
    rmSync(join(first, 'checkpoint'), { recursive: true });
    // --epochs is the run's own, so resuming does no step: it writes the report, in the copy.
    const cli = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'src/train/cli.ts'), 'train', '--resume', '--out', copy, '--judge', 'none', '--eval-samples', '10'],
      { encoding: 'utf8', cwd: REPO },
    );
    expect(cli.status, cli.stderr).toBe(0);
    expect(existsSync(join(copy, 'report.json'))).toBe(true);
    expect(existsSync(join(first, 'report.json'))).toBe(false);
    expect(existsSync(join(first, 'checkpoint'))).toBe(false);
  });

  it('refuses to train into a folder that holds a run; --force moves the old one aside', () => {
    const root = fresh();
    const out = join(root, 'run');
    mkdirSync(out);
    writeFileSync(join(out, 'metrics.jsonl'), '{"step":1}\n');
    // The CLI refuses before any GPU work (no adapter line) and says what to do.
    const cli = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/train/cli.ts'), 'train', '--out', out], { encoding: 'utf8', cwd: REPO });
    expect(cli.status).toBe(1);
    expect(cli.stdout).not.toContain('adapter');
    expect(cli.stderr).toMatch(/already holds a run \(metrics\.jsonl\).*--resume.*--force/);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toBe('{"step":1}\n');
    expect(() => prepareRunFolder(out, {})).toThrow(/already holds a run/);
    expect(prepareRunFolder(out, { force: true })).toBe(`${out}.old-1`);
    expect(readFileSync(join(out + '.old-1', 'metrics.jsonl'), 'utf8')).toBe('{"step":1}\n');
    mkdirSync(join(out, 'checkpoint'), { recursive: true });
    expect(prepareRunFolder(out, { force: true })).toBe(`${out}.old-2`);
    expect(existsSync(out)).toBe(false);
    expect(prepareRunFolder(join(root, 'new'), {})).toBeNull();
  });

  it('draws grids with tiles scaled up by nearest neighbour, labels in the margin', async () => {
    // Two 2x2 RGB images: tiles of 6x6 at scale 3, each source pixel a flat 3x3 block.
    const images = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => ((i * 7) % 5) / 2 - 1);
    const plain = imageGridPng(images, [2, 3, 2, 2], 2, { scale: 3, pad: 1 });
    expect(pngSize(plain)).toEqual([1 + 2 * (6 + 1), 1 + 6 + 1]);
    const { loadImage, createCanvas } = await import('@napi-rs/canvas');
    const img = await loadImage(plain);
    const ctx = createCanvas(img.width, img.height).getContext('2d');
    ctx.drawImage(img, 0, 0);
    const px = (x: number, y: number) => Array.from(ctx.getImageData(x, y, 1, 1).data.subarray(0, 3));
    const expected = (i: number, y: number, x: number) => [0, 1, 2].map((k) => Math.round(((images[((i * 3 + k) * 2 + y) * 2 + x] + 1) / 2) * 255));
    for (const [i, x, y] of [[0, 0, 0], [0, 1, 1], [1, 1, 0]]) {
      for (const [dx, dy] of [[0, 0], [2, 2]]) expect(px(1 + i * 7 + 3 * x + dx, 1 + 3 * y + dy)).toEqual(expected(i, y, x));
    }
    const labelled = imageGridPng(images, [2, 3, 2, 2], 1, { scale: 4, rowLabels: ['Sneaker', 'Bag'], title: 'two' });
    const [w, h] = pngSize(labelled);
    expect(h).toBeGreaterThan(4 + 2 * (8 + 4));
    expect(w).toBeGreaterThan(4 + 8 + 4 + 40);
  });

  it('places components at the prior samples the classifier is surest of, far apart', async () => {
    const pipeline = await buildPipeline(tinyTrainConfig(fresh(), { components: 3 }));
    const [pool, candidates, K, dimZ] = [40, 8, pipeline.numClasses, pipeline.inputGenerator.config.dimZ];
    const { values, confidence } = await chooseAnchors(pipeline, 3, { pool, candidates, seed: 9, batch: 16 });
    // Label the same pool again in one batch, and pick by hand.
    const z = new Rng(9).fillNormal(new Float32Array(pool * dimZ));
    const logits = (await pipeline.classify(pipeline.generate(tensor(z, [pool, dimZ]))).logits.data()) as Float32Array;
    const prob = (i: number, c: number) => {
      const row = Array.from(logits.subarray(i * K, (i + 1) * K), Number);
      const m = Math.max(...row);
      return Math.exp(row[c] - m) / row.reduce((s, v) => s + Math.exp(v - m), 0);
    };
    const row = (i: number) => Array.from(z.subarray(i * dimZ, (i + 1) * dimZ));
    const dist = (a: number, b: number) => row(a).reduce((s, v, d) => s + (v - z[b * dimZ + d]) ** 2, 0);
    for (let c = 0; c < K; c++) {
      const top = Array.from({ length: pool }, (_, i) => i).sort((a, b) => prob(b, c) - prob(a, c)).slice(0, candidates);
      const second = top.reduce((best, i) => (dist(i, top[0]) > dist(best, top[0]) ? i : best), top[0]);
      const anchor = (k: number) => Array.from(values.subarray((c * 3 + k) * dimZ, (c * 3 + k + 1) * dimZ));
      expect(anchor(0), `class ${c} anchor 0`).toEqual(row(top[0]));
      expect(anchor(1), `class ${c} anchor 1`).toEqual(row(second));
      expect(confidence[c][0]).toBeCloseTo(prob(top[0], c), 5);
      expect(top.some((i) => row(i).every((v, d) => v === anchor(2)[d])), `class ${c} anchor 2 among the candidates`).toBe(true);
    }
  });

  it("--anchor-choice random draws distinct candidates uniformly among those the classifier is sure of, else takes the surest", () => {
    const candidates = [7, 3, 9, 1, 4, 8, 0, 6, 2, 5];
    const sure = (i: number) => i !== 4 && i !== 0;
    const rng = new Rng(1);
    const counts = new Map<number, number>();
    for (let t = 0; t < 4000; t++) {
      const picked = randomPick(candidates, 3, sure, rng);
      expect(new Set(picked).size).toBe(3);
      for (const i of picked) {
        expect(sure(i), `${i} passes`).toBe(true);
        counts.set(i, (counts.get(i) ?? 0) + 1);
      }
    }
    // 8 passing candidates, 3 of them a draw: each is picked 4000 * 3 / 8 = 1500 times on average.
    expect(counts.size).toBe(8);
    for (const [i, n] of counts) expect(Math.abs(n - 1500), `candidate ${i} picked ${n} times`).toBeLessThan(150);
    expect(randomPick(candidates, 3, sure, new Rng(5))).toEqual(randomPick(candidates, 3, sure, new Rng(5)));
    // Too few pass: the first (most confident) candidates, in order.
    expect(randomPick(candidates, 3, (i) => i === 9, new Rng(1))).toEqual([7, 3, 9]);
  });

  it('with --anchor-choice random, places every component at a distinct candidate the classifier gives its class >= the confidence', async () => {
    const pipeline = await buildPipeline(tinyTrainConfig(fresh(), { components: 3 }));
    const [pool, candidates, K, dimZ] = [40, 12, pipeline.numClasses, pipeline.inputGenerator.config.dimZ];
    // A random tiny classifier is rarely sure: a threshold that some candidates of each class pass.
    const { values, confidence } = await chooseAnchors(pipeline, 3, { pool, candidates, seed: 9, batch: 16, choice: 'random', confidence: 0.05 });
    const z = new Rng(9).fillNormal(new Float32Array(pool * dimZ));
    const rowOf = (v: Float32Array) => Array.from({ length: pool }, (_, i) => i).find((i) => z.subarray(i * dimZ, (i + 1) * dimZ).every((x, d) => x === v[d]));
    for (let c = 0; c < K; c++) {
      const rows = [0, 1, 2].map((k) => rowOf(values.subarray((c * 3 + k) * dimZ, (c * 3 + k + 1) * dimZ)));
      expect(rows.every((r) => r !== undefined), `class ${c}: anchors are pool latents`).toBe(true);
      expect(new Set(rows).size).toBe(3);
      const passing = confidence[c].filter((p) => p >= 0.05).length;
      // Either all three pass, or fewer than three candidates did and the surest were taken.
      if (passing < 3) expect([...confidence[c]].sort((a, b) => b - a)).toEqual(confidence[c]);
    }
  });

  it('keeps the components the frozen classifier gives their class (components.json), and samples only those', async () => {
    const out = fresh();
    const config = tinyTrainConfig(out, { components: 3, anchorPool: 40, anchorCandidates: 8, epochs: 1, keepComponentsAbove: 0.5 });
    const { pipeline } = await train(config, { quiet: true });
    const choice = JSON.parse(readFileSync(join(out, 'components.json'), 'utf8')) as { accuracy: number[][]; kept: number[][]; samples: number };
    // The same draws by hand: 16 per component, class-major, in batches of 64, noise from seed + 3.
    const [K, C, dimZ] = [pipeline.numClasses, 3, pipeline.inputGenerator.config.dimZ];
    const rows = Array.from({ length: K * C * 16 }, (_, i) => Math.floor(i / 16));
    const rng = new Rng(config.seed + 3);
    const hits = new Array<number>(K * C).fill(0);
    for (let start = 0; start < rows.length; start += 64) {
      const part = rows.slice(start, start + 64);
      const classes = part.map((r) => Math.floor(r / C));
      const eps = tensor(rng.fillNormal(new Float32Array(part.length * dimZ)), [part.length, dimZ]);
      const logits = (await scope(() => pipeline.classify(pipeline.imagesFor(classes, eps, part.map((r) => r % C)).images).logits).data()) as Float32Array;
      part.forEach((r, i) => {
        const scores = Array.from(logits.subarray(i * K, (i + 1) * K));
        if (scores.indexOf(Math.max(...scores)) === classes[i]) hits[r]++;
      });
    }
    expect(choice.samples).toBe(16);
    expect(choice.accuracy).toEqual(Array.from({ length: K }, (_, c) => hits.slice(c * C, (c + 1) * C).map((h) => h / 16)));
    const expected = choice.accuracy.map((row) => {
      const kept = row.flatMap((a, k) => (a >= 0.5 ? [k] : []));
      return kept.length ? kept : [row.indexOf(Math.max(...row))];
    });
    expect(choice.kept).toEqual(expected);
    // A run restored from the folder (as sample and eval load it) draws only the kept components.
    const restored = await buildPipeline(config);
    restoreCheckpoint(out, restored);
    expect(restored.inputGenerator.kept).toEqual(expected);
    const classes = Array.from({ length: 300 }, (_, i) => i % K);
    const drawn = restored.inputGenerator.drawComponents(classes, new Rng(1))!;
    drawn.forEach((k, i) => expect(expected[classes[i]]).toContain(k));
    writeFileSync(join(out, 'components.json'), JSON.stringify({ ...choice, kept: expected.map(() => [3]) }));
    expect(() => restoreCheckpoint(out, restored)).toThrow(/components\.json: 'kept' must list, for each of \d+ classes, at least one component in \[0, 3\)/);
  });

  it('--learn-class-vector learns a mixture over a class-conditional G\'s classes, and resumes it', async () => {
    // A 3-class BigGAN (random weights) at 16x16, upsampled x2 to the tiny VGG.
    const dir = fresh();
    const generator = join(dir, 'G3.safetensors');
    const model = convertStateDict(syntheticBigGAN({ nClasses: 3, sharedDim: 6, zChunk: 5, hierarchical: false, channels: [8, 8, 4], attention: [], seed: 5 }));
    writeSafetensors(generator, model.tensors, conversionMetadata(model));
    const config = tinyTrainConfig(join(dir, 'run'), { generator, generatorClass: 2, learnClassVector: true, epochs: 1, stepsPerEpoch: 2 });
    const { pipeline } = await train(config, { quiet: true, onStep: () => {} });
    const head = pipeline.inputGenerator.classHead!;
    expect(head.weight.shape).toEqual([3, 16]);
    const vectors = await scope(() => pipeline.inputGenerator.forward([0, 1]).classVector!).data();
    expect(vectors[2]).toBeGreaterThan(0.5); // started 0.9 on --generator-class 2, two steps ago
    expect(Math.abs(Array.from(vectors.slice(0, 3)).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
    const saved = readSafetensors(join(config.out, 'checkpoint', 'inputGenerator.safetensors'));
    expect(saved.tensors.has('classVector.weight')).toBe(true);
    // The same run rebuilt from its config (as sample and eval do) has the head and its weights.
    const again = await buildPipeline(config);
    expect(again.inputGenerator.classHead).not.toBeNull();
    await expect(buildPipeline(tinyTrainConfig(fresh(), { learnClassVector: true }))).rejects.toThrow(
      /--learn-class-vector: the generator .*biggan32_ch4\.pth has 1 class; it needs a class-conditional one/,
    );
  });

  it('stops with a clear error when the loss stops being finite (replayed steps, the default)', async () => {
    await expect(train(tinyTrainConfig(fresh(), { lr: 1e30, epochs: 1, stepsPerEpoch: 6 }), { quiet: true })).rejects.toThrow(
      NonFiniteLossError,
    );
  });
});
