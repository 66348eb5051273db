// `npm run metrics:plot`: the picture in docs/metrics.md, made from real metrics. Not a benchmark
// (the load is light: a few dozen requests a second): it starts a daemon with METRICS_PORT on
// SQLite beside a real SMTP receiver, plays a few minutes of an account service's life in one
// (a steady stream of GET /v1/me, sign-ups, logins, a password guesser who gets blocked, forged
// tokens, an SMTP server that answers "try again later" for a while), scrapes /metrics every 2 seconds as Prometheus
// would, and draws the dashboard's panels from those scrapes as an SVG: docs/metrics-dashboard.svg.
// PLOT_SECONDS sets the length (default 90), PLOT_OUT the file.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { api } from '../helpers/http.js';
import { activeAccount, identity, startTestDaemon } from '../helpers/daemon.js';
import { seriesOf, valueOf } from '../helpers/prometheus.js';
import { startSmtp } from '../helpers/smtp.js';

const SECONDS = Number(process.env.PLOT_SECONDS ?? 90);
const SCRAPE_MS = 2_000;
const OUT = process.env.PLOT_OUT ?? fileURLToPath(new URL('../../docs/metrics-dashboard.svg', import.meta.url));

interface Sample {
  at: number;
  families: ParsedFamily[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  // While `busy`, the SMTP server answers every recipient 451 (as a greylisting or overloaded server does).
  let busy = false;
  const smtp = await startSmtp({ refuseRecipient: () => (busy ? { code: 451, text: '4.3.2 Try again later' } : undefined) });
  const td = await startTestDaemon({ smtp, env: { METRICS_PORT: '0' }, limits: { loginFailuresPerAccountAndAddress: 5, firstLoginBlockSeconds: 20 } });
  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  const users = await Promise.all(Array.from({ length: 4 }, () => activeAccount(td, identity('plot'))));
  const samples: Sample[] = [];
  let running = true;

  // Every line untyped (TYPE lines dropped), so each histogram's _bucket series keeps its labels (see test/helpers/prometheus.ts).
  const scraper = (async () => {
    while (running) {
      const text = await (await fetch(td.daemon.metricsUrl!)).text();
      samples.push({ at: elapsed(), families: parsePrometheusTextFormat(text.split('\n').filter((line) => !line.startsWith('# TYPE')).join('\n')) });
      await sleep(SCRAPE_MS);
    }
  })();

  const loop = async (everyMs: number, work: () => Promise<unknown>, from = 0, to = SECONDS) => {
    while (running && elapsed() < from) await sleep(100);
    while (running && elapsed() < to) {
      await work().catch(() => undefined);
      await sleep(everyMs);
    }
  };
  const pick = <T>(values: T[]): T => values[Math.floor(Math.random() * values.length)]!;
  const guesser = identity('victim');
  const victim = await activeAccount(td, guesser);
  await Promise.all([
    // Users at work: their sessions checked, now and then a list of sessions or a login.
    loop(25, () => api(td.url, 'GET', '/v1/me', undefined, { token: pick(users).token })),
    loop(400, () => api(td.url, 'GET', '/v1/sessions', undefined, { token: pick(users).token })),
    loop(1_500, () => { const who = pick(users); return api(td.url, 'POST', '/v1/sessions', { email: who.email, password: who.password }); }),
    // Sign-ups, faster in the middle third.
    loop(2_500, () => api(td.url, 'POST', '/v1/users', identity('signup'))),
    loop(700, () => api(td.url, 'POST', '/v1/users', identity('rush')), SECONDS / 3, (2 * SECONDS) / 3),
    // A guesser on one account from 25% to 55%: failures, then blocks (429).
    loop(300, () => api(td.url, 'POST', '/v1/sessions', { email: victim.email, password: `guess-${randomBytes(4).toString('hex')}` }), SECONDS * 0.25, SECONDS * 0.55),
    // Someone trying made-up session tokens in the last third.
    loop(150, () => api(td.url, 'GET', '/v1/me', undefined, { token: `tm_${randomBytes(32).toString('base64url')}` }), (2 * SECONDS) / 3, SECONDS * 0.9),
    // The SMTP server says "try again later" from 40% to 60%: the outbox grows, then drains.
    (async () => {
      while (elapsed() < SECONDS * 0.4) await sleep(100);
      busy = true;
      while (elapsed() < SECONDS * 0.6) await sleep(100);
      busy = false;
    })(),
  ]);
  running = false;
  await scraper;
  await td.close();
  await smtp.close();
  writeFileSync(OUT, render(samples));
  console.error(`wrote ${OUT} from ${samples.length} scrapes over ${Math.round(elapsed())} s`);
}

// ---- from scrapes to series, as the dashboard's PromQL computes them --------------------------

type Line = { label: string; points: [number, number][] };

/** rate() of each series of a counter, summed by `by`, between consecutive scrapes. */
function rates(samples: Sample[], name: string, by: string | undefined, filter: (labels: Record<string, string>) => boolean = () => true): Line[] {
  const keys = new Set<string>();
  for (const sample of samples) for (const labels of seriesOf(sample.families, name)) if (filter(labels)) keys.add(by ? (labels[by] ?? '') : name);
  return [...keys].map((key) => ({
    label: key,
    points: samples.slice(1).map((sample, i) => {
      const previous = samples[i]!;
      const total = (families: ParsedFamily[]) =>
        seriesOf(families, name)
          .filter((labels) => filter(labels) && (!by || labels[by] === key))
          .reduce((sum, labels) => sum + valueOf(families, name, labels), 0);
      return [sample.at, Math.max(0, total(sample.families) - total(previous.families)) / (sample.at - previous.at)] as [number, number];
    }),
  }));
}

/** histogram_quantile(q) by route over a window of `window` scrapes. */
function quantiles(samples: Sample[], q: number, routes: string[], window = 3): Line[] {
  const name = 'taskmaster_http_request_duration_seconds_bucket';
  return routes.map((route) => ({
    label: route,
    points: samples.slice(window).flatMap((sample, i) => {
      const previous = samples[i]!;
      const buckets = new Map<number, number>();
      for (const labels of seriesOf(sample.families, name).filter((each) => each.route === route)) {
        const bound = labels.le === '+Inf' ? Infinity : Number(labels.le);
        buckets.set(bound, (buckets.get(bound) ?? 0) + valueOf(sample.families, name, labels) - valueOf(previous.families, name, labels));
      }
      const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
      const total = sorted.at(-1)?.[1] ?? 0;
      if (total <= 0) return [];
      const rank = q * total;
      let lowerBound = 0;
      let lowerCount = 0;
      for (const [bound, count] of sorted) {
        if (count >= rank) {
          const value = bound === Infinity ? lowerBound : lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / Math.max(1e-9, count - lowerCount);
          return [[sample.at, value * 1000] as [number, number]];
        }
        lowerBound = bound;
        lowerCount = count;
      }
      return [];
    }),
  }));
}

function gauge(samples: Sample[], name: string, label: string, scale = 1): Line {
  return { label, points: samples.map((sample) => [sample.at, valueOf(sample.families, name) * scale] as [number, number]) };
}

function hitRatio(samples: Sample[], cache: string): Line {
  const hits = rates(samples, 'taskmaster_credential_cache_hits_total', 'cache', (labels) => labels.cache === cache)[0]?.points ?? [];
  const misses = rates(samples, 'taskmaster_credential_cache_misses_total', 'cache', (labels) => labels.cache === cache)[0]?.points ?? [];
  return { label: cache, points: hits.flatMap(([at, hit], i) => (hit + (misses[i]?.[1] ?? 0) > 0 ? [[at, (100 * hit) / (hit + (misses[i]?.[1] ?? 0))] as [number, number]] : [])) };
}

// ---- drawing ----------------------------------------------------------------------------------

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const PANEL_W = 560;
const PANEL_H = 250;
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((step) => step * power).find((candidate) => candidate >= value)!;
}

