/**
 * Request headers of a load test: `--api-key KEY` becomes `Authorization: Bearer KEY`, and each
 * `--header 'Name: value'` is added as given (an explicit header wins over the key's). They go
 * with every request the load tester makes: generation, `/v1/models` and `/metrics`. Pure.
 */
import { LoadTestOptionError } from "./errors.js";

/** RFC 9110 token characters of a header name. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parse `Name: value` (the value trimmed; it may contain ':'; it may be empty).
 * @throws LoadTestOptionError naming `--header` when the name is missing or invalid or the value holds a line break.
 */
export function parseHeader(spec: string, field = "--header"): [string, string] {
  const colon = spec.indexOf(":");
  const name = colon < 0 ? "" : spec.slice(0, colon).trim();
  const value = colon < 0 ? "" : spec.slice(colon + 1).trim();
  if (colon < 0 || !TOKEN.test(name)) {
    throw new LoadTestOptionError(`${field} must be 'Name: value' with a valid header name, got '${spec}'`, { field, fix: `e.g. ${field} 'X-Tenant: team-a'` });
  }
  if (/[\r\n\0]/.test(value)) throw new LoadTestOptionError(`${field} '${name}' has a line break or NUL in its value`, { field });
  return [name, value];
}

/**
 * The headers every request carries: `authorization: Bearer KEY` when `apiKey` is given, then
 * `extra` (names lower-cased; a later or explicit one replaces an earlier one of the same name).
 */
export function requestHeaders(apiKey: string | undefined, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  if (apiKey !== undefined && (apiKey === "" || /[\r\n\0\s]/.test(apiKey))) {
    throw new LoadTestOptionError("--api-key must be a non-empty key without spaces or line breaks", { field: "--api-key", fix: "pass the key the gateway was started with (moe up/serve --api-key)" });
  }
  const out: Record<string, string> = {};
  if (apiKey !== undefined) out.authorization = `Bearer ${apiKey}`;
  for (const [k, v] of Object.entries(extra)) {
    const [name, value] = parseHeader(`${k}: ${v}`);
    out[name.toLowerCase()] = value;
  }
  return out;
}
