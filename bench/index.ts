// `npm run bench`: every kernel family on the shapes of the default models, checked against
// float64 CPU math, timed on the GPU (timestamp queries) and wall-clock, next to TensorFlow.js
// (WebGPU) and ONNX Runtime (WebGPU EP) on the same adapter, plus the whole training step.
// See bench/README.md.
//
//   npm run bench                              # full run (heavy VGG-16 rows included)
//   npm run bench -- --quick                   # small subset, a couple of minutes on lavapipe
//   npm run bench -- --kernels conv2d,matmul --no-peers --reps 10 --json out.json
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { runtime } from '../src/engine/runtime.js';
import { scope } from '../src/engine/tensor.js';
import { createPeers, isUnsupported, specFlops, useGpu, type Peer, type PeerRun } from './peers/index.js';
import { checkOutput } from './check.js';
import { peerInputs, prepareOurs, rowInputs } from './ours.js';
import { familySummary, formatMarkdown, formatTable, rates, slowerRows, type PeerResult, type Report, type Result } from './report.js';
import { allRows, FAMILIES, rowBytes, type Family, type Row } from './rows.js';
import { batchFor, GpuRepetitions, initTimedEngine, interleaved, ourSampler, spread, type Sampler, type TimingBudget } from './timing.js';
import { type GanStepGenerator, timeGanStep, timeTrainSteps, trainStepMissing } from './trainStep.js';
import { describeHeld, runBigGANDeep256, runVgg16, type FullSizeResult } from './fullSize.js';
import { formatCompile, measureCompileCold } from './compile.js';
import { CGAN_DEFAULTS, TRAINING_DEFAULTS } from '../src/train/defaults.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Family names and a few aliases accepted by --kernels. */
const ALIASES: Record<string, Family[]> = {
  conv: ['conv2d', 'conv2dInputGrad'],
  linear: ['matmul'],
  dx: ['conv2dInputGrad'],
  bn: ['batchnorm'],
  pool: ['maxpool', 'adaptivepool'],
  softmax: ['crossentropy'],
  upsamplenearest: ['upsample'],
  'train-step': ['train'],
};

function parseFamilies(list: string): Family[] {
  const out = new Set<Family>();
  for (const raw of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const name = raw.toLowerCase();
    const direct = FAMILIES.find((f) => f.toLowerCase() === name);
    const hit = direct ? [direct] : ALIASES[name];
    if (!hit) throw new InvalidArgumentError(`unknown kernel family '${raw}' (families: ${FAMILIES.join(', ')}; aliases: ${Object.keys(ALIASES).join(', ')})`);
    hit.forEach((f) => out.add(f));
  }
  return [...out];
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

interface Options {
  kernels?: Family[];
  quick?: boolean;
  peers: boolean;
  reps?: number;
  json?: string;
  markdown?: string;
  save?: boolean;
  heavy: boolean;
  budget?: number;
  compile?: boolean;
  browser?: boolean;
}

/** --compile: the cold-cache compile table (bench/compile.ts), printed and with --save committed. */
function compileTable(o: Options): void {
  const report = measureCompileCold(TRAINING_DEFAULTS.batch);
  const text = formatCompile(report);
  console.log(text);
  if (o.save) {
    const slug = /llvmpipe|lavapipe/i.test(report.adapter) ? 'lavapipe' : report.adapter.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 40);
    const base = join(ROOT, 'bench', 'results', `compile-${slug}-${new Date().toISOString().slice(0, 10)}`);
    writeFileSync(`${base}.md`, `# Shader compile cost on a cold cache\n\nCommit ${gitDescription()}; \`npm run bench -- --compile --save\`.\n\n${text}\n`);
    writeFileSync(`${base}.json`, JSON.stringify(report, null, 1));
    console.log(`wrote ${base}.md and .json`);
  }
}

