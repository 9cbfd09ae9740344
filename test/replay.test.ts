// Record once, replay (issue 18): replayed training steps give the eager numbers bit for bit
// (losses, parameters, Adam's moments), new input sizes are captured anew, buffers stay flat over
// many replays and come back on dispose, and the trainer with replay matches --no-replay.
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Replay } from '../src/engine/capture.js';
import { Rng } from '../src/engine/random.js';
import { runtime } from '../src/engine/runtime.js';
import { scope, tensor, type Tensor } from '../src/engine/tensor.js';
import * as ops from '../src/kernels/index.js';
import { Adam } from '../src/train/optim.js';
import { buildPipeline, stepReplay, train, trainingStep, type TrainConfig } from '../src/train/trainer.js';
import { setupGpu, tinyTrainConfig } from './helpers.js';

beforeAll(setupGpu);

const fresh = () => mkdtempSync(join(tmpdir(), 'cgan-replay-'));

function tinyConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return tinyTrainConfig(fresh(), {
    epochs: 1,
    // Every input of the step in use: components (pick, anchor rows), the shift, every loss term.
    components: 3,
    weights: { variance: 0.1, kl: 0.2, shift: 2, diversity: 0.1, confidence: 0.9 },
    gridPerClass: 1,
    ...overrides,
  });
}

async function values(tensors: Iterable<[string, Tensor]>): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [k, t] of tensors) out.set(k, Array.from(await t.data()));
  return out;
}

