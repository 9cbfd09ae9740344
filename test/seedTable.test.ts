// The seed tables' records (src/train/seedTable.ts): a run's report and step figures kept in the
// repository, so that docs/ablation.md and docs/baseline.md can be written again once the run
// folders (runs/, not committed) are gone.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { documentedRows, END, figures, keptRun, trainMinutes } from '../src/train/seedTable.js';

const work = mkdtempSync(join(tmpdir(), 'seed-table-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A run folder with the committed default run's report and three steps of metrics. */
function runFolder(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync('docs/default-run/report.json', join(dir, 'report.json'));
  writeFileSync(join(dir, 'metrics.jsonl'), [30, 60, 90].map((seconds, k) => JSON.stringify({ step: k + 1, seconds })).join('\n') + '\n');
  return dir;
}

describe('keptRun', () => {
  it('keeps a run as its record, and reads the record once the run folder is gone', () => {
    const dir = runFolder('run');
    const record = join(work, 'docs', 'records', 'row-seed0.json');
    const fromRun = keptRun(dir, record, (d) => ({ trainMinutes: trainMinutes(d), stepsTo99: 442 }))!;
    expect(fromRun.trainMinutes).toBe(3);
    expect(existsSync(record)).toBe(true);

    rmSync(dir, { recursive: true });
    const fromRecord = keptRun(dir, record, () => {
      throw new Error('no run folder to summarise');
    })!;
    expect(fromRecord.trainMinutes).toBe(3);
    expect(fromRecord.stepsTo99).toBe(442);
    // The table's cells are the same from the record as from the run.
    expect(figures([fromRecord.report])).toEqual(figures([fromRun.report]));
    expect(fromRecord.report.classifierAccuracy).toBe(JSON.parse(readFileSync('docs/default-run/report.json', 'utf8')).classifierAccuracy);
  });

  it('is undefined with neither a run nor a record, and reads another report name', () => {
    expect(keptRun(join(work, 'absent'), join(work, 'absent.json'), () => ({ trainMinutes: 0 }))).toBeUndefined();
    const dir = runFolder('ceiling');
    copyFileSync(join(dir, 'report.json'), join(dir, 'report_prior-filter_0.9.json'));
    rmSync(join(dir, 'report.json'));
    const kept = keptRun(dir, join(work, 'ceiling.json'), () => ({ trainMinutes: 0 }), 'report_prior-filter_0.9.json');
    expect(kept?.trainMinutes).toBe(0);
  });
});

describe('documentedRows', () => {
  it("returns the lines of the row with that label in the generated part only, and none for an unknown label or file", () => {
    const doc = join(work, 'table.md');
    const table = ['| row | a |', '| --- | --- |', '| the default | 0.9 |', '| the default, again | 0.8 |', '| the default | vgg | 12 |'];
    // An older table in the reading below the marker, with the same label.
    writeFileSync(doc, [...table, END, '', '| the default | 0.1 |', ''].join('\n'));
    expect(documentedRows(doc, 'the default', END)).toEqual(['| the default | 0.9 |', '| the default | vgg | 12 |']);
    expect(documentedRows(doc, 'another', END)).toEqual([]);
    expect(documentedRows(join(work, 'none.md'), 'the default', END)).toEqual([]);
  });
});
