// The browser's twin of files.ts: a page has no file system. Models and checkpoints are given as
// bytes (readSafetensors(bytes), parseTorchCheckpoint(bytes), fetch or a dropped File); a path is
// refused by name. The path helpers are plain string functions.
function noFiles(path: string): never {
  throw new Error(`${path}: a web page cannot read files by path; pass the file's bytes (from fetch or a dropped File) instead`);
}

export const fileStat = (path: string): { size: number; isDirectory: boolean } | null => noFiles(path);
export const fileExists = (path: string): boolean => noFiles(path);
export const fileBytes = (path: string): Uint8Array => noFiles(path);
export const fileBytesAsync = async (path: string): Promise<Uint8Array> => noFiles(path);
export const fileText = (path: string): string => noFiles(path);
export const writeFileBytes = (path: string, _bytes: Uint8Array): void => noFiles(path);
export const fileHead = (path: string, _n: number): Uint8Array => noFiles(path);

export const basename = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
export const dirname = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) || '/' : '.');
export const join = (...parts: string[]): string => parts.filter(Boolean).join('/').replace(/\/+/g, '/');
