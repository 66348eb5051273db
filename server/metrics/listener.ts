// The metrics listener: GET /metrics on a socket of its own (METRICS_HOST:METRICS_PORT), never on
// the API's port, so what the world can reach stays the API and a firewall or a loopback bind
// keeps /metrics to Prometheus. Plain node:http: none of the API's frame applies here.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

export function metricsServer(metrics: Metrics, log: Logger): Server {
  const server = createServer((req, res) => void answer(metrics, log, req, res));
  server.keepAliveTimeout = 5_000;
  return server;
}

async function answer(metrics: Metrics, log: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (path !== '/metrics') return plain(res, 404, 'Not found: the metrics are at /metrics.\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return plain(res, 405, 'Method not allowed: GET /metrics.\n');
  }
  try {
    const { contentType, text } = await metrics.scrape();
    res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  } catch (error) {
    log.warn({ err: { message: (error as Error).message } }, 'metrics scrape failed');
    plain(res, 500, 'The metrics could not be collected; the daemon log says why.\n');
  }
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The URL of a listening server, as the log and tests name it. */
export function listeningUrl(server: Server, host: string): { url: string; port: number } {
  const { port } = server.address() as AddressInfo;
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, port };
}
