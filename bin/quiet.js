#!/usr/bin/env node
// `node bin/quiet.js <script> [args]`: a Node script with Dawn's two limit warnings dropped from
// its stderr (launch.js), for the commands that are not `cgan` ones: `npm test` runs vitest so.
import { runNode } from './launch.js';

const [script, ...args] = process.argv.slice(2);
if (!script) {
  process.stderr.write('usage: node bin/quiet.js <script> [args]\n');
  process.exit(2);
}
runNode([script, ...args]);
