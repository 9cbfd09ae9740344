// `npm run baseline`: the tables of docs/baseline.md (issue 17), from runs made by the project's own
// commands (a git checkout): data-free conditioning with `npm run train` (runs/ablation/half-prior-range,
// the default's flags), the paper's loss alone (runs/ablation/paper), the label-trained
// conditional DCGAN with `npm run cgan` (runs/baseline/cgan; cgan-2epochs and cgan-3epochs: copies
// trained on with --resume --epochs 2, then 3; cgan-5epochs: runs of --epochs 5, and cgan-6epochs
// their copies trained on to 6; cgan-sn-hinge-5epochs: runs of --spectral-norm --loss hinge --epochs 5;
// cgan-ema-5epochs: runs of --epochs 5 --ema 0.999 (the default command's bytes since 2026-12-05),
// and cgan-ema-2epochs their copies at the end of epoch 2; cgan-projection-2epochs and
// cgan-projection-sn-hinge-2epochs: runs of --discriminator projection, alone and with
// --spectral-norm --loss hinge; cgan-acgan-2epochs: runs of --discriminator auxiliary --epochs 5
// copied at the end of epoch 2 and stopped; cgan-nearest-5epochs: runs of --upsampling nearest
// --epochs 5, and cgan-nearest-2epochs their copies at the end of epoch 2; cgan-width32-3epochs: runs
// of --width 32 --epochs 3, and cgan-width32-2epochs their copies at the end of epoch 2;
// cgan-batchnorm-2epochs: runs of --generator-conditioning batchnorm, and
// cgan-batchnorm-projection-2epochs the same with --discriminator projection --spectral-norm --loss hinge), and the transfer question's runs of `npm run cgan -- --generator`
// (runs/transfer), each seed a run folder seed-<s> graded with --real-data. It trains nothing: it
// reads the runs' report.json, metrics.jsonl and last grid, keeping the report and minutes as a
// record in docs/baseline/records that is read when the run folder is gone (a row with neither
// keeps its lines), and says which seeds each row has. Every cell is the mean over the seeds ± half
// their spread, and the worst seed.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { samplingTag, STANDING_BATCH, type CganSampling } from './cgan.js';
import type { Report } from './evaluate.js';
import { FASHION_MNIST_CLASSES } from './fashionMnist.js';
import { writeFileAtomic } from './files.js';
import { PALETTE, plotTradeoff, type TradeoffPoint } from './plot.js';
import { documentedRows, END, figures, keptRun, lastGrid, overSeeds, PANEL, replaceGenerated, type RunRecord, SHORT, trainMinutes } from './seedTable.js';
import { TEMPERATURES } from './temperatureChoice.js';

interface BaselineRow {
  dir: string;
  label: string;
  command: string;
  /** Training images (and as many labels) a run reads. */
  images: string;
  /**
   * The runs graded again, drawn otherwise (`npm run eval -- --temperature T --standing-stats N`):
   * the row reads their report_<samplingTag>.json and shows samples_<samplingTag>.png. Absent or
   * {}: as trained.
   */
  sampling?: CganSampling;
}

