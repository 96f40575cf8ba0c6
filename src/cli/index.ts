export { fail, stopOnSignal } from "./run.js";
