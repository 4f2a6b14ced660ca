// WebKitGTK reports the POSIX locale as navigator.language: "C" where LANG is
// unset or C (services, containers, CI), which Intl rejects with a RangeError.
// uPlot builds a number format from it as its module loads, so this module is
// imported first and puts a valid tag in its place.
try {
  new Intl.NumberFormat(navigator.language);
} catch {
  Object.defineProperty(navigator, "language", { value: "en-US", configurable: true });
}
