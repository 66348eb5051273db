// What the OpenAPI document says of the capabilities' zod schemas (each registers its bodies here),
// and how a capability describes its operations (server/reference/document.ts builds the document).
import { z } from 'zod';
import type { Scope } from '../contract/access-tokens.js';
import type { ErrorCode } from '../contract/api.js';

/** What the document says of a schema: `id` makes it a named component, `description` documents it. */
export interface SchemaDoc {
  id?: string;
  description?: string;
  /** JSON Schema limits of a text field that zod cannot see (its checks are ours; see FIELD_LIMITS). */
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  /** Object rules zod's refinements hold that JSON Schema can state (which fields a body needs together). */
  anyOf?: { required: string[] }[];
  dependentRequired?: Record<string, string[]>;
}

/** Request bodies (converted as zod reads its input). */
export const requestDocs = z.registry<SchemaDoc>();

/** Response bodies (converted as the daemon writes them). */
export const responseDocs = z.registry<SchemaDoc>();

export const named = <T extends z.ZodType>(registry: typeof requestDocs, schema: T, id: string, description: string, rules: Omit<SchemaDoc, 'id' | 'description'> = {}): T => {
  registry.add(schema, { id, description, ...rules });
  return schema;
};

export const described = <T extends z.ZodType>(registry: typeof requestDocs, schema: T, description: string, limits: Omit<SchemaDoc, 'id' | 'description'> = {}): T => {
  registry.add(schema, { description, ...limits });
  return schema;
};

export const timestamp = (description: string) => described(responseDocs, z.iso.datetime(), description);
export const nullableText = (description: string) => described(responseDocs, z.string().nullable(), description);
export const count = (description: string) => described(responseDocs, z.int().nonnegative(), description);

type Json = { [key: string]: unknown };

export interface Parameter {
  name: string;
  in: 'query' | 'path';
  description: string;
  required: boolean;
  schema: Json;
}

/** One operation of a capability, as the OpenAPI document describes it. */
export interface OperationSpec {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  operationId: string;
  /** A tag one of the capabilities declares. */
  tag: string;
  summary: string;
  description: string;
  /**
   * Who may call it (`Authorization: Bearer`): only a session; a session or an access token with
   * this scope; or any credential (an access token of any scope).
   */
  auth?: 'session' | Scope | 'any';
  parameters?: Parameter[];
  /** Component names of the body: JSON, and the page's form where a browser posts one (a web page's form alone). */
  body?: { json?: string; form?: string };
  success: { status: number; description: string; json?: string; html?: true; /** A script (the pages' passkey script). */ javascript?: true };
  /**
   * The problems this operation answers beside those every request of its kind may get (see
   * `commonProblems`), each at its catalogue status, or at the status given beside it.
   */
  problems: (ErrorCode | [ErrorCode, number])[];
  /** A web page's 303 (beside a success of another status): where it sends the browser, and when. */
  redirect?: string;
  /** HTML pages answering a failure of a browser's request (page GETs and form posts), by status. */
  pages?: Record<number, string>;
  /** False when the operation never reads the database (so never answers 503). */
  database?: false;
  /**
   * OAuth endpoints (the device flow) answer their refusals, a bad body's included, as OAuth error
   * bodies (`DeviceError`): the codes each status may carry. Server failures stay problem+json.
   */
  oauthErrors?: { status: number; codes: string[]; description: string; retryAfter?: true }[];
}

/** An emailed token in a link's query. */
export const tokenQuery = (what: string): Parameter => ({
  name: 'token',
  in: 'query',
  description: `The ${what} token from the email's link (an emailed token, not a session token: those never go in a URL).`,
  required: true,
  schema: { type: 'string' },
});
