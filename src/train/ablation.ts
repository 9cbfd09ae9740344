// `npm run ablation`: the table of issue 8 on the default pair, with the project's own commands,
// over seeds (the unit of evidence: every figure is the mean, the spread and the worst of the
// seeds). Each configuration and seed is one `npm run train` run in runs/ablation/<name>/seed-<s>;
// finished runs are kept, so the command can be interrupted and started again, and a finished run
// whose report.json was deleted, or was graded before the judge panel, is graded again with
// `npm run eval` (every public judge). The last row is the ceiling: G's prior filtered by the
// frozen VGG at p >= 0.9 (`npm run eval -- --sampler prior-filter`), no training, with its cost
// in G passes. Then docs/ablation.md is written with one grid image per row and seed, and each
// run's report and step figures are kept as a record in docs/ablation/records, so the table can be
// written again where runs/ (not committed) is gone; with --documented, a row with neither keeps
// the line the document has for it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { DEBIAN_FASHION_MNIST } from './fashionMnist.js';
import { documentedRows, END, figures, keptRun, lastGrid, overSeeds, PANEL, paneled, replaceGenerated, type RunRecord, SHORT, trainMinutes } from './seedTable.js';

// Every row starts from the paper's loss spelled out in full, so a row means the same whatever
// the defaults of `npm run train` become (a repeated flag: the last one wins).
const PAPER = ['--batch', '64', '--epochs', '8', '--prior-range-weight', '0', '--kl-weight', '0', '--shift', '0', '--variance-weight', '0', '--components', '1', '--anchor-pool', '0', '--confidence', '0', '--steps-per-epoch', '15'];
const KL_SHIFT = [...PAPER, '--kl-weight', '0.2', '--shift', '4'];
const ANCHORED = ['--components', '4', '--anchor-pool', '4096', '--anchor-candidates', '128'];
const FREE_C64_FLAGS = [
  ...['--batch', '32', '--free-components', '--components', '64', '--anchor-pool', '16384', '--anchor-candidates', '16384'],
  ...['--anchor-choice', 'random', '--initial-sigma', '0.05', '--kl-weight', '0', '--shift', '0', '--prior-range-weight', '0'],
];
const FREE_C64_LABEL =
  '64 free components a class (a mean offset and sigma each, nothing shared) at anchors drawn at random among the sure latents of a pool of 16384, sigma starting at 0.05, trained by the hinge alone (no KL, shifts or prior-range term)';
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
    'the same, anchors among the 576 surest, 70 steps an epoch (the default until 2026-12-02)',
    [...KL_SHIFT, ...ANCHORED, '--components', '16', '--confidence', '0.9', '--steps-per-epoch', '70', '--anchor-candidates', '576'],
  ],
  // The rows of issue 15, flags in full so that they stay what they were when the defaults move:
  // the default until 2026-12-02 (batch 64), with the prior-range term, ...
  ['default-b64', 'batch 64, no prior-range term (the default until 2026-12-02)', ['--batch', '64', '--prior-range-weight', '0']],
  ['prior-range', 'batch 64 + the prior-range term (weight 1)', ['--batch', '64', '--prior-range-weight', '1']],
  // ... and at a quarter of its draws (batch 32, 35 steps an epoch): a screen that fits a busy
  // 2-core machine.
  ['quarter', 'batch 64\'s configuration at a quarter of its draws (batch 32, 35 steps an epoch)', ['--batch', '32', '--steps-per-epoch', '35', '--prior-range-weight', '0']],
  ['quarter-prior-range', 'the same + the prior-range term (weight 1)', ['--batch', '32', '--steps-per-epoch', '35', '--prior-range-weight', '1']],
  // Batch 32, 70 steps an epoch (half the draws of batch 64), with the prior-range term: the default
  // since 2026-12-02, the size that fits 10 minutes on a 2-core machine without a GPU.
  ['half-prior-range', 'batch 32 (half the draws of batch 64) + the prior-range term (weight 1): the default', ['--batch', '32', '--prior-range-weight', '1']],
  ['half-prior-range-w05', 'the same with the prior-range term at weight 0.5', ['--batch', '32', '--prior-range-weight', '0.5']],
  // The default's flags for 12 epochs instead of 8 (840 steps): what a 10-minute budget holds on
  // the 2-core AVX-512 machine of 2026-12-03, where the default takes 5.4 minutes.
  ['half-prior-range-e12', 'the default\'s flags for 12 epochs (840 steps, 1.5x the draws)', ['--batch', '32', '--prior-range-weight', '1', '--epochs', '12']],
  [
    'half-prior-range-keep90',
    'the same, sampling only the components the frozen classifier gives their class on >= 0.9 of 16 draws',
    ['--batch', '32', '--prior-range-weight', '1', '--keep-components-above', '0.9'],
  ],
  // Components that start at anchors drawn at random among the sure pool latents, as near-points
  // (sigma 0.05): the accurate end of the trade (docs/ablation.md, the screens of 2026-12-03).
  [
    'random-anchors-sigma05',
    "the default's flags with anchors drawn at random among the pool latents the VGG gives the class >= 0.9, and sigma starting at 0.05",
    ['--batch', '32', '--prior-range-weight', '1', '--anchor-choice', 'random', '--initial-sigma', '0.05'],
  ],
  // Components that share nothing (a free mean offset and sigma each, so no move of one drags the
  // others), 64 a class drawn from a pool of 16384, trained by the hinge alone; and the same at
  // learning rate 0, which samples the anchors as they are: what training adds to them.
  ['free-c64-hinge', FREE_C64_LABEL, FREE_C64_FLAGS],
  // The hinge at 0.5: only draws the frozen classifier may give another class are pushed.
  ['free-c64-hinge05', 'the same with the hinge at 0.5 (`--confidence 0.5`): only draws the frozen classifier gives their class < 0.5 are pushed', [...FREE_C64_FLAGS, '--confidence', '0.5']],
  ['free-c64-untrained', 'the same at learning rate 0: its 64 anchors a class as drawn, no training', [...FREE_C64_FLAGS, '--lr', '0']],
];

