// `npm run yardsticks`: the judge's figures on every real Fashion-MNIST test image — accuracy,
// and the within-class spread of its penultimate features that "variety" is measured against —
// written once beside the judge, so that a run without --real-data grades against the same
// numbers as one with it (both come from realFeatures in evaluate.ts).
import { basename, join } from 'node:path';
import { Command } from 'commander';
import { PACKAGE_ROOT } from '../engine/packageRoot.js';
import { init } from '../engine/runtime.js';
import { loadClassifier } from '../models/load.js';
import { realFeatures, type Yardsticks } from './evaluate.js';
import { DEBIAN_FASHION_MNIST } from './fashionMnist.js';
import { writeFileAtomic } from './files.js';

const program = new Command('yardsticks')
  .description("the judge's accuracy and within-class feature spread on every real test image, as JSON")
  .option('--judge <path>', 'judge classifier', join(PACKAGE_ROOT, 'models', 'fmnist_vgg_judge32.safetensors'))
  .option('--real-data <dir>', 'Fashion-MNIST idx folder', DEBIAN_FASHION_MNIST)
  .option('--out <file>', 'output JSON', join(PACKAGE_ROOT, 'models', 'fmnist_vgg_judge32_yardsticks.json'))
  .parse();
const o = program.opts();

await init();
const judge = await loadClassifier(o.judge);
const K = judge.numClasses;
const t0 = performance.now();
const real = await realFeatures(judge, o.realData, K);
const byClass = (values: number[]) => Object.fromEntries(values.map((v, c) => [String(c), v]));
const out: Yardsticks = {
  accuracy: real.accuracy,
  per_class_accuracy: byClass(real.perClassAccuracy),
  within_class_spread_all: byClass(real.spread),
  images_per_class: byClass(real.counts),
  feature: `penultimate features of ${basename(o.judge)} (its forwardWithFeatures: the input of its last linear layer), mean pairwise Euclidean distance within a class`,
  data: `every image of the Fashion-MNIST test split (t10k), 28x28 padded to 32x32, in [-1, 1] (${o.realData})`,
  computed_by: 'npm run yardsticks (src/train/yardsticks.ts, realFeatures in src/train/evaluate.ts)',
};
writeFileAtomic(o.out, `${JSON.stringify(out, null, 1)}\n`);
console.log(`accuracy ${real.accuracy.toFixed(4)} on ${real.counts.reduce((a, b) => a + b, 0)} images, ${((performance.now() - t0) / 1000).toFixed(0)} s; wrote ${o.out}`);
