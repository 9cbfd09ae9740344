// The font for the pictures' text: DejaVu Sans from the dejavu-fonts-ttf npm package, loaded by
// path, so text renders the same on a fresh machine with no system fonts (no fontconfig).
import { createRequire } from 'node:module';
import { GlobalFonts } from '@napi-rs/canvas';

export const FONT_FAMILY = 'DejaVu Sans';
let loaded = false;

/** `font` shorthand for the canvas, e.g. font(13) or font(14, 'bold'). */
export function font(px: number, weight: 'normal' | 'bold' = 'normal'): string {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    for (const file of ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']) {
      const path = require.resolve(`dejavu-fonts-ttf/ttf/${file}`);
      // Without it the canvas would quietly fall back to whatever system font there is, or none.
      if (!GlobalFonts.registerFromPath(path, FONT_FAMILY)) throw new Error(`could not load the font ${path}`);
    }
    loaded = true;
  }
  return `${weight} ${px}px "${FONT_FAMILY}"`;
}