const ROWS: BaselineRow[] = [
  {
    dir: 'runs/ablation/half-prior-range',
    label: 'data-free conditioning (the default `npm run train`)',
    command: 'npm run train -- --seed <s>',
    images: '0 / 0',
  },
  {
    dir: 'runs/ablation/paper',
    label: "the paper's loss alone",
    command: "npm run train -- <the ablation's 'paper' flags> --seed <s>",
    images: '0 / 0',
  },
  {
    dir: 'runs/baseline/cgan',
    label: 'the label-trained conditional DCGAN, one epoch (`npm run cgan -- --epochs 1`)',
    command: 'npm run cgan -- --epochs 1 --ema 0 --seed <s>',
    images: '60,000 / 60,000 (one epoch)',
  },
  {
    // Copies of the 1-epoch runs trained on: the same bytes as runs started with --epochs 2.
    dir: 'runs/baseline/cgan-2epochs',
    label: 'the same, two epochs, sampled from G\'s own weights (the default `npm run cgan` until 2026-12-04, `--ema 0`)',
    command: 'npm run cgan -- --out <a copy of the 1-epoch seed s> --resume --epochs 2',
    images: '60,000 / 60,000 (two epochs)',
  },
  {
    dir: 'runs/baseline/cgan-3epochs',
    label: 'the same, three epochs (past the 30-minute budget)',
    command: 'npm run cgan -- --out <a copy of the 2-epoch seed s> --resume --epochs 3',
    images: '60,000 / 60,000 (three epochs)',
  },
  {
    dir: 'runs/baseline/cgan-5epochs',
    label: 'the same, five epochs (the 30 minutes of an AVX-512 machine)',
    command: 'npm run cgan -- --epochs 5 --ema 0 --seed <s>',
    images: '60,000 / 60,000 (five epochs)',
  },
  {
    dir: 'runs/baseline/cgan-6epochs',
    label: 'the same, six epochs (past that budget)',
    command: 'npm run cgan -- --out <a copy of the 5-epoch seed s> --resume --epochs 6',
    images: '60,000 / 60,000 (six epochs)',
  },
  {
    dir: 'runs/baseline/cgan-sn-hinge-5epochs',
    label: "five epochs with SNGAN's recipe: spectral norm on D, the hinge loss",
    command: 'npm run cgan -- --spectral-norm --loss hinge --epochs 5 --ema 0 --seed <s>',
    images: '60,000 / 60,000 (five epochs)',
  },
  {
    // Copies of the 5-epoch runs with --ema 0.999 at the end of epoch 2: the same bytes as runs of --epochs 2.
    dir: 'runs/baseline/cgan-ema-2epochs',
    label: "two epochs, sampled from the average of G's weights (`--epochs 2`; the default `npm run cgan` of 2026-12-04)",
    command: 'npm run cgan -- --epochs 2 --seed <s>',
    images: '60,000 / 60,000 (two epochs)',
  },
  {
    // The same folders as cgan-ema-2epochs with emaDecay dropped from config.json: G's own weights of the same runs.
    dir: 'runs/baseline/cgan-own-2epochs',
    label: "the same two-epoch runs, sampled from G's own weights (`--ema 0`)",
    command: 'npm run cgan -- --ema 0 --seed <s>',
    images: '60,000 / 60,000 (two epochs)',
  },
  {
    dir: 'runs/baseline/cgan-ema-5epochs',
    label: "five epochs, sampled from the average of G's weights: the default `npm run cgan` (since 2026-12-05)",
    command: 'npm run cgan -- --seed <s>',
    images: '60,000 / 60,000 (five epochs)',
  },
  {
    dir: 'runs/baseline/cgan-projection-2epochs',
    label: 'two epochs with a projection discriminator (`--discriminator projection`)',
    command: 'npm run cgan -- --discriminator projection --ema 0 --seed <s>',
    images: '60,000 / 60,000 (two epochs)',
  },
  {
    dir: 'runs/baseline/cgan-projection-sn-hinge-2epochs',
    label: "two epochs, projection discriminator with SNGAN's recipe (`--discriminator projection --spectral-norm --loss hinge`)",
    command: 'npm run cgan -- --discriminator projection --spectral-norm --loss hinge --ema 0 --seed <s>',
    images: '60,000 / 60,000 (two epochs)',
  },
  {
    // Copies of runs of --epochs 5 at the end of epoch 2, stopped there: every class had collapsed to one image.
    dir: 'runs/baseline/cgan-acgan-2epochs',
    label: 'two epochs with an auxiliary classifier in D (AC-GAN, `--discriminator auxiliary`)',
    command: 'npm run cgan -- --discriminator auxiliary --seed <s>',
    images: '60,000 / 60,000 (two epochs)',
  },
  {
    // Copies of the 5-epoch runs below at the end of epoch 2: the same bytes as runs of this command.
    dir: 'runs/baseline/cgan-nearest-2epochs',
    label: 'two epochs, G upsampling by nearest neighbour and 3x3 convs (`--upsampling nearest`)',
    command: 'npm run cgan -- --upsampling nearest --seed <s>',
    images: '60,000 / 60,000 (two epochs)',
  },
  {
    dir: 'runs/baseline/cgan-nearest-5epochs',
    label: 'five epochs, G upsampling by nearest neighbour and 3x3 convs (`--upsampling nearest`)',
    command: 'npm run cgan -- --upsampling nearest --epochs 5 --seed <s>',
    images: '60,000 / 60,000 (five epochs)',
  },
  {
    // Copies of the 3-epoch runs below at the end of epoch 2: the same bytes as runs of this command.
    dir: 'runs/baseline/cgan-width32-2epochs',
    label: 'two epochs at width 32 (`--width 32`)',
    command: 'npm run cgan -- --width 32 --seed <s>',
    images: '60,000 / 60,000 (two epochs)',
  },
  {
    dir: 'runs/baseline/cgan-width32-3epochs',
    label: 'three epochs at width 32 (`--width 32 --epochs 3`)',
    command: 'npm run cgan -- --width 32 --epochs 3 --seed <s>',
    images: '60,000 / 60,000 (three epochs)',
  },
  {
    dir: 'runs/baseline/cgan-batchnorm-2epochs',
    label: "two epochs, G conditioned by batchnorm: each class its batchnorms' gains and biases (`--generator-conditioning batchnorm`)",
    command: 'npm run cgan -- --generator-conditioning batchnorm --seed <s>',
    images: '60,000 / 60,000 (two epochs)',
  },
  {
    dir: 'runs/baseline/cgan-batchnorm-projection-2epochs',
    label: "two epochs, G conditioned by batchnorm with the projection discriminator and SNGAN's recipe (`--generator-conditioning batchnorm --discriminator projection --spectral-norm --loss hinge`)",
    command: 'npm run cgan -- --generator-conditioning batchnorm --discriminator projection --spectral-norm --loss hinge --seed <s>',
    images: '60,000 / 60,000 (two epochs)',
  },
];

