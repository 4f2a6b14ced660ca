// First: a locale Intl accepts, before any module that formats numbers loads.
import "./lib/locale";
import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";

// The benchmark hook exists only in benchmark builds (scripts/bench-ui.sh).
if (import.meta.env.VITE_BENCH === "1") void import("./lib/bench");

export default mount(App, { target: document.getElementById("app")! });
