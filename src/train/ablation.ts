// `npm run ablation`: the table of issue 8 on the default pair, with the project's own commands.
// Each configuration is one `npm run train` run (fixed seed) in runs/ablation/<name>; finished
// runs are kept, so the command can be interrupted and started again, and a finished run whose
// report.json was deleted, or was graded before the judge panel, is graded again with `npm run eval`
// (every public judge). The last row is the ceiling: G's prior filtered by the frozen VGG at
// p >= 0.9 (`npm run eval -- --sampler prior-filter`), no training, with its cost in G passes.
// Then docs/ablation.md is written with one grid image per row.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { judgeLabel, readReport, shortLabels, type Report } from './evaluate.js';
import { DEBIAN_FASHION_MNIST } from './fashionMnist.js';
import { PUBLIC_JUDGES } from './grade.js';

// Every row starts from the paper's loss spelled out in full, so a row means the same whatever
// the defaults of `npm run train` become (a repeated flag: the last one wins).
const PAPER = ['--kl-weight', '0', '--shift', '0', '--variance-weight', '0', '--components', '1', '--anchor-pool', '0', '--confidence', '0', '--steps-per-epoch', '15'];
const KL_SHIFT = [...PAPER, '--kl-weight', '0.2', '--shift', '4'];
const ANCHORED = ['--components', '4', '--anchor-pool', '4096', '--anchor-candidates', '128'];
const CONFIGS: [name: string, label: string, flags: string[]][] = [
  ['paper', 'paper loss', PAPER],
  ['variance', '+ variance term (0.1)', [...PAPER, '--variance-weight', '0.1']],
  ['kl', '+ KL (0.2)', [...PAPER, '--kl-weight', '0.2']],
  ['shift', '+ shifts (4 px)', [...PAPER, '--shift', '4']],
  ['kl-shift', '+ KL + shifts', KL_SHIFT],
  ['kl-shift-diversity', '+ KL + shifts + diversity (0.5)', [...KL_SHIFT, '--diversity-weight', '0.5']],
  ['kl-shift-components', '+ KL + shifts + 4 components per class, not anchored', [...KL_SHIFT, '--components', '4']],
  ['kl-shift-anchored15', '+ KL + shifts + 4 anchored components', [...KL_SHIFT, ...ANCHORED]],
  ['kl-shift-anchored', '+ KL + shifts + 4 anchored components, 20 steps an epoch', [...KL_SHIFT, ...ANCHORED, '--steps-per-epoch', '20']],
  [
    'kl-shift-anchored-confidence',
    '+ KL + shifts + 4 anchored components + confidence 0.9, 20 steps an epoch',
    [...KL_SHIFT, ...ANCHORED, '--confidence', '0.9', '--steps-per-epoch', '20'],
  ],
  [
    'kl-shift-anchored16-confidence',
    '+ KL + shifts + 16 anchored components + confidence 0.9, 50 steps an epoch',
    [...KL_SHIFT, ...ANCHORED, '--components', '16', '--confidence', '0.9', '--steps-per-epoch', '50'],
  ],
  [
    'kl-shift-anchored16-wide-confidence',
    'the same, anchors among the 512 most confident latents of a class',
    [...KL_SHIFT, ...ANCHORED, '--components', '16', '--confidence', '0.9', '--steps-per-epoch', '50', '--anchor-candidates', '512'],
  ],
  [
    'kl-shift-anchored16-wide-confidence-60',
    'the same, 60 steps an epoch',
    [...KL_SHIFT, ...ANCHORED, '--components', '16', '--confidence', '0.9', '--steps-per-epoch', '60', '--anchor-candidates', '512'],
  ],
  [
    'kl-shift-anchored16-576-confidence-70',
    'the same, anchors among the 576 surest, 70 steps an epoch (default)',
    [...KL_SHIFT, ...ANCHORED, '--components', '16', '--confidence', '0.9', '--steps-per-epoch', '70', '--anchor-candidates', '576'],
  ],
];

const options = new Command('cgan ablation')
  .description(
    'Train each configuration of docs/ablation.md (one `cgan train` run each, seed 0) in runs/ablation/<name>, ' +
      'keeping finished runs, then write docs/ablation.md. Run it in a git checkout.',
  )
  .option('--quick', 'grade 500 samples per run instead of 1000')
  .parse()
  .opts<{ quick?: boolean }>();

const evalSamples = options.quick ? '500' : '1000';
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

/** Whether the run in `dir` trained all its steps. */
function finished(dir: string): boolean {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { epochs: number; stepsPerEpoch: number };
  const state = JSON.parse(readFileSync(join(dir, 'checkpoint', 'state.json'), 'utf8')) as { step: number };
  return state.step >= config.epochs * config.stepsPerEpoch;
}

const PANEL = PUBLIC_JUDGES.map((j) => judgeLabel(j));
const SHORT = shortLabels(PANEL);
const CEILING_CONFIDENCE = '0.9';
const realData = existsSync(DEBIAN_FASHION_MNIST) ? ['--real-data', DEBIAN_FASHION_MNIST, '--real-cache', join(root, 'real-cache')] : [];
const cgan = (args: string[]) => execFileSync('npx', ['tsx', 'src/train/cli.ts', ...args], { stdio: 'inherit' });
const readJson = (path: string) => readReport(JSON.parse(readFileSync(path, 'utf8')));
/** Whether a report grades with every judge of the panel (one from before the panel does not). */
const paneled = (path: string) => existsSync(path) && PANEL.every((label) => readJson(path).judges?.some((j) => j.label === label));

