// Where a live progress bar may draw. The `cgan` launcher (bin/launch.js) pipes a command's
// stderr through a filter, so there process.stderr is no TTY; the launcher then says in
// CGAN_STDERR_COLUMNS that the stderr it forwards to is a terminal, and how wide.

/** stderr as a terminal stream (isTTY, columns), or null when it does not end on a terminal. */
export function terminalStderr(): NodeJS.WritableStream | null {
  if (process.stderr.isTTY) return process.stderr;
  const columns = Number(process.env.CGAN_STDERR_COLUMNS);
  if (!Number.isInteger(columns) || columns < 1) return null;
  // What cli-progress reads of a terminal: isTTY, columns, and write for text and escape codes.
  const write = process.stderr.write.bind(process.stderr);
  return { isTTY: true, columns, write } as unknown as NodeJS.WritableStream;
}
