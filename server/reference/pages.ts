// The page a problem's `type` URI opens.
import { Html, html } from '../core/html.js';
import { renderPage, say } from '../core/page.js';

/** The page a problem's `type` URI opens. */
export function problemPage(problem: { code: string; title: string; status: number; description: string }): Html {
  return renderPage(
    problem.title,
    'plain',
    html`<p>Problem code <code>${problem.code}</code>, HTTP status ${problem.status}.</p>
${say(problem.description)}${say('The API answers it as RFC 9457 `application/problem+json`; its `detail` says what happened that time.', true)}`,
  );
}
