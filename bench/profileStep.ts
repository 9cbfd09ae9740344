// Where the training step's time goes: one step of `npm run train` on the default pair (as
// bench/trainStep.ts runs it), timed whole and then kernel by kernel.
//
//   npx tsx bench/profileStep.ts [--batch=64] [--reps=5] [--kernel-reps=3] [--top=25] [--no-kernels] [--no-host]
//
// 1. Step: wall-clock ms of whole steps (uninstrumented, queue drained by the statistics
//    read-back as in the trainer), best and median of --reps after a warm-up step.
// 2. Kernels: --kernel-reps more steps in which every launch is recorded in its own compute pass
//    with timestamp writes around it (GPU time of that dispatch alone; per launch the minimum
//    over the steps, which share one sequence of launches, so that load from other processes
//    on a shared machine weighs less). Each launch is tagged with
//    the phase it belongs to (input generator, G forward, classifier forward incl. the x2
//    upsample, loss, backward of the loss / VGG / G / input generator, Adam) and, in backward,
//    with the autograd node whose rule launched it. Printed: per phase, per kernel family (shader
//    family.entry) within each phase, and the most expensive single launches.
//
// 3. Host: where the JavaScript time of a step goes (--reps steps each, eager and replayed
//    alternated; issue 18): the draws on the host, recording (launch(): packing, pooled uniform
//    buffers, bind groups, encoding, against the ops' own JavaScript: tensors, graph, autograd)
//    or replaying (input writes, re-encoding, submits), and the read-back's copy and submit.
//
// The sum of kernel times is below the step's wall time by the host's share (recording,
// submits, the read-back) and the pass boundaries this mode adds.
import { onBackwardNode } from '../src/engine/autograd.js';
import { LaunchProfiler, type LaunchRecord } from '../src/engine/profiler.js';
import { Rng } from '../src/engine/random.js';
import { init, runtime } from '../src/engine/runtime.js';
import { scope, type Tensor } from '../src/engine/tensor.js';
import { concat } from '../src/kernels/shape.js';
import { Adam } from '../src/train/optim.js';
import { stepReplay, trainingStep } from '../src/train/trainer.js';
import { buildBenchPipeline, defaultTrainConfig, fullGc, trainStepMissing } from './trainStep.js';

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const BATCH = Number(arg('batch', '64'));
const REPS = Number(arg('reps', '5'));
const TOP = Number(arg('top', '25'));
const KERNEL_REPS = Number(arg('kernel-reps', '3'));
const KERNELS = !process.argv.includes('--no-kernels');
const HOST = !process.argv.includes('--no-host');

const missing = trainStepMissing();
if (missing) throw new Error(missing);

await init();
const config = defaultTrainConfig(BATCH);
const pipeline = await buildBenchPipeline(config);
const optimizer = new Adam(pipeline.inputGenerator.parameters(), { lr: config.lr });
const rng = new Rng(config.seed);
const rt = runtime();

// ---- instrumentation --------------------------------------------------------------------------

// Each launch alone in its pass with timestamps (runtime.profile); its record carries the phase
// (profiler.tag) and, in backward, the autograd node whose rule launched it (record.op).
const profiler = KERNELS ? new LaunchProfiler(rt) : null;
const setPhase = (phase: string) => {
  if (profiler) profiler.tag = phase;
};

/** Wraps an instance method of the pipeline so that calling it switches the phase. */
function phaseAround<K extends 'generate' | 'classify'>(key: K, during: string, after: string): void {
  const original = pipeline[key].bind(pipeline) as (...a: unknown[]) => unknown;
  (pipeline as unknown as Record<string, unknown>)[key] = (...args: unknown[]) => {
    setPhase(during);
    const out = original(...args);
    setPhase(after);
    return out;
  };
}
phaseAround('generate', 'G forward', 'loss');
phaseAround('classify', 'VGG forward', 'loss');

// Remember the tensors that mark phase boundaries in backward.
let marks: { z: Tensor | null; image: Tensor | null; logits: Tensor | null } = { z: null, image: null, logits: null };
{
  const gen = pipeline.generate.bind(pipeline);
  pipeline.generate = (z: Tensor) => {
    marks.z = z;
    marks.image = gen(z);
    return marks.image;
  };
  const cls = pipeline.classify.bind(pipeline);
  pipeline.classify = (images: Tensor, shift?: [number, number]) => {
    const r = cls(images, shift);
    marks.logits = r.logits;
    return r;
  };
}

/** shader family.entry, with the elementwise op where there is one. */
const kernelOf = (r: LaunchRecord) => `${r.family}.${r.entry}${r.constants.OP !== undefined ? `[${r.constants.OP}]` : ''}`;