describe('replay', () => {
  it('replayed training steps equal eager ones bit for bit: statistics, parameters, moments, dispatches', async () => {
    const config = tinyConfig();
    const runs = [];
    for (const replayed of [false, true]) {
      const pipeline = await buildPipeline(config);
      // Anchors apart, so that the component indices matter.
      pipeline.inputGenerator.setAnchors(new Rng(9).fillNormal(new Float32Array(pipeline.numClasses * 3 * pipeline.inputGenerator.config.dimZ)));
      const optimizer = new Adam(pipeline.inputGenerator.parameters(), { lr: config.lr });
      const rng = new Rng(config.seed);
      const replay = replayed ? stepReplay(pipeline, optimizer, config.weights) : undefined;
      const stats: number[][] = [];
      const dispatches: number[] = [];
      const submits: number[] = [];
      for (let i = 0; i < 4; i++) {
        const s0 = { ...runtime().stats };
        stats.push(Array.from(await trainingStep(pipeline, optimizer, config.batch, rng, config.weights, replay)));
        dispatches.push(runtime().stats.dispatches - s0.dispatches);
        submits.push(runtime().stats.submits - s0.submits);
      }
      if (replay) expect(replay.counts).toEqual({ captures: 1, replays: 3 });
      runs.push({ stats, dispatches, submits, params: await values(pipeline.inputGenerator.stateDict()), moments: await values(optimizer.stateTensors()) });
      replay?.dispose();
      optimizer.dispose();
    }
    const [eager, replayed] = runs;
    expect(eager.stats.every((s) => s.every(Number.isFinite))).toBe(true);
    expect(replayed.stats).toEqual(eager.stats);
    expect(replayed.params).toEqual(eager.params);
    expect(replayed.moments).toEqual(eager.moments);
    expect(replayed.dispatches).toEqual(eager.dispatches);
    // One submit a step, the read-back's copy included (the capturing step submits apart what was
    // recorded before it, its own work, and the read-back).
    expect(eager.submits).toEqual([1, 1, 1, 1]);
    expect(replayed.submits.slice(1)).toEqual([1, 1, 1]);
    // The steps did differ (new draws each step), and training moved the parameters.
    expect(new Set(eager.stats.map((s) => s[0])).size).toBe(4);
  });

  it('captures new input sizes eagerly, replays known ones, and keeps at most maxCaptures', async () => {
    const w = ops.randn([3, 5], { generator: new Rng(1) });
    const fn = (x: Tensor) => ops.sum(ops.square(ops.linear(x.reshape(-1, 5), w)), 1);
    const replay = new Replay<'x'>(({ x }) => fn(x), 2);
    const eager = async (x: Float32Array) => Array.from(await scope(() => fn(tensor(x))).data());
    const g = new Rng(2);
    const draw = (rows: number) => g.fillNormal(new Float32Array(rows * 5));
    for (const rows of [2, 2, 4, 4, 2, 7, 2]) {
      const x = draw(rows);
      expect(Array.from(await replay.run({ x })), `rows ${rows}`).toEqual(await eager(x));
    }
    // 2: captured, replayed; 4: captured, replayed; 2: replayed; 7: captured (4 dropped); 2: replayed.
    expect(replay.counts).toEqual({ captures: 3, replays: 4 });
    await replay.run({ x: draw(4) });
    expect(replay.counts.captures).toBe(4);
    replay.dispose();
    w.dispose();
  });

  it('replays work that the capture submitted in parts, with the writes between them in order', async () => {
    // A submit in the middle (a long batch, copy_), then a write that must land after the first part ran.
    const fn = (x: Tensor) => {
      const y = ops.mul(x, 2);
      runtime().flush();
      const c = tensor(Float32Array.of(1, 2, 3));
      const z = ops.add(y, c);
      c.copy_(Float32Array.of(10, 20, 30)); // flushes, then writes: z keeps 1, 2, 3
      return ops.add(z, c);
    };
    const replay = new Replay<'x'>(({ x }) => fn(x));
    for (const x of [[1, 2, 3], [4, 5, 6], [-1, 0, 1]]) {
      const expected = Array.from(await scope(() => fn(tensor(x))).data());
      expect(expected).toEqual(x.map((v, i) => 2 * v + (i + 1) * 11));
      expect(Array.from(await replay.run({ x: Float32Array.from(x) }))).toEqual(expected);
    }
    expect(replay.counts).toEqual({ captures: 1, replays: 2 });
    replay.dispose();
  });

  // Flat over 1,000 replays: test/memory.test.ts.
  it('gives every buffer back on dispose, to be handed out again', async () => {
    const pool = runtime().pool;
    const w = ops.randn([8, 6], { generator: new Rng(3), requiresGrad: true });
    const optimizer = new Adam([w], { lr: 1e-2 });
    const replay = new Replay<'x' | 'corrections'>(({ x, corrections }) => {
      const loss = ops.mean(ops.square(ops.linear(x.reshape(4, 6), w)));
      loss.backward();
      optimizer.update(corrections);
      optimizer.zeroGrad();
      return loss;
    });
    const g = new Rng(4);
    const run = () => replay.run({ x: g.fillNormal(new Float32Array(24)), corrections: optimizer.countStep() });
    const before = pool.liveBytes;
    for (let i = 0; i < 5; i++) await run();
    expect(pool.liveBytes).toBeGreaterThan(before);
    replay.dispose();
    expect(pool.liveBytes).toBe(before);
    // Unpinned: a new capture of the same work takes the same buffers from the pool.
    const created = pool.created;
    await run();
    expect(pool.created).toBe(created);
    replay.dispose();
    optimizer.dispose();
    w.dispose();
  });

  it('npm run train: a run with replay writes what a --no-replay run writes, bit for bit', async () => {
    const outs = [fresh(), fresh()];
    const config = { components: 1, weights: { variance: 0, kl: 0.2, shift: 2 }, epochs: 2, stepsPerEpoch: 2 };
    await train(tinyConfig({ ...config, out: outs[0] }), { quiet: true, replay: false });
    await train(tinyConfig({ ...config, out: outs[1] }), { quiet: true });
    const metrics = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => ({ ...JSON.parse(l), seconds: 0 }));
    expect(metrics(outs[1])).toEqual(metrics(outs[0]));
    for (const f of ['checkpoint/inputGenerator.safetensors', 'checkpoint/optimizer.safetensors', 'checkpoint/state.json']) {
      expect(readFileSync(join(outs[1], f)).equals(readFileSync(join(outs[0], f))), f).toBe(true);
    }
  });
});
