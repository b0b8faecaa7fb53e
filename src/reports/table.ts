/**
 * A report is a title, column names and rows of text; it prints either as a plain-text table for the console or
 * as CSV (RFC 4180) for a spreadsheet. Columns may shorten a value for the console only (a SHA-256 in full is
 * wider than a serial console); the CSV always carries the full value.
 */

export interface ReportColumn {
  name: string;
  /** Console form of a value; default: the value itself. */
  text?: (value: string) => string;
}

export interface Report {
  title: string;
  columns: readonly ReportColumn[];
  rows: readonly (readonly string[])[];
  /** Console-only lines after the table (totals). */
  footer?: readonly string[];
}

/** Shown for a missing value (no report yet, never logged in). */
export const NONE = '-';

/** Title, header, a dashed rule, one line per row (columns two spaces apart, no trailing blanks), footer. */
export function formatText(report: Report): string {
  const head = report.columns.map((c) => c.name);
  const body = report.rows.map((r) => report.columns.map((c, i) => (c.text ? c.text(r[i] ?? '') : (r[i] ?? ''))));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [report.title, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  if (report.rows.length === 0) out.push('(none)');
  if (report.footer?.length) out.push('', ...report.footer);
  return out.join('\n') + '\n';
}

/** RFC 4180 §2: fields with a comma, quote or line break are quoted, quotes doubled; records end in CRLF. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function formatCsv(report: Report): string {
  const lines = [report.columns.map((c) => c.name), ...report.rows].map((r) => r.map(csvField).join(','));
  return lines.map((l) => l + '\r\n').join('');
}

export function formatReport(report: Report, csv: boolean): string {
  return csv ? formatCsv(report) : formatText(report);
}

export const yesNo = (b: boolean): string => (b ? 'Yes' : 'No');