// ---- the step -----------------------------------------------------------------------------------

/** ms spent recording the last step (JavaScript: autograd, launches; nothing submitted yet). */
let recordMs = 0;

async function step(instrument: boolean, g: Rng = rng): Promise<Float32Array> {
  const t0 = performance.now();
  const classes = Array.from({ length: config.batch }, () => g.int(pipeline.numClasses));
  if (instrument) rt.profile(profiler);
  setPhase('input generator');
  marks = { z: null, image: null, logits: null };
  const stats = scope(() => {
    const s = pipeline.lossFor(classes, g, config.weights);
    setPhase('loss backward');
    // The sweep reaches these outputs' nodes in this order; each starts a phase.
    const phaseStarts = new Map([[marks.logits!, 'VGG backward'], [marks.image!, 'G backward'], [marks.z!, 'input generator backward']]);
    const stop = instrument ? onBackwardNode((output) => setPhase(phaseStarts.get(output) ?? profiler!.tag)) : null;
    try {
      s.loss.backward();
    } finally {
      stop?.();
    }
    setPhase('Adam');
    optimizer.step();
    optimizer.zeroGrad();
    setPhase('read-back');
    return concat([s.loss, s.crossEntropy, s.correct, s.meanSigma].map((t) => t.reshape(1)));
  });
  recordMs = performance.now() - t0;
  const values = (await stats.data()) as Float32Array;
  stats.dispose();
  if (instrument) rt.profile(null);
  return values;
}

const ms = (v: number) => v.toFixed(1).padStart(8);

await step(false); // compiles every pipeline
const times: number[] = [];
const recording: number[] = [];
for (let i = 0; i < REPS; i++) {
  const t0 = performance.now();
  await step(false);
  times.push(performance.now() - t0);
  recording.push(recordMs);
}
recording.sort((a, b) => a - b);
times.sort((a, b) => a - b);
const best = times[0];
const median = times[Math.floor(times.length / 2)];
console.log(`adapter: ${rt.adapterName}`);
console.log(`step (batch ${BATCH}, ${REPS} reps): best ${best.toFixed(0)} ms, median ${median.toFixed(0)} ms; ` +
  `${((BATCH * 1000) / best).toFixed(1)} images/s at best`);
console.log(`all: ${times.map((t) => t.toFixed(0)).join(' ')}; recording (JavaScript, before the submit) ` +
  `best ${recording[0].toFixed(0)} ms, median ${recording[Math.floor(REPS / 2)].toFixed(0)} ms`);

if (profiler) {
  const d0 = rt.stats.dispatches;
  const { records } = profiler;
  let gpu: number[] = [];
  let first: LaunchRecord[] = [];
  for (let r = 0; r < KERNEL_REPS; r++) {
    profiler.clear();
    await step(true, new Rng(1234)); // the same classes, noise and shift each time
    const times = await profiler.times();
    if (r === 0) [gpu, first] = [times, [...records]];
    else {
      if (records.length !== first.length || records.some((x, i) => kernelOf(x) !== kernelOf(first[i]))) {
        throw new Error('the instrumented steps launched different kernels');
      }
      gpu = gpu.map((t, i) => Math.min(t, times[i]));
    }
  }
  const dispatches = (rt.stats.dispatches - d0) / KERNEL_REPS;
  const total = gpu.reduce((a, b) => a + b, 0);
  console.log(`\nkernels: ${dispatches} dispatches, GPU time ${total.toFixed(0)} ms in all (each alone in its pass, ` +
    `per launch the best of ${KERNEL_REPS} steps)`);

  const group = (key: (r: LaunchRecord) => string) => {
    const m = new Map<string, { ms: number; n: number }>();
    records.forEach((r, i) => {
      const k = key(r);
      const e = m.get(k) ?? { ms: 0, n: 0 };
      e.ms += gpu[i];
      e.n++;
      m.set(k, e);
    });
    return [...m].sort((a, b) => b[1].ms - a[1].ms);
  };

  console.log('\nper phase                         ms   launches');
  for (const [k, e] of group((r) => r.tag)) console.log(`  ${k.padEnd(28)} ${ms(e.ms)} ${String(e.n).padStart(8)}`);

  console.log('\nper kernel family (all phases)    ms   launches');
  for (const [k, e] of group(kernelOf)) console.log(`  ${k.padEnd(28)} ${ms(e.ms)} ${String(e.n).padStart(8)}`);

  console.log('\nper phase and kernel               ms   launches');
  for (const [k, e] of group((r) => `${r.tag} | ${kernelOf(r)}`)) {
    if (e.ms >= 1) console.log(`  ${k.padEnd(54)} ${ms(e.ms)} ${String(e.n).padStart(5)}`);
  }

  console.log('\nbackward, per autograd node        ms   launches');
  for (const [k, e] of group((r) => (r.op ? `${r.tag} | ${r.op}` : '-'))) {
    if (k !== '-' && e.ms >= 1) console.log(`  ${k.padEnd(54)} ${ms(e.ms)} ${String(e.n).padStart(5)}`);
  }

  console.log(`\nthe ${TOP} most expensive launches`);
  const order = gpu.map((t, i) => i).sort((a, b) => gpu[b] - gpu[a]).slice(0, TOP);
  for (const i of order) {
    const r = records[i];
    console.log(`  ${ms(gpu[i])}  ${r.tag.padEnd(24)} ${r.op.padEnd(20)} ${kernelOf(r).padEnd(28)} ${r.workgroups.join('x')}`);
  }
}
if (HOST) await hostTime();

