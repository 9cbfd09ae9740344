// Grading a run folder, as `cgan train` does at its end and `cgan eval` does on demand: its
// samples (from the trained input generator, or from G's prior filtered by the frozen classifier,
// the ceiling) graded by the frozen classifier and by a panel of judges, each against the
// yardsticks kept beside it (<judge>_yardsticks.json) or computed from --real-data.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { requireCheckpoint } from '../cli/options.js';
import { PACKAGE_ROOT } from '../engine/packageRoot.js';
import { runtime } from '../engine/runtime.js';
import { loadClassifier } from '../models/load.js';
import {
  evalQuotas,
  evaluate,
  formatReport,
  realFeatures,
  shortLabels,
  writeReport,
  type JudgeSpec,
  type RealFigures,
  type Report,
  type Yardsticks,
} from './evaluate.js';
import { fashionMnistFiles } from './fashionMnist.js';
import { shownPath, writeFileAtomic } from './files.js';
import { writeImageGrid } from './images.js';
import { cganPipeline, describeSampling, isCganRun, samplingTag, type CganConfig, type CganOptions, type CganSampling } from './cgan.js';
import { GeneratorPrior, type LatentSampler } from './inputGenerator.js';
import { ConditioningPipeline } from './pipeline.js';
import { DEFAULT_PASSES_PER_SAMPLE, filterProgress, generateLatents, priorFilter, type LatentScreen } from './priorFilter.js';
import { labelPool } from './anchors.js';
import type { LatentClassifier } from './latentClassifier.js';
import { latentClassifierPath, readLatentClassifier, writeLatentClassifier } from './latentClassifierFile.js';
import { buildPipeline, restoreCheckpoint, sampleGrid, type TrainConfig } from './trainer.js';

/** The public judges (models/README.md): the panel every report grades with unless --judge says otherwise. */
export const PUBLIC_JUDGES = [
  join(PACKAGE_ROOT, 'models', 'fmnist_vgg_judge32.safetensors'),
  join(PACKAGE_ROOT, 'models', 'fmnist_resnet_judge32.safetensors'),
];

/** Where a judge's yardsticks live: models/fmnist_vgg_judge32.safetensors -> fmnist_vgg_judge32_yardsticks.json. */
export function judgeYardsticks(judge: string): string {
  return judge.replace(/\.(safetensors|pth|pt|bin)$/i, '') + '_yardsticks.json';
}

/** --judge's parser: comma-separated, repeatable; the values so far accumulate. */
export function collectJudges(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((v) => v.trim()).filter((v) => v !== '')];
}

/** The judges --judge names, as absolute paths, each checked to be a checkpoint: [] for `none`, the public panel when absent. */
export function resolveJudges(values: string[] | undefined): string[] {
  if (values === undefined) return [...PUBLIC_JUDGES];
  if (values.includes('none')) {
    if (values.length > 1) throw new Error(`--judge none grades with no judge; it cannot be combined with ${values.filter((v) => v !== 'none').join(', ')}`);
    return [];
  }
  if (values.length === 0) throw new Error('--judge: give a judge file, a comma-separated list of them, or none');
  const paths = [...new Set(values.map((v) => resolve(v)))];
  paths.forEach((path, i) =>
    requireCheckpoint(
      path,
      `the judge${paths.length > 1 ? ` (${i + 1} of ${paths.length} in --judge)` : ''}: a VGG or ResNet .pth or a converted .safetensors, or --judge none`,
    ),
  );
  return paths;
}

export function defaultEvalSamples(isSoftware: boolean, asked: number | undefined, quiet = false): number {
  if (asked !== undefined) return asked;
  if (isSoftware) {
    if (!quiet) console.log('note: software adapter, so the report grades 2,000 samples instead of 64,000 (--eval-samples to change)');
    return 2000;
  }
  return 64000;
}

export interface PriorFilterSampler {
  /** latent-filter: prior draws screened on z by a classifier distilled from the frozen one (latentClassifier.ts). */
  kind: 'prior-filter' | 'latent-filter';
  confidence: number;
  /** Most G passes; default DEFAULT_PASSES_PER_SAMPLE per graded sample. */
  budget?: number;
  /** latent-filter: the probability the classifier on z must give the class for a draw to go through G. */
  screen?: number;
  /** latent-filter: prior samples the frozen classifier labels to train the classifier on z. */
  pool?: number;
}

/** latent-filter's defaults: the screen's threshold and the labelled pool (docs/ablation.md, "A classifier on z"). */
export const LATENT_FILTER_DEFAULTS = { screen: 0.7, confidence: 0.5, pool: 50000 };

