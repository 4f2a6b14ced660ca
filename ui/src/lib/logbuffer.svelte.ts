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

/**
 * The tallest the log's scroll area gets. WebKit cannot lay out an element
 * taller than ~33.5M px (its layout units are 1/64 px in 32 bits), which at
 * 19 px a row is 1.7M lines; past this height the scrollbar maps onto the
 * lines proportionally instead of one row per 19 px.
 */
export const MAX_SCROLL_PX = 10_000_000;

/** The scroll area's height for `count` rows. */
export function scrollHeight(count: number, rowHeight: number): number {
  return Math.min(count * rowHeight, MAX_SCROLL_PX);
}

/** The last row that can be at the viewport's top (fractional). */
function lastTop(viewportHeight: number, rowHeight: number, count: number): number {
  return Math.max(0, count - viewportHeight / rowHeight);
}

/** The row at the top of the viewport (fractional) for a scroll position. */
export function topRow(scrollTop: number, viewportHeight: number, rowHeight: number, count: number): number {
  const height = scrollHeight(count, rowHeight);
  if (height < MAX_SCROLL_PX) return scrollTop / rowHeight;
  const maxScroll = Math.max(1, height - viewportHeight);
  return (Math.min(scrollTop, maxScroll) / maxScroll) * lastTop(viewportHeight, rowHeight, count);
}

/** The scroll position that puts row `row` at the top of the viewport. */
export function scrollTopFor(row: number, viewportHeight: number, rowHeight: number, count: number): number {
  const height = scrollHeight(count, rowHeight);
  if (height < MAX_SCROLL_PX) return row * rowHeight;
  const last = lastTop(viewportHeight, rowHeight, count);
  return (Math.min(row, last) / last) * (height - viewportHeight);
}

/**
 * The rows a virtualized list of fixed-height rows draws, with overscan, and
 * where to draw the first of them (px from the top of the scroll area).
 */
export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 20,
): { start: number; end: number; offset: number } {
  const top = topRow(scrollTop, viewportHeight, rowHeight, count);
  const first = Math.floor(top);
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + Math.ceil(viewportHeight / rowHeight) + 1 + overscan);
  // The top row sits at the viewport's top edge, partly scrolled by its fraction.
  const offset = scrollTop - (top - start) * rowHeight;
  return { start, end: Math.max(start, end), offset };
}