const options = new Command('cgan ablation')
  .description(
    'Train each configuration of docs/ablation.md for each seed (one `cgan train` run each) in ' +
      'runs/ablation/<name>/seed-<s>, keeping finished runs, then write docs/ablation.md. Run it in a git checkout.',
  )
  .option('--seeds <list>', 'comma-separated seeds; every figure is their mean, spread and worst', '0,1,2')
  .option('--only <names>', `comma-separated configurations (of: ${CONFIGS.map(([name]) => name).join(', ')})`)
  .option('--ceiling-seeds <list>', "the seeds the ceiling row's prior filter runs for (default: --seeds; it costs dozens of G passes a sample)")
  .option('--quick', 'grade 500 samples per run instead of 1000')
  .option(
    '--documented',
    'a row none of whose runs is here (in runs/ablation, or as the record in docs/ablation/records that each run leaves) keeps its line of docs/ablation.md instead of training',
  )
  .parse()
  .opts<{ seeds: string; ceilingSeeds?: string; only?: string; quick?: boolean; documented?: boolean }>();

const seedList = (flag: string, list: string) =>
  list.split(',').map((v) => {
    if (!/^\d+$/.test(v.trim())) throw new Error(`${flag}: '${v}' is not a whole number (give e.g. 0,1,2)`);
    return Number(v);
  });
const seeds = seedList('--seeds', options.seeds);
const ceilingSeeds = options.ceilingSeeds ? seedList('--ceiling-seeds', options.ceilingSeeds) : seeds;
const only = options.only?.split(',');
const unknown = only?.filter((name) => !CONFIGS.some(([n]) => n === name)) ?? [];
if (unknown.length) throw new Error(`--only: no configuration named ${unknown.join(', ')} (there are: ${CONFIGS.map(([n]) => n).join(', ')})`);
// In --only's order: the table's rows, and the first one's folders hold the ceiling.
const chosen = only ? only.map((name) => CONFIGS.find(([n]) => n === name)!) : CONFIGS;

const evalSamples = options.quick ? '500' : '1000';
const root = 'runs/ablation';
const docs = 'docs/ablation';
mkdirSync(docs, { recursive: true });

