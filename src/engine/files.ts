// The file system, in Node. The browser build swaps this file for files.browser.ts, where models
// and checkpoints come as bytes (fetch, a dropped File) and naming a path is an error that says so.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
export { basename, dirname, join } from 'node:path';

/** Size and kind of what is at `path`, or null if nothing is. */
export function fileStat(path: string): { size: number; isDirectory: boolean } | null {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat ? { size: stat.size, isDirectory: stat.isDirectory() } : null;
}

export const fileExists = (path: string): boolean => existsSync(path);
export const fileBytes = (path: string): Uint8Array => readFileSync(path);
export const fileBytesAsync = async (path: string): Promise<Uint8Array> => readFile(path);
export const fileText = (path: string): string => readFileSync(path, 'utf8');
export const writeFileBytes = (path: string, bytes: Uint8Array): void => writeFileSync(path, bytes);

/** The first `n` bytes of a file (fewer if it is shorter), without reading the rest. */
export function fileHead(path: string, n: number): Uint8Array {
  const head = new Uint8Array(n);
  const fd = openSync(path, 'r');
  try {
    return head.subarray(0, readSync(fd, head, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}