/**
 * The transfer question (issue 17; Wang et al., "Transferring GANs", in shared/papers): the default
 * generator fine-tuned with a fresh discriminator on a few labelled images, against its
 * architecture trained from scratch on the same images, at one budget of steps.
 */
const TRANSFER_IMAGES = [100, 1000, 10000];
const TRANSFER_FLAGS = '--batch 32 --epochs 4 --steps-per-epoch 250 --grade-every 125 --grade-samples 200 --ema 0';
const TRANSFER_GENERATOR = '--generator models/fmnist_biggan32_G.safetensors';
const TRANSFER_ROWS: BaselineRow[] = TRANSFER_IMAGES.flatMap((n) => {
  const count = n.toLocaleString('en-US');
  const common = `--train-images ${n} ${TRANSFER_FLAGS} --seed <s>`;
  return [
    {
      dir: `runs/transfer/pretrained-${n}`,
      label: `the default G fine-tuned, ${count} images`,
      command: `npm run cgan -- ${TRANSFER_GENERATOR} --lr 5e-5 --lr-new 2e-4 ${common}`,
      images: `${count} / ${count}`,
    },
    {
      // The same, the class rows drawn fresh (N(0, 1), as from scratch): no symmetric start to break.
      dir: `runs/transfer/fresh-${n}`,
      label: `the default G fine-tuned, its class rows drawn fresh, ${count} images`,
      command: `npm run cgan -- ${TRANSFER_GENERATOR} --fresh-embedding --lr 5e-5 --lr-new 2e-4 ${common}`,
      images: `${count} / ${count}`,
    },
    {
      dir: `runs/transfer/scratch-${n}`,
      label: `its architecture from scratch, ${count} images`,
      command: `npm run cgan -- ${TRANSFER_GENERATOR} --from-scratch --lr 2e-4 ${common}`,
      images: `${count} / ${count}`,
    },
  ];
});

