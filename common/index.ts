// common: what every folder shares (the error base class, a watch on the parent process); depends on nothing.
export { MoeError, type ErrorContext } from "./errors.js";
export { whenParentGone } from "./parent-watch.js";
