/**
 * `npm run bench`: runs every benchmark family in turn (or those matching --filter),
 * printing tables and writing bench/results/<family>.json.
 *
 *   npm run bench -- --quick            # short shapes, about a minute
 *   npm run bench -- --filter int8      # one family
 *   npm run bench -- --threads 1
 *   npm run bench -- --filter quant --shapes 4096x4096 --m 1,32   # a subset (writes <family>.partial.json)
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, type BenchArgs } from './common.js';
import { setNumThreads } from '../lib/index.js';

const FAMILIES = ['quant-4bit', 'int8', 'decode', 'cuda'];

async function main(): Promise<void> {
  const args = parseArgs();
  setNumThreads(args.threads);
  const here = dirname(fileURLToPath(import.meta.url));
  for (const family of FAMILIES) {
    if (args.filter && !family.includes(args.filter)) continue;
    const file = join(here, `${family}.js`);
    if (!existsSync(file)) {
      console.log(`(skipping ${family}: ${file} not built)`);
      continue;
    }
    const mod = (await import(pathToFileURL(file).href)) as { run: (a: BenchArgs) => Promise<void> };
    console.log(`\n=== ${family} (threads: ${args.threads}${args.quick ? ', quick' : ''}) ===`);
    await mod.run(args);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