/** Host ms of eager and replayed steps, split by where it goes (runtime methods timed by wrapping them). */
async function hostTime(): Promise<void> {
  const timers = new Map<string, number>();
  let depth = 0; // a call inside a timed call (read's flush) counts for the outer one only
  const wrap = <K extends 'launch' | 'replay' | 'write' | 'flush' | 'read'>(key: K, label: string) => {
    const original = rt[key].bind(rt) as (...a: unknown[]) => unknown;
    (rt as unknown as Record<string, unknown>)[key] = (...args: unknown[]) => {
      const t0 = performance.now();
      depth++;
      try {
        return original(...args);
      } finally {
        if (--depth === 0) timers.set(label, (timers.get(label) ?? 0) + performance.now() - t0);
      }
    };
  };
  wrap('launch', 'launch() calls');
  wrap('replay', 'runtime.replay (re-encoding the tape)');
  wrap('write', 'queue writes');
  wrap('flush', 'submits (flush)');
  wrap('read', 'read-back (copy, the submit, map request)');
  // Inside the above: queue.submit, where Dawn turns the recorded commands into Vulkan ones.
  let submitMs = 0;
  const queue = rt.device.queue;
  const submit = queue.submit.bind(queue);
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    const t0 = performance.now();
    submit(buffers);
    submitMs += performance.now() - t0;
  };
  const replay = stepReplay(pipeline, optimizer, config.weights);
  const collectGarbage = fullGc(); // as bench/trainStep.ts: no step pays for the garbage of another
  const modes = [['eager', undefined], ['replay', replay]] as const;
  for (const [, r] of modes) await trainingStep(pipeline, optimizer, config.batch, rng, config.weights, r);
  const rows = new Map<string, Map<string, number[]>>();
  for (let i = 0; i < REPS; i++) {
    for (const [mode, r] of modes) {
      collectGarbage();
      timers.clear();
      submitMs = 0;
      const d0 = rt.stats.dispatches;
      const t0 = performance.now();
      const pending = trainingStep(pipeline, optimizer, config.batch, rng, config.weights, r);
      const host = performance.now() - t0;
      await pending;
      const row = rows.get(mode) ?? new Map<string, number[]>();
      rows.set(mode, row);
      const add = (k: string, v: number) => row.set(k, [...(row.get(k) ?? []), v]);
      add('host ms per step (up to the first wait)', host);
      const inner = [...timers.values()].reduce((a, b) => a + b, 0);
      for (const [k, v] of timers) add(k, v);
      add('the rest (draws, tensors, graph, autograd, Replay.run)', host - inner);
      add('of all these: queue.submit() calls', submitMs);
      add('dispatches', rt.stats.dispatches - d0);
    }
  }
  replay.dispose();
  // Best and median: on a shared machine a step's JavaScript is often preempted, which only adds.
  const median = (v: number[] = []) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
  const best = (v: number[] = []) => Math.min(...v);
  const keys = [...new Set([...rows.values()].flatMap((m) => [...m.keys()]))];
  console.log(`\nhost time per step, ms, of ${REPS} steps each (eager and replay alternated)   eager: best  median   replay: best  median`);
  for (const k of keys) {
    const [e, r] = [rows.get('eager')!.get(k), rows.get('replay')!.get(k)];
    const cell = (v: number[] | undefined) => (v?.some((x) => x > 0) ? `${ms(best(v))} ${ms(median(v))}` : `${'-'.padStart(8)} ${'-'.padStart(8)}`);
    console.log(`  ${k.padEnd(62)} ${cell(e)}        ${cell(r)}`);
  }
}

process.exit(0);
