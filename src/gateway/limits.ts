/**
 * The gateway's two limits besides the body size: a token bucket per token
 * (calls per second, burst of the same size) and a bound on calls being
 * answered at once across all tokens.
 */

export class RateLimiter {
  readonly #perSecond: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perSecond: number) {
    this.#perSecond = perSecond;
  }

  /** Takes one call from `key`'s bucket; false when it is empty. */
  take(key: string, now = Date.now()): boolean {
    const bucket = this.#buckets.get(key) ?? { tokens: this.#perSecond, at: now };
    bucket.tokens = Math.min(
      this.#perSecond,
      bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond,
    );
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

export class InFlight {
  readonly #max: number;
  #count = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get count(): number {
    return this.#count;
  }

  tryEnter(): boolean {
    if (this.#count >= this.#max) return false;
    this.#count++;
    return true;
  }

  leave(): void {
    this.#count = Math.max(0, this.#count - 1);
  }
}