/** The latent-filter sampler's screen for the run at `run` (folder or run file): its classifier on z at the sampler's threshold. */
export async function latentScreenFor(
  run: string,
  pipeline: ConditioningPipeline<LatentSampler>,
  sampler: PriorFilterSampler,
  seed: number,
  log: (line: string) => void,
): Promise<LatentScreen> {
  const onZ = await latentClassifierFor(run, pipeline, sampler.pool ?? LATENT_FILTER_DEFAULTS.pool, seed, log);
  return { probabilities: (z) => onZ.probabilities(z), threshold: sampler.screen ?? LATENT_FILTER_DEFAULTS.screen };
}

/**
 * The run's classifier on z for the latent-filter sampler: read from beside the run
 * (latentClassifierFile.ts), or trained on a pool of N prior samples labelled by the frozen
 * classifier and written there.
 */
async function latentClassifierFor(
  run: string,
  pipeline: ConditioningPipeline<LatentSampler>,
  pool: number,
  seed: number,
  log: (line: string) => void,
): Promise<LatentClassifier> {
  const path = latentClassifierPath(run, pool);
  const kept = readLatentClassifier(path, pipeline.inputGenerator.config.dimZ, pipeline.numClasses);
  if (kept) {
    log(`latent-filter: the classifier on z from ${shownPath(path)}`);
    return kept;
  }
  const started = Date.now();
  let shown = 0;
  const labelled = await labelPool(pipeline as ConditioningPipeline, {
    pool,
    seed: seed + 4000,
    batch: 256,
    onProgress: (done, total) => {
      if (done - shown >= total / 10 || done === total) {
        log(`latent-filter: the frozen classifier labels G's prior, ${done}/${total} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
        shown = done;
      }
    },
  });
  return writeLatentClassifier(path, labelled, pipeline.numClasses, seed, log);
}

export interface GradeOptions extends CganSampling {
  /** Judge files (absolute); [] grades with the frozen classifier only. */
  judges: string[];
  /** Whether `judges` is the default panel: then a judge whose classes differ from the classifier's is left out with a note, not an error. */
  defaultPanel?: boolean;
  evalSamples?: number;
  realData: string | null;
  /** Grade G's prior filtered by the frozen classifier instead of the run's input generator. */
  sampler?: PriorFilterSampler;
  /** Folder keeping the judges' real-image figures across runs (keyed by judge file content and data). */
  realCache?: string;
  quiet?: boolean;
  /** An already built pipeline of this run (tests); default: built from config and the run's checkpoint. */
  pipeline?: ConditioningPipeline<LatentSampler>;
}

/** --temperature and --standing-stats belong to a cGAN run's prior: a train run's input generator sets z's spread, and its G is the pretrained one. */
export function checkCganSampling(sampling: { temperature?: number | 'auto'; standingStats?: number }, config: TrainConfig | CganConfig, run: string): void {
  if (isCganRun(config)) return;
  if (sampling.temperature !== undefined) throw new Error(`--temperature: for a cGAN run (npm run cgan); ${run} is a train run, whose input generator sets z's spread`);
  if (sampling.standingStats !== undefined) throw new Error(`--standing-stats: for a cGAN run (npm run cgan); ${run} is a train run, whose generator keeps the statistics it was trained with`);
}

/** The report's file stem: report, report_<sampler tag> for a filter sampler, or report_<samplingTag> for a cGAN drawn otherwise than as trained. */
export function reportStem(sampler?: PriorFilterSampler, sampling: CganSampling = {}): string {
  if (sampler) return `report_${samplerTag(sampler)}`;
  const tag = samplingTag(sampling);
  return tag ? `report_${tag}` : 'report';
}

/** prior-filter_<p>, or latent-filter_<screen>_<p>_pool<N>: what names the sampler's report and grid, so that no setting overwrites another's. */
function samplerTag(sampler: PriorFilterSampler): string {
  if (sampler.kind === 'prior-filter') return `prior-filter_${sampler.confidence}`;
  return `latent-filter_${sampler.screen ?? LATENT_FILTER_DEFAULTS.screen}_${sampler.confidence}_pool${sampler.pool ?? LATENT_FILTER_DEFAULTS.pool}`;
}

/** Grade the run in `dir`; writes <stem>.json and <stem>.md there (and, for a filter sampler, a grid of its samples). */
export async function gradeRun(dir: string, config: TrainConfig | CganConfig, options: GradeOptions): Promise<Report> {
  const log = (line: string) => {
    if (!options.quiet) console.log(line);
  };
  const rt = runtime();
  const cgan = isCganRun(config);
  if (cgan && options.sampler) throw new Error(`--sampler ${options.sampler.kind}: ${dir} is a cGAN run, whose own generator is graded`);
  const sampling: CganSampling = { temperature: options.temperature, standingStats: options.standingStats, chosenBy: options.chosenBy };
  checkCganSampling(sampling, config, dir);
  let pipeline: ConditioningPipeline<LatentSampler>;
  if (options.pipeline) pipeline = options.pipeline;
  else if (cgan) pipeline = await cganPipeline(dir, config, sampling);
  else {
    const built = await buildPipeline(config);
    // The prior filter never uses the input generator: a run folder's config is all it needs.
    if (!options.sampler) restoreCheckpoint(dir, built);
    pipeline = built;
  }
  const K = pipeline.numClasses;
  const realData = options.realData;
  const judges = await loadJudges(options.judges, K, config.classifier, options.defaultPanel, log, (model, path) =>
    realData ? cachedRealFeatures(model, path, realData, K, options.realCache, log) : Promise.resolve(null),
  );
  const samples = defaultEvalSamples(rt.ctx.info.isSoftware, options.evalSamples, options.quiet);
  const sampler = options.sampler;
  let filtered;
  if (sampler) {
    const budget = sampler.budget ?? DEFAULT_PASSES_PER_SAMPLE * samples;
    const quotas = evalQuotas(samples, K);
    const each = Math.min(...quotas) === Math.max(...quotas) ? `${quotas[0]}` : `${Math.min(...quotas)}-${Math.max(...quotas)}`;
    const kind = sampler.kind;
    const screen = kind === 'latent-filter' ? await latentScreenFor(dir, pipeline, sampler, config.seed, log) : undefined;
    const rule = screen ? `the classifier on z gives >= ${screen.threshold} and ` : '';
    log(`${kind}: drawing from G's prior until each class has ${each} samples ${rule}the frozen classifier gives p >= ${sampler.confidence} (budget ${budget} G passes)`);
    filtered = await priorFilter(pipeline, quotas, {
      confidence: sampler.confidence,
      budget,
      seed: config.seed + 3000,
      batch: 100,
      screen,
      classNames: config.classNames,
      onProgress: filterProgress(kind, screen !== undefined, log),
    });
    const screened = screen ? `, ${filtered.draws} prior draws screened on z (${(filtered.draws / samples).toFixed(0)} per sample)` : '';
    log(`${kind}: ${filtered.passes} G passes for ${samples} samples (${(filtered.passes / samples).toFixed(2)} per sample)${screened}`);
    const perClass = Math.min(config.gridPerClass ?? 8, ...filtered.accepted);
    if (perClass > 0) {
      const dimZ = pipeline.inputGenerator.config.dimZ;
      const z = new Float32Array(K * perClass * dimZ);
      for (let c = 0; c < K; c++) z.set(filtered.z[c].subarray(0, perClass * dimZ), c * perClass * dimZ);
      const images = await generateLatents(pipeline, z);
      const r = pipeline.generator.resolution;
      const rowLabels = Array.from({ length: K }, (_, k) => config.classNames?.[k] ?? `class ${k}`);
      writeImageGrid(join(dir, `samples_${samplerTag(sampler)}.png`), images, [K * perClass, 3, r, r], perClass, { rowLabels });
    }
  }
  let last = 0;
  const report = await evaluate(pipeline, {
    samples,
    seed: config.seed + 1000,
    batch: 100,
    judges,
    realData: options.realData,
    classNames: config.classNames,
    priorFilter: filtered,
    sampler: cgan
      ? {
          kind: 'cgan',
          description:
            `the conditional DCGAN's generator, trained on the labelled training images: ${describeSampling(sampling)} and the class`,
          ...(sampling.temperature === undefined ? {} : { temperature: sampling.temperature }),
          ...(sampling.standingStats ? { standingStats: sampling.standingStats } : {}),
        }
      : undefined,
    onProgress: (done, total) => {
      if (done - last >= total / 10 || done === total) {
        log(`eval ${done}/${total}`);
        last = done;
      }
    },
  });
  const stem = reportStem(sampler, sampling);
  writeReport(dir, report, stem);
  // The training grids' noise (cganGrid's), drawn so: at a temperature, the same images nearer the prior's centre.
  const tag = samplingTag(sampling);
  if (cgan && tag) await sampleGrid(pipeline, config.gridPerClass, config.seed + 1, join(dir, `samples_${tag}.png`), config.classNames);
  log(formatReport(report));
  return report;
}

/**
 * The judges in `paths`, each with the yardsticks kept beside it (npm run yardsticks) and the
 * real-image figures `real` gives it (gradeRun's, from --real-data). One whose classes differ from
 * the classifier's is an error, or left out with a note from the default panel.
 */
export async function loadJudges(
  paths: string[],
  K: number,
  classifier: string,
  defaultPanel: boolean | undefined,
  log: (line: string) => void,
  real: (model: JudgeSpec['model'], path: string) => Promise<RealFigures | null> = async () => null,
): Promise<JudgeSpec[]> {
  const judges: JudgeSpec[] = [];
  for (const path of paths) {
    const model = await loadClassifier(path);
    if (model.numClasses !== K) {
      const why = `judge ${path} has ${model.numClasses} classes, the classifier ${classifier} has ${K}`;
      if (defaultPanel) {
        log(`note: ${why}; left out of the panel (--judge to choose judges)`);
        continue;
      }
      throw new Error(why);
    }
    const yardsticksPath = judgeYardsticks(path);
    const yardsticks = existsSync(yardsticksPath) ? (JSON.parse(readFileSync(yardsticksPath, 'utf8')) as Yardsticks) : null;
    judges.push({
      model, name: relative(process.cwd(), path) || path, yardsticks, yardsticksName: relative(process.cwd(), yardsticksPath), real: await real(model, path),
    });
  }
  return judges;
}

/**
 * `cgan cgan --grade-every`'s grader: G's samples during training, graded by the frozen classifier
 * and the judges (accuracy only: the curve of judge accuracy against training time). The samples
 * and their classes are the same at every grading (seed + 5000), so the points differ by G alone.
 */
export async function cganGrader(
  config: CganConfig,
  judgePaths: string[],
  defaultPanel: boolean,
): Promise<NonNullable<CganOptions['grade']>> {
  const classifier = await loadClassifier(config.classifier);
  const judges = await loadJudges(judgePaths, config.classNames.length, config.classifier, defaultPanel, (line) => console.log(line));
  const prior = new GeneratorPrior({ numClasses: config.classNames.length, dimZ: config.dimZ });
  return async (generator, samples) => {
    const pipeline = new ConditioningPipeline(generator, classifier, prior, config.classifierSize);
    const report = await evaluate(pipeline, { samples, seed: config.seed + 5000, batch: 100, judges, featureSamples: 2, classNames: config.classNames });
    const panel = report.judges ?? [];
    const labels = shortLabels(panel.map((j) => j.label));
    return { frozen: report.classifierAccuracy, judges: Object.fromEntries(panel.map((j, i) => [labels[i], j.accuracy])) };
  };
}

/**
 * realFeatures of a judge, kept in `cacheDir` when given: the key is the judge file's content, the
 * data folder and its test files' sizes and times, so a changed judge or data set is measured again.
 */
async function cachedRealFeatures(
  model: JudgeSpec['model'],
  path: string,
  realData: string,
  K: number,
  cacheDir: string | undefined,
  log: (line: string) => void,
): Promise<RealFigures> {
  if (!cacheDir) return realFeatures(model, realData, K);
  const files = fashionMnistFiles(realData);
  const hash = createHash('sha256').update(readFileSync(path)).update(`\0${resolve(realData)}\0${K}`);
  for (const f of Object.values(files)) {
    const s = statSync(f);
    hash.update(`\0${f}\0${s.size}\0${s.mtimeMs}`);
  }
  const key = hash.digest('hex').slice(0, 32);
  const head = join(cacheDir, `${key}.json`);
  const body = join(cacheDir, `${key}.bin`);
  const cached = existsSync(head) && existsSync(body) ? (JSON.parse(readFileSync(head, 'utf8')) as Omit<RealFigures, 'stats'> & { d: number }) : null;
  // A cache written before the nearest-neighbour figures is measured again.
  if (cached?.nearest) {
    const buf = readFileSync(body);
    const all = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const d = cached.d;
    const stats = Array.from({ length: K }, (_, c) => {
      const at = c * (d + d * d);
      return { mean: all.slice(at, at + d), cov: all.slice(at + d, at + d + d * d) };
    });
    log(`real-image figures of ${relative(process.cwd(), path)} from the cache ${head}`);
    return { spread: cached.spread, nearest: cached.nearest, accuracy: cached.accuracy, perClassAccuracy: cached.perClassAccuracy, counts: cached.counts, stats };
  }
  const real = await realFeatures(model, realData, K);
  const d = real.stats[0].mean.length;
  const all = new Float64Array(K * (d + d * d));
  real.stats.forEach((s, c) => {
    all.set(s.mean, c * (d + d * d));
    all.set(s.cov, c * (d + d * d) + d);
  });
  mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(body, new Uint8Array(all.buffer));
  const { stats: _, ...rest } = real;
  writeFileAtomic(head, JSON.stringify({ ...rest, d, judge: path, data: resolve(realData) }));
  return real;
}
