import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every colour written in the client's sources: hex, rgb/hsl functions and named colours. */
function coloursIn(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /#[0-9a-fA-F]{3,8}\b/g,
    /\b(?:rgb|rgba|hsl|hsla|hwb|lab|lch|oklab|oklch|color)\([^)]*\)/g,
    /\b(?:gray|grey|silver|red|blue|green|yellow|orange|purple|pink|navy|teal|olive|maroon|lime|aqua|fuchsia|darkgr[ae]y|lightgr[ae]y|dimgr[ae]y)\b/gi,
    /\b(?:opacity|box-shadow|text-shadow|filter|backdrop-filter)\s*:/g,
    /\b(?:linear|radial|conic)-gradient\(/g,
  ];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) found.push(match[0]);
  }
  return found;
}

const ALLOWED = new Set(['#000', '#fff', '#000000', '#ffffff']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(css|tsx|html)$/.test(name) ? [path] : [];
  });
}

describe('the black-and-white rule', () => {
  it('finds a planted grey (the lint can fail)', () => {
    expect(coloursIn('a { color: #777; background: rgb(10 10 10); border-color: grey }')).toEqual([
      '#777',
      'rgb(10 10 10)',
      'grey',
    ]);
    expect(coloursIn('b { opacity: 0.5 }')).toEqual(['opacity:']);
  });

  it('holds in every stylesheet and component', () => {
    const files = [...sources(join(process.cwd(), 'src')), join(process.cwd(), 'index.html')];
    const offending = files.flatMap((file) =>
      coloursIn(readFileSync(file, 'utf8'))
        .filter((colour) => !ALLOWED.has(colour.toLowerCase()))
        .map((colour) => `${file}: ${colour}`),
    );
    expect(offending).toEqual([]);
  });
});