const program = new Command('cgan bench')
  .description('Time every kernel family on the default models\' shapes against TensorFlow.js and ONNX Runtime (WebGPU).')
  .option('--kernels <list>', `comma-separated families: ${FAMILIES.join(', ')} (aliases: ${Object.keys(ALIASES).join(', ')})`, parseFamilies)
  .option('--quick', 'a small subset of rows with short time budgets (a couple of minutes on lavapipe; no VGG-16)')
  .option('--no-peers', 'time only our kernels')
  .option('--reps <n>', 'timed repetitions per row and engine (default: adaptive, by a time budget per row)', positiveInt)
  .option('--budget <ms>', 'time budget per row and engine in ms (default 1500, --quick 400)', positiveInt)
  .option('--no-heavy', 'skip the heavy rows (VGG-16 at 224x224, 2048^3 matmul; 4096^3 on a hardware adapter) in a full run')
  .option('--json <file>', 'also write the results as JSON')
  .option('--markdown <file>', 'also write a markdown summary table')
  .option('--save', 'write bench/results/<adapter>-<date>.json and .md')
  .option('--browser', 'instead: a few kernel rows and a training step in Node and in a page of headless Chromium, side by side (bench/browser/run.ts); --markdown writes the table')
  .option('--compile', "instead of timing kernels: each pipeline's first compile on an empty Mesa shader cache (bench/compile.ts); with --save, writes bench/results/compile-<adapter>-<date>.md");

