import { readFileSync } from 'node:fs';

declare const __TASKMASTER_VERSION__: string | undefined;

/** The build inlines the version; from source it is read from package.json. */
export function packageVersion(): string {
  if (typeof __TASKMASTER_VERSION__ === 'string') return __TASKMASTER_VERSION__;
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'taskmaster' && pkg.version) return pkg.version;
    } catch {
      // try the next place
    }
  }
  return '0.0.0';
}
