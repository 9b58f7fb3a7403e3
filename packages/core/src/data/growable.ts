/** The typed arrays a Growable builds. */
type Typed = Float32Array | Float64Array | Uint32Array;

/**
 * A typed array that grows by doubling, for readers that append values
 * without knowing their count (a streamed CSV's rows).
 */
export class Growable<T extends Typed> {
  private buf: T;
  length = 0;
  constructor(
    private readonly make: (n: number) => T,
    capacity = 1024,
  ) {
    this.buf = make(capacity);
  }
  /** Makes room for `n` more values. */
  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = this.make(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  push(v: number): void {
    if (this.length === this.buf.length) this.reserve(1);
    this.buf[this.length++] = v;
  }
  /** The values, trimmed to their length (one copy). */
  finish(): T {
    return this.buf.slice(0, this.length) as T;
  }
}
