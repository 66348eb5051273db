// Reading /metrics as Prometheus would: the text parsed by a Prometheus text-format parser (never
// by our own regexes), and promtool's lint when the machine has it (Debian package `prometheus`).
import { spawnSync } from 'node:child_process';
import parsePrometheusTextFormat, { type ParsedFamily, type ParsedSample } from 'parse-prometheus-text-format';
import { request } from 'undici';

export interface Scrape {
  status: number;
  contentType: string;
  text: string;
  families: ParsedFamily[];
}

export async function scrape(metricsUrl: string): Promise<Scrape> {
  const response = await request(metricsUrl);
  const text = await response.body.text();
  const contentType = String(response.headers['content-type'] ?? '');
  return { status: response.statusCode, contentType, text, families: response.statusCode === 200 ? parsePrometheusTextFormat(text) : [] };
}

/** The value of one counter or gauge series (0 when the series is absent), found by all its labels. */
export function valueOf(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  const sample = samplesOf(families, name).find((metric) => sameLabels(metric.labels ?? {}, labels));
  return sample?.value === undefined ? 0 : Number(sample.value);
}

/** Whether a family by this name is in the scrape at all (a gauge left out reads as absent, not 0). */
export function has(families: ParsedFamily[], name: string): boolean {
  return families.some((family) => family.name === name && family.metrics.length > 0);
}

/** The label sets of a family's series. */
export function seriesOf(families: ParsedFamily[], name: string): Record<string, string>[] {
  return samplesOf(families, name).map((metric) => metric.labels ?? {});
}

/**
 * The `_count` of one series of a labelled histogram. The parser folds every series of a labelled
 * histogram into one (it keeps the buckets of the last and drops the labels), so the histogram's
 * lines are read again with its TYPE line left out: then `<name>_count` is a family of its own,
 * each series with its labels.
 */
export function histogramCountOf(text: string, name: string, labels: Record<string, string>): number {
  const untyped = text
    .split('\n')
    .filter((line) => line !== `# TYPE ${name} histogram`)
    .join('\n');
  return valueOf(parsePrometheusTextFormat(untyped), `${name}_count`, labels);
}

/** Every label value in the text, parsed: what a scan for leaked identifiers must look through. */
export function labelValues(families: ParsedFamily[]): string[] {
  return families.flatMap((family) => family.metrics.flatMap((metric) => Object.values(metric.labels ?? {})));
}

/** Every sample of the families by this name (the histogram re-read below yields one family per run of lines). */
function samplesOf(families: ParsedFamily[], name: string): ParsedSample[] {
  return families.filter((family) => family.name === name).flatMap((family) => family.metrics);
}

function sameLabels(actual: Record<string, string>, wanted: Record<string, string>): boolean {
  const keys = Object.keys(actual);
  return keys.length === Object.keys(wanted).length && keys.every((key) => actual[key] === wanted[key]);
}

/** promtool's path, or undefined when it is not installed (the tests then say so in their titles). */
export const PROMTOOL: string | undefined = (() => {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return found.status === 0 ? 'promtool' : undefined;
})();

/** `promtool check metrics` on `text`: its exit code and what it printed. */
export function promtoolCheck(text: string): { code: number | null; output: string } {
  const run = spawnSync(PROMTOOL ?? 'promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

/** `promtool check rules FILE`: whether every expression in it is valid PromQL. */
export function promtoolCheckRules(file: string): { code: number | null; output: string } {
  const run = spawnSync(PROMTOOL ?? 'promtool', ['check', 'rules', file], { encoding: 'utf8' });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}
