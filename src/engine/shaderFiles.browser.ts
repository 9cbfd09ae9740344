// The browser's twin of shaderFiles.ts: every shader bundled as text (esbuild's text loader for
// .wgsl, scripts/build-browser.mjs). test/kernelFamily.test.ts checks that the list matches shaders/.
import adam from '../../shaders/adam.wgsl';
import attention from '../../shaders/attention.wgsl';
import attentionSubgroups from '../../shaders/attentionSubgroups.wgsl';
import average from '../../shaders/average.wgsl';
import batchnorm from '../../shaders/batchnorm.wgsl';
import conv2d from '../../shaders/conv2d.wgsl';
import conv2dSubgroups from '../../shaders/conv2dSubgroups.wgsl';
import conv2dTiled from '../../shaders/conv2dTiled.wgsl';
import copy from '../../shaders/copy.wgsl';
import elementwise from '../../shaders/elementwise.wgsl';
import gather from '../../shaders/gather.wgsl';
import matmul from '../../shaders/matmul.wgsl';
import matmulSubgroups from '../../shaders/matmulSubgroups.wgsl';
import matmulTiled from '../../shaders/matmulTiled.wgsl';
import pool from '../../shaders/pool.wgsl';
import reduce from '../../shaders/reduce.wgsl';
import softmax from '../../shaders/softmax.wgsl';
import unfold from '../../shaders/unfold.wgsl';
import upsample from '../../shaders/upsample.wgsl';

const SHADERS: Record<string, string> = { adam, attention, attentionSubgroups, average, batchnorm, conv2d, conv2dSubgroups, conv2dTiled, copy, elementwise, gather, matmul, matmulSubgroups, matmulTiled, pool, reduce, softmax, unfold, upsample };

export function readShader(name: string): string {
  const source = SHADERS[name];
  if (source === undefined) throw new Error(`no bundled shader '${name}' (the browser build bundles ${Object.keys(SHADERS).join(', ')})`);
  return source;
}