/**
 * Sampling temperature (GeneratorPrior): the cGAN runs graded again with z from N(0, T^2 I), each
 * T for every seed (`npm run eval -- --run <seed folder> --eval-samples 1000 --real-data ...
 * --temperature T`): how much variety buys how much recognisability. Nothing is chosen here; the
 * grid is the one --temperature auto chooses from (temperatureChoice.ts).
 */
const TEMPERATURE_SETS = [
  { dir: 'runs/baseline/cgan-ema-2epochs', label: 'two epochs (`--epochs 2`)', short: '2 epochs', images: '60,000 / 60,000 (two epochs)' },
  { dir: 'runs/baseline/cgan-ema-5epochs', label: 'the default `npm run cgan` (five epochs)', short: 'the default (5 epochs)', images: '60,000 / 60,000 (five epochs)' },
  { dir: 'runs/baseline/cgan-width32-3epochs', label: 'three epochs at width 32 (`--width 32 --epochs 3`)', short: 'width 32, 3 epochs', images: '60,000 / 60,000 (three epochs)' },
];
/** The same runs and temperatures with G's batchnorm statistics measured at each (`--standing-stats`, BigGAN's standing statistics). */
const STANDING_STATS = 16;
const temperatureRows = (standingStats?: number): BaselineRow[] =>
  TEMPERATURE_SETS.flatMap((set) =>
    TEMPERATURES.map((T) => {
      const sampling: CganSampling = { ...(T === 1 ? {} : { temperature: T }), ...(standingStats ? { standingStats } : {}) };
      const flags = `${T === 1 ? '' : ` --temperature ${T}`}${standingStats ? ` --standing-stats ${standingStats}` : ''}`;
      return {
        dir: set.dir,
        label: `${set.label}, temperature ${T}${T === 1 && !standingStats ? ' (as trained)' : ''}${standingStats ? `, standing statistics (${standingStats} batches)` : ''}`,
        command: `npm run eval -- --run <the run of seed s> --eval-samples 1000 --real-data ...${flags}`,
        images: set.images,
        sampling,
      };
    }),
  );
const TEMPERATURE_ROWS = temperatureRows();
const STANDING_ROWS = temperatureRows(STANDING_STATS);

const options = new Command('cgan baseline')
  .description('write the table of docs/baseline.md from the runs of its rows (see src/train/baselineTable.ts); trains nothing')
  .option('--seeds <list>', 'comma-separated seeds to look for', '0,1,2')
  .parse()
  .opts<{ seeds: string }>();
const seeds = options.seeds.split(',').map(Number);
const docs = 'docs/baseline';
const DOC = 'docs/baseline.md';
mkdirSync(docs, { recursive: true });

/** Per class, over seeds, the mean of each judge's Fréchet distance. */
function perClassFrechet(reports: Report[], label: string): string[] {
  return FASHION_MNIST_CLASSES.map((_, c) => {
    const values = reports.map((r) => r.judges?.find((j) => j.label === label)?.perClass?.[c]?.frechet ?? undefined);
    return overSeeds(values, 1, false);
  });
}

/**
 * The rows of one table and of its per-class Fréchet table, from the runs that are here: in
 * runs/, or as the records kept in docs/baseline/records (keptRun). A row with neither keeps its lines.
 */
