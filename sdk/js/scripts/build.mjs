// Builds one package of the workspace: `tsc` emits ES modules and their .d.ts files into dist/,
// esbuild adds a CommonJS bundle per entry point (for `require`). Usage: node scripts/build.mjs <package>
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const name = process.argv[2];
const dir = join(root, 'packages', name);
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

rmSync(join(dir, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')],
             { stdio: 'inherit' });
const external = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies });
for (const [entry, target] of Object.entries(pkg.exports)) {
  if (typeof target !== 'object' || !target.require) continue;
  const source = join(dir, 'src', (entry === '.' ? 'index' : entry.slice(2)) + '.ts');
  await build({ entryPoints: [source], outfile: join(dir, target.require), bundle: true, format: 'cjs',
                platform: 'neutral', target: 'es2022', external, logLevel: 'warning' });
}
