// Kernel interfaces declared once (src/engine/kernelFamily.ts): the generated WGSL, packing by
// name with its errors, binding by name with its errors, and every declared family's module and
// entry points accepted by the device's compiler.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { declaredFamilies, KernelFamily } from '../src/engine/kernelFamily.js';
import { init, runtime } from '../src/engine/runtime.js';
import '../src/kernels/index.js';

/** The engine's families, before the tests below declare toy ones. */
const engineFamilies = [...declaredFamilies];

const conflicting = () =>
  new KernelFamily(['toy'], {
    uniforms: { p: { n: 'u32', scale: 'f32', shift: 'i32', shape: { vec4u: 2 } }, g: { count: 'u32' } },
    layouts: {
      forward: { entries: ['forward', 'forward4'], uniform: 'p', buffers: { x: 'read f32 vec4f', y: 'write f32 vec4f' } },
      backward: { uniform: 'g', buffers: { gy: 'read f32', x: 'read f32 vec4f', gx: 'write f32' } },
    },
  });

describe('kernel families', () => {
  it('generates one struct per uniform block and each buffer with its views at its binding', () => {
    expect(conflicting).toThrow(/buffer 'x' of layout 'backward': declared differently in another layout \(binding 1\)/);
    const family = new KernelFamily(['toy'], {
      uniforms: { p: { n: 'u32', shape: { vec4u: 2 } } },
      layouts: { forward: { uniform: 'p', buffers: { x: 'read f32 vec4f', y: 'write i32' } } },
    });
    const header = family.header();
    expect(header).toContain('struct Params_p {\n  n: u32,\n  shape: array<vec4<u32>, 2>,\n}');
    expect(header).toContain('@group(0) @binding(0) var<uniform> p: Params_p;');
    expect(header).toContain('@group(0) @binding(1) var<storage, read> x: array<f32>;');
    expect(header).toContain('@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;');
    expect(header).toContain('@group(0) @binding(2) var<storage, read_write> y: array<i32>;');
  });

  it('packs uniforms by name with WGSL alignment, and names what is missing, unknown or out of range', () => {
    const family = new KernelFamily(['toy'], {
      uniforms: { p: { n: 'u32', scale: 'f32', shift: 'i32', shape: { vec4u: 2 } } },
      layouts: { forward: { uniform: 'p', buffers: { x: 'read f32' } }, plain: { buffers: { x: 'read f32' } } },
    });
    const packed = new DataView(family.pack('forward', { shape: [7, 8, 9], shift: -2, scale: 0.5, n: 3 })!);
    expect(packed.byteLength).toBe(48);
    expect([packed.getUint32(0, true), packed.getFloat32(4, true), packed.getInt32(8, true)]).toEqual([3, 0.5, -2]);
    expect([16, 20, 24, 28, 44].map((o) => packed.getUint32(o, true))).toEqual([7, 8, 9, 0, 0]);
    expect(() => family.pack('forward', { n: 3, scale: 1, shape: [] })).toThrow("toy.forward: parameter 'shift' is missing");
    expect(() => family.pack('forward', { n: 3, scale: 1, shift: 0, shape: [], extra: 1 })).toThrow(/unknown parameter 'extra'/);
    expect(() => family.pack('forward', { n: -1, scale: 1, shift: 0, shape: [] })).toThrow("parameter 'n' must be a u32, got -1");
    expect(() => family.pack('forward', { n: 1, scale: 1, shift: 0, shape: [1, 2, 3, 4, 5, 6, 7, 8, 9] })).toThrow(/at most 8 numbers/);
    expect(() => family.pack('plain', { n: 1 })).toThrow('toy.plain: takes no parameters, got n');
    expect(family.pack('plain', undefined)).toBeNull();
    expect(() => family.pack('other', {})).toThrow("toy: no layout declares the entry point 'other'");
  });

  it('binds buffers by name: every declared one given (null: unused), no other', () => {
    const family = new KernelFamily(['toy'], { layouts: { f: { buffers: { x: 'read f32', y: 'write f32' } } } });
    const x = {} as GPUBuffer;
    const y = {} as GPUBuffer;
    expect(family.bind('f', { y, x })).toEqual([{ binding: 1, name: 'x', buffer: x }, { binding: 2, name: 'y', buffer: y }]);
    expect(family.bind('f', { y, x: null })).toEqual([{ binding: 2, name: 'y', buffer: y }]);
    expect(() => family.bind('f', { x })).toThrow("toy.f: buffer 'y' is missing");
    expect(() => family.bind('f', { x, y, z: x })).toThrow("toy.f: unknown buffer 'z'");
  });

  it('with() adds a file with its own layouts and WGSL; the base family keeps neither', () => {
    const base = new KernelFamily(['toy'], { layouts: { f: { buffers: { x: 'read f32' } } }, prelude: ['// base'] });
    const read = (file: string) => `// ${file}`;
    const more = base.with('toySubgroups', { layouts: { fShared: { buffers: { x: 'read f32', y: 'write f32' } } }, prelude: ['// more'] });
    expect(more.name).toBe('toy+toySubgroups');
    expect(more.entries).toEqual(['f', 'fShared']);
    expect(more.source(read)).toMatch(/\/\/ base\n\/\/ more\n\/\/ toy\n\/\/ toySubgroups$/);
    expect(base.entries).toEqual(['f']);
    expect(base.source(read)).not.toContain('more');
    expect(() => base.with('other', { layouts: { f: { buffers: {} } } })).toThrow("toy+other: layout 'f' is declared twice");
  });

  describe('every declared family compiles, with each entry point', () => {
    beforeAll(async () => {
      await init();
    });
    it.each(declaredFamilies.map((f) => [f.name, f]))('%s', async (_name, family) => {
      const { device } = runtime();
      const module = device.createShaderModule({ code: family.source() });
      const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
      expect(errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`)).toEqual([]);
      for (const entry of family.entries) {
        device.pushErrorScope('validation');
        device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: entry } });
        const error = await device.popErrorScope();
        expect(error?.message ?? null, entry).toBeNull();
      }
    });
  });

  it("the browser build bundles every shader file, each family's included (shaderFiles.browser.ts)", () => {
    const root = join(import.meta.dirname, '..');
    const twin = readFileSync(join(root, 'src', 'engine', 'shaderFiles.browser.ts'), 'utf8');
    const imported = [...twin.matchAll(/^import (\w+) from '\.\.\/\.\.\/shaders\/(\w+)\.wgsl';$/gm)].map((m) => {
      expect(m[1], `the import of ${m[2]}.wgsl`).toBe(m[2]);
      return m[2];
    });
    const record = /const SHADERS: Record<string, string> = \{ ([^}]*) \};/.exec(twin)?.[1].split(', ') ?? [];
    const files = readdirSync(join(root, 'shaders')).filter((f) => f.endsWith('.wgsl')).map((f) => f.slice(0, -'.wgsl'.length));
    expect(imported.sort()).toEqual([...files].sort());
    expect(record.sort()).toEqual([...files].sort());
    for (const family of engineFamilies) for (const file of family.files) expect(files, family.name).toContain(file);
  });
});
