// `npm run bench -- --compile`: what a new user's first training step pays for compiling shaders.
//
// lavapipe compiles a pipeline with LLVM when it first runs, and Mesa keeps the result in an
// on-disk cache (~/.cache/mesa_shader_cache), so only a cold cache shows the cost. This runs the
// default pair's anchor labelling (G and the classifier forward) and one training step in a child
// process whose Mesa cache is a fresh empty folder, every launch alone in its pass with GPU
// timestamps around it, then the same again warm. A pipeline's compile cost is its first launch's
// time minus the same launch's time in the warm repeat.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/engine/random.js';
import { init, runtime } from '../src/engine/runtime.js';
import { LaunchProfiler, pipelineKey } from '../src/engine/profiler.js';
import { noGrad } from '../src/engine/autograd.js';
import { scope, tensor } from '../src/engine/tensor.js';
import { Adam } from '../src/train/optim.js';
import { buildPipeline, trainingStep } from '../src/train/trainer.js';
import { defaultTrainConfig, standInPriorRange, trainStepMissing } from './trainStep.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface CompileCost {
  pipeline: string;
  /** Where it first ran: 'forward' (anchor labelling: G and the classifier) or 'step'. */
  phase: string;
  compileMs: number;
  launches: number;
}

export interface CompileReport {
  adapter: string;
  batch: number;
  /** Wall-clock ms on the cold cache: the forward pass of anchor labelling, then the first step. */
  coldForwardMs: number;
  coldStepMs: number;
  /** The same two, warm. */
  warmForwardMs: number;
  warmStepMs: number;
  pipelines: CompileCost[];
}

/** Runs the measurement in a child process with an empty Mesa shader cache. */
export function measureCompileCold(batch: number): CompileReport {
  const missing = trainStepMissing();
  if (missing) throw new Error(missing);
  const cache = mkdtempSync(join(tmpdir(), 'cgan-mesa-cache-'));
  try {
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(batch)], {
      cwd: ROOT,
      env: { ...process.env, MESA_SHADER_CACHE_DIR: cache },
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (child.status !== 0) throw new Error(`the compile measurement failed (exit ${child.status}):\n${child.stderr}`);
    const line = child.stdout.split('\n').find((l) => l.startsWith('{'));
    if (!line) throw new Error(`the compile measurement printed no result:\n${child.stdout}\n${child.stderr}`);
    return JSON.parse(line) as CompileReport;
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

async function child(batch: number): Promise<void> {
  await init();
  const rt = runtime();
  const config = defaultTrainConfig(batch);
  const pipeline = await buildPipeline(config);
  const optimizer = new Adam(pipeline.inputGenerator.parameters(), { lr: config.lr });
  const profiler = new LaunchProfiler(rt);

  // What anchor placement runs: G and the classifier on a batch of prior samples, no graph.
  const forward = async () => {
    const z = new Rng(7).fillNormal(new Float32Array(batch * pipeline.inputGenerator.config.dimZ));
    const [probs, features] = noGrad(() =>
      scope(() => {
        const out = pipeline.classify(pipeline.generate(tensor(z, [batch, z.length / batch])));
        return [out.logits, out.features];
      }),
    );
    await probs.data();
    // The step's prior-range term (on by default) needs a range: a stand-in of the features' size.
    if ((config.weights.priorRange ?? 0) > 0 && !pipeline.priorRange) pipeline.priorRange = standInPriorRange(pipeline.numClasses, features.shape[1]);
    probs.dispose();
    features.dispose();
  };
  const step = () => trainingStep(pipeline, optimizer, batch, new Rng(1234), config.weights);

  const timed = async (tag: string, run: () => Promise<unknown>) => {
    profiler.tag = tag;
    const t0 = performance.now();
    await run();
    return performance.now() - t0;
  };
  rt.profile(profiler);
  const coldForwardMs = await timed('forward', forward);
  const coldStepMs = await timed('step', step);
  const cold = [...profiler.records];
  const coldTimes = await profiler.times();
  profiler.clear();
  const warmForwardMs = await timed('forward', forward);
  const warmStepMs = await timed('step', step);
  const warmTimes = await profiler.times();
  rt.profile(null);
  if (profiler.records.length !== cold.length) throw new Error('the warm repeat launched other kernels than the cold run');

  const byPipeline = new Map<string, CompileCost>();
  cold.forEach((r, i) => {
    const key = pipelineKey(r);
    const seen = byPipeline.get(key);
    if (seen) seen.launches++;
    else byPipeline.set(key, { pipeline: key, phase: r.tag, compileMs: Math.max(0, coldTimes[i] - warmTimes[i]), launches: 1 });
  });
  const pipelines = [...byPipeline.values()].sort((a, b) => b.compileMs - a.compileMs);
  const report: CompileReport = { adapter: rt.adapterName, batch, coldForwardMs, coldStepMs, warmForwardMs, warmStepMs, pipelines };
  console.log(JSON.stringify(report));
}

export function formatCompile(r: CompileReport, top = 25): string {
  const sum = (phase?: string) => r.pipelines.filter((p) => !phase || p.phase === phase).reduce((s, p) => s + p.compileMs, 0);
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const lines = [
    `Cold shader compiles, ${r.adapter}, batch ${r.batch} (empty Mesa cache; a pipeline's cost = its first launch minus the warm repeat)`,
    '',
    `| | cold, s | warm, s | compiling, s |`,
    `|---|---|---|---|`,
    `| G + classifier forward (anchor labelling) | ${s(r.coldForwardMs)} | ${s(r.warmForwardMs)} | ${s(sum('forward'))} |`,
    `| first training step (forward, backward, Adam) | ${s(r.coldStepMs)} | ${s(r.warmStepMs)} | ${s(sum('step'))} |`,
    '',
    `${r.pipelines.length} pipelines, ${s(sum())} s of compiling in all; the ${Math.min(top, r.pipelines.length)} slowest:`,
    '',
    '| pipeline (family:entry:constants) | first run in | compile, ms | launches |',
    '|---|---|---|---|',
    ...r.pipelines.slice(0, top).map((p) => `| \`${p.pipeline}\` | ${p.phase} | ${p.compileMs.toFixed(0)} | ${p.launches} |`),
  ];
  return lines.join('\n');
}

if (process.argv[2] === '--child') {
  await child(Number(process.argv[3]));
  process.exit(0);
}
