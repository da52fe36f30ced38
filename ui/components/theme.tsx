import React, { createContext, useContext } from 'react';
import { Text, type TextProps } from 'ink';

/** Colour on or off (NO_COLOR): components ask the theme, never the environment. */
const ColorContext = createContext(true);

export function ThemeProvider({ color, children }: { color: boolean; children: React.ReactNode }) {
  return <ColorContext.Provider value={color}>{children}</ColorContext.Provider>;
}

/** Text that drops colour props when colour is off. */
export function CText(props: TextProps) {
  const color = useContext(ColorContext);
  if (color) return <Text {...props} />;
  const { color: _c, backgroundColor: _b, ...rest } = props;
  return <Text {...rest} />;
}
