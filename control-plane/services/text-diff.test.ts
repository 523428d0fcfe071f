import { describe, expect, it } from 'vitest';
import { unifiedDiff } from './text-diff.js';

describe('unifiedDiff', () => {
  const cases: Array<{ name: string; before: string; after: string; diff: string[] }> = [
    { name: 'equal texts', before: 'a\nb\n', after: 'a\nb\n', diff: [] },
    {
      name: 'a line added at the end',
      before: 'a\nb\n',
      after: 'a\nb\nc\n',
      diff: ['--- v1', '+++ v2', '@@ -1,2 +1,3 @@', ' a', ' b', '+c'],
    },
    {
      name: 'a line changed in the middle, with context cut at 3 lines',
      before: '1\n2\n3\n4\n5\n6\n7\n8\n9\n',
      after: '1\n2\n3\n4\nfive\n6\n7\n8\n9\n',
      diff: [
        '--- v1',
        '+++ v2',
        '@@ -2,7 +2,7 @@',
        ' 2',
        ' 3',
        ' 4',
        '-5',
        '+five',
        ' 6',
        ' 7',
        ' 8',
      ],
    },
    {
      name: 'two changes far apart make two hunks',
      before: 'a\n1\n2\n3\n4\n5\n6\n7\n8\nb\n',
      after: 'A\n1\n2\n3\n4\n5\n6\n7\n8\nB\n',
      diff: [
        '--- v1',
        '+++ v2',
        '@@ -1,4 +1,4 @@',
        '-a',
        '+A',
        ' 1',
        ' 2',
        ' 3',
        '@@ -7,4 +7,4 @@',
        ' 6',
        ' 7',
        ' 8',
        '-b',
        '+B',
      ],
    },
    {
      name: 'from nothing',
      before: '',
      after: 'x\n',
      diff: ['--- v1', '+++ v2', '@@ -0,0 +1,1 @@', '+x'],
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const expected = testCase.diff.length === 0 ? '' : `${testCase.diff.join('\n')}\n`;
      expect(unifiedDiff(testCase.before, testCase.after, 'v1', 'v2')).toBe(expected);
    });
  }
});
