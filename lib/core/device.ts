/** Devices: 'cpu', or 'cuda:N' ('cuda' means 'cuda:0'). */
import { LowbitError, describeValue } from '../errors.js';

export type Device = 'cpu' | `cuda:${number}`;
export type DeviceLike = Device | 'cuda';

/** Normalises 'cuda' to 'cuda:0' and rejects anything that is not a device string. */
export function parseDevice(v: unknown, op = 'Tensor.to', arg = 'device'): Device {
  if (v === 'cpu') return 'cpu';
  if (v === 'cuda') return 'cuda:0';
  if (typeof v === 'string') {
    const m = /^cuda:(\d{1,4})$/.exec(v);
    if (m) return `cuda:${Number(m[1])}`;
  }
  throw new LowbitError(
    `Expected 'cpu', 'cuda' or 'cuda:N' for \`${arg}\` in ${op} but received ${describeValue(v)}`,
    'LOWBIT_E_DEVICE',
  );
}

export function deviceIndex(d: Device): number {
  return d === 'cpu' ? -1 : Number(d.slice(5));
}
