/**
 * A serial path or USB source written `sim:<name>` names a simulated hub or usbmuxd in this
 * process instead of hardware. Returns that name, or undefined for real hardware.
 */
export function simName(source: string): string | undefined {
  return source.startsWith('sim:') ? source.slice('sim:'.length) : undefined;
}
