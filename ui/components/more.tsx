import React from 'react';
import { CText } from './theme.js';

/** The line a list ends with when it hides rows for lack of room. */
export function MoreLine({ hidden }: { hidden: number }) {
  return hidden > 0 ? <CText dimColor>+{hidden} more</CText> : null;
}
