/**
 * Owns the process's counters and gauges and their Prometheus text
 * exposition (`/metrics` on the admin server): requests by status, pool
 * size/waiting/timeouts, schema cache loads and their duration, JWT cache.
 *
 * @module
 */

/** Mutable counters, updated by the handler, the pool and the loader. */
export class Metrics {
  readonly requests = new Map<number, number>();
  poolMax = 0;
  poolInUse = 0;
  poolWaiting = 0;
  poolTimeouts = 0;
  cacheLoads = 0;
  cacheLoadErrors = 0;
  cacheLoadSeconds = 0;
  jwtCacheEntries = 0;
  jwtCacheHits = 0;
  jwtCacheMisses = 0;

  countRequest(status: number): void {
    this.requests.set(status, (this.requests.get(status) ?? 0) + 1);
  }

  /** The Prometheus text format. */
  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    metric("pgrst_requests_total", "counter", "HTTP requests by status");
    for (const [status, n] of [...this.requests].sort((a, b) => a[0] - b[0])) {
      lines.push(`pgrst_requests_total{status="${status}"} ${n}`);
    }
    metric("pgrst_db_pool_max", "gauge", "Maximum pool connections");
    lines.push(`pgrst_db_pool_max ${this.poolMax}`);
    metric("pgrst_db_pool_available", "gauge", "Pool connections not in use");
    lines.push(
      `pgrst_db_pool_available ${Math.max(0, this.poolMax - this.poolInUse)}`,
    );
    metric(
      "pgrst_db_pool_waiting",
      "gauge",
      "Requests waiting for a connection",
    );
    lines.push(`pgrst_db_pool_waiting ${this.poolWaiting}`);
    metric(
      "pgrst_db_pool_timeouts_total",
      "counter",
      "Pool acquisition timeouts",
    );
    lines.push(`pgrst_db_pool_timeouts_total ${this.poolTimeouts}`);
    metric("pgrst_schema_cache_loads_total", "counter", "Schema cache loads");
    lines.push(
      `pgrst_schema_cache_loads_total{status="SUCCESS"} ${this.cacheLoads}`,
    );
    lines.push(
      `pgrst_schema_cache_loads_total{status="ERROR"} ${this.cacheLoadErrors}`,
    );
    metric(
      "pgrst_schema_cache_query_time_seconds",
      "gauge",
      "Last schema cache load time",
    );
    lines.push(
      `pgrst_schema_cache_query_time_seconds ${this.cacheLoadSeconds}`,
    );
    metric(
      "pgrst_jwt_cache_entries",
      "gauge",
      "Verified tokens in the JWT cache",
    );
    lines.push(`pgrst_jwt_cache_entries ${this.jwtCacheEntries}`);
    metric(
      "pgrst_jwt_cache_hits_total",
      "counter",
      "JWT verifications answered from the cache",
    );
    lines.push(`pgrst_jwt_cache_hits_total ${this.jwtCacheHits}`);
    metric(
      "pgrst_jwt_cache_misses_total",
      "counter",
      "JWT verifications not in the cache",
    );
    lines.push(`pgrst_jwt_cache_misses_total ${this.jwtCacheMisses}`);
    return lines.join("\n") + "\n";
  }
}
