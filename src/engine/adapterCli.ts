// `npm run adapter`: print the WebGPU adapter the engine would use (or the setup message).
import { Command } from 'commander';
import { init } from './runtime.js';

new Command('cgan adapter')
  .description('Print the WebGPU adapter the engine would use and its optional features (or how to install a driver).')
  .parse();

try {
  const rt = await init();
  const { info, hasTimestamps, hasF16, hasSubgroups } = rt.ctx;
  console.log(`adapter: ${rt.adapterName}${info.isSoftware ? ' [software]' : ''}`);
  console.log(`features: timestamp-query ${hasTimestamps ? 'yes' : 'no'}, shader-f16 ${hasF16 ? 'yes' : 'no'}, subgroups (>= 8 wide) ${hasSubgroups ? 'yes' : 'no'}`);
  rt.device.destroy();
} catch (e) {
  console.error((e as Error).message);
  process.exitCode = 1;
}
