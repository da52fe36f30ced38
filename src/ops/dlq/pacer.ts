/** Spaces re-publishes to at most `rate` per second (`--rate`); no limit when absent. */
export class Pacer {
  private next = Date.now();
  constructor(private readonly rate: number | undefined) {}
  async take(): Promise<void> {
    if (!this.rate) return;
    const now = Date.now();
    if (this.next > now) await new Promise((r) => setTimeout(r, this.next - now));
    this.next = Math.max(now, this.next) + 1000 / this.rate;
  }
}
