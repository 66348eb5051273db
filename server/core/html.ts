// The one template module of pages and mails: `html` escapes every value unless it is already Html.
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Markup that is safe as it is: made by `html`, so every value in it was escaped. */
export class Html {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

/** A template that escapes what it is given: Html and lists of Html go in as they are, the rest as text. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let markup = strings[0] ?? '';
  values.forEach((value, index) => {
    markup += asMarkup(value) + (strings[index + 1] ?? '');
  });
  return new Html(markup);
}

function asMarkup(value: unknown): string {
  if (value instanceof Html) return value.markup;
  if (Array.isArray(value)) return value.map(asMarkup).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/**
 * A `code` span: its backticks stand between a space (or the start) and a space, `,:;)`, a
 * sentence's last `.` (or the end). An email address may hold backticks but never matches.
 */
const CODE_SPAN = /(^|[\s(])`([^`\s][^`]*)`(?=$|[\s,:;)]|\.(?:\s|$))/g;

/** Text with `command` spans, as HTML: the spans become <code>. */
export function withCode(text: string, codeStyle?: string): Html {
  const parts: (Html | string)[] = [];
  let last = 0;
  for (const match of text.matchAll(CODE_SPAN)) {
    const [whole, before = '', code = ''] = match;
    parts.push(text.slice(last, match.index) + before, html`<code${codeStyle ? html` style="${codeStyle}"` : ''}>${code}</code>`);
    last = match.index + whole.length;
  }
  parts.push(text.slice(last));
  return html`${parts}`;
}
