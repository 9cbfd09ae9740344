// The `cgan` launcher: the child's stderr minus Dawn's two limit warnings, everything else as it
// comes; signals reach the child once; the child's exit code is the launcher's.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { terminalStderr } from '../src/train/terminal.js';

const ROOT = join(import.meta.dirname, '..');
const LAUNCH = pathToFileURL(join(ROOT, 'bin', 'launch.js')).href;
const UNIFORM = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';
const STORAGE = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'launcher-test-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes a script and returns the arguments that run it through the launcher. */
function launcherArgs(name: string, source: string): string[] {
  const script = join(tmp, name);
  writeFileSync(script, source);
  return ['--input-type=module', '-e', `import { runNode } from ${JSON.stringify(LAUNCH)}; runNode([${JSON.stringify(script)}]);`];
}

describe('stderr filter', () => {
  it("drops exactly Dawn's two warning lines and forwards the rest unchanged", () => {
    // Written in pieces, as native code and a progress bar do: a warning split across writes,
    // a bar redrawn with \r and no newline, a line that only looks like a warning.
    const args = launcherArgs(
      'noisy.mjs',
      `const w = (s) => new Promise((r) => process.stderr.write(s, r));
       await w('first line\\n');
       await w(${JSON.stringify(UNIFORM.slice(0, 30))});
       await w(${JSON.stringify(UNIFORM.slice(30) + '\n' + STORAGE + '\n')});
       await w('\\rtrain [==  ] 1/4');
       await w('\\rtrain [====] 4/4\\n');
       await w(${JSON.stringify(`  ${UNIFORM}\n${UNIFORM} (and more)\n`)});
       await w('Warning: something else\\n');
       process.stdout.write('stdout untouched\\n');
       await w('no newline at the end');
       process.exitCode = 3;`,
    );
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    expect(r.stdout).toBe('stdout untouched\n');
    expect(r.stderr).toBe(
      `first line\n\rtrain [==  ] 1/4\rtrain [====] 4/4\n  ${UNIFORM}\n${UNIFORM} (and more)\nWarning: something else\nno newline at the end`,
    );
    expect(r.status).toBe(3);
  });

  it('the commands print no Dawn warning (cgan adapter opens the device)', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'cgan.js'), 'adapter'], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^adapter: /);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('signals', () => {
  it("a SIGINT, even sent twice at once (terminal + npm), reaches the child and its children once; the exit code is the child's", async () => {
    // The grandchild stands for the trainers `cgan ablation` runs.
    const grandchild = `process.on('SIGINT', () => { console.log('grandchild: SIGINT'); process.exit(0); }); console.log('grandchild ready'); setInterval(() => {}, 1000);`;
    const args = launcherArgs(
      'interruptible.mjs',
      `import { spawn } from 'node:child_process';
       spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: ['ignore', 'inherit', 'inherit'] });
       let count = 0;
       process.on('SIGINT', () => {
         count++;
         setTimeout(() => { console.log('child: ' + count + ' SIGINT'); process.exit(130); }, 300);
       });
       setInterval(() => {}, 1000);`,
    );
    const launcher = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    launcher.stdout.setEncoding('utf8');
    const ready = new Promise<void>((resolve) =>
      launcher.stdout.on('data', (s: string) => {
        stdout += s;
        if (stdout.includes('grandchild ready')) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => launcher.on('close', (code) => resolve(code)));
    await ready;
    // Close together, yet far enough apart not to merge into one pending signal.
    launcher.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 50));
    launcher.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stdout.split('\n').sort()).toEqual(['', 'child: 1 SIGINT', 'grandchild ready', 'grandchild: SIGINT']);
  });
});

describe('progress bar behind the launcher', () => {
  it('stderr counts as a terminal when the launcher says so (CGAN_STDERR_COLUMNS)', () => {
    const saved = process.env.CGAN_STDERR_COLUMNS;
    try {
      delete process.env.CGAN_STDERR_COLUMNS;
      expect(terminalStderr() === null).toBe(!process.stderr.isTTY);
      process.env.CGAN_STDERR_COLUMNS = '123';
      const t = terminalStderr() as unknown as { isTTY: boolean; columns: number };
      expect(t.isTTY).toBe(true);
      expect(t.columns).toBe(process.stderr.isTTY ? process.stderr.columns : 123);
    } finally {
      if (saved === undefined) delete process.env.CGAN_STDERR_COLUMNS;
      else process.env.CGAN_STDERR_COLUMNS = saved;
    }
  });
});

describe('which code a checkout runs', () => {
  it('dist/ while the build is newer than every source, the sources through tsx after an edit or without a build', () => {
    // A checkout in miniature: the launcher, one command's source and compiled entry, the repo's tsx.
    const root = join(tmp, 'checkout');
    mkdirSync(join(root, 'src', 'train'), { recursive: true });
    mkdirSync(join(root, 'dist', 'src', 'train'), { recursive: true });
    mkdirSync(join(root, 'bin'));
    for (const f of ['cgan.js', 'built.js', 'launch.js']) copyFileSync(join(ROOT, 'bin', f), join(root, 'bin', f));
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    const source = join(root, 'src', 'train', 'cli.ts');
    writeFileSync(source, "const from: string = 'source';\nconsole.log(from);\n");
    writeFileSync(join(root, 'dist', 'src', 'train', 'cli.js'), "console.log('compiled');\n");
    const ran = () => spawnSync(process.execPath, [join(root, 'bin', 'cgan.js'), 'train'], { encoding: 'utf8' }).stdout.trim();
    const stamp = join(root, 'dist', '.built');
    const at = (path: string, seconds: number) => utimesSync(path, seconds, seconds);

    expect(ran()).toBe('source'); // no stamp: no finished build
    writeFileSync(stamp, '');
    at(source, 1_000_000);
    at(stamp, 2_000_000);
    expect(ran()).toBe('compiled');
    at(source, 3_000_000); // edited after the build began
    expect(ran()).toBe('source');
  });
});
