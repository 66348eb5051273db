// One suite, two databases: a test file calls forEachDatabase once, and its tests run against
// SQLite (the embedded default) and a real PostgreSQL, with the dialect in every title.
import test, { type ExecutionContext, type ImplementationFn } from 'ava';
import { sharedPostgres, stopSharedPostgres } from './postgres.js';

export type Dialect = 'sqlite' | 'postgres';
export const DIALECTS: Dialect[] = ['sqlite', 'postgres'];

export interface DatabaseChoice {
  dialect: Dialect;
  /** Daemon environment for a fresh, empty database of this dialect ({} for SQLite: the data folder's file). */
  env(): Promise<Record<string, string>>;
}

type Body = ImplementationFn<[], unknown>;
type Hook = (t: ExecutionContext) => unknown;

/** The part of ava's `test` a suite uses, with the dialect put in front of each title. */
export interface DialectTest {
  (title: string, body: Body): void;
  serial(title: string, body: Body): void;
  before(hook: Hook): void;
  after: { always(hook: Hook): void };
}

export function databaseChoice(dialect: Dialect): DatabaseChoice {
  return {
    dialect,
    async env(): Promise<Record<string, string>> {
      if (dialect === 'sqlite') return {};
      return { DATABASE_URL: await (await sharedPostgres()).createDatabase() };
    },
  };
}

let cleanupRegistered = false;

export function forEachDatabase(suite: (test: DialectTest, db: DatabaseChoice) => void): void {
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    test.after.always(stopSharedPostgres);
  }
  for (const dialect of DIALECTS) {
    const titled = (title: string) => `${dialect} › ${title}`;
    const dialectTest = Object.assign((title: string, body: Body) => test(titled(title), body), {
      serial: (title: string, body: Body) => test.serial(titled(title), body),
      before: (hook: Hook) => test.before(hook),
      after: { always: (hook: Hook) => test.after.always(hook) },
    });
    suite(dialectTest, databaseChoice(dialect));
  }
}
