// The npm package as a user gets it: `npm pack`, installed into an empty project, holds no tests
// or bench, its types compile under a consumer's strict tsc with no extra configuration, and the
// README's engine example runs from it. It packs a copy of the checkout: the build starts by
// deleting dist/, which the other test files' commands run from (bin/cgan.js). Where dist/ is the
// build of the current sources (CI builds before it tests) the copy takes it and packs without
// scripts; otherwise packing builds the copy (`prepare`), as installing from git does.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { builtAfterSources } from '../bin/built.js';

const ROOT = join(import.meta.dirname, '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'package-test-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** stdout; on failure an error with the command's stdout and stderr (tsc reports on stdout). */
function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

const EXAMPLE = `import { init, tensor, ops } from 'webgpu-cgan';

await init();                                   // opens the WebGPU device
const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
const w = ops.randn([4, 3], { requiresGrad: true });
const loss = ops.crossEntropy(ops.linear(x, w), [1, 3]);
loss.backward();
console.log(await loss.item(), await w.grad!.data());
`;

it('packs, installs, type-checks strictly and runs the README example', { timeout: 180_000 }, () => {
  const checkout = join(tmp, 'checkout');
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'bin', 'scripts', 'shaders', 'models', 'src']) {
    cpSync(join(ROOT, entry), join(checkout, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'));
  const built = builtAfterSources(ROOT);
  if (built) cpSync(join(ROOT, 'dist'), join(checkout, 'dist'), { recursive: true });
  const pack = ['pack', '--json', '--pack-destination', tmp, ...(built ? ['--ignore-scripts'] : [])];
  const [packed] = JSON.parse(run('npm', pack, checkout)) as [{ filename: string; files: { path: string }[] }];
  const files = packed.files.map((f) => f.path);
  expect(files).toContain('bin/cgan.js');
  expect(files).toContain('dist/src/index.d.ts');
  expect(files).toContain('models/fmnist_biggan32_G.safetensors');
  expect(files).toContain('shaders/matmul.wgsl');
  expect(files).toContain('dist/browser/webgpu-cgan.js');
  expect(files.filter((f) => /(^|\/)(test|bench|fixtures)\/|\.test\.|\.map$/.test(f))).toEqual([]);

  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // The dependencies' tarballs are in npm's cache after `npm ci`; only their metadata is asked for.
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(tmp, packed.filename)], app);

  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', target: 'ES2022' } }));
  writeFileSync(join(app, 'main.ts'), EXAMPLE);
  run(process.execPath, [TSC, '-p', '.'], app);

  const printed = run(process.execPath, ['main.js'], app);
  expect(printed).toMatch(/^\d+\.\d+ Float32Array\(12\)/);
  expect(run(join(app, 'node_modules', '.bin', 'cgan'), ['--help'], app)).toMatch(/train .*\n.*cgan .*\n.*sample/);
});
