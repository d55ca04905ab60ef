// Builds one package of the workspace: `tsc` emits ES modules and their .d.ts files into dist/,
// esbuild adds a CommonJS bundle per entry point (for `require`), and the minified browser builds a
// package lists under `kassa.browserBuilds` (@kassa/embed's script and module, which Kassa serves).
// Each .d.ts gets a .d.cts twin (its relative imports pointing at .cjs): the types a `require` sees
// must be CommonJS declarations, or TypeScript takes the CommonJS bundle for ESM ("masquerading as
// ESM"); `./dev release --dry-run` checks both with @arethetypeswrong/cli.
// Usage: node scripts/build.mjs <package> [--assets]
//   --assets  also copies the browser builds to the package's `kassa.servedBy` folder (committed
//             there, so the Python service needs no Node; tests/sdk_js/test_embed_assets.py compares)
import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const name = process.argv[2];
const dir = join(root, 'packages', name);
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

rmSync(join(dir, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')],
             { stdio: 'inherit' });
for (const entry of readdirSync(join(dir, 'dist'), { recursive: true, encoding: 'utf8' })) {
  if (!entry.endsWith('.d.ts')) continue;
  const text = readFileSync(join(dir, 'dist', entry), 'utf8')
    .replace(/(from\s+|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]*?)\.js\2/g, '$1$2$3.cjs$2');
  writeFileSync(join(dir, 'dist', entry.slice(0, -'.d.ts'.length) + '.d.cts'), text);
}
const external = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies });
for (const [entry, target] of Object.entries(pkg.exports)) {
  const outfile = target?.require?.default ?? target?.require;
  if (typeof outfile !== 'string') continue;
  const source = join(dir, 'src', (entry === '.' ? 'index' : entry.slice(2)) + '.ts');
  await build({ entryPoints: [source], outfile: join(dir, outfile), bundle: true, format: 'cjs',
                platform: 'neutral', target: 'es2022', external, logLevel: 'warning' });
}
for (const { outfile, ...options } of pkg.kassa?.browserBuilds ?? []) {
  await build({ entryPoints: [join(dir, 'src', 'index.ts')], outfile: join(dir, outfile), bundle: true, minify: true,
                platform: 'browser', target: 'es2020', legalComments: 'none', logLevel: 'warning', ...options });
  if (process.argv.includes('--assets')) copyFileSync(join(dir, outfile), join(dir, pkg.kassa.servedBy, basename(outfile)));
}
