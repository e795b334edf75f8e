/** Timers a simulator started, so stopping it cancels every one still pending. */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();

  later(ms: number, work: () => unknown): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      void work();
    }, ms);
    this.pending.add(timer);
  }

  delay(ms: number): Promise<void> {
    return new Promise((resolve) => this.later(ms, resolve));
  }

  clear(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}
