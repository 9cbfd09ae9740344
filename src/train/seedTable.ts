// What the seed tables of docs/ablation.md and docs/baseline.md share: the judge panel, a figure
// over seeds (mean, spread, worst), a row's judge figures from its reports, and the generated part
// of a document rewritten between markers, so that the reading written below it survives a rerun.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { judgeLabel, readReport, shortLabels, type Report } from './evaluate.js';
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
