import 'server-only';

/**
 * Collects a run's log lines into a bounded excerpt: the first and the last `limit / 2` characters,
 * so a chatty handler can neither blow up the runs table nor hide how it started or how it ended.
 */
export class OutputBuffer {
  private head = '';
  private tail = '';
  private omitted = 0;
  private readonly half: number;

  constructor(limit: number) {
    this.half = Math.max(1, Math.floor(limit / 2));
  }

  append(line: string): void {
    let text = `${line}\n`;
    if (this.head.length < this.half) {
      const room = this.half - this.head.length;
      this.head += text.slice(0, room);
      text = text.slice(room);
    }
    if (!text) return;
    this.tail += text;
    if (this.tail.length > this.half) {
      this.omitted += this.tail.length - this.half;
      this.tail = this.tail.slice(this.tail.length - this.half);
    }
  }

  /** The excerpt, or null when nothing was logged. */
  toString(): string | null {
    if (!this.head && !this.tail) return null;
    const gap = this.omitted > 0 ? `… [${this.omitted} characters omitted] …\n` : '';
    return `${this.head}${gap}${this.tail}`.replace(/\n$/, '');
  }
}