/** The commit the engine was measured at, and whether its sources had uncommitted changes. */
function gitDescription(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'shaders'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${sha} + uncommitted changes in src/ or shaders/` : sha;
  } catch {
    return 'unknown';
  }
}

/** Short file-name form of the adapter, e.g. 'lavapipe'. */
function adapterSlug(): string {
  const info = runtime().ctx.info;
  const text = `${info.description} ${info.device}`;
  if (/llvmpipe|lavapipe/i.test(text)) return 'lavapipe';
  if (/swiftshader/i.test(text)) return 'swiftshader';
  return (info.description || info.device || info.vendor || 'adapter').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
}

function selectRows(o: Options): Row[] {
  let rows = allRows();
  if (o.kernels) rows = rows.filter((r) => o.kernels!.includes(r.family));
  if (o.quick) rows = rows.filter((r) => r.quick);
  else if (!o.heavy) rows = rows.filter((r) => !r.heavy);
  if (['lavapipe', 'swiftshader'].includes(adapterSlug())) rows = rows.filter((r) => !r.hardwareOnly);
  return rows;
}

function budgetFor(o: Options, row: Row | null): TimingBudget {
  if (o.reps) return { budgetMs: 0, minReps: o.reps, maxReps: o.reps };
  const budgetMs = o.budget ?? (o.quick ? 400 : 1500);
  return { budgetMs, minReps: o.quick || row?.heavy ? 3 : 5, maxReps: 100 };
}

const errorText = (e: unknown) => ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 300);

async function benchRow(row: Row, o: Options, peers: Peer[]): Promise<Result> {
  const flop = specFlops(row.spec);
  const bytes = rowBytes(row);
  const result: Result = {
    family: row.family, kernel: row.kernel, shape: row.shape, where: row.where, heavy: Boolean(row.heavy),
    ms: null, gflops: null, gbps: null, timing: runtime().ctx.hasTimestamps ? 'gpu-timestamps' : 'wall-clock',
    wallMs: null, gpuSpread: null, wallSpread: null, perRepWallSpread: null, batch: 1, flop, bytes, bound: row.bound, check: null,
    peers: {}, bestPeer: null, ratio: null, notes: [],
  };
  const budget = budgetFor(o, row);
  const inputs = rowInputs(row);

  // ours: correctness on this shape (this run also compiles the pipelines), then one timed
  // repetition to choose the batch size of the wall-clock samples
  const op = prepareOurs(row, inputs);
  result.notes.push(...op.notes);
  const peerRuns: [string, PeerRun][] = [];
  try {
    const reps = new GpuRepetitions(op.run);
    let estimate: number;
    try {
      const rt = runtime();
      const out = scope(() => op.run());
      const got = (await out.data()) as Float32Array;
      out.dispose();
      await rt.sync();
      result.check = checkOutput(row, inputs, got, true);
      const wall = await reps.sample();
      estimate = (await reps.gpuTimes())[0] ?? wall;
      if (reps.partial) estimate = wall;
    } catch (e) {
      result.error = errorText(e);
      return result;
    }
    const k = batchFor(estimate);
    result.batch = k;
    /** one execution takes long: no warm-up round */
    const long = estimate > 500;

    // peers: same shape and data, output checked the same way
    if (o.peers) {
      const pin = peerInputs(row, inputs);
      for (const p of peers) {
        const pr: PeerResult = { ms: null, gflops: null, gbps: null };
        result.peers[p.name] = pr;
        if (row.noPeers) {
          pr.unsupported = row.noPeers;
          continue;
        }
        try {
          const r = await p.prepare(row.spec, pin);
          if (isUnsupported(r)) {
            pr.unsupported = r.unsupported;
            continue;
          }
          peerRuns.push([p.name, r]);
          pr.notes = [...r.notes];
          const c = checkOutput(row, pin, await r.read(), false);
          pr.ok = c.ok;
          pr.check = c.ok ? `${c.method}, max abs err ${c.maxAbsErr.toExponential(1)}` : c.message;
        } catch (e) {
          pr.error = errorText(e);
        }
      }
    }

    // round-robin: our timestamped single executions, our batched wall-clock samples (k > 1),
    // and the peers batched alike, so a changing machine load weighs on all of them
    const usable = peerRuns.filter(([name]) => !result.peers[name].error);
    const separateWall = k > 1; // k = 1: our wall-clock comes from the timed repetitions
    const samplers: Sampler[] = [
      reps.sample,
      ...(separateWall ? [ourSampler(op.run, k)] : []),
      ...usable.map(([, r]): Sampler => async () => {
        const t0 = performance.now();
        if (k === 1) await r.run();
        else await r.runMany(k);
        return (performance.now() - t0) / k;
      }),
    ];
    const { spreads, errors } = await interleaved(samplers, budget, !long);
    const firstPeer = separateWall ? 2 : 1;
    if (errors[0] || (separateWall && errors[1])) throw new Error(errors[0] ?? errors[1]!);
    const gpuTimes = await reps.gpuTimes(1 + (long ? 0 : 1)); // drop the calibration (and warm-up) repetition
    const perRep = spreads[0]!;
    result.gpuSpread = gpuTimes.length && !reps.partial ? spread(gpuTimes) : null;
    result.wallSpread = separateWall ? spreads[1] : perRep;
    result.wallMs = result.wallSpread?.median ?? null;
    result.perRepWallSpread = perRep;
    if (result.gpuSpread) result.ms = result.gpuSpread.median;
    else {
      result.ms = perRep.median;
      result.timing = 'wall-clock';
      if (reps.partial) result.notes.push('timestamps cover only part of the op (it leaves its compute pass): wall-clock used');
    }
    Object.assign(result, rates(result.ms, flop, bytes));
    usable.forEach(([name], i) => {
      const pr = result.peers[name];
      const s = spreads[firstPeer + i];
      if (errors[firstPeer + i]) pr.error = errors[firstPeer + i]!;
      if (!s) return;
      pr.spread = s;
      pr.ms = s.median;
      pr.batch = k;
      Object.assign(pr, rates(pr.ms, flop, bytes));
    });
    const ranked = Object.entries(result.peers).filter(([, pr]) => pr.ms !== null && pr.ok !== false);
    if (ranked.length && result.wallMs) {
      const [name, best] = ranked.reduce((a, b) => (b[1].ms! < a[1].ms! ? b : a));
      result.bestPeer = name;
      result.ratio = best.ms! / result.wallMs;
    }
  } catch (e) {
    result.error ??= errorText(e);
  } finally {
    for (const [, r] of peerRuns) r.dispose();
    op.dispose();
  }
  return result;
}

/** The training step, eager and replayed (issue 18), alternated in one run: a row each. */
async function benchTrainSteps(o: Options, peerNames: string[]): Promise<Result[]> {
  const row = (mode: 'eager' | 'replay'): Result => {
    const result: Result = {
      family: 'train', kernel: `training step, ${mode}`, shape: 'batch 64', where: 'npm run train, default pair', heavy: false,
      ms: null, gflops: null, gbps: null, timing: 'wall-clock', wallMs: null, gpuSpread: null, wallSpread: null, perRepWallSpread: null, batch: 1,
      flop: 0, bytes: 0, bound: 'compute', check: null, peers: {}, bestPeer: null, ratio: null,
      notes: [`input generator + frozen BigGAN + upsample + shift + frozen VGG-bn + loss, backward, Adam, stats read-back; ${mode === 'eager' ? 'recorded anew each step (--no-replay)' : 'recorded once, replayed'}`],
    };
    for (const p of peerNames) result.peers[p] = { ms: null, gflops: null, gbps: null, unsupported: 'a whole training step is not a single peer op' };
    return result;
  };
  const results = [row('eager'), row('replay')];
  const missing = trainStepMissing();
  if (missing) {
    for (const r of results) r.error = missing;
    return results;
  }
  try {
    const budget = o.reps ? budgetFor(o, null) : { budgetMs: o.quick ? 2000 : 8000, minReps: 3, maxReps: 50 };
    const timed = await timeTrainSteps(budget);
    timed.forEach((t, i) => {
      const result = results[i];
      result.ms = t.wall.median;
      result.wallMs = t.wall.median;
      result.wallSpread = t.wall;
      result.hostMs = t.host.median;
      result.hostSpread = t.host;
      result.dispatchesPerStep = t.dispatchesPerStep;
      result.imagesPerSec = t.imagesPerSec;
      result.check = { ok: t.check.ok, method: 'finite loss', maxAbsErr: 0, worst: 0, message: t.check.message };
      result.notes.push(`${t.submitsPerStep.toFixed(1)} submits, ${t.dispatchesPerStep.toFixed(0)} dispatches per step; host ${t.host.median.toFixed(1)} ms per step; ${t.check.message}`);
    });
  } catch (e) {
    for (const r of results) r.error = errorText(e);
  }
  return results;
}

/** The GAN training steps the bench times, in this order (GanStepGenerator in trainStep.ts). */
const GAN_STEP_ROWS: Record<GanStepGenerator, { kernel: string; where: string }> = {
  dcgan: { kernel: 'GAN training step', where: 'npm run cgan, defaults (both networks)' },
  'dcgan-nearest': { kernel: 'GAN training step, G upsampling by nearest + 3x3 conv', where: 'npm run cgan -- --upsampling nearest' },
  'dcgan-batchnorm': { kernel: 'GAN training step, G conditioned by batchnorm', where: 'npm run cgan -- --generator-conditioning batchnorm' },
  transfer: { kernel: 'GAN training step, BigGAN G', where: 'npm run cgan -- --generator <the default G> --batch 32 (fine-tuning)' },
};
const GAN_STEPS = Object.keys(GAN_STEP_ROWS) as GanStepGenerator[];

/**
 * A step of `npm run cgan` at its defaults (both networks), wall-clock; 'dcgan-nearest': its G
 * upsampling by nearest neighbour and 3x3 convs; 'dcgan-batchnorm': its G conditioned by
 * batchnorm; 'transfer': the same with the default BigGAN
 * generator fine-tuned (cgan --generator, the transfer table's batch 32).
 */
async function benchGanStep(o: Options, peerNames: string[], generator: GanStepGenerator): Promise<Result> {
  const transfer = generator === 'transfer';
  const batch = transfer ? 32 : CGAN_DEFAULTS.batch;
  const result: Result = {
    family: 'train', kernel: GAN_STEP_ROWS[generator].kernel, shape: `batch ${batch}`,
    where: GAN_STEP_ROWS[generator].where, heavy: false,
    ms: null, gflops: null, gbps: null, timing: 'wall-clock', wallMs: null, gpuSpread: null, wallSpread: null, perRepWallSpread: null, batch: 1,
    flop: 0, bytes: 0, bound: 'compute', check: null, peers: {}, bestPeer: null, ratio: null,
    notes: [
      `${transfer ? 'the default BigGAN G (training mode) with a fresh DCGAN D' : 'conditional DCGAN'}: G forward, D on real and generated, D backward + Adam, D (frozen) + G backward + Adam, losses read-back`,
    ],
  };
  for (const p of peerNames) result.peers[p] = { ms: null, gflops: null, gbps: null, unsupported: 'a whole training step is not a single peer op' };
  try {
    const budget = o.reps ? budgetFor(o, null) : { budgetMs: o.quick ? 2000 : 8000, minReps: 3, maxReps: 50 };
    const t = await timeGanStep(budget, batch, generator);
    result.ms = t.wall.median;
    result.wallMs = t.wall.median;
    result.wallSpread = t.wall;
    result.imagesPerSec = t.imagesPerSec;
    result.check = { ok: t.check.ok, method: 'finite loss', maxAbsErr: 0, worst: 0, message: t.check.message };
    result.notes.push(`${t.submitsPerStep.toFixed(1)} submits, ${t.dispatchesPerStep.toFixed(0)} dispatches per step; ${t.check.message}`);
  } catch (e) {
    result.error = errorText(e);
  }
  return result;
}

/** Forward + backward to the input of a full-size network at batch 1 (bench/fullSize.ts), warm. */
async function benchFullSize(run: (reps: number) => Promise<FullSizeResult>, peerNames: string[]): Promise<Result> {
  const result: Result = {
    family: 'train', kernel: '', shape: 'batch 1, forward + backward to the input', where: 'full size, random weights', heavy: true,
    ms: null, gflops: null, gbps: null, timing: 'wall-clock', wallMs: null, gpuSpread: null, wallSpread: null, perRepWallSpread: null, batch: 1,
    flop: 0, bytes: 0, bound: 'compute', check: null, peers: {}, bestPeer: null, ratio: null, notes: [],
  };
  for (const p of peerNames) result.peers[p] = { ms: null, gflops: null, gbps: null, unsupported: 'a whole network is not a single peer op' };
  try {
    const r = await run(2);
    result.kernel = r.name.split(',')[0];
    result.ms = result.wallMs = r.ms[1];
    result.check = { ok: r.finite, method: 'finite input gradient', maxAbsErr: 0, worst: 0, message: r.finite ? 'finite' : 'not finite' };
    result.notes.push(...describeHeld(r, 3).slice(1).map((l) => l.trim()), `first run (compiles included) ${(r.ms[0] / 1000).toFixed(1)} s`);
  } catch (e) {
    result.error = errorText(e);
  }
  return result;
}

async function main(): Promise<void> {
  const o = program.parse().opts<Options>();
  if (o.compile) return compileTable(o);
  if (o.browser) return (await import('./browser/run.js')).browserBench(o.markdown);
  const started = performance.now();

  const { gpu, rt } = await initTimedEngine();
  console.log(`adapter: ${rt.adapterName}${rt.ctx.hasTimestamps ? '' : ' (no timestamp-query: wall-clock only)'}`);

  const peers: Peer[] = [];
  const peerAdapters: Record<string, string> = {};
  if (o.peers) {
    useGpu(gpu);
    for (const p of createPeers()) {
      try {
        await p.setup();
        peers.push(p);
        peerAdapters[p.name] = p.adapterInfo();
      } catch (e) {
        peerAdapters[p.name] = `setup failed: ${errorText(e)}`;
      }
      console.log(`peer ${p.name}: ${peerAdapters[p.name]}`);
    }
  }

  const rows = selectRows(o);
  const wantTrain = (!o.kernels || o.kernels.includes('train'));
  const total = rows.length + (wantTrain ? 2 + GAN_STEPS.length : 0);
  console.log(`${total} rows${o.quick ? ' (quick)' : ''}; ${rt.ctx.hasTimestamps ? 'GPU time from timestamp queries' : 'wall-clock'}; budget per row and engine: ${o.reps ? `${o.reps} reps` : `${budgetFor(o, null).budgetMs} ms`}\n`);

  const report: Report = {
    adapter: rt.adapterName,
    date: new Date().toISOString(),
    peers: peerAdapters,
    options: { quick: Boolean(o.quick), peers: o.peers, heavy: o.heavy, reps: o.reps ?? 'adaptive', budgetMs: o.reps ? null : budgetFor(o, null).budgetMs, kernels: o.kernels ?? 'all' },
    environment: {
      node: process.version,
      platform: `${os.platform()} ${os.arch()}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`,
      loadavg: os.loadavg().map((l) => l.toFixed(2)).join(' '),
      commit: gitDescription(),
    },
    results: [],
  };

  for (const [i, row] of rows.entries()) {
    const t0 = performance.now();
    const r = await benchRow(row, o, peers);
    report.results.push(r);
    const peerText = Object.entries(r.peers)
      .map(([n, pr]) => `${n} ${pr.ms !== null ? `${pr.ms.toFixed(3)} ms` : pr.unsupported ? 'n/a' : 'err'}`)
      .join(', ');
    console.log(
      `[${String(i + 1).padStart(3)}/${total}] ${r.kernel} ${r.shape}: ${r.error ? `ERROR ${r.error}` : `${r.check?.ok ? 'ok' : 'CHECK FAILED'}, ${r.ms?.toFixed(3)} ms`}` +
        (peerText ? `; ${peerText}` : '') + `  (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
  if (wantTrain) {
    for (const [i, r] of (await benchTrainSteps(o, peers.map((p) => p.name))).entries()) {
      report.results.push(r);
      console.log(
        `[${total - 1 - GAN_STEPS.length + i}/${total}] ${r.kernel}: ${r.error ? `skipped: ${r.error}` : `${r.ms?.toFixed(1)} ms, host ${r.hostMs?.toFixed(1)} ms, ` +
          `${r.dispatchesPerStep} dispatches, ${r.imagesPerSec?.toFixed(1)} images/s`}`,
      );
    }
    for (const [i, generator] of GAN_STEPS.entries()) {
      const g = await benchGanStep(o, peers.map((p) => p.name), generator);
      report.results.push(g);
      console.log(`[${total - GAN_STEPS.length + 1 + i}/${total}] ${g.kernel}: ${g.error ? `ERROR ${g.error}` : `${g.ms?.toFixed(1)} ms, ${g.imagesPerSec?.toFixed(1)} images/s`}`);
    }
    // The full-size networks people hold (heavy: the full run only; the rows to run on a GPU).
    if (o.heavy && !o.quick) {
      for (const run of [runVgg16, runBigGANDeep256]) {
        const full = await benchFullSize(run, peers.map((p) => p.name));
        report.results.push(full);
        console.log(`full size: ${full.kernel}: ${full.error ? `ERROR ${full.error}` : `${full.ms?.toFixed(0)} ms`}`);
      }
    }
  }
  for (const p of peers) await p.dispose().catch(() => undefined);
  report.seconds = (performance.now() - started) / 1000;
  report.environment.loadavgEnd = os.loadavg().map((l) => l.toFixed(2)).join(' ');

  console.log(`\n${report.adapter} — ${report.date}\n`);
  console.log(formatTable(report));
  const summary = familySummary(report);
  if (summary.length) console.log(`\nby kernel:\n  ${summary.join('\n  ')}`);
  const slow = slowerRows(report);
  if (slow.length) console.log(`\nslower than the best peer:\n  ${slow.join('\n  ')}`);
  const failed = report.results.filter((r) => r.check && !r.check.ok);
  if (failed.length) console.log(`\ncorrectness check FAILED: ${failed.map((r) => `${r.kernel} ${r.shape}`).join(', ')}`);
  console.log(`\n${report.seconds >= 60 ? `${(report.seconds / 60).toFixed(1)} min` : `${report.seconds.toFixed(0)} s`}`);

  const outputs: [string, string][] = [];
  if (o.json) outputs.push([o.json, JSON.stringify(report, null, 1) + '\n']);
  if (o.markdown) outputs.push([o.markdown, formatMarkdown(report)]);
  if (o.save) {
    const base = join(ROOT, 'bench', 'results', `${adapterSlug()}-${report.date.slice(0, 10)}`);
    outputs.push([`${base}.json`, JSON.stringify(report, null, 1) + '\n'], [`${base}.md`, formatMarkdown(report)]);
  }
  for (const [path, text] of outputs) {
    mkdirSync(dirname(resolve(path)), { recursive: true });
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
  process.exitCode = failed.length || report.results.some((r) => r.error && r.family !== 'train') ? 1 : 0;
}

await main();
