// common: what every folder shares (the error base class); depends on nothing.
export { MoeError, type ErrorContext } from "./errors.js";
