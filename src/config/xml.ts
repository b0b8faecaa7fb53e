/** A tiny XML writer for phone configs: elements, attributes, escaping, two-space indentation. */
export type XmlNode = { name: string; attrs?: Record<string, string>; children?: XmlNode[]; text?: string | number | boolean };

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export function el(name: string, content?: XmlNode[] | string | number | boolean, attrs?: Record<string, string>): XmlNode {
  return Array.isArray(content)
    ? { name, children: content, ...(attrs ? { attrs } : {}) }
    : { name, ...(content === undefined ? {} : { text: content }), ...(attrs ? { attrs } : {}) };
}

export function renderXml(root: XmlNode): string {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const walk = (n: XmlNode, depth: number) => {
    const pad = '  '.repeat(depth);
    const attrs = Object.entries(n.attrs ?? {})
      .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
      .join('');
    if (n.children && n.children.length > 0) {
      lines.push(`${pad}<${n.name}${attrs}>`);
      for (const c of n.children) walk(c, depth + 1);
      lines.push(`${pad}</${n.name}>`);
    } else if (n.text !== undefined && n.text !== '') {
      lines.push(`${pad}<${n.name}${attrs}>${escapeXml(String(n.text))}</${n.name}>`);
    } else {
      lines.push(`${pad}<${n.name}${attrs}></${n.name}>`);
    }
  };
  walk(root, 0);
  return lines.join('\n') + '\n';
}
