/**
 * Characters XML 1.0 cannot carry, even escaped: C0 controls other than tab,
 * LF and CR, U+FFFE/U+FFFF, and lone surrogates (which cannot be encoded).
 * Text from hosts (log lines, plugin output) may hold any of them.
 */
const XML_INVALID =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `text` without the characters XML cannot carry. */
export const stripXmlInvalid = (text: string): string => text.replace(XML_INVALID, "");

/** `text` with each character XML cannot carry replaced by U+FFFD, so a reader sees where. */
export const replaceXmlInvalid = (text: string): string => text.replace(XML_INVALID, "\ufffd");
