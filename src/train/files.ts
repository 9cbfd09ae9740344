// Run-folder files that an interrupt never leaves half-written, and the guard that keeps a new
// run from overwriting an old one.
import { closeSync, existsSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';

/** Sync a written file to disk, so that a rename after it never exposes an empty file after a crash. */
export function fsyncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Write to a temporary file in the same folder, then rename it over `path`: readers (and a
 * resumed run) see the old content or the new, never a truncated mix.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** What makes a folder a run: any of these (checkpoint.tmp / .old are left by an interrupted save). */
const RUN_MARKERS = ['config.json', 'metrics.jsonl', 'checkpoint', 'checkpoint.tmp', 'checkpoint.old'];

export function holdsRun(dir: string): boolean {
  return RUN_MARKERS.some((f) => existsSync(join(dir, f)));
}

/** A path as the user would type it: relative to the working folder when inside it. */
export function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

/** The first free sibling `dir.old-N`. */
function asideName(dir: string): string {
  for (let n = 1; ; n++) if (!existsSync(`${dir}.old-${n}`)) return `${dir}.old-${n}`;
}

/**
 * Before a new run writes into `dir`: refuse a folder that holds a run, unless `resume` (continue
 * it) or `force` (move it aside to `dir.old-N`, never delete it). Needs no GPU, so it runs first.
 * Returns the folder the old run was moved to, if any.
 */
export function prepareRunFolder(dir: string, options: { resume?: boolean; force?: boolean }): string | null {
  const shown = shownPath(dir);
  if (options.resume && options.force) throw new Error('--resume continues the run and --force starts it over: pick one');
  if (options.resume) {
    if (!existsSync(join(dir, 'config.json'))) throw new Error(`--resume: no run in ${shown} (missing config.json)`);
    return null;
  }
  if (!holdsRun(dir)) return null;
  if (!options.force) {
    const found = RUN_MARKERS.filter((f) => existsSync(join(dir, f))).join(', ');
    throw new Error(
      `${shown} already holds a run (${found}). Continue it with --resume, start over with --force ` +
        `(the old run is moved to ${shownPath(asideName(dir))}, not deleted), or choose another --out.`,
    );
  }
  const aside = asideName(dir);
  renameSync(dir, aside);
  return aside;
}
