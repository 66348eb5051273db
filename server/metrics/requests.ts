// Requests by route pattern, method and status, and how long they took: the one metric on the hot
// path (GET /v1/me), so it is not a prom-client Histogram, whose every observation builds a label
// object and a hash string. A series here is a few numbers found through three Map lookups, and
// nothing is allocated per request once a (route, method, status) was seen; the text is made from
// these numbers when /metrics is scraped. State: in this daemon's memory only (a restart starts at
// zero, as Prometheus counters may).

/** Upper bounds in seconds: /v1/me answers well under a millisecond, a login spends ~0.1–0.3 s in bcrypt. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The route label of a request no route matched (any path): a fixed value, so a scanner's paths make no series. */
export const UNMATCHED_ROUTE = '(unmatched)';

interface Series {
  method: string;
  route: string;
  status: string;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative: each lands in one); beyond the last bound only `count` grows. */
  buckets: Float64Array;
}

/** What prom-client's Registry reads of a metric when it writes /metrics. */
interface Collected {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

export class RequestMetrics {
  private readonly byRoute = new Map<string, Map<string, Map<number, Series>>>();

  /** One answered request: `route` is the router's pattern (undefined when none matched), never the path. */
  observe(method: string, route: string | undefined, status: number, seconds: number): void {
    const pattern = route ?? UNMATCHED_ROUTE;
    let byMethod = this.byRoute.get(pattern);
    if (byMethod === undefined) this.byRoute.set(pattern, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (series === undefined) {
      series = { method, route: pattern, status: String(status), count: 0, sum: 0, buckets: new Float64Array(DURATION_BUCKETS.length) };
      byStatus.set(status, series);
    }
    series.count++;
    series.sum += seconds;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++;
    if (bucket < DURATION_BUCKETS.length) series.buckets[bucket]!++;
  }

  private *series(): Iterable<Series> {
    for (const byMethod of this.byRoute.values()) for (const byStatus of byMethod.values()) yield* byStatus.values();
  }

  /** `taskmaster_http_requests_total`, as the registry collects it. */
  readonly counter = {
    name: 'taskmaster_http_requests_total',
    help: 'Requests answered, by route pattern (as routed, never the raw path), method and status.',
    type: 'counter' as const,
    aggregator: 'sum' as const,
    get: async (): Promise<Collected> => ({
      name: this.counter.name,
      help: this.counter.help,
      type: 'counter',
      aggregator: 'sum',
      values: [...this.series()].map((series) => ({ value: series.count, labels: { method: series.method, route: series.route, status: series.status } })),
    }),
  };

  /** `taskmaster_http_request_duration_seconds`, as the registry collects it. */
  readonly histogram = {
    name: 'taskmaster_http_request_duration_seconds',
    help: 'Time from a request reaching the daemon to its answer being ready, by route pattern, method and status.',
    type: 'histogram' as const,
    aggregator: 'sum' as const,
    get: async (): Promise<Collected> => {
      const values: Collected['values'] = [];
      const name = this.histogram.name;
      for (const series of this.series()) {
        const labels = { method: series.method, route: series.route, status: series.status };
        let cumulative = 0;
        DURATION_BUCKETS.forEach((bound, index) => {
          cumulative += series.buckets[index]!;
          values.push({ value: cumulative, labels: { ...labels, le: bound }, metricName: `${name}_bucket` });
        });
        values.push({ value: series.count, labels: { ...labels, le: '+Inf' }, metricName: `${name}_bucket` });
        values.push({ value: series.sum, labels, metricName: `${name}_sum` });
        values.push({ value: series.count, labels, metricName: `${name}_count` });
      }
      return { name, help: this.histogram.help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}