function tableRows(rows: BaselineRow[]): { main: string[]; frechet: string[]; reports: Report[][] } {
  const main: string[] = [];
  const frechet: string[] = [];
  const reportsByRow: Report[][] = [];
  for (const row of rows) {
    const tag = samplingTag(row.sampling ?? {});
    const name = `${row.dir.split('/').pop()}${tag ? `-${tag}` : ''}`;
    const report = tag ? `report_${tag}.json` : 'report.json';
    const kept = seeds.map((s) =>
      keptRun(join(row.dir, `seed-${s}`), join(docs, 'records', `${name}-seed${s}.json`), (dir) => ({ trainMinutes: trainMinutes(dir) }), report),
    );
    const found = seeds.filter((_, k) => kept[k]);
    reportsByRow.push(kept.filter((r): r is RunRecord => r !== undefined).map((r) => r.report));
    if (!found.length) {
      const documented = documentedRows(DOC, row.label, END);
      const isFrechet = (line: string) => SHORT.includes(line.split('|')[2].trim());
      main.push(...documented.filter((l) => !isFrechet(l)).slice(0, 1));
      if (!documented.length) main.push(`| ${row.label} | no run yet (${row.dir}) |`);
      frechet.push(...documented.filter(isFrechet));
      continue;
    }
    const records = kept.filter((r): r is RunRecord => r !== undefined);
    const reports = records.map((r) => r.report);
    const grids = found
      .map((seed) => {
        const dir = join(row.dir, `seed-${seed}`);
        const file = `${name}-seed${seed}.png`;
        const curveFile = file.replace(/\.png$/, '-judge-curve.png');
        if (existsSync(dir)) {
          copyFileSync(tag ? join(dir, `samples_${tag}.png`) : lastGrid(dir), join(docs, file));
          // A cGAN run's judge accuracy against training time (cgan --grade-every), where it has one.
          if (!tag && existsSync(join(dir, 'judge-curve.png'))) copyFileSync(join(dir, 'judge-curve.png'), join(docs, curveFile));
        }
        const curve = !tag && existsSync(join(docs, curveFile)) ? ` ([curve](baseline/${curveFile}))` : '';
        return `[seed ${seed}](baseline/${file})${curve}`;
      })
      .join(' ');
    const minutes = overSeeds(records.map((r) => r.trainMinutes), 1, false);
    main.push(`| ${row.label} | ${found.join(', ')} | ${figures(reports).join(' | ')} | ${row.images} | ${minutes} | ${grids} |`);
    for (const label of PANEL) frechet.push(`| ${row.label} | ${SHORT[PANEL.indexOf(label)]} | ${perClassFrechet(reports, label).join(' | ')} |`);
  }
  return { main, frechet, reports: reportsByRow };
}

const HEADER = `| row | seeds | frozen-classifier acc. | ${SHORT.map((l) => `${l} acc. | ${l} acc. of real | ${l} variety of real | ${l} Fréchet`).join(' | ')} | training images / labels | train minutes | grids |
| --- | --- | --- | ${PANEL.map(() => '--- | --- | --- | ---').join(' | ')} | --- | --- | --- |`;
const FRECHET_HEADER = `| row | judge | ${FASHION_MNIST_CLASSES.join(' | ')} |
| --- | --- | ${FASHION_MNIST_CLASSES.map(() => '---').join(' | ')} |`;
const baseline = tableRows(ROWS);
const transfer = tableRows(TRANSFER_ROWS);
const tempered = tableRows(TEMPERATURE_ROWS);
const standing = tableRows(STANDING_ROWS);

/** A judge's accuracy (of real) against variety (of real) over the seeds' reports: means and half spreads. */
function tradeoffPoint(reports: Report[], label: string, tag?: string): TradeoffPoint[] {
  const js = reports.map((r) => r.judges?.find((j) => j.label === label)).filter((j) => j?.accuracyRatio !== undefined && j.meanVarietyRatio !== undefined);
  if (!js.length) return [];
  const stats = (v: number[]) => ({ mean: v.reduce((a, b) => a + b, 0) / v.length, half: (Math.max(...v) - Math.min(...v)) / 2 });
  const x = stats(js.map((j) => j!.meanVarietyRatio!));
  const y = stats(js.map((j) => j!.accuracyRatio!));
  return [{ x: x.mean, y: y.mean, xSpread: x.half, ySpread: y.half, tag }];
}

