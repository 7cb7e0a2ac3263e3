// Escapes text for HTML element content and quoted attribute values; every value from Azure goes through it.

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

// Control characters (tab, LF and CR excepted) and lone UTF-16 surrogates.
const UNSAFE_CHARACTERS =
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this matches
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Makes any value safe inside element content or a double- or single-quoted attribute. Never safe in an
 * unquoted attribute, a URL attribute (see safeHref), a `<script>` or a `<style>`: this module never puts
 * Azure values there. Lone surrogates and control characters other than tab and newline become U+FFFD, so
 * a hostile name cannot break the page's encoding.
 */
export function escapeHtml(value: string | number | boolean | null | undefined): string {
  const text = value === null || value === undefined ? '' : String(value);
  return text.replace(/[&<>"'`]/g, (ch) => HTML_ESCAPES[ch] ?? ch).replace(UNSAFE_CHARACTERS, '\uFFFD');
}

/** An escaped href for http(s) URLs only; anything else (javascript:, data:, relative) is refused with null. */
export function safeHref(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
  return escapeHtml(parsed.href);
}

/** An escaped href for https URLs only (the matrix's sources); anything else is refused with null. */
export function safeHttpsHref(url: string | null): string | null {
  if (url === null || !/^https:\/\/\S+$/.test(url)) return null;
  const href = safeHref(url);
  return href !== null && href.startsWith('https:') ? href : null;
}
