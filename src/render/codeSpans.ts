// Remediation text as text and code: backticks mark the commands, and a page sets them as code, never literally.

export interface TextSpan {
  text: string;
  /** A command (it stood between backticks). */
  code: boolean;
}

/**
 * Splits at backticks: odd spans are code. An unpaired backtick leaves the rest as text with the backtick kept,
 * so nothing a remediation says is lost.
 */
export function codeSpans(text: string): TextSpan[] {
  const parts = text.split('`');
  if (parts.length % 2 === 0) {
    // Odd number of backticks: the last one opens nothing.
    const last = parts.pop() ?? '';
    parts[parts.length - 1] = `${parts[parts.length - 1] ?? ''}\`${last}`;
  }
  return parts
    .map((part, i) => ({ text: part, code: i % 2 === 1 }))
    .filter((span) => span.text !== '' || span.code);
}
