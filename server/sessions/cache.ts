// The per-daemon cache of credentials and users in front of the database, for the hot path
// (GET /v1/me). Its rules, in one place for every store that keeps one (sessions, users, access
// tokens): an entry is served for at most CACHE_TTL_MS, and only while the invalidation channel is
// live (db/channel.ts); every invalidation drops entries at once; a row read while an invalidation
// arrived is not kept (it could be the row that was just revoked). With metrics on, `through`
// counts its hits and misses in `stats` (two plain additions; server/metrics/ reads them on scrape).

/** How long a cached entry may be served without asking the database again. */
export const CACHE_TTL_MS = 5_000;
const MAX_ENTRIES = 50_000;

export class CredentialCache<V> {
  private readonly entries = new Map<string, { value: V; cachedAt: number }>();
  /** Counts invalidations; a read that saw one happen is not cached. */
  private generation = 0;

  constructor(
    private readonly clock: () => number,
    private readonly channel: { readonly live: boolean },
    private readonly stats?: { hits: number; misses: number },
  ) {}

  /** The entry when it may still be served: young enough, and only while invalidations arrive. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry || !this.channel.live) return undefined;
    return this.clock() - entry.cachedAt < CACHE_TTL_MS ? entry.value : undefined;
  }

  /** `get`, counted as a hit when it answers (a miss is counted by the `through` that follows it). */
  hit(key: string): V | undefined {
    const value = this.get(key);
    if (value !== undefined && this.stats) this.stats.hits++;
    return value;
  }

  /** The entry, or what `load` reads from the database (kept when no invalidation came meanwhile). */
  async through(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const cached = this.get(key);
    if (cached !== undefined) {
      if (this.stats) this.stats.hits++;
      return cached;
    }
    if (this.stats) this.stats.misses++;
    const generation = this.generation;
    const value = await load();
    if (value !== undefined && this.generation === generation && this.channel.live) this.remember(key, value);
    return value;
  }

  delete(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  deleteWhere(matches: (value: V) => boolean): void {
    this.generation++;
    for (const [key, entry] of this.entries) if (matches(entry.value)) this.entries.delete(key);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  /** Insertion order makes the oldest entry go first once the cache is full. */
  private remember(key: string, value: V): void {
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, cachedAt: this.clock() });
  }
}
