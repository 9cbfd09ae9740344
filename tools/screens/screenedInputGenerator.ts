// A screen (docs/ablation.md, "The classifier on z inside the input generator"): the trained input
// generator's draws screened on z by the run's classifier on z before G, with no check after G, so
// exactly one G pass a kept sample. Graded as `npm run eval` grades (the frozen classifier and both
// public judges, against their yardsticks).
//
//   npx tsx tools/screens/screenedInputGenerator.ts <run folder of npm run train> <threshold, 0 = no screen>
//
// The run needs its classifier on z (latent-classifier_pool<N>.safetensors, written by train's --latent-pool).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { init } from '../../src/engine/runtime.js';
import { noGrad } from '../../src/engine/autograd.js';
import { Rng } from '../../src/engine/random.js';
import { scope, tensor } from '../../src/engine/tensor.js';
import { buildPipeline, restoreCheckpoint } from '../../src/train/trainer.js';
import { readLatentClassifier, latentClassifierPath } from '../../src/train/latentClassifierFile.js';
import { evaluate, evalQuotas, formatReport } from '../../src/train/evaluate.js';
import { loadJudges, resolveJudges } from '../../src/train/grade.js';
import type { PriorFilterResult } from '../../src/train/priorFilter.js';

await init();
const dir = process.argv[2];
const threshold = Number(process.argv[3] ?? 0.9);
if (!dir || !(threshold >= 0 && threshold < 1)) throw new Error('usage: screenedInputGenerator.ts <run folder> <threshold in [0, 1)>');
const samples = Number(process.env.SAMPLES ?? 2000);
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const pipeline = await buildPipeline(config);
restoreCheckpoint(dir, pipeline);
const K = pipeline.numClasses;
const dimZ = pipeline.inputGenerator.config.dimZ;
const onZ = readLatentClassifier(latentClassifierPath(dir, config.latentPool ?? 0), dimZ, K);
if (!onZ) throw new Error(`${dir}: no classifier on z (train it with --latent-pool)`);
const quotas = evalQuotas(samples, K);
const rng = new Rng(config.seed + 1000);
const z = quotas.map((q) => new Float32Array(q * dimZ));
const got = new Array(K).fill(0);
let drawn = 0;
const batch = 500;
while (got.some((g, c) => g < quotas[c])) {
  const classes = Array.from({ length: batch }, (_, i) => i % K);
  const eps = tensor(rng.fillNormal(new Float32Array(batch * dimZ)), [batch, dimZ]);
  const component = pipeline.inputGenerator.drawComponents(classes, rng);
  const zt = noGrad(() => scope(() => pipeline.inputGenerator.sample(classes, eps, component).z));
  const host = (await zt.data()) as Float32Array;
  zt.dispose(); eps.dispose();
  const q = threshold > 0 ? await onZ.probabilities(host) : null;
  drawn += batch;
  for (let i = 0; i < batch; i++) {
    const c = classes[i];
    if (got[c] >= quotas[c]) continue;
    if (q && q[i * K + c] < threshold) continue;
    z[c].set(host.subarray(i * dimZ, (i + 1) * dimZ), got[c] * dimZ);
    got[c]++;
  }
}
console.log(`draws per sample: ${(drawn / samples).toFixed(2)} (input-generator draws screened)`);
// The public panel, each judge with its yardsticks, loaded as gradeRun loads it.
const judges = await loadJudges(resolveJudges(undefined), K, config.classifier, true, (line) => console.log(line));
// The kept latents go to evaluate as a filter's result (a latent per graded sample, in class order), so
// they are graded exactly as the prior filter's are; the report's "G passes" read 1 a sample.
const filtered: PriorFilterResult = { confidence: 0, budget: samples, z, probability: z.map(() => []), passes: samples, draws: drawn, accepted: quotas, hits: quotas, passesPerAccepted: quotas.map(() => 1) };
const report = await evaluate(pipeline, { samples, seed: config.seed + 1000, batch: 100, judges, classNames: config.classNames, priorFilter: filtered });
console.log(formatReport(report));
const j = report.judges!;
console.log(`SUMMARY ${dir} t=${threshold} frozen ${report.classifierAccuracy.toFixed(3)} vgg ${j[0].accuracy.toFixed(3)} resnet ${j[1].accuracy.toFixed(3)} var ${j[0].meanVarietyRatio?.toFixed(3)} ${j[1].meanVarietyRatio?.toFixed(3)} draws/sample ${(drawn / samples).toFixed(2)}`);
