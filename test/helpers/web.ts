// A browser as the web pages' HTTP tests see one: a cookie jar, the Origin a browser sends with a
// form, no redirects followed (each 303 is looked at), and every answer held to the OpenAPI
// document (checkAgainstDocument). For what only a real browser shows, see ./browser.ts.
import { request } from 'undici';
import { checkAgainstDocument } from './http.js';

export interface PageReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Set-Cookie lines of this answer, as sent. */
  setCookies: string[];
  location: string | undefined;
}

const headerList = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

export class WebClient {
  /** name → value, as a browser keeps them (a Max-Age=0 line removes one). */
  readonly jar = new Map<string, string>();

  constructor(
    readonly base: string,
    /** The Origin its forms send: the page's own origin (PUBLIC_URL's), unless a test forges one. */
    readonly origin: string = new URL(base).origin,
  ) {}

  async get(path: string, headers: Record<string, string> = {}): Promise<PageReply> {
    return this.send('GET', path, undefined, headers);
  }

  /** A form post as a browser sends it: Origin and the cookies; `headers` may forge or drop them (a value of '' drops the header). */
  async post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<PageReply> {
    return this.send('POST', path, new URLSearchParams(fields).toString(), { 'content-type': 'application/x-www-form-urlencoded', origin: this.origin, ...headers });
  }

  /** GETs `page` and posts its form for `action` with `fields` and the page's CSRF token. */
  async submit(page: string, action: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<PageReply> {
    const shown = await this.get(page);
    return this.post(action, { csrf: csrfOf(shown.text, action), ...fields }, headers);
  }

  cookieHeader(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  private async send(method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<PageReply> {
    const sent: Record<string, string> = {};
    if (this.jar.size > 0) sent.cookie = this.cookieHeader();
    for (const [name, value] of Object.entries(headers)) if (value !== '') sent[name] = value;
    for (const [name, value] of Object.entries(headers)) if (value === '') delete sent[name];
    const response = await request(new URL(path, this.base), { method: method as 'GET', headers: sent, body });
    const text = await response.body.text();
    const setCookies = headerList(response.headers['set-cookie']);
    for (const line of setCookies) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1);
      if (/;\s*Max-Age=0(;|$)/i.test(line) || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const reply: PageReply = { status: response.statusCode, headers: response.headers, text, setCookies, location: headerList(response.headers.location)[0] };
    checkAgainstDocument(method, new URL(path, this.base).pathname, { status: reply.status, headers: reply.headers, text, json: undefined });
    return reply;
  }
}

/** The CSRF token of the page's form that posts to `action`. */
export function csrfOf(page: string, action: string): string {
  const form = new RegExp(`<form[^>]*action="${action.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>[\\s\\S]*?name="csrf" value="([^"]+)"`).exec(page);
  if (!form?.[1]) throw new Error(`no form posting to ${action} on this page`);
  return form[1];
}

/** The page's <h1>, as text. */
export const headingOf = (page: string): string | undefined => /<h1[^>]*>([\s\S]*?)<\/h1>/.exec(page)?.[1];

/** The Set-Cookie line for `name`. */
export const cookieLine = (reply: PageReply, name: string): string | undefined => reply.setCookies.find((line) => line.startsWith(`${name}=`));
