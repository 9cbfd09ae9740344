// `npm run ablation`: the table of issue 8 on the default pair, with the project's own commands.
// Each configuration is one `npm run train` run (fixed seed) in runs/ablation/<name>; finished
// runs are kept, so the command can be interrupted and started again. Then docs/ablation.md is
// written with one grid image per row.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Report } from './evaluate.js';
import { DEBIAN_FASHION_MNIST } from './fashionMnist.js';

const CONFIGS: [name: string, label: string, flags: string[]][] = [
  ['paper', 'paper loss', ['--kl-weight', '0', '--shift', '0']],
  ['variance', '+ variance term (0.1)', ['--kl-weight', '0', '--shift', '0', '--variance-weight', '0.1']],
  ['kl', '+ KL (0.2)', ['--kl-weight', '0.2', '--shift', '0']],
  ['shift', '+ shifts (4 px)', ['--kl-weight', '0', '--shift', '4']],
  ['kl-shift', '+ KL + shifts (default)', ['--kl-weight', '0.2', '--shift', '4']],
  ['kl-shift-diversity', '+ KL + shifts + diversity (0.5)', ['--kl-weight', '0.2', '--shift', '4', '--diversity-weight', '0.5']],
];

const evalSamples = process.argv.includes('--quick') ? '500' : '1000';
const root = 'runs/ablation';
const docs = 'docs/ablation';
mkdirSync(docs, { recursive: true });

function stepsTo99(dir: string): number | null {
  const acc = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; accuracy: number });
  for (let i = 9; i < acc.length; i++) {
    const mean = acc.slice(i - 9, i + 1).reduce((s, r) => s + r.accuracy, 0) / 10;
    if (mean >= 0.99) return acc[i].step;
  }
  return null;
}

const rows: string[] = [];
for (const [name, label, flags] of CONFIGS) {
  const dir = join(root, name);
  if (!existsSync(join(dir, 'report.json'))) {
    console.log(`\n== ${label}: npm run train -- ${flags.join(' ')}`);
    const args = ['tsx', 'src/train/cli.ts', 'train', '--out', dir, '--seed', '0', '--eval-samples', evalSamples, ...flags];
    if (existsSync(DEBIAN_FASHION_MNIST)) args.push('--real-data', DEBIAN_FASHION_MNIST);
    execFileSync('npx', args, { stdio: 'inherit' });
  }
  const r = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
  const grid = `${name}.png`;
  copyFileSync(join(dir, 'samples_epoch08.png'), join(docs, grid));
  const f = (v: number | undefined, d = 3) => (v === undefined ? '-' : v.toFixed(d));
  rows.push(
    `| ${label} | ${f(r.classifierAccuracy)} | ${f(r.judgeAccuracy)} | ${f(r.meanVarietyRatio)} | ${f(r.meanFrechet, 1)} | ${stepsTo99(dir) ?? 'not reached'} | ![${name}](ablation/${grid}) |`,
  );
}

writeFileSync(
  'docs/ablation.md',
  `# Ablation on the default pair

Produced by \`npm run ablation\` (each row one \`npm run train\` with seed 0, 8 epochs of 15 steps,
batch 64, Adam 3e-3; ${evalSamples} graded samples; real figures from Debian's dataset-fashion-mnist).
Judge: models/fmnist_vgg_judge32 (never trained against). Variety: mean pairwise distance of the
judge's penultimate features within a class over 100 samples, divided by the same for 100 real
test images of that class, averaged over classes. Fréchet: per class on the judge's features
against 100 real test images, averaged. Steps to 99%: first step where the mean batch accuracy of
the frozen classifier over the last 10 steps reaches 0.99. Grid: the final epoch, one row per class.

| configuration | frozen-classifier acc. | judge acc. | variety (of real) | Fréchet (mean) | steps to 99% | grid |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
`,
);
console.log('wrote docs/ablation.md');
