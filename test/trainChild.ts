// A training run in its own process, for the test that kills one mid-save:
// `tsx test/trainChild.ts '<TrainConfig as JSON>'`.
import { init } from '../src/engine/runtime.js';
import { train } from '../src/train/trainer.js';

await init();
await train(JSON.parse(process.argv[2]), { quiet: !process.env.CGAN_CHILD_VERBOSE });
console.log('done');
