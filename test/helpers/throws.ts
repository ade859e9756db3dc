// The error a call throws, so that a test can compare its whole message: toThrow('text') passes on
// any message that merely contains the text.
import { expect } from 'vitest';

export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return e as Error;
  }
  return expect.fail('expected the call to throw');
}