/**
 * The same point from a row's documented line, for a row whose runs and records are gone (the
 * data-free rows predate the records): its "acc. of real" and "variety of real" cells, `mean ± half`.
 */
function documentedPoint(label: string, judge: number): TradeoffPoint[] {
  const line = documentedRows(DOC, label, END).find((l) => !SHORT.includes(l.split('|')[2].trim()));
  if (!line) return [];
  const cells = line.split('|').slice(1, -1).map((c) => c.trim());
  // | row | seeds | frozen | then per judge: acc. | acc. of real | variety of real | Fréchet |
  const cell = (k: number) => /^([\d.]+)(?: ± ([\d.]+))?/.exec(cells[3 + 4 * judge + k]);
  const [y, x] = [cell(1), cell(2)];
  if (!x || !y) return [];
  return [{ x: Number(x[1]), y: Number(y[1]), xSpread: Number(x[2] ?? 0), ySpread: Number(y[2] ?? 0) }];
}

const TRADEOFF = 'temperature-tradeoff.png';
if (tempered.reports.some((r) => r.length)) {
  const panels = PANEL.map((label, k) => ({
    title: `${SHORT[k]} judge: recognised against varied`,
    xLabel: 'variety, of real test images',
    yLabel: 'accuracy, of real test images',
    series: [
      ...TEMPERATURE_SETS.flatMap((set, j) =>
        [
          { rows: TEMPERATURE_ROWS, table: tempered, what: '' },
          { rows: STANDING_ROWS, table: standing, what: ', standing statistics' },
        ].map(({ rows, table, what }) => ({
          label: `cGAN, ${set.short}${what}: T ${TEMPERATURES[0]} to ${TEMPERATURES[TEMPERATURES.length - 1]}`,
          color: PALETTE[j],
          dashed: what !== '',
          points: rows.flatMap((row, i) => (row.dir === set.dir ? tradeoffPoint(table.reports[i], label, `${row.sampling?.temperature ?? 1}`) : [])),
        })),
      ),
      {
        label: 'data-free conditioning (the default npm run train)',
        color: PALETTE[TEMPERATURE_SETS.length],
        points: baseline.reports[0].length ? tradeoffPoint(baseline.reports[0], label) : documentedPoint(ROWS[0].label, k),
      },
    ],
    guides: [
      { y: 1, label: 'as recognisable as real' },
      { x: 0.8, label: '0.8 of real variety' },
    ],
  }));
  writeFileAtomic(join(docs, TRADEOFF), plotTradeoff(panels));
}