function panel(x: number, y: number, title: string, unit: string, lines: Line[], fixedMax?: number): string {
  const plot = { left: x + 56, top: y + 46, width: PANEL_W - 76 - 150, height: PANEL_H - 80 };
  const shown = lines.filter((line) => line.points.length > 0);
  const maxX = SECONDS;
  const maxY = fixedMax ?? niceMax(Math.max(0, ...shown.flatMap((line) => line.points.map(([, value]) => value))));
  const sx = (at: number) => plot.left + (Math.min(at, maxX) / maxX) * plot.width;
  const sy = (value: number) => plot.top + plot.height - (Math.min(value, maxY) / maxY) * plot.height;
  const parts = [`<rect x="${x}" y="${y}" width="${PANEL_W - 10}" height="${PANEL_H - 10}" rx="4" fill="#fff" stroke="#d0d4d9"/>`, `<text x="${x + 12}" y="${y + 20}" font-size="14" font-weight="600">${escape(title)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const value = (maxY * i) / 4;
    parts.push(`<line x1="${plot.left}" x2="${plot.left + plot.width}" y1="${sy(value)}" y2="${sy(value)}" stroke="#eef0f2"/>`);
    parts.push(`<text x="${plot.left - 6}" y="${sy(value) + 4}" font-size="10" text-anchor="end" fill="#555">${Number(value.toPrecision(3))}</text>`);
  }
  for (let at = 0; at <= maxX; at += 15) parts.push(`<text x="${sx(at)}" y="${plot.top + plot.height + 14}" font-size="10" text-anchor="middle" fill="#555">${at}s</text>`);
  parts.push(`<text x="${x + 12}" y="${y + 36}" font-size="10" fill="#555">${escape(unit)}</text>`);
  shown.forEach((line, i) => {
    const colour = COLOURS[i % COLOURS.length];
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.6" points="${line.points.map(([at, value]) => `${sx(at).toFixed(1)},${sy(value).toFixed(1)}`).join(' ')}"/>`);
    parts.push(`<rect x="${plot.left + plot.width + 12}" y="${plot.top + i * 16}" width="10" height="3" fill="${colour}"/>`);
    parts.push(`<text x="${plot.left + plot.width + 26}" y="${plot.top + i * 16 + 5}" font-size="10">${escape(line.label.slice(0, 22))}</text>`);
  });
  return parts.join('\n');
}

