// The web pages' views, on the layout of layout.ts.
import type { Context } from 'koa';
import type { Services } from '../capabilities.js';
import { html } from '../core/html.js';
import { say } from '../core/page.js';
import { webPage } from './layout.js';

type Web = Pick<Services, 'publicUrl'>;

/** `/` signed out: the way to sign in or to create an account. */
export function startPage(ctx: Context, services: Web) {
  return webPage(ctx, services, {
    title: 'Welcome to TaskMaster',
    content: html`${say('Sign in to see your account, its sessions and access tokens, or create an account.')}
<p><a href="/login">Sign in</a></p>
<p><a href="/register">Create an account</a></p>
${say('In a terminal, `taskmaster login` does the same.', true)}`,
  });
}
