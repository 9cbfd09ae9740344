// What the seed tables of docs/ablation.md and docs/baseline.md share: the judge panel, a figure
// over seeds (mean, spread, worst), a row's judge figures from its reports, and the generated part
// of a document rewritten between markers, so that the reading written below it survives a rerun.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { judgeLabel, readReport, shortLabels, type Report } from './evaluate.js';
import { writeFileAtomic } from './files.js';
import { PUBLIC_JUDGES } from './grade.js';

export const PANEL = PUBLIC_JUDGES.map((j) => judgeLabel(j));
export const SHORT = shortLabels(PANEL);

export const readReportFile = (path: string): Report => readReport(JSON.parse(readFileSync(path, 'utf8')));

/** Whether a report grades with every judge of the panel (one from before the panel does not). */
export const paneled = (path: string): boolean =>
  existsSync(path) && PANEL.every((label) => readReportFile(path).judges?.some((j) => j.label === label));

export const fixed = (v: number | undefined | null, d = 3): string => (v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(d));

/**
 * One figure over seeds: mean, spread (max - min) and worst. `higherIsBetter` says which end is
 * the worst (the lowest accuracy, the highest Fréchet distance).
 */
export function overSeeds(values: (number | undefined)[], d = 3, higherIsBetter = true): string {
  const xs = values.filter((v): v is number => v !== undefined && !Number.isNaN(v));
  if (!xs.length) return '-';
  if (xs.length === 1) return fixed(xs[0], d);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const spread = Math.max(...xs) - Math.min(...xs);
  const worst = higherIsBetter ? Math.min(...xs) : Math.max(...xs);
  return `${fixed(mean, d)} ± ${fixed(spread / 2, d)} (worst ${fixed(worst, d)})`;
}

/** A row's figures over its seeds: frozen accuracy, then per judge its accuracy, its ratio to real, variety and Fréchet. */
export function figures(reports: Report[]): string[] {
  const cells = [overSeeds(reports.map((r) => r.classifierAccuracy))];
  for (const label of PANEL) {
    const js = reports.map((r) => r.judges?.find((x) => x.label === label));
    cells.push(
      overSeeds(js.map((j) => j?.accuracy)),
      overSeeds(js.map((j) => j?.accuracyRatio), 2),
      overSeeds(js.map((j) => j?.meanVarietyRatio), 2),
      overSeeds(js.map((j) => j?.meanFrechet), 1, false),
    );
  }
  return cells;
}

/** What a table reads of one run: its report and the figures of its metrics the table shows. */
export interface RunRecord {
  report: Report;
  /** The training steps' wall time alone (metrics.jsonl), without anchors and grading. */
  trainMinutes: number;
  /** Ablation: the first step where the frozen classifier's batch accuracy over 10 steps reaches 0.99. */
  stepsTo99?: number | null;
}

/**
 * One run as a table reads it, kept in the repository as `record` (a JSON file beside the
 * table's grids): runs/ is not committed, so without it a table could not be written again once
 * its run folders are gone (a fresh checkout, another machine). From the run folder's `report`
 * when it is there (rewriting the record), else from the record; undefined when neither is.
 */
export function keptRun(
  dir: string,
  record: string,
  summarise: (dir: string) => Omit<RunRecord, 'report'>,
  report = 'report.json',
): RunRecord | undefined {
  if (existsSync(join(dir, report))) {
    const raw = JSON.parse(readFileSync(join(dir, report), 'utf8')) as unknown;
    const kept = { ...summarise(dir), report: raw };
    mkdirSync(dirname(record), { recursive: true });
    writeFileAtomic(record, `${JSON.stringify(kept)}\n`);
    return { ...kept, report: readReport(raw) };
  }
  if (!existsSync(record)) return undefined;
  const kept = JSON.parse(readFileSync(record, 'utf8')) as RunRecord;
  return { ...kept, report: readReport(kept.report) };
}

/** The training steps' minutes of a run (its metrics.jsonl: a line per step with its seconds). */
export const trainMinutes = (dir: string): number =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .reduce((sum, line) => sum + (JSON.parse(line) as { seconds: number }).seconds, 0) / 60;

/**
 * The lines of the table rows labelled `label` (`| label | ...`) in a document's generated part
 * (before `end`; the hand-written reading after it may hold older tables with the same labels): a
 * row none of whose runs is here, in runs/ or as a record, keeps what the document said of it.
 */
export function documentedRows(docPath: string, label: string, end: string): string[] {
  if (!existsSync(docPath)) return [];
  const text = readFileSync(docPath, 'utf8');
  return text
    .slice(0, text.includes(end) ? text.indexOf(end) : text.length)
    .split('\n')
    .filter((line) => line.startsWith(`| ${label} |`));
}

/** Where a document's generated part ends: the hand-written reading follows. */
export const END = '<!-- end of generated part -->';

/** Write `generated` (which ends with `end`) over the document's generated part, keeping what follows it. */
export function replaceGenerated(docPath: string, generated: string, end: string): void {
  const previous = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '';
  const after = previous.includes(end) ? previous.slice(previous.indexOf(end) + end.length) : '\n';
  writeFileSync(docPath, generated + after);
  console.log(`wrote ${docPath}`);
}

/** The grid of a run's last epoch. */
export function lastGrid(dir: string): string {
  const grids = readdirSync(dir).filter((f) => /^samples_epoch\d+\.png$/.test(f)).sort();
  if (!grids.length) throw new Error(`${dir}: no samples_epochNN.png`);
  return join(dir, grids[grids.length - 1]);
}
