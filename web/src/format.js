import { marked } from 'marked';
import DOMPurify from 'dompurify';

marked.setOptions({ gfm: true, breaks: false });

// Markdown to safe HTML: node content is user text, so every tag that could
// run script is removed.
export function renderMarkdown(text) {
  return DOMPurify.sanitize(marked.parse(text || ''));
}

export function escapeHtml(s) {
  return String(s)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

// Snippets come back with private-use markers around matches (the query's
// highlight option); everything else is escaped.
export const MARK_OPEN = '\uE000';
export const MARK_CLOSE = '\uE001';
export function snippetHtml(snippet) {
  return escapeHtml(snippet).replaceAll(MARK_OPEN, '<mark>').replaceAll(MARK_CLOSE, '</mark>');
}

// A node's name in lists: its title, else its first line, without the
// Markdown marks that only make sense rendered.
export function nodeLabel(node, max = 120) {
  if (!node) return '';
  const first = node.title || (node.content || '').split('\n').find((l) => l.trim()) || '';
  const plain = first.replace(/^#+\s*/, '').replace(/\*\*|__|`/g, '').trim();
  if (!plain) return node.id;
  return plain.length > max ? plain.slice(0, max - 1) + '…' : plain;
}

export function formatBytes(n) {
  if (n == null || n < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

export function formatNumber(n, digits = 1) {
  if (n == null) return '–';
  if (Number.isInteger(n)) return n.toLocaleString('en');
  return n.toLocaleString('en', { maximumFractionDigits: digits });
}

export function formatTime(ms) {
  return new Date(ms).toLocaleString('en-GB', { hour12: false });
}
