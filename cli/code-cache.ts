// Loads one of the CLI's CommonJS bundles through V8's code cache, as Node 22's
// module.enableCompileCache() does for every module (Node 20 has no such thing): the code V8
// compiled for the bundle in an earlier run is read back from the user's cache folder, so this run
// neither parses nor compiles it again. The first run on a machine compiles as usual and leaves the
// cache behind when it exits.
//
// A cache belongs to one bundle and one Node: its file is named after the bundle's file (whose name
// carries a hash of its content) and Node's version and architecture; V8 refuses a cache made by
// another V8 or with other flags, and a CRC-32 in front of it refuses a damaged one (V8 itself only
// checks lengths). A refused cache is made again. A folder that cannot be read or written only means
// no cache.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { crc32 } from 'node:zlib';
import envPaths from 'env-paths';

type CommonJsWrapper = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;

/** Caches to write once the command is done: made after the run, they hold what it compiled. */
const toWrite: (() => void)[] = [];

export function loadBundle<T>(url: URL): T {
  const file = fileURLToPath(url);
  const cacheFile = join(envPaths('taskmaster', { suffix: '' }).cache, `${basename(file)}.${process.version}-${process.arch}.v8cache`);
  const cachedData = readCache(cacheFile);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) { ${readFileSync(file, 'utf8')}\n})`, { filename: file, cachedData });
  const module = { exports: {} };
  (script.runInThisContext() as CommonJsWrapper)(module.exports, createRequire(file), module, file, dirname(file));
  if (cachedData === undefined || script.cachedDataRejected) {
    // Every command ends in process.exit() (cli/main.ts); 'exit' handlers run synchronously.
    if (toWrite.length === 0) process.once('exit', () => toWrite.forEach((write) => write()));
    toWrite.push(() => writeCache(cacheFile, script.createCachedData(), basename(file).split('-')[0]!));
  }
  return module.exports as T;
}

/** The cache's data when its checksum holds. */
function readCache(path: string): Buffer | undefined {
  try {
    const stored = readFileSync(path);
    const data = stored.subarray(4);
    return stored.length > 4 && stored.readUInt32BE(0) === crc32(data) ? data : undefined;
  } catch {
    return undefined; // none yet
  }
}

/**
 * Another taskmaster may write the same cache at the same moment, so each writes a file of its own
 * and renames it into place. The caches of older builds of the same bundle go.
 */
function writeCache(path: string, data: Buffer, bundle: string): void {
  try {
    const folder = dirname(path);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(crc32(data));
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, Buffer.concat([checksum, data]), { mode: 0o600 });
    renameSync(temporary, path);
    for (const old of readdirSync(folder)) if (old.startsWith(`${bundle}-`) && old.endsWith('.v8cache') && old !== basename(path)) rmSync(join(folder, old), { force: true });
  } catch {
    // a read-only or missing home: the next run compiles again
  }
}
