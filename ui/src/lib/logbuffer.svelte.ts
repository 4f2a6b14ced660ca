// Holds a run's log lines outside Svelte's deep reactivity (a million
// proxied strings would be slow); `count` is the one reactive signal.

export class LogBuffer {
  readonly lines: string[] = [];
  count = $state(0);

  push(lines: string[]): void {
    for (const l of lines) this.lines.push(l);
    this.count = this.lines.length;
  }

  clear(): void {
    this.lines.length = 0;
    this.count = 0;
  }

  /** Indexes of the lines containing `query`, case-insensitive, in order. */
  search(query: string, strip: (l: string) => string = (l) => l): number[] {
    const q = query.toLowerCase();
    if (!q) return [];
    const hits: number[] = [];
    for (let i = 0; i < this.lines.length; i++) {
      if (strip(this.lines[i]).toLowerCase().includes(q)) hits.push(i);
    }
    return hits;
  }
}

/** The rows a virtualized list of fixed-height rows draws, with overscan. */
export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 20,
): { start: number; end: number } {
  const first = Math.floor(scrollTop / rowHeight);
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + Math.ceil(viewportHeight / rowHeight) + overscan);
  return { start, end: Math.max(start, end) };
}
