import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { durationBetween, formatDuration, formatSignedDuration } from '../../lib/presenters/format';

describe('durations: one formatter for tables, the run page, chart axes and summaries', () => {
  test('ms under a second, tenths under ten seconds, whole seconds, then minutes and hours with one decimal', () => {
    assert.deepEqual([0, 0.4, 420, 999.4, 1000, 3240, 9_940, 10_000, 42_300, 150_000, 2_880_000, 5_000_000].map(formatDuration), [
      '0 ms',
      '0 ms',
      '420 ms',
      '999 ms',
      '1.0 s',
      '3.2 s',
      '9.9 s',
      '10 s',
      '42 s',
      '2.5 min',
      '48.0 min',
      '1.4 h',
    ]);
  });

  test('the unit is chosen after rounding: no "1000 ms", "10.0 s", "60 s" or "60.0 min"', () => {
    assert.deepEqual([999.6, 9_960, 59_700, 3_599_000].map(formatDuration), ['1.0 s', '10 s', '1.0 min', '1.0 h']);
  });

  test('signed: a minus sign for negative values, a plus only when asked', () => {
    assert.equal(formatSignedDuration(-1200), '−1.2 s');
    assert.equal(formatSignedDuration(1200), '1.2 s');
    assert.equal(formatSignedDuration(1200, { plus: true }), '+1.2 s');
    assert.equal(formatSignedDuration(0, { plus: true }), '0 ms');
    assert.equal(durationBetween(new Date(5_000), new Date(3_000)), '0 ms', 'a clock step back is not a negative duration');
    assert.equal(durationBetween(null, new Date()), null);
  });
});
