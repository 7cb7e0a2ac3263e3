// Renders the FIPS matrix's sources as links: the title is the text, the https URL alone the href.

import type { MatrixSourceRef } from '../core/types';
import { escapeHtml, safeHttpsHref } from './escapeHtml';

/** One source: a link when its URL is a clean https URL, its title as plain text otherwise. */
export function matrixSourceLinkHtml(source: MatrixSourceRef, linkAttributes = ''): string {
  const href = safeHttpsHref(source.url);
  const title = escapeHtml(source.title);
  return href ? `<a href="${href}"${linkAttributes}>${title}</a>` : title;
}