const f = (v: number | undefined | null, d = 3) => (v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(d));
/** A row's figures: frozen accuracy, then per judge its accuracy (and ratio to its real accuracy), variety, Fréchet. */
function figures(r: Report): string[] {
  const cells = [f(r.classifierAccuracy)];
  for (const label of PANEL) {
    const j = r.judges?.find((x) => x.label === label);
    cells.push(j ? `${f(j.accuracy)} (${f(j.accuracyRatio, 2)})` : '-', f(j?.meanVarietyRatio), f(j?.meanFrechet, 1));
  }
  return cells;
}

const rows: string[] = [];
for (const [name, label, flags] of CONFIGS) {
  const dir = join(root, name);
  if (existsSync(join(dir, 'checkpoint', 'state.json')) && !finished(dir)) {
    console.log(`\n== ${label}: resuming ${dir}`);
    cgan(['train', '--out', dir, '--resume', '--eval-samples', evalSamples, ...realData]);
  } else if (!existsSync(join(dir, 'checkpoint', 'state.json'))) {
    console.log(`\n== ${label}: npm run train -- ${flags.join(' ')}`);
    cgan(['train', '--out', dir, '--force', '--seed', '0', '--eval-samples', evalSamples, ...flags, ...realData]);
  } else if (!paneled(join(dir, 'report.json'))) {
    console.log(`\n== ${label}: npm run eval -- --run ${dir} (the judge panel)`);
    cgan(['eval', '--run', dir, '--eval-samples', evalSamples, ...realData]);
  }
  const r = readJson(join(dir, 'report.json'));
  const grid = `${name}.png`;
  copyFileSync(join(dir, 'samples_epoch08.png'), join(docs, grid));
  rows.push(`| ${label} | ${figures(r).join(' | ')} | 1 | ${stepsTo99(dir) ?? 'not reached'} | ![${name}](ablation/${grid}) |`);
}

// The ceiling: no training, G's prior kept where the frozen VGG gives the class >= 0.9, graded alike.
{
  const dir = join(root, CONFIGS[CONFIGS.length - 1][0]);
  const stem = `prior-filter_${CEILING_CONFIDENCE}`;
  if (!paneled(join(dir, `report_${stem}.json`))) {
    console.log(`\n== ceiling: npm run eval -- --run ${dir} --sampler prior-filter --confidence ${CEILING_CONFIDENCE}`);
    cgan(['eval', '--run', dir, '--sampler', 'prior-filter', '--confidence', CEILING_CONFIDENCE, '--eval-samples', evalSamples, ...realData]);
  }
  const r = readJson(join(dir, `report_${stem}.json`));
  const cost = r.sampler?.kind === 'prior-filter' ? r.sampler.passesPerSample : undefined;
  const perClass = r.perClass.flatMap((c) => (c.passesPerSample ? [c.passesPerSample] : []));
  const spread = perClass.length ? ` (a class alone: ${f(Math.min(...perClass), 1)}-${f(Math.max(...perClass), 1)})` : '';
  copyFileSync(join(dir, `samples_${stem}.png`), join(docs, `${stem}.png`));
  rows.push(
    `| ceiling, no training: G's prior kept where the frozen VGG gives the class >= ${CEILING_CONFIDENCE} | ${figures(r).join(' | ')} | ` +
      `${f(cost, 1)}${spread} | - | ![prior filter](ablation/${stem}.png) |`,
  );
}

// The generated part sits between markers, so the hand-written reading below it survives a rerun.
const BEGIN = '<!-- generated by npm run ablation -->';
const END = '<!-- end of generated part -->';
const generated = `${BEGIN}
# Ablation on the default pair

Produced by \`npm run ablation\` (each row one \`npm run train\` with seed 0, batch 64, Adam 3e-3,
8 epochs of 15 steps unless the row says otherwise; ${evalSamples} graded samples; real figures from
Debian's dataset-fashion-mnist). Judges, side by side: ${PANEL.map((l, k) => `${SHORT[k]} = ${l}`).join(' and ')} (models/README.md),
each against its own yardsticks; judges grade only (never in a loss, never choosing anchors or
picking samples). Judge accuracy: the share of samples it gives the requested class, with its ratio
to the judge's own accuracy on real test images in brackets. Variety: mean pairwise distance of the
judge's penultimate features within a class over 100 samples, divided by the same over every real
test image of that class (about 1,000), averaged over classes. Fréchet: per class on the judge's
features against those real test images, averaged. G passes: generator passes per graded sample (1
for a trained input generator). Steps to 99%: first step where the mean batch accuracy of the frozen
classifier over the last 10 steps reaches 0.99. Grid: the final epoch, one row per class. The last
row is the ceiling: no training, G's prior N(0, I) kept where the frozen VGG gives the class
probability >= ${CEILING_CONFIDENCE} (\`npm run eval -- --sampler prior-filter\`), at the price in its G passes column.

| configuration | frozen-classifier acc. | ${SHORT.map((l) => `${l} acc. (of real) | ${l} variety (of real) | ${l} Fréchet (mean)`).join(' | ')} | G passes / sample | steps to 99% | grid |
| --- | --- | ${PANEL.map(() => '--- | --- | ---').join(' | ')} | --- | --- | --- |
${rows.join('\n')}
${END}`;
const docPath = 'docs/ablation.md';
const previous = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '';
const after = previous.includes(END) ? previous.slice(previous.indexOf(END) + END.length) : '\n';
writeFileSync(docPath, generated + after);
console.log(`wrote ${docPath}`);
