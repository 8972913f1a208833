#!/usr/bin/env node
// npm install hook: use a prebuilt or existing addon if one loads, otherwise build it
// with cmake-js. Never downloads anything.
//
//   LOWBIT_CUDA=auto|on|off|emulated   choose the CUDA flavor (default auto: CUDA when a
//                                      working nvcc is found, else CPU only)
//   LOWBIT_FORCE_BUILD=1               rebuild even if an addon already loads
//
// A failed CUDA build falls back to a CPU-only build, so a broken or missing CUDA
// toolkit never fails the install; the summary line says what was built.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function tryLoad() {
  // In a child process: a broken binary must not take the installer down with it.
  // Prints "<flavor> <path>": node-gyp-build takes build/Release first, then prebuilds/<platform>-<arch>/.
  const script =
    `const g=require('node-gyp-build'),d=${JSON.stringify(root)},a=g(d);` +
    `console.log(a.buildInfo.cudaFlavor+' '+require('path').relative(d,g.path(d)))`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split(' ') : null;
}

function cmakeJs(flavor) {
  const cli = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const args = [cli, 'compile', `--CDLOWBIT_CUDA=${flavor.toUpperCase()}`];
  console.log(`lowbit: building the native addon (LOWBIT_CUDA=${flavor}) ...`);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  return r.status === 0;
}

const requested = (process.env.LOWBIT_CUDA || 'auto').toLowerCase();
if (!['auto', 'on', 'off', 'emulated'].includes(requested)) {
  console.error(`lowbit: LOWBIT_CUDA must be auto, on, off or emulated, got '${process.env.LOWBIT_CUDA}'`);
  process.exit(1);
}

// npm installs a git dependency in two rounds. It clones the repository and runs `npm install`
// there, as the root project (INIT_CWD, where npm started, is this package's own folder), so that
// `prepare` can compile the TypeScript; then it packs the clone and installs the tarball, which
// runs this script again in node_modules/lowbit. The first round's build/ is not packed (see
// "files" in package.json), so building there would only double the install time: with CUDA,
// five architectures compiled twice. npm marks that round with _PACOTE_NO_PREPARE_. Should a
// future npm drop the variable, the only cost is the extra build.
const preparingGitDependency =
  process.env._PACOTE_NO_PREPARE_ !== undefined && process.env.INIT_CWD !== undefined && resolve(process.env.INIT_CWD) === resolve(root);
if (preparingGitDependency && !process.env.LOWBIT_FORCE_BUILD && !process.argv.includes('--force')) {
  console.log('lowbit: npm is preparing a git dependency; the addon is built when the packed package installs');
  process.exit(0);
}

if (!process.env.LOWBIT_FORCE_BUILD && !process.argv.includes('--force') && process.env.LOWBIT_CUDA === undefined) {
  const existing = tryLoad();
  if (existing !== null) {
    console.log(`lowbit: using the existing native addon ${existing[1]} (CUDA flavor: ${existing[0]}); nothing to build`);
    process.exit(0);
  }
  if (existsSync(join(root, 'prebuilds'))) {
    console.log('lowbit: the prebuilt binary does not load on this system (it needs Linux x86-64 with glibc >= 2.34); building from source');
  }
}

let ok = cmakeJs(requested);
if (!ok && requested === 'auto') {
  console.warn('lowbit: the build with CUDA failed; retrying CPU-only (LOWBIT_CUDA=off)');
  if (existsSync(join(root, 'build'))) spawnSync('rm', ['-rf', join(root, 'build')]);
  ok = cmakeJs('off');
}
const flavor = ok ? tryLoad()?.[0] ?? null : null;
if (flavor === null) {
  console.error('lowbit: could not build the native addon. It needs cmake >= 3.18, a C++17 compiler and');
  console.error('        python-free cmake-js (installed as a dependency). See the messages above.');
  process.exit(1);
}
const what = { none: 'CPU backend only (no CUDA)', cuda: 'CPU backend + CUDA kernels (sm_75..sm_90)', emulated: 'CPU backend + emulated CUDA (test build)' };
console.log(`lowbit: built ${what[flavor] ?? flavor}`);
