// The app's pages, in navigation order (Alt+1…8).

export const PAGES = [
  { id: "doctor", label: "Doctor" },
  { id: "build", label: "Build" },
  { id: "runs", label: "Runs" },
  { id: "history", label: "History" },
  { id: "artifacts", label: "Artifacts" },
  { id: "caches", label: "Caches" },
  { id: "settings", label: "Settings" },
  { id: "matrix", label: "Matrix" },
] as const;

export type PageId = (typeof PAGES)[number]["id"];

export function pageFromHash(hash: string): PageId | null {
  const id = hash.replace(/^#\/?/, "");
  return PAGES.some((p) => p.id === id) ? (id as PageId) : null;
}
