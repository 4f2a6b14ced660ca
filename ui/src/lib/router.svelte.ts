// Hash routing: #/build, #/runs, …
import { pageFromHash, type PageId } from "./pages";

class Router {
  page = $state<PageId>(pageFromHash(location.hash) ?? "build");
  /** Whether the user (or a link) chose the page, so first-run logic leaves it alone. */
  chosen = !!pageFromHash(location.hash);

  constructor() {
    window.addEventListener("hashchange", () => {
      const p = pageFromHash(location.hash);
      if (p) {
        this.page = p;
        this.chosen = true;
      }
    });
  }

  go(page: PageId): void {
    if (location.hash !== `#/${page}`) location.hash = `#/${page}`;
    this.page = page;
    this.chosen = true;
  }
}

export const router = new Router();
