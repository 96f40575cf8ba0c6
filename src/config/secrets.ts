/**
 * Refusing shipped placeholders and short shared secrets (issue 18 item 12).
 * Whoever knows the component secret can join the component pool on
 * ejabberd's XEP-0114 port, acknowledge agents' publishes and drop them; a
 * secret copied from a sample file is known to everyone.
 */

/** Shortest component secret accepted: 16 characters (`openssl rand -hex 24` gives 48). */
export const MIN_SECRET_LENGTH = 16;

/** Fragments that mark a value as a placeholder wherever they occur (after lower-casing and dropping punctuation). */
const PLACEHOLDER_FRAGMENTS = [
  "changeme",
  "replaceme",
  "placeholder",
  "yoursecret",
  "examplesecret",
];

/** Values that are placeholders as a whole (same normalisation). */
const PLACEHOLDER_VALUES = new Set([
  "secret",
  "password",
  "passw0rd",
  "componentsecret",
  "componentpassword",
  "jabmonsecret",
  "monitorsecret",
  "mysecret",
  "test",
  "testsecret",
  "default",
  "admin",
]);

/** Why this secret must not be used, or undefined when it may. */
export function weakSecretReason(value: string): string | undefined {
  const normalised = value.toLowerCase().replace(/[^a-z0-9]/g, "");
  if (
    PLACEHOLDER_FRAGMENTS.some((fragment) => normalised.includes(fragment)) ||
    PLACEHOLDER_VALUES.has(normalised) ||
    /^(.)\1*$/.test(value)
  )
    return "is a well-known placeholder: set a random secret (e.g. `openssl rand -hex 24`) here and in ejabberd.yml";
  if (value.length < MIN_SECRET_LENGTH)
    return `is too short (${value.length} characters): use at least ${MIN_SECRET_LENGTH} random characters (e.g. \`openssl rand -hex 24\`), here and in ejabberd.yml`;
  return undefined;
}
