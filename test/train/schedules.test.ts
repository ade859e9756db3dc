// Learning-rate schedules against their formulas at chosen positions, and the JSON round trip a
// checkpoint relies on.
import { describe, expect, it } from 'vitest';

import { Schedule, type ScheduleSpec } from '../../src/train/schedules.js';

const at = (step: number, epoch = 0) => ({ step, epoch });
const lrs = (s: Schedule, epochs: number[]) => epochs.map((e) => s.lr(at(0, e)));

describe('schedules match their formulas', () => {
  it('step: lr * factor^floor(epoch / every), by epoch or by iteration', () => {
    const s = new Schedule({ kind: 'step', every: 30 }, 0.1);
    const got = lrs(s, [0, 29, 30, 59.5, 60, 95]);
    [0.1, 0.1, 0.01, 0.01, 0.001, 0.0001].forEach((e, i) => expect(got[i]).toBeCloseTo(e, 15));
    const it2 = new Schedule({ kind: 'step', every: 100, factor: 0.5, unit: 'step' }, 1);
    expect([0, 99, 100, 250].map((k) => it2.lr(at(k, 7)))).toEqual([1, 1, 0.5, 0.25]);
  });

  it("multistep: ÷10 at each milestone (the ResNet CIFAR recipe: 32k and 48k iterations)", () => {
    const s = new Schedule({ kind: 'multistep', milestones: [32000, 48000], unit: 'step' }, 0.1);
    expect(s.lr(at(31999))).toBe(0.1);
    expect(s.lr(at(32000))).toBeCloseTo(0.01, 15);
    expect(s.lr(at(47999))).toBeCloseTo(0.01, 15);
    expect(s.lr(at(48000))).toBeCloseTo(0.001, 15);
    const byEpoch = new Schedule({ kind: 'multistep', milestones: [2, 5], factor: 0.2 }, 1);
    expect(lrs(byEpoch, [0, 1.9, 2, 4, 5, 9])).toEqual([1, 1, 0.2, 0.2, 0.2 ** 2, 0.2 ** 2]);
  });

  it('cosine: min + (base - min)(1 + cos(pi t / T)) / 2, held at min after T', () => {
    const s = new Schedule({ kind: 'cosine', period: 10, minLr: 0.001, unit: 'step' }, 0.1);
    for (const t of [0, 1, 3, 5, 9, 10, 12]) {
      const tc = Math.min(t, 10);
      expect(s.lr(at(t))).toBeCloseTo(0.001 + (0.099 * (1 + Math.cos((Math.PI * tc) / 10))) / 2, 15);
    }
    expect(s.lr(at(5))).toBeCloseTo(0.0505, 15);
  });

  it('cosine with restarts (SGDR): cycles of period * mult^i', () => {
    const s = new Schedule({ kind: 'cosine', period: 4, mult: 2, restarts: true, unit: 'step' }, 1);
    const f = (tc: number, T: number) => (1 + Math.cos((Math.PI * tc) / T)) / 2;
    const expected = [f(0, 4), f(2, 4), f(0, 8), f(3, 8), f(7, 8), f(0, 16), f(5, 16)];
    expect([0, 2, 4, 7, 11, 12, 17].map((t) => s.lr(at(t)))).toEqual(expected);
    const same = new Schedule({ kind: 'cosine', period: 4, restarts: true }, 1);
    expect(same.lr(at(0, 5))).toBeCloseTo(f(1, 4), 15);
  });

  it('noam: factor * d^-0.5 * min(s^-0.5, s * warmup^-1.5), s = step + 1; peak at the warm-up', () => {
    const spec: ScheduleSpec = { kind: 'noam', dim: 512, warmup: 4000, factor: 2 };
    const s = new Schedule(spec, 1);
    for (const step of [0, 1, 99, 3998, 3999, 4000, 10000, 99999]) {
      const n = step + 1;
      expect(s.lr(at(step))).toBeCloseTo(2 * 512 ** -0.5 * Math.min(n ** -0.5, n * 4000 ** -1.5), 15);
    }
    const values = Array.from({ length: 8000 }, (_, k) => s.lr(at(k)));
    expect(values.indexOf(Math.max(...values))).toBe(3999);
    expect(new Schedule(spec, 0.5).lr(at(10))).toBeCloseTo(0.5 * s.lr(at(10)), 15);
  });

  it('warm-up: min(1, (step + 1) / steps) times the inner schedule', () => {
    const s = new Schedule({ kind: 'warmup', steps: 5, then: { kind: 'multistep', milestones: [2] } }, 0.4);
    expect(s.lr(at(0, 0))).toBeCloseTo(0.08, 15);
    expect(s.lr(at(3, 0))).toBeCloseTo(0.32, 15);
    expect(s.lr(at(4, 0))).toBeCloseTo(0.4, 15);
    expect(s.lr(at(500, 2))).toBeCloseTo(0.04, 15);
    const cos = new Schedule({ kind: 'warmup', steps: 10, then: { kind: 'cosine', period: 100, unit: 'step' } }, 1);
    expect(cos.lr(at(4))).toBeCloseTo(0.5 * (1 + Math.cos((Math.PI * 4) / 100)) / 2, 15);
  });
});