function render(samples: Sample[]): string {
  const requestRates = rates(samples, 'taskmaster_http_requests_total', 'route')
    .sort((a, b) => b.points.reduce((sum, [, v]) => sum + v, 0) - a.points.reduce((sum, [, v]) => sum + v, 0))
    .slice(0, 6);
  const panels = [
    panel(0, 40, 'Request rate by route', 'requests/s', requestRates),
    panel(PANEL_W, 40, 'Latency p99 by route (6 s window)', 'ms', quantiles(samples, 0.99, requestRates.map((line) => line.label).slice(0, 5))),
    panel(0, 40 + PANEL_H, 'Logins by result', 'attempts/s', rates(samples, 'taskmaster_logins_total', 'result').filter((line) => line.points.some(([, value]) => value > 0))),
    panel(PANEL_W, 40 + PANEL_H, 'Login blocks set, tokens refused', 'per s', [
      ...rates(samples, 'taskmaster_login_blocks_total', 'scope').map((line) => ({ ...line, label: `block: ${line.label}` })),
      ...rates(samples, 'taskmaster_tokens_refused_total', 'kind').filter((line) => line.points.some(([, value]) => value > 0)).map((line) => ({ ...line, label: `token: ${line.label}` })),
    ]),
    panel(0, 40 + 2 * PANEL_H, 'Mail: outbox depth, mails sent, attempts failed', 'mails; mails/s', [
      gauge(samples, 'taskmaster_mail_outbox_depth', 'outbox depth'),
      ...rates(samples, 'taskmaster_mails_sent_total', undefined).map((line) => ({ ...line, label: 'sent/s' })),
      ...rates(samples, 'taskmaster_mail_attempts_failed_total', undefined).map((line) => ({ ...line, label: 'attempts failed/s' })),
    ]),
    panel(PANEL_W, 40 + 2 * PANEL_H, 'Credential cache hit ratio', '%', ['sessions', 'users'].map((cache) => hitRatio(samples, cache)), 100),
  ];
  const width = 2 * PANEL_W;
  const height = 40 + 3 * PANEL_H;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<rect width="100%" height="100%" fill="#f4f5f7"/>
<text x="12" y="26" font-size="13" font-weight="700">taskmasterd /metrics every ${SCRAPE_MS / 1000} s for ${SECONDS} s (npm run metrics:plot): a guesser from ${Math.round(SECONDS * 0.25)} s, SMTP answering 451 from ${Math.round(SECONDS * 0.4)} to ${Math.round(SECONDS * 0.6)} s, forged tokens from ${Math.round((2 * SECONDS) / 3)} s</text>
${panels.join('\n')}
</svg>
`;
}

await main();