/** A run's metrics.jsonl, a record per step. */
function readMetrics(dir: string): { step: number; accuracy: number; seconds: number }[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

function stepsTo99(acc: { step: number; accuracy: number }[]): number | null {
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



const CEILING_CONFIDENCE = '0.9';
const realData = existsSync(DEBIAN_FASHION_MNIST) ? ['--real-data', DEBIAN_FASHION_MNIST, '--real-cache', join(root, 'real-cache')] : [];
const cgan = (args: string[]) => execFileSync('npx', ['tsx', 'src/train/cli.ts', ...args], { stdio: 'inherit' });

/** Train (or resume, or re-grade) one configuration at one seed; returns its run folder. */
function runSeed(name: string, label: string, flags: string[], seed: number): string {
  const dir = join(root, name, `seed-${seed}`);
  if (existsSync(join(dir, 'checkpoint', 'state.json')) && !finished(dir)) {
    console.log(`\n== ${label}, seed ${seed}: resuming ${dir}`);
    cgan(['train', '--out', dir, '--resume', '--eval-samples', evalSamples, ...realData]);
  } else if (!existsSync(join(dir, 'checkpoint', 'state.json'))) {
    // --latent-pool 0: the rows compare input generators; the latent filter, which leaves their training as it was, has its own section.
    console.log(`\n== ${label}, seed ${seed}: npm run train -- ${flags.join(' ')} --latent-pool 0 --seed ${seed}`);
    cgan(['train', '--out', dir, '--force', '--eval-samples', evalSamples, ...flags, '--latent-pool', '0', '--seed', String(seed), ...realData]);
  } else if (!paneled(join(dir, 'report.json'))) {
    console.log(`\n== ${label}, seed ${seed}: npm run eval -- --run ${dir} (the judge panel)`);
    cgan(['eval', '--run', dir, '--eval-samples', evalSamples, ...realData]);
  }
  return dir;
}

/** The grids of a row, one per seed: copied into docs/ablation where the run folder is here. */
function grids(dirs: string[], grid: (dir: string) => string, stem: string, rowSeeds = seeds): string {
  return dirs
    .map((dir, k) => {
      const file = `${stem}-seed${rowSeeds[k]}.png`;
      if (existsSync(dir)) copyFileSync(grid(dir), join(docs, file));
      return `[seed ${rowSeeds[k]}](ablation/${file})`;
    })
    .join(' ');
}

const record = (stem: string, seed: number) => join(docs, 'records', `${stem}-seed${seed}.json`);
const summarise = (dir: string) => ({ trainMinutes: trainMinutes(dir), stepsTo99: stepsTo99(readMetrics(dir)) });
/**
 * A run of row `name` kept only as its record (named `stem`: the row's own, or the ceiling's, which
 * lives in a row's folder): its folder is gone, so nothing is trained and the record is read.
 */
const recordOnly = (name: string, seed: number, stem = name) => existsSync(record(stem, seed)) && !existsSync(join(root, name, `seed-${seed}`));
const noRuns = (name: string) => seeds.every((seed) => !existsSync(join(root, name, `seed-${seed}`)) && !existsSync(record(name, seed)));

const rows: string[] = [];
for (const [name, label, flags] of chosen) {
  const documented = documentedRows('docs/ablation.md', label, END);
  if (options.documented && noRuns(name) && documented.length) {
    rows.push(documented[0]);
    continue;
  }
  const dirs = seeds.map((seed) => (recordOnly(name, seed) ? join(root, name, `seed-${seed}`) : runSeed(name, label, flags, seed)));
  const records = dirs.map((dir, k) => keptRun(dir, record(name, seeds[k]), summarise) as RunRecord);
  const reports = records.map((r) => r.report);
  const steps = records.map((r) => r.stepsTo99 ?? undefined);
  const reached = steps.filter((s) => s !== undefined).length;
  const stepsCell = reached === dirs.length ? overSeeds(steps, 0, false) : `${overSeeds(steps, 0, false)}; not reached by ${dirs.length - reached}`;
  // The training steps' wall time alone, without anchors and grading.
  const minutes = overSeeds(records.map((r) => r.trainMinutes), 1, false);
  rows.push(`| ${label} | ${figures(reports).join(' | ')} | 1 | ${stepsCell} | ${minutes} | ${grids(dirs, lastGrid, name)} |`);
}

// The ceiling: no training, G's prior kept where the frozen VGG gives the class >= 0.9, graded
// alike, once per seed (the prior filter draws with the run's seed and uses only its G and
// classifier), in the first row's folders; kept as a record per seed, whichever row's folders held it.
const ceilingLabel = `ceiling, no training: G's prior kept where the frozen VGG gives the class >= ${CEILING_CONFIDENCE} (seeds ${ceilingSeeds.join(', ')})`;
const ceilingStem = `prior-filter_${CEILING_CONFIDENCE}`;
const ceilingDocumented = documentedRows('docs/ablation.md', ceilingLabel, END);
const ceilingHere = ceilingSeeds.some((seed) => existsSync(record(ceilingStem, seed)) || existsSync(join(root, chosen[0][0], `seed-${seed}`, `report_${ceilingStem}.json`)));
if (options.documented && !ceilingHere && ceilingDocumented.length) rows.push(ceilingDocumented[0]);
else {
  const [name, label, flags] = chosen[0];
  const stem = ceilingStem;
  const records = ceilingSeeds.map((seed) => {
    if (recordOnly(name, seed, stem)) return keptRun(join(root, name, `seed-${seed}`), record(stem, seed), () => ({ trainMinutes: 0 }))!;
    const dir = runSeed(name, label, flags, seed);
    if (!paneled(join(dir, `report_${stem}.json`))) {
      console.log(`\n== ceiling: npm run eval -- --run ${dir} --sampler prior-filter --confidence ${CEILING_CONFIDENCE}`);
      cgan(['eval', '--run', dir, '--sampler', 'prior-filter', '--confidence', CEILING_CONFIDENCE, '--eval-samples', evalSamples, ...realData]);
    }
    return keptRun(dir, record(stem, seed), () => ({ trainMinutes: 0 }), `report_${stem}.json`)!;
  });
  const reports = records.map((r) => r.report);
  const cost = overSeeds(reports.map((r) => (r.sampler?.kind === 'prior-filter' ? r.sampler.passesPerSample : undefined)), 1, false);
  const dirs = ceilingSeeds.map((seed) => join(root, name, `seed-${seed}`));
  rows.push(`| ${ceilingLabel} | ${figures(reports).join(' | ')} | ${cost} | - | - | ${grids(dirs, (dir) => join(dir, `samples_${stem}.png`), stem, ceilingSeeds)} |`);
}

// The generated part sits between markers, so the hand-written reading below it survives a rerun.
const BEGIN = '<!-- generated by npm run ablation -->';
const generated = `${BEGIN}
# Ablation on the default pair, over seeds ${seeds.join(', ')}

Produced by \`npm run ablation${only ? ` -- --only ${only.join(',')}` : ''}\` (each row one \`npm run train\` per seed,
the flags in the row's name as in src/train/ablation.ts; ${evalSamples} graded samples per run; real
figures from Debian's dataset-fashion-mnist). Every cell is the mean over the seeds ± half their
spread (max - min), and the worst seed. Judges, side by side: ${PANEL.map((l, k) => `${SHORT[k]} = ${l}`).join(' and ')} (models/README.md),
each against its own yardsticks; judges grade only (never in a loss, never choosing anchors or
picking samples). Judge accuracy: the share of samples it gives the requested class; "of real": its
ratio to the judge's own accuracy on real test images. Variety: mean pairwise distance of the
judge's penultimate features within a class over 100 samples, divided by the same over every real
test image of that class (about 1,000), averaged over classes. Fréchet: per class on the judge's
features against those real test images, averaged. G passes: generator passes per graded sample (1
for a trained input generator). Steps to 99%: first step where the mean batch accuracy of the frozen
classifier over the last 10 steps reaches 0.99. Train minutes: the training steps alone, on the
machine that ran them. Grids: the final epoch of each seed, one row per class. The last row is the
ceiling: no training, G's prior N(0, I) kept where the frozen VGG gives the class probability >=
${CEILING_CONFIDENCE} (\`npm run eval -- --sampler prior-filter\`), at the price in its G passes column.

| configuration | frozen-classifier acc. | ${SHORT.map((l) => `${l} acc. | ${l} acc. of real | ${l} variety of real | ${l} Fréchet`).join(' | ')} | G passes / sample | steps to 99% | train minutes | grids |
| --- | --- | ${PANEL.map(() => '--- | --- | --- | ---').join(' | ')} | --- | --- | --- | --- |
${rows.join('\n')}
${END}`;
replaceGenerated('docs/ablation.md', generated, END);
