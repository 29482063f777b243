// autocannon ships no types; the tests use its documented result fields only.
declare module 'autocannon' {
  interface Result {
    requests: { total: number; average: number };
    latency: { p50: number; p99: number };
    errors: number;
    timeouts: number;
    non2xx: number;
    '1xx': number;
    '2xx': number;
    '3xx': number;
    '4xx': number;
    '5xx': number;
    [key: string]: unknown;
  }
  function autocannon(options: Record<string, unknown>): Promise<Result>;
  export default autocannon;
}