const generated = `<!-- generated by npm run baseline -->
# Data-free conditioning against a conditional GAN trained on the labels

Produced by \`npm run baseline\` from runs of the project's own commands, one run folder per seed
(src/train/baselineTable.ts names them); each graded with \`--eval-samples 1000 --real-data
/usr/share/datasets/fashion-mnist\`. Every cell is the mean over the row's seeds ± half their
spread (max - min), and the worst seed. Judges: ${PANEL.map((l, k) => `${SHORT[k]} = ${l}`).join(' and ')}, each
against its own real-image yardsticks; they grade only. Accuracy: the share of samples the judge
gives the requested class ("of real": over its accuracy on real test images). Variety: the
judge's within-class feature spread over that of the real test images of the class. Fréchet: per
class on the judge's features against the real test images of the class, averaged over classes
(by class below). Images / labels: the training images and labels a run reads. Train minutes: the
training steps alone (metrics.jsonl), on the 2-core machine that ran them (an AVX2 CPU until
2026-12-02; an AVX-512 one, about twice as fast here, for the five-epoch row), often running other
work at the same time (so the minutes are upper bounds). Each run's report is kept in
docs/baseline/records, so the table can be written again without its run folders. Grids: the last epoch of each seed;
curves: the judges' accuracy on G's samples against training minutes, where the run graded them.

${HEADER}
${baseline.main.join('\n')}

Fréchet distance by class (lower is better), mean over the row's seeds ± half the spread (worst):

${FRECHET_HEADER}
${baseline.frechet.join('\n')}

## The transfer question

The default generator (\`models/fmnist_biggan32_G.safetensors\`, an unconditional BigGAN trained on
Fashion-MNIST) fine-tuned as a conditional GAN with a fresh discriminator (the cGAN's, width 16) on
100, 1,000 and 10,000 labelled training images, an equal share a class, against the same
architecture trained from scratch on the same images (Wang et al., "Transferring GANs", in
shared/papers). Fine-tuning gives the class embedding a row a class, each starting as the
generator's own, so that every class starts as the unconditional generator; the "drawn fresh"
rows (\`--fresh-embedding\`) draw those rows N(0, 1) instead, as from scratch. Learning rates (Adam,
beta1 0.5, BCE): from scratch, the cGAN's 2e-4 for everything; fine-tuned, 2e-4 for what starts
fresh (D and G's class embedding, \`--lr-new\`) and 5e-5 for G's pretrained weights (\`--lr\`), since
the pretrained images fall apart within 50 steps at 2e-4 and within 200 at 1e-4 (probe grids in
the reading below). The seeds column says which seeds a row has; the train minutes ran beside other runs. One budget
for every row: \`${TRANSFER_FLAGS}\` (1,000 steps of 32: 32,000 images drawn, about what the cGAN
reads before its judges pass 0.5). Each row: \`npm run cgan -- ${TRANSFER_GENERATOR} <the row's learning
rates and flags> --train-images <n> ${TRANSFER_FLAGS} --seed <s>\`, graded as above.

${HEADER}
${transfer.main.join('\n')}

Fréchet distance by class:

${FRECHET_HEADER}
${transfer.frechet.join('\n')}

## Sampling temperature: recognisability against variety

The cGAN runs above (two epochs, the default five, and width 32 for three), each seed graded again with z drawn from
N(0, T^2 I) instead of N(0, I): \`npm run eval -- --run <seed folder> --eval-samples 1000 --real-data
/usr/share/datasets/fashion-mnist --temperature T\` (report_temperature<T>.json). A lower temperature
keeps G's draws nearer the centre of its prior: more typical images, less variety (Kingma &
Dhariwal's reduced temperature, the smooth form of BigGAN's truncation). Every temperature is
shown; none is chosen by a judge. Grids: the training grids' noise at that temperature, so each
row compares with the run's last epoch image by image. The curves: each judge's accuracy against
its variety, both over real test images, mean over seeds with their half spread as a cross.

![The judges' accuracy against variety as the temperature falls](baseline/${TRADEOFF})

${HEADER}
${tempered.main.join('\n')}

Fréchet distance by class:

${FRECHET_HEADER}
${tempered.frechet.join('\n')}

### With standing statistics

The same runs and temperatures with \`--standing-stats ${STANDING_STATS}\` added: before sampling, G's
batchnorm statistics are measured afresh on ${STANDING_STATS} batches of ${STANDING_BATCH} of its own draws at that
temperature, an equal share a class (BigGAN's standing statistics, Brock et al. 2019; PyTorch's
\`torch.optim.swa_utils.update_bn\`), instead of the ones the run stored. Those are the average of
weights' own average of G's running statistics (\`--ema\`), measured on other weights' batches at
temperature 1. The dashed curves in the picture above. The graded noise is the same as in the table above; only the
statistics differ.

${HEADER}
${standing.main.join('\n')}

Fréchet distance by class:

${FRECHET_HEADER}
${standing.frechet.join('\n')}
${END}`;
replaceGenerated(DOC, generated, END);