describe('reduce-on-plateau (PyTorch ReduceLROnPlateau semantics)', () => {
  it('divides by 10 after more than `patience` evaluations without an improvement beyond the threshold', () => {
    const s = new Schedule({ kind: 'plateau', patience: 2 }, 0.1);
    const reduced = [0.5, 0.4, 0.4, 0.39999, 0.41, 0.3, 0.35, 0.31, 0.32].map((e) => s.observe(e));
    // 0.39999 is not below 0.4 * (1 - 1e-4): the third bad evaluation (0.41) reduces
    expect(reduced).toEqual([false, false, false, false, true, false, false, false, true]);
    expect(s.lr(at(0))).toBeCloseTo(0.001, 15);
  });

  it('cooldown, minLr, mode max and an absolute threshold', () => {
    const s = new Schedule({ kind: 'plateau', patience: 0, cooldown: 2, minLr: 0.002, factor: 0.1 }, 0.1);
    expect([1, 1, 1, 1, 1, 1, 1].map((e) => s.observe(e))).toEqual([false, true, false, false, true, false, false]);
    expect(s.lr(at(0))).toBe(0.002);
    const acc = new Schedule({ kind: 'plateau', mode: 'max', patience: 1, threshold: 0.01, thresholdMode: 'abs' }, 1);
    expect([0.5, 0.505, 0.52, 0.525, 0.528].map((e) => acc.observe(e))).toEqual([false, false, false, false, true]);
  });

  it('state round-trips through JSON: a resumed schedule decides as the uninterrupted one', () => {
    const spec: ScheduleSpec = { kind: 'warmup', steps: 3, then: { kind: 'plateau', patience: 1, cooldown: 1 } };
    const a = new Schedule(spec, 0.1);
    const errors = [0.9, 0.8, 0.85, 0.86, 0.7, 0.72, 0.75, 0.74, 0.73];
    errors.slice(0, 4).forEach((e) => a.observe(e));
    const b = Schedule.fromJSON(JSON.parse(JSON.stringify(a)) as ReturnType<Schedule['toJSON']>);
    expect(b.state()).toEqual(a.state());
    for (const e of errors.slice(4)) expect(b.observe(e)).toBe(a.observe(e));
    expect(b.lr(at(1))).toBe(a.lr(at(1)));
    expect(JSON.parse(JSON.stringify(new Schedule({ kind: 'noam', dim: 64, warmup: 10 }, 1)))).toEqual({ spec: { kind: 'noam', dim: 64, warmup: 10 }, baseLr: 1, state: {} });
  });

  it('the state before any evaluation round-trips too (best is null, not Infinity)', () => {
    const a = new Schedule({ kind: 'plateau' }, 0.1);
    const b = Schedule.fromJSON(JSON.parse(JSON.stringify(a.toJSON())) as ReturnType<Schedule['toJSON']>);
    expect(b.state()).toEqual({ plateau: { lr: 0.1, best: null, bad: 0, cooldownLeft: 0 } });
  });
});

describe('schedule specs are validated', () => {
  it.each([
    [{ kind: 'step', every: 0 }, /every expected a finite number > 0/],
    [{ kind: 'multistep', milestones: [5, 3] }, /milestones expected increasing numbers/],
    [{ kind: 'step', every: 3, factor: 10 }, /factor expected a number in \(0, 1\)/],
    [{ kind: 'plateau', patience: -1 }, /patience expected an integer >= 0/],
    [{ kind: 'warmup', steps: 2, then: { kind: 'cosine', period: -1 } }, /schedule.then: period expected/],
    [{ kind: 'linear' }, /kind expected one of/],
  ])('%o is rejected', (spec, message) => {
    expect(() => new Schedule(spec as ScheduleSpec, 0.1)).toThrow(message);
  });

  it('a plateau state does not load into another schedule', () => {
    expect(() => new Schedule({ kind: 'constant' }, 1).load({ plateau: { lr: 1, best: null, bad: 0, cooldownLeft: 0 } })).toThrow(/without reduce-on-plateau/);
  });
});
